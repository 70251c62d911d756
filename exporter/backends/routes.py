"""Routing keys: how an event finds its account. A leaf module shared by the
parser (what an event carries) and the backends (what an account answers to)."""

from __future__ import annotations


def arm_route(topic: str) -> str:
    """An Event Grid topic: an account's resource id or a custom topic's id."""
    return "arm:" + topic.strip().rstrip("/").lower()


def mkio_route(project: str) -> str:
    return "mkio:" + project.strip().lower()
