"""What the journal exports share: a period of whole days, where its entries lie, a file written whole.

A period runs from its first day at 00:00:00 to its last day at 23:59:59, in the till's
local time as each entry recorded it (``at`` without its UTC offset). The journal is
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
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

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
    """Whole days: ``start`` 00:00:00 to ``end`` 23:59:59, local time."""

    start: date
    end: date

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


def wall_clock(at: str) -> datetime:
    """An entry's ``at`` as the local time it recorded, without its offset, to the second."""
    return datetime.fromisoformat(at).replace(tzinfo=None, microsecond=0)


def first_entry_at_or_after(conn: sqlite3.Connection, moment: datetime) -> int:
    """The number of the first entry whose local time is ``moment`` or later (head + 1 if none).

    A binary search over the entry numbers: it relies on the journal being appended in
    time order, which holds to within seconds (see docs/journal-export.md).
    """
    row = conn.execute("SELECT MAX(seq) FROM journal").fetchone()
    lo, hi = 1, (int(row[0]) if row and row[0] is not None else 0) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        found = conn.execute(
            "SELECT seq, at FROM journal WHERE seq >= ? ORDER BY seq LIMIT 1", (mid,)
        ).fetchone()
        if found is None or wall_clock(str(found[1])) >= moment:
            hi = mid
        else:
            lo = int(found[0]) + 1
    return lo


def period_range(conn: sqlite3.Connection, period: Period) -> tuple[int, int]:
    """The unbroken run of entry numbers ``(first, last)`` the period holds; ``last < first`` when none."""
    first = first_entry_at_or_after(conn, period.first_moment)
    after = first_entry_at_or_after(conn, period.last_moment + timedelta(seconds=1))
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
