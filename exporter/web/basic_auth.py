"""HTTP basic auth against bcrypt hashes: the Authorization header, the check (cached,
one bcrypt run at a time) and the 401 answer.

No password, hash or digest ever goes into a log line, a message or a response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import NamedTuple

REALM = "ams-job-exporter"
#: bcrypt only reads this many bytes; bcrypt>=4.1 raises on longer passwords.
BCRYPT_MAX_PASSWORD_BYTES = 72
#: Successful checks remembered, so a scrape costs a hash lookup, not a bcrypt run.
AUTH_CACHE_SIZE = 64
#: Failed checks remembered, so a client retrying a wrong password costs one bcrypt
#: run, not one per request. Kept apart from the successes: a flood of distinct wrong
#: passwords evicts only other failures, never a scraper's good password.
FAILED_CACHE_SIZE = 256

#: (password, hash) -> whether they match. bcrypt.checkpw by default; tests inject one.
Checker = Callable[[bytes, bytes], bool]


class Refusal(NamedTuple):
    """A complete answer to a request that is not let in."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str


UNAUTHORIZED = Refusal(401, (("WWW-Authenticate", f'Basic realm="{REALM}"'),),
                       b"unauthorized\n", "text/plain; charset=utf-8")


def parse_basic_authorization(header: str | None) -> tuple[str, bytes] | None:
    """`Basic base64(user:password)` -> (user, password); None for anything malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def bcrypt_checker() -> Checker:
    """bcrypt.checkpw; ImportError when the bcrypt package is missing."""
    import bcrypt

    return bcrypt.checkpw


class _LRU:
    """A bounded set of keys, least recently used dropped first (not thread-safe)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        if key not in self._keys:
            return False
        self._keys.move_to_end(key)
        return True

    def add(self, key: bytes) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)


class BasicAuth:
    """Checks Basic credentials against bcrypt hashes, and remembers the outcomes.

    bcrypt at cost 10 takes ~50 ms of CPU. Outcomes, good and bad, are remembered by
    an HMAC of (user, password) under a per-process random key (never the password,
    nor a plain digest one could brute-force) in two small LRUs, so a scraper pays
    bcrypt once, and so does a client that keeps sending a wrong password. bcrypt
    runs one at a time: many clients with wrong passwords queue behind each other
    instead of taking every core, and requests with cached credentials never wait.
    An unknown user costs one bcrypt run as well, so timing does not tell which
    users exist.
    """

    def __init__(self, users: Mapping[str, bytes], checker: Checker,
                 cache_size: int = AUTH_CACHE_SIZE,
                 failed_cache_size: int = FAILED_CACHE_SIZE) -> None:
        self._users = dict(users)
        self._decoy = self._users[min(self._users)] if self._users else b""
        self._checker = checker
        self._passed = _LRU(cache_size)
        self._failed = _LRU(failed_cache_size)
        self._key = secrets.token_bytes(32)
        self._cache_lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        #: bcrypt runs so far (tests and debugging; never the credentials).
        self.bcrypt_calls = 0

    def check(self, authorization: str | None) -> bool:
        credentials = parse_basic_authorization(authorization)
        if credentials is None:
            return False
        user, password = credentials
        if len(password) > BCRYPT_MAX_PASSWORD_BYTES:
            return False  # bcrypt would ignore the rest (or raise): never a match
        key = self._cache_key(user, password)
        known = self._cached(key)
        if known is not None:
            return known
        with self._bcrypt_lock:
            # Another request may have checked the same credentials while this one
            # waited: 16 scrapers with the same stale password cost one run.
            known = self._cached(key)
            if known is not None:
                return known
            hashed = self._users.get(user)
            matched = self._bcrypt(password, self._decoy if hashed is None else hashed)
            matched = matched and hashed is not None
            with self._cache_lock:
                (self._passed if matched else self._failed).add(key)
        return matched

    def _cache_key(self, user: str, password: bytes) -> bytes:
        name = user.encode("utf-8")
        # The length prefix keeps ("a", "b:c") and ("a:b", "c") apart.
        message = len(name).to_bytes(4, "big") + name + password
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _cached(self, key: bytes) -> bool | None:
        with self._cache_lock:
            if key in self._passed:
                return True
            if key in self._failed:
                return False
        return None

    def _bcrypt(self, password: bytes, hashed: bytes) -> bool:
        self.bcrypt_calls += 1  # under _bcrypt_lock
        try:
            return bool(self._checker(password, hashed))
        except ValueError:  # e.g. a NUL byte bcrypt refuses: no match, not a 500
            return False
