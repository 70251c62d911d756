"""The pieces of the per-job text: escaped label values, sample values, family
headers, and the gzip members the text is sent in."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

#: Members made per scrape render (ages, running durations): speed over size.
GZIP_LEVEL = 1
#: Members and templates a refresh renders (off the scrape path): sent on every
#: scrape and held in memory, so a smaller result pays (level 6: ~15 % smaller than
#: 1, for 2.5 times the CPU). Chunks changed by push events are rendered by the next
#: scrape, at GZIP_LEVEL.
STATIC_GZIP_LEVEL = 6

_SURROGATES = re.compile("[\ud800-\udfff]")
#: What escape() changes: most label values have none of it (one search, no copies).
_ESCAPED = re.compile(r'[\\\n"\ud800-\udfff]')


def escape(value: str) -> str:
    """A label value for the exposition; text UTF-8 cannot carry (lone surrogates,
    which JSON allows) becomes U+FFFD instead of failing the whole render."""
    if _ESCAPED.search(value) is None:
        return value
    if _SURROGATES.search(value):
        value = _SURROGATES.sub("\ufffd", value)
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    """A sample value as both formats write it (`1.0`, `1.7e+09`)."""
    return repr(float(value))


def header(name: str, help_text: str, kind: str = "gauge") -> str:
    return f"# HELP {name} {escape(help_text)}\n# TYPE {name} {kind}\n"


def gzip_member(chunks: Iterable[str], level: int = GZIP_LEVEL) -> bytes:
    """One gzip member holding the concatenated chunks (concatenated members are one
    valid gzip stream, RFC 1952, which Prometheus and every HTTP client decode)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    parts = [compressor.compress(chunk.encode("utf-8")) for chunk in chunks]
    parts.append(compressor.flush())
    return b"".join(parts)
