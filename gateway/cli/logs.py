"""Where a long-running command's log goes: its own file, rotated by size, and stderr.

``tillgw run`` writes ``till.log`` and ``tillgw sync`` writes ``sync.log`` (``[log]`` in the
config; :class:`gateway.config.LogConfig`). Each file is rotated when it reaches
``max_bytes`` (``till.log`` -> ``till.log.1`` … ``till.log.N``, the oldest dropped), so a
till that runs for years never fills its disk with its own log. stderr keeps every line as
before: a technician at the terminal sees them, and under systemd they reach its journal.

A log file that cannot be opened (a wrong path, no permission) does not stop the till:
selling goes on, the reason is said on stderr and the lines go to stderr alone.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from typing import TextIO

from gateway.config import LogConfig

__all__ = ["LOG_FORMAT", "PrivateRotatingFileHandler", "StderrHandler", "configure_logging"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_PRIVATE_MODE = 0o600  # the log names devices, addresses and receipts: the owner's alone, like the data
_DIR_MODE = 0o700


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A :class:`~logging.handlers.RotatingFileHandler` whose every file (the first, and each
    one begun at a rotation) is readable by its owner only, whatever the umask."""

    def _open(self) -> TextIOWrapper:
        stream = super()._open()
        os.chmod(self.baseFilename, _PRIVATE_MODE)
        return stream


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines to whatever ``sys.stderr`` is at the moment of each line: while a progress bar
    is drawn (:mod:`gateway.cli.progress`), that is the bar's console, which prints the line
    above the bar instead of through it."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current stderr."""


def configure_logging(
    config: LogConfig,
    file: Path,
    *,
    verbose: bool = False,
    console: logging.Handler | None = None,
) -> logging.Handler | None:
    """Send the root logger's records to ``file`` (rotated as ``config`` says) and to
    ``console`` (a stderr handler of the standard format when None).

    ``verbose`` lowers the level to debug whatever ``[log].level`` says. Returns the file's
    handler, or None when the file could not be opened (said on stderr).
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else getattr(logging, config.level.upper()))
    formatter = logging.Formatter(LOG_FORMAT)
    if console is None:
        console = StderrHandler()
        console.setFormatter(formatter)
    root.addHandler(console)
    try:
        if not file.parent.exists():
            file.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        handler = PrivateRotatingFileHandler(
            file, maxBytes=config.max_bytes, backupCount=config.backups, encoding="utf-8"
        )
    except OSError as exc:
        # The log is for looking back; the till's work does not wait for it.
        sys.stderr.write(
            f"warning: cannot write the log file {file}: {exc.strerror or exc}; logging to stderr only "
            "(set [log].file to a folder the till's user may write)\n"
        )
        return None
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return handler
