"""Job selection: the literal prefix of a name_regex, used for a server-side filter."""

from __future__ import annotations

import re

import pytest

from exporter.jobs.selection import literal_prefix


@pytest.mark.parametrize("pattern, prefix", [
    ("^Encoding ", "Encoding "), ("^ab*", "a"), ("^abc?", "ab"), ("Encoding", None),
    ("^a|b", None), ("^\\d+", None), ("^", None),
])
def test_literal_prefix(pattern: str, prefix: str | None) -> None:
    assert literal_prefix(re.compile(pattern)) == prefix
    if prefix:
        assert re.compile(pattern).match(prefix + "zzz") or pattern.endswith(("*", "?"))
