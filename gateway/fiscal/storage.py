"""The disk the till's database is on, in words: how much is free, and whether a write failed for space.

A full disk is a state of the till like a dead printer, not a fault in it: a sale that
cannot be written is refused with 507 (docs/api.md), and ``GET /v1/status``, the status
page and the log name the disk — which path, how much is free — rather than the control
unit. Before it comes to that, the till warns while less than ``[register] min_free_mib``
is free (docs/configuration.md).
"""

from __future__ import annotations

import logging
from typing import Any

from gateway.common.i18n import tr
from gateway.config import DEFAULT_MIN_FREE_MIB
from gateway.fiscal.journal import Entry
from gateway.fiscal.store import StorageFull, Store, space_of

__all__ = ["DEFAULT_MIN_FREE_MIB", "Storage", "full_words", "mib"]

log = logging.getLogger("tillgw.storage")

_MIB = 1024 * 1024


def mib(size: int) -> str:
    """Bytes as a person reads them on a till: ``"3.2 MiB"``."""
    return f"{size / _MIB:.1f} MiB"


def full_words(exc: StorageFull) -> str:
    """``the disk holding /var/lib/tillgw is full (0.0 MiB free of 8.0 MiB)``."""
    return tr("the disk holding {folder} is full ({free} free of {size})").format(
        folder=exc.path.parent, free=mib(exc.free), size=mib(exc.size)
    )


class Storage:
    """The database's disk: free space against ``min_free_mib``, and the store's last failed write."""

    def __init__(self, store: Store, min_free_mib: int = DEFAULT_MIN_FREE_MIB) -> None:
        self.store = store
        self.folder = store.path.parent
        self.min_free = min_free_mib * _MIB
        self.min_free_mib = min_free_mib
        self._low = False  # what the log last said: low or not
        store.commit_listeners.append(self._after_commit)

    def _after_commit(self, _entries: list[Entry]) -> None:
        """Log once when free space falls below the threshold, and once when it is back."""
        self.state()

    def state(self) -> tuple[str, str, int, int]:
        """(state, reason, bytes free, bytes in all), logging a change between low and enough."""
        free, size = space_of(self.folder)
        full = self.store.full
        if full is not None:
            state = "failed"
            reason = tr(
                "failed: {full} when the till last wrote to it, and {free} is free now — "
                "free space on it (old files, backups), then the POS sends the same sale again"
            ).format(full=full_words(full), free=mib(free))
        elif free < self.min_free:
            state = "degraded"
            reason = tr(
                "degraded: only {free} free of {size} on the disk holding {folder} "
                "(at least {min_free_mib} MiB should be) — free space before it is full"
            ).format(free=mib(free), size=mib(size), folder=self.folder, min_free_mib=self.min_free_mib)
        else:
            state, reason = "ready", tr("ready")
        low = state != "ready"
        if low != self._low and full is None:
            self._low = low
            if low:
                log.warning("disk: %s", reason)
            else:
                log.info("disk: %s free on the disk holding %s again", mib(free), self.folder)
        return state, reason, free, size

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/status`` shows under ``storage``."""
        state, reason, free, size = self.state()
        return {
            "path": str(self.folder),
            "state": state,
            "reason": reason,
            "free_mib": round(free / _MIB, 1),
            "size_mib": round(size / _MIB, 1),
            "min_free_mib": self.min_free_mib,
        }
