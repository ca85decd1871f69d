"""Writing to disk so that it stays written: the few system calls every durable write needs.

A write is durable only once the file's bytes are fsynced, and a new name (a created or
renamed file) only once its folder is fsynced too; ``os.write`` may write less than it is
given, so a write goes on until all of it is out.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_path", "write_fully", "write_synced"]


def write_fully(fd: int, data: bytes) -> None:
    """All of ``data`` to the open file ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_synced(path: Path, data: bytes, mode: int = 0o600) -> None:
    """``path`` made to hold ``data`` (created with ``mode``, or truncated), fsynced before it returns."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        write_fully(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: Path) -> None:
    """fsync of the file or folder at ``path``: for a folder, the names made or renamed in it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
