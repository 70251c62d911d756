"""Helpers that turn a job selection into API filters and client-side checks."""

from __future__ import annotations

import re

_META = set(".^$*+?{}[]\\|()")
_QUANTIFIERS = set("*?{")


def literal_prefix(pattern: re.Pattern[str]) -> str | None:
    """The literal text every match must start with, for `^literal...` patterns.

    Pushing it down as `startswith(Name,'...')` lets the API drop non-matching jobs;
    the regex is still applied to what comes back, so a short prefix is only cheaper,
    never wrong. Patterns with flags or alternation get no prefix.
    """
    text = pattern.pattern
    if pattern.flags & (re.IGNORECASE | re.VERBOSE) or not text.startswith("^") or "|" in text:
        return None
    prefix = []
    for index, char in enumerate(text[1:], start=1):
        if char in _META:
            break
        if index + 1 < len(text) and text[index + 1] in _QUANTIFIERS:
            break  # "^ab*": the b is optional, so the prefix is "a"
        prefix.append(char)
    return "".join(prefix) or None
