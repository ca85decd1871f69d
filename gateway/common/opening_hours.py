"""When the shop is open (``[shop] opening_hours``): the hours a control-unit outage counts in.

``"mon-fri 09:00-18:00, sat 10:00-16:00"``: parts of a day or a range of days and a span in
local time; ``"always"`` (the default) is always open. Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

__all__ = ["OpeningHours", "OpeningHoursError", "parse_opening_hours"]


class OpeningHoursError(ValueError):
    """What is wrong with an opening-hours text, in words."""


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_PART_RE = re.compile(r"^(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """When the shop is open: per weekday (0 Monday), its (opens, closes) spans in local time;
    ``None`` is always open. ``closes`` 24:00 is written as ``time.max``."""

    days: tuple[tuple[tuple[time, time], ...], ...] | None = None

    @property
    def always(self) -> bool:
        return self.days is None

    def is_open(self, moment: datetime) -> bool:
        if self.days is None:
            return True
        clock = moment.time().replace(tzinfo=None)
        return any(opens <= clock < closes for opens, closes in self.days[moment.weekday()])

    def open_spans(self, start: datetime, days: int = 8) -> list[tuple[datetime, datetime]]:
        """The open spans (in ``start``'s time zone) from ``start`` on, for ``days`` days; the
        first is cut to begin at ``start``. Always open: one span of ``days`` days."""
        if self.days is None:
            return [(start, start + timedelta(days=days))]
        spans = []
        for offset in range(days):
            day = (start + timedelta(days=offset)).date()
            for opens, closes in self.days[day.weekday()]:
                begin = datetime.combine(day, opens, start.tzinfo)
                end = datetime.combine(day + timedelta(days=1), time(0), start.tzinfo)
                if closes != time.max:
                    end = datetime.combine(day, closes, start.tzinfo)
                if end > start:
                    spans.append((max(begin, start), end))
        return spans


def parse_opening_hours(text: str) -> OpeningHours:
    """``"mon-fri 09:00-18:00, sat 10:00-16:00"``: parts of a day or a range of days and a span;
    ``"always"`` is always open. A day named in no part is closed."""
    if text.strip().lower() == "always":
        return OpeningHours()
    days: list[list[tuple[time, time]]] = [[] for _ in _DAYS]
    for part in (p.strip().lower() for p in text.split(",")):
        found = _HOURS_PART_RE.match(part)
        if found is None:
            raise OpeningHoursError(
                f"{part!r} is not DAY HH:MM-HH:MM or DAY-DAY HH:MM-HH:MM "
                '(e.g. "mon-fri 09:00-18:00, sat 10:00-16:00")'
            )
        first, last, h1, m1, h2, m2 = found.groups()
        for day in (first, last or first):
            if day not in _DAYS:
                raise OpeningHoursError(f"{day!r} is not a day: write {', '.join(_DAYS)}")
        if int(h1) > 23 or int(m1) > 59 or int(h2) > 24 or int(m2) > 59 or (int(h2) == 24 and int(m2)):
            raise OpeningHoursError(f"{part!r} has a time that is not HH:MM from 00:00 to 24:00")
        opens, closes = time(int(h1), int(m1)), time.max if int(h2) == 24 else time(int(h2), int(m2))
        if closes <= opens:
            raise OpeningHoursError(f"{part!r} closes before it opens (a span past midnight is two parts)")
        start, stop = _DAYS.index(first), _DAYS.index(last or first)
        if stop < start:
            raise OpeningHoursError(f"{part!r} runs its days backwards: write them Monday first")
        for index in range(start, stop + 1):
            days[index].append((opens, closes))
    return OpeningHours(tuple(tuple(sorted(spans)) for spans in days))
