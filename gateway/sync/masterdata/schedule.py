"""When the master-data engine syncs: an interval within weekdays and hours, and a daily full sync.

``[sync.masterdata]``: ``interval_minutes = 15``, ``weekdays = "mon-sat"``, ``hours =
"07-20"`` — a "changes" sync every 15 minutes, Monday to Saturday, from 07:00 until
20:00 — and ``full_sync_at = "03:00"``: a full sync every day at 03:00 (whatever the
weekdays and hours: a full sync belongs in the night). A full sync also counts as a
changes sync. A service that was not running at 03:00 makes up the full sync when it
starts. Everything here is pure: the decisions take the time they are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.sync.masterdata.config import MasterDataConfig

__all__ = ["Schedule", "interval_warning"]


@dataclass(frozen=True, slots=True)
class Schedule:
    interval_minutes: int = 15  # 0: no changes syncs on a schedule
    weekdays: frozenset[int] = frozenset(range(7))  # Monday 0
    hours: tuple[int, int] = (0, 24)
    full_sync_at: tuple[int, int] | None = None

    @classmethod
    def of(cls, config: MasterDataConfig) -> Schedule:
        return cls(config.interval_minutes, config.weekdays, config.hours, config.full_sync_at)

    def in_hours(self, now: datetime) -> bool:
        return now.weekday() in self.weekdays and self.hours[0] <= now.hour < self.hours[1]

    def last_full_time(self, now: datetime) -> datetime | None:
        """The latest moment at or before ``now`` when a full sync was due."""
        if self.full_sync_at is None:
            return None
        hour, minute = self.full_sync_at
        today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return today if today <= now else today - timedelta(days=1)

    def due(self, now: datetime, last_changes: datetime | None, last_full: datetime | None) -> str | None:
        """``"full"``, ``"changes"`` or None: what should run at ``now``, given when each last ran."""
        full_time = self.last_full_time(now)
        if full_time is not None and (last_full is None or last_full < full_time):
            return "full"
        if self.interval_minutes <= 0 or not self.in_hours(now):
            return None
        latest = max((t for t in (last_changes, last_full) if t is not None), default=None)
        if latest is None or now - latest >= timedelta(minutes=self.interval_minutes):
            return "changes"
        return None


def interval_warning(interval_minutes: int, full_sync_seconds: float | None) -> str | None:
    """The warning when the interval is shorter than the last full sync took, or None."""
    if full_sync_seconds is None or interval_minutes <= 0 or interval_minutes * 60 >= full_sync_seconds:
        return None
    return (
        f"[sync.masterdata].interval_minutes = {interval_minutes} is shorter than the last full sync took "
        f"({full_sync_seconds / 60:.1f} minutes): the schedule's interval should exceed how long a full "
        "sync takes"
    )
