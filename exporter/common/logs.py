"""Logging set-up: text or JSON lines on stderr, that nobody outside can write.

Values in a log line may come from outside (a pushed event's topic, a request line):
the formatters turn every character that is not printable (newlines, carriage
returns, ESC and the rest of C0 and C1, Unicode line separators, bidi controls) into
an escape such as `\\n` or `\\x1b`, so one record is always one line and cannot move
the terminal's cursor. Backslashes are left as they are: `\\n` typed by a client can
look like an escaped newline, but it cannot start a line. Tracebacks keep their line
breaks (they never come from client input); the rest of their characters are escaped.

`redact_secrets` blanks the value of any `secret=` query field (any case, also
percent-encoded) in a text; the HTTP server's access log goes through it and so does
every formatted line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR}

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

REDACTED = "REDACTED"


def _letter(char: str) -> str:
    """A regex for one letter of a query key: itself or percent-encoded, any case."""
    return f"(?:{char}|%{ord(char.lower()):02x}|%{ord(char.upper()):02x})"


#: `secret`, any case, each letter possibly percent-encoded, then `=` or `%3D`; the
#: value runs to the next `&` or whitespace. Also matches `client_secret=` and the like.
_SECRET_FIELD = re.compile("(" + "".join(_letter(c) for c in "secret") + "(?:=|%3d))"
                           r"[^&\s]*", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """`text` with the values of `secret=` query fields replaced by REDACTED."""
    return _SECRET_FIELD.sub(lambda match: match.group(1) + REDACTED, text)


def _escape_char(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: str) -> str:
    """`text` with every non-printable character (but the space) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def _escape_lines(text: str) -> str:
    """Each line escaped on its own: for tracebacks, which keep their line breaks."""
    return "\n".join(escape(line) for line in text.split("\n"))


class TextFormatter(logging.Formatter):
    """`time level logger: message`, one line per record whatever the values."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s",
                         "%Y-%m-%dT%H:%M:%S%z")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's)
        safe = logging.makeLogRecord(record.__dict__)
        safe.message = escape(redact_secrets(record.message))
        return super().formatMessage(safe)

    def formatException(self, ei: logging._SysExcInfoType) -> str:  # noqa: N802
        return _escape_lines(redact_secrets(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return _escape_lines(super().formatStack(stack_info))


def _json_escape(char: str) -> str:
    return json.dumps(char)[1:-1]  # ensure_ascii: \uXXXX (surrogate pairs above U+FFFF)


class JsonFormatter(logging.Formatter):
    """One JSON object per line. json.dumps escapes C0 controls (ESC included);
    the other non-printables (DEL, C1, line separators) are escaped here as well, so
    the line holds no raw control character while its decoded value is unchanged."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact_secrets(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = redact_secrets(self.formatException(record.exc_info))
        line = json.dumps(entry, ensure_ascii=False)
        if line.isprintable():
            return line
        return "".join(c if c.isprintable() else _json_escape(c) for c in line)


class Throttle:
    """At most `limit` events per key in any `window` seconds (a fixed window per
    key, from its first event); the clock is injected so tests need no sleeps.
    Keys must come from a small fixed set: each one keeps a few numbers."""

    def __init__(self, limit: int = 3, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}  # start, allowed, held back
        self._lock = threading.Lock()

    def allow(self, key: str) -> int | None:
        """None when this event should not be logged; else how many events of `key`
        were held back since the last one allowed (0 usually)."""
        now = self._clock()
        with self._lock:
            start, allowed, held = self._windows.get(key, (now, 0, 0))
            if now - start >= self.window:
                start, allowed = now, 0
            if allowed >= self.limit:
                self._windows[key] = (start, allowed, held + 1)
                return None
            self._windows[key] = (start, allowed + 1, 0)
            return held


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # azure-identity and urllib3 are chatty at INFO; their warnings still come through,
    # except azure-identity's own sign-in failure warning: the exporter logs one line
    # per account for it, naming the account and the method.
    for noisy in ("azure", "urllib3", "msal"):
        logging.getLogger(noisy).setLevel(max(LEVELS[level], logging.WARNING))
    logging.getLogger("azure.identity").setLevel(max(LEVELS[level], logging.ERROR))
