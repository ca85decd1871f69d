"""Progress of long work, told as it goes: what a command shows while it works.

The work (a master-data sync, a journal export, a check of the chain) takes a
:class:`Progress` and tells it each stage it begins and each item done; it never knows
whether anyone watches. The command line's display is :mod:`gateway.cli.progress`; work
called from elsewhere (the service, a test) is given :data:`NO_PROGRESS`.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_PROGRESS", "Progress", "SilentProgress"]


class Progress(Protocol):
    def stage(self, what: str, total: int | None = None) -> None:
        """Begin a stage (``"articles read"``), of ``total`` items when known; ends the last one."""
        ...

    def advance(self, items: int = 1) -> None:
        """``items`` more of the current stage are done."""
        ...


class SilentProgress:
    """A :class:`Progress` that shows nothing."""

    def stage(self, what: str, total: int | None = None) -> None:
        return None

    def advance(self, items: int = 1) -> None:
        return None


NO_PROGRESS: Progress = SilentProgress()
