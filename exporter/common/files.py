"""Noticing that a file changed: its modification time and size, compared with
what was seen last (for the config file and token files, which tools replace
whole or rewrite in place)."""

from __future__ import annotations

import os

Signature = tuple[int, int, int, int] | None


def file_signature(path: str) -> Signature:
    """(mtime in ns, size, inode, device) of `path`, or None when it cannot be read:
    a file replaced by a rename (as Kubernetes does with mounted Secrets) shows too."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_dev)


class WatchedFile:
    """`changed()` is true once per change of the file since the last `mark()`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen = file_signature(path)

    def mark(self) -> None:
        """Remember the file as it is now."""
        self._seen = file_signature(self.path)

    def changed(self) -> bool:
        return file_signature(self.path) != self._seen
