"""The malloc arena limit applies on glibc and respects the user's own setting."""

from __future__ import annotations

import platform

from exporter.common.malloc import limit_malloc_arenas


def test_arena_limit_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")


def test_the_environment_variable_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
