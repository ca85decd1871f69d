"""The command line's progress display for long work: a rich bar on stderr, or nothing.

Shown only when both stdout and stderr are terminals: a command run by cron, by systemd,
in a pipe or with its output in a file prints its summary and nothing else, so a log or a
redirected export never fills with bars. The bars are transient: when the work ends they
are gone, and what stays on the screen is the command's summary (counts, time, where it
wrote) — never the data itself.

Use it around any long work that takes a :class:`gateway.common.progress.Progress`::

    from gateway.cli.progress import progress_display

    with progress_display() as progress:
        progress.stage("files copied", total=len(files))  # total=None: a count without a bar end
        for file in files:
            copy(file)
            progress.advance()
    print(f"{len(files)} files copied to {target} in {seconds:.1f} s")
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from gateway.common.progress import NO_PROGRESS
from gateway.common.progress import Progress as ProgressSink

if TYPE_CHECKING:  # rich is loaded only when a bar is drawn: a command in a pipe starts without it
    from rich.progress import Progress, TaskID

__all__ = ["RichProgress", "progress_display", "shows_progress"]


def shows_progress(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Whether a person watches: stdout and stderr both terminals."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    return _isatty(out) and _isatty(err)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class RichProgress:
    """A :class:`~gateway.common.progress.Progress` drawn by rich: one line per stage, the
    finished ones ticked off above the current one."""

    def __init__(self, display: Progress) -> None:
        self.display = display
        self._task: TaskID | None = None

    def stage(self, what: str, total: int | None = None) -> None:
        self._finish()
        self._task = self.display.add_task(what, total=total)

    def advance(self, items: int = 1) -> None:
        if self._task is not None:
            self.display.advance(self._task, items)

    def _finish(self) -> None:
        if self._task is not None:
            task = self.display.tasks[self._task]
            # A stage of unknown length ends where it stopped: its count is its total.
            self.display.update(self._task, total=task.completed, completed=task.completed)


@contextlib.contextmanager
def progress_display(*, show: bool | None = None, stream: TextIO | None = None) -> Iterator[ProgressSink]:
    """A progress display on ``stream`` (stderr) while the block runs; a silent one when
    ``show`` is False or, left None, when stdout or stderr is not a terminal."""
    if not (shows_progress() if show is None else show):
        yield NO_PROGRESS
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(file=stream if stream is not None else sys.stderr)
    display = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with display:
        yield RichProgress(display)
