"""Field types shared by every configuration model: durations, URLs, numbers.

Validators raise ValueError with a message that never quotes the input; the key
path is added by exporter.config.errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class StrictModel(BaseModel):
    """Unknown keys are errors; values are immutable; inputs never reach messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True,
                              str_strip_whitespace=False)


def duration_seconds(value: Any) -> float:
    """`30s`, `15m`, `6h`, `2d`, `1h30m`, `500ms` -> seconds; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 15m, 6h or 2d")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError("invalid duration (use e.g. 30s, 15m, 6h, 2d)")
    return total


def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an http(s) URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError("expected an http(s) URL such as https://host/path")
    return value


def _positive(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("expected a positive number")
    return value


def _positive_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("expected a positive integer")
    return value


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _nonempty_text(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise ValueError("required, a non-empty string")
    return value


_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3,
               "KB": 1000, "MB": 1000**2, "GB": 1000**3}


def byte_size(value: Any) -> int:
    """`2MiB`, `512KiB`, `1048576` -> bytes; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) <= 0:
        raise ValueError("expected a size such as 512KiB, 32MiB or 1GiB")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


Duration = Annotated[float, BeforeValidator(duration_seconds)]
ByteSize = Annotated[int, BeforeValidator(byte_size)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
PositiveNumber = Annotated[float, BeforeValidator(_positive)]
PositiveInt = Annotated[int, BeforeValidator(_positive_int)]
#: A string that is never coerced from a number or a boolean.
Text = Annotated[str, BeforeValidator(_text)]
Name = Annotated[str, BeforeValidator(_nonempty_text)]
#: A list of distinct non-empty strings, in their first order.
Names = Annotated[tuple[Name, ...], AfterValidator(lambda v: tuple(dict.fromkeys(v)))]
