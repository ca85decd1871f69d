"""The sync module's daily log: ``sync-YYYY-MM-DD.log`` in the log folder.

Each run of ``tillgw sync`` is a section: a ``=== run started`` line, what was stored,
processed and set aside, and a ``=== run ended`` line with the run's counts. A run that
goes on past midnight continues in the next day's file under a ``=== run continues``
line. Every other line is ``LEVEL HH:MM:SS text``; a failure is a line starting
``ERROR`` that quotes the receiving system's own message (for the SIE adapter, the OS
error or the validation message). Text that spans lines is indented under its first
line, so only the first line of an entry ever starts with a level word.

:class:`RunLog` is a :mod:`logging` handler on the ``tillgw.sync`` logger. It keeps the
ERROR lines not yet mailed (:attr:`RunLog.unmailed`); a record logged with
``extra={"no_mail": True}`` (the failure to send the mail itself) is not among them.
It also keeps the latest ERROR lines since the sync module last published its status
(:attr:`RunLog.status_errors`, at most :data:`STATUS_ERRORS`; see
:mod:`gateway.messages.sync_status`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

__all__ = ["LOGGER", "STATUS_ERRORS", "RunLog", "log_name"]

LOGGER = "tillgw.sync"
STATUS_ERRORS = 10  # ERROR lines kept for the status message: the latest


def log_name(day: datetime) -> str:
    return f"sync-{day:%Y-%m-%d}.log"


class RunLog(logging.Handler):
    def __init__(self, folder: Path, title: str) -> None:
        super().__init__(logging.INFO)
        self.folder = folder
        self.title = title
        self.started = datetime.now().astimezone()
        self.unmailed: list[str] = []
        self.status_errors: list[str] = []  # ERROR lines since the last status, the latest
        self.errors = 0
        self._file: TextIO | None = None
        self._path: Path | None = None
        self.broken: str | None = None  # why the file cannot be written, while it cannot

    @property
    def path(self) -> Path:
        """Today's log file."""
        return self.folder / log_name(datetime.now().astimezone())

    def _out(self, now: datetime) -> TextIO:
        path = self.folder / log_name(now)
        if self._file is None or path != self._path:
            first = self._file is None
            if self._file is not None:
                self._file.close()
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
            self._path = path
            if not first:
                started = self.started.isoformat(timespec="seconds")
                self._file.write(f"=== run continues (started {started}: {self.title})\n")
        return self._file

    def _write(self, now: datetime, text: str, durable: bool = True) -> None:
        """``text`` handed to the OS at once (a crash of the process loses none of it); fsynced
        when ``durable``: a run's first and last line, a warning, an error. An INFO line (stored,
        processed) is not: what it says is in the inbox, durably, and an fsync per line
        stalled the module's one loop — intake and processing — on the disk a few times per
        burst."""
        try:
            out = self._out(now)
            out.write(text)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        except OSError as exc:
            # The log cannot be written (the folder missing, the disk full): say so where
            # it can be seen, count it as an error (the run exits 1), and carry on.
            if self.broken != str(exc):
                self.broken = str(exc)
                self.errors += 1
                line = f"ERROR {now:%H:%M:%S} log: cannot write {self.folder / log_name(now)}: {exc}"
                self.unmailed.append(line)
                self._keep_for_status(line)
                sys.stderr.write(f"tillgw sync: {line}\n")
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None

    def begin(self, detail: str) -> None:
        now = datetime.now().astimezone()
        self._write(now, f"=== run started {now.isoformat(timespec='seconds')}: {self.title} ({detail})\n")

    def end(self, summary: str) -> None:
        now = datetime.now().astimezone()
        self._write(now, f"=== run ended {now.isoformat(timespec='seconds')}: {summary}\n")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            now = datetime.fromtimestamp(record.created).astimezone()
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            first, *more = text.splitlines() or [""]
            line = f"{record.levelname} {now:%H:%M:%S} {first}"
            body = "".join(f"\n    {m}" for m in more)
            self._write(now, line + body + "\n", durable=record.levelno >= logging.WARNING)
            if record.levelno >= logging.ERROR:
                self.errors += 1
                self._keep_for_status(line)
                if not getattr(record, "no_mail", False):
                    self.unmailed.append(line)
        except Exception:
            self.handleError(record)

    def _keep_for_status(self, line: str) -> None:
        self.status_errors = [*self.status_errors[-(STATUS_ERRORS - 1) :], line]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()
