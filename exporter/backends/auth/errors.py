"""The error of a failed sign-in."""


class AuthError(RuntimeError):
    """No token could be obtained; the message says why, without secrets."""
