"""What every backend's record parsing shares: the error for one record that
cannot be understood (skipped and counted), and bounded label values."""

from __future__ import annotations

_ERROR_CODE_MAX = 64


class MalformedRecord(ValueError):
    """One entity in a page cannot be understood."""


def bounded_code(code: str) -> str:
    """Error codes become label values: keep them short and plain."""
    cleaned = "".join(ch for ch in code if ch.isascii() and (ch.isalnum() or ch in "._-"))
    return cleaned[:_ERROR_CODE_MAX] or "Other"
