"""Keeping the sync module's logs to ``[sync] keep_logs_days``: the module prunes them itself.

What grows without end while the module runs for years, and is a log rather than a
record: the daily run logs (``sync-YYYY-MM-DD.log`` in ``log_dir``, :mod:`.runlog`) and,
in the inbox, the set-aside messages that are done with — those ``--reprocess`` took into
the inbox (``released_at``) and the bytes that were no till's message at all (no
``msg_id``). Those older than the days kept are deleted: a day's file by the day its name
carries, a row by when it was last seen or released. ``sync.log`` is rotated by size
instead (:mod:`gateway.cli.logs`).

Never pruned: the inbox's messages (a message resent by a till is known as already stored
by them, so none is booked twice), a held message (it waits for ``--reprocess``), the SIE
files and every adapter's record of what it booked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from gateway.sync.inbox import Inbox

__all__ = ["PRUNE_EVERY", "Pruned", "prune_daily_logs", "prune_logs", "prune_set_aside"]

# A running module prunes this often: the days kept are whole days, so a few times a day
# keeps the disk within a day of the setting whatever hour the module was started.
PRUNE_EVERY = 6 * 3600.0

_DAILY_LOG = re.compile(r"^sync-(\d{4}-\d{2}-\d{2})\.log$")


@dataclass(slots=True)
class Pruned:
    """What one pruning deleted."""

    files: list[Path] = field(default_factory=list)  # daily logs
    set_aside: int = 0  # rows of the inbox's set-aside messages

    def summary(self, keep_days: int) -> str:
        return (
            f"logs older than {keep_days} day(s) deleted: {len(self.files)} daily log file(s), "
            f"{self.set_aside} set-aside message(s) done with"
        )


def prune_daily_logs(log_dir: Path, keep_days: int, today: date) -> list[Path]:
    """Delete the daily logs of days more than ``keep_days`` before ``today``; the files deleted.

    Only files named as :func:`gateway.sync.runlog.log_name` names them are touched: a
    ``log_dir`` shared with other programs keeps theirs."""
    oldest_kept = today - timedelta(days=keep_days)
    deleted: list[Path] = []
    if not log_dir.is_dir():
        return deleted
    for path in sorted(log_dir.iterdir()):
        match = _DAILY_LOG.match(path.name)
        if match is None or not path.is_file():
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:  # sync-2026-02-30.log: not one of ours
            continue
        if day < oldest_kept:
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


async def prune_set_aside(inbox: Inbox, keep_days: int, now: datetime) -> int:
    """Delete the set-aside messages done with more than ``keep_days`` before ``now``; how many."""
    cutoff = (now - timedelta(days=keep_days)).isoformat(timespec="milliseconds")
    # The times are ISO text with their offset: compared as the instants they are (a row
    # written in summer time, a cut-off in winter time), by julianday() in SQLite and as
    # timestamptz in PostgreSQL.
    instant = "CAST({} AS timestamptz)" if inbox.dialect == "postgresql" else "julianday({})"
    released, last, given = (instant.format(x) for x in ("released_at", "last_at", "?"))
    async with inbox.transaction() as db:
        cursor = await db.execute(
            "DELETE FROM rejected WHERE "
            f"(released_at IS NOT NULL AND {released} < {given}) "
            f"OR (msg_id IS NULL AND {last} < {given})",
            (cutoff, cutoff),
        )
        return cursor.rowcount


async def prune_logs(log_dir: Path, inbox: Inbox, keep_days: int, now: datetime) -> Pruned:
    """Both prunings; raises :class:`OSError` or :class:`sqlite3.Error` as they do."""
    files = prune_daily_logs(log_dir, keep_days, now.date())
    return Pruned(files, await prune_set_aside(inbox, keep_days, now))
