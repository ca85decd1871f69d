"""The files the sync module writes — the SIE files, the file source's stock file — whole or not at all.

:func:`write_atomically` writes a temporary file in the same folder, fsyncs it, renames it
over the name and fsyncs the folder, so a reader (a bookkeeping program's import, the
shop's own system) never sees half a file, and a crash leaves the old file or the new one.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.common.durable import fsync_path, write_fully

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or what it held before, whatever moment a crash comes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_fully(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)  # the rename itself is durable
