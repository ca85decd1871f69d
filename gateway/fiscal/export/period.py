"""What the journal exports share: a period of whole days, where its entries lie, a file written whole.

A period runs from its first day at 00:00:00 to its last day at 23:59:59 in the shop's
time zone (``[shop] timezone``): each entry's ``at`` is read as the shop's local time, so
an entry written while the till's clock kept another zone still falls on the shop's day. The journal is
appended in time order, so the entries of a period are found by a binary search over
their numbers instead of a scan of the whole journal; see docs/journal-export.md.

An export is written to a temporary file beside its destination and renamed onto it
only when it is complete: a refused or failed export leaves no file, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TextIO

from gateway.common.clock import DEFAULT_ZONE_NAME, zone_named

__all__ = [
    "ExportRefused",
    "Period",
    "first_entry_at_or_after",
    "period_range",
    "wall_clock",
    "written_whole",
]


class ExportRefused(Exception):
    """An export that was not made; the message says what is missing or wrong."""


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days: ``start`` 00:00:00 to ``end`` 23:59:59, the shop's local time in ``zone``."""

    start: date
    end: date
    zone: tzinfo = field(default_factory=lambda: zone_named(DEFAULT_ZONE_NAME))

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ExportRefused(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def first_moment(self) -> datetime:
        return datetime.combine(self.start, time(0, 0, 0))

    @property
    def last_moment(self) -> datetime:
        return datetime.combine(self.end, time(23, 59, 59))

    def holds(self, moment: datetime) -> bool:
        """Whether a local time (without offset) lies in the period."""
        return self.first_moment <= moment <= self.last_moment


def wall_clock(at: str, zone: tzinfo) -> datetime:
    """An entry's ``at`` as the shop's local time in ``zone``, without its offset, to the second.

    An entry written in the shop's zone reads as it was written; one from a till whose
    clock kept another zone is moved to the shop's.
    """
    return datetime.fromisoformat(at).astimezone(zone).replace(tzinfo=None, microsecond=0)


def first_entry_at_or_after(conn: sqlite3.Connection, moment: datetime, zone: tzinfo) -> int:
    """The number of the first entry whose local time in ``zone`` is ``moment`` or later (head + 1 if none).

    A binary search over the entry numbers: it relies on the journal being appended in
    time order, which holds to within seconds (see docs/journal-export.md). The hour
    repeated when summer time ends is no exception for a search from midnight: it never
    straddles one.
    """
    row = conn.execute("SELECT MAX(seq) FROM journal").fetchone()
    lo, hi = 1, (int(row[0]) if row and row[0] is not None else 0) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        found = conn.execute(
            "SELECT seq, at FROM journal WHERE seq >= ? ORDER BY seq LIMIT 1", (mid,)
        ).fetchone()
        if found is None or wall_clock(str(found[1]), zone) >= moment:
            hi = mid
        else:
            lo = int(found[0]) + 1
    return lo


def period_range(conn: sqlite3.Connection, period: Period) -> tuple[int, int]:
    """The unbroken run of entry numbers ``(first, last)`` the period holds; ``last < first`` when none."""
    first = first_entry_at_or_after(conn, period.first_moment, period.zone)
    after = first_entry_at_or_after(conn, period.last_moment + timedelta(seconds=1), period.zone)
    return first, after - 1


@contextlib.contextmanager
def written_whole(path: Path) -> Iterator[TextIO]:
    """A text file (UTF-8, ``\\n`` line ends) that appears at ``path`` only if the block completes."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
