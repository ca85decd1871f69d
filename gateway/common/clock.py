"""The till's wall clock: now, in the shop's time zone with its UTC offset.

Receipts, the control unit's date and time, the journal, the reports, the SKV export,
the outbox and the catalog all stamp their moments with one :class:`Clock`, made at start
from ``[shop] timezone`` (default ``Europe/Stockholm``), so that every record the till
writes reads the same way (``2025-03-01T14:05:09+01:00``) whatever zone the computer's
operating system is set to, and across the changes to and from summer time.

:class:`SetClock` stands where a test (or anything else) sets it: no sleeping to reach a
moment, no assertion that depends on when a test runs.
"""

from __future__ import annotations

import os
import time
import zoneinfo
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

__all__ = [
    "DEFAULT_ZONE_NAME",
    "Clock",
    "SetClock",
    "UnknownZone",
    "system_zone_name",
    "zone_mismatch",
    "zone_name",
    "zone_named",
]

# Swedish local time: what the control unit, the receipt and Skatteverket's export expect.
DEFAULT_ZONE_NAME = "Europe/Stockholm"


class UnknownZone(ValueError):
    """A time-zone name the computer's time-zone database does not know; ``str()`` says why."""


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (``Europe/Stockholm``), or :class:`UnknownZone` in words."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    if not zoneinfo.available_timezones():
        raise UnknownZone(
            f"{name!r}: this computer has no time-zone database; install the system's tzdata "
            "package (or the Python package tzdata)"
        ) from None
    raise UnknownZone(f"{name!r} is not a known time zone: give an IANA name such as 'Europe/Stockholm'")


def zone_name(zone: tzinfo) -> str:
    """The zone's IANA name where it has one (``Europe/Stockholm``), else what it calls itself."""
    key = getattr(zone, "key", None)
    return str(key) if key else str(zone)


class Clock:
    """Now, in the shop's zone. One is made at start from ``[shop] timezone`` and handed down."""

    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone if zone is not None else zone_named(DEFAULT_ZONE_NAME)

    @property
    def zone_name(self) -> str:
        return zone_name(self.zone)

    def instant(self) -> datetime:
        """The moment itself (in UTC); what :class:`SetClock` replaces."""
        return datetime.now(UTC)

    def now(self) -> datetime:
        """Now, in the shop's local time with its UTC offset (what receipts and the journal show)."""
        return self.instant().astimezone(self.zone)

    def local(self, moment: datetime) -> datetime:
        """``moment`` (with an offset) as the shop's local time: the day and hour the shop lived it."""
        return moment.astimezone(self.zone)

    def today(self) -> date:
        """The shop's date now."""
        return self.now().date()


class SetClock(Clock):
    """A clock that shows what it was set to, until it is set again or moved on."""

    def __init__(self, at: datetime, zone: tzinfo | None = None) -> None:
        super().__init__(zone)
        self.set(at)

    def set(self, at: datetime) -> None:
        """Stand at ``at``; a moment without an offset is read as the shop's local time."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.zone)
        self._at = at.astimezone(UTC)

    def advance(self, by: timedelta) -> None:
        self._at += by

    def instant(self) -> datetime:
        return self._at


def system_zone_name() -> str:
    """The zone the computer's operating system is set to: ``TZ``, else ``/etc/localtime``'s name."""
    setting = os.environ.get("TZ", "").lstrip(":")
    if setting:
        return setting
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve()) if localtime.is_symlink() else ""
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1].removeprefix("Etc/")
    with_name = Path("/etc/timezone")
    try:
        written = with_name.read_text(encoding="utf-8").strip()
    except OSError:
        written = ""
    return written.removeprefix("Etc/") or time.tzname[0]


def zone_mismatch(zone: tzinfo, at: datetime | None = None) -> str | None:
    """Words for the log and the status when the operating system's zone keeps another time
    than the shop's (None when they agree all year): the till uses the shop's either way."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    # Now, and a winter's and a summer's day: a zone that agrees only half the year still differs.
    winter, summer = (datetime(moment.year, month, 15, 12, tzinfo=UTC) for month in (1, 7))
    checks = (moment, winter, summer)
    system_offsets = [datetime.fromtimestamp(m.timestamp()).astimezone().utcoffset() for m in checks]
    shop_offsets = [m.astimezone(zone).utcoffset() for m in checks]
    if system_offsets == shop_offsets:
        return None
    return (
        f"The computer's clock is set to {system_zone_name()}, the shop's time zone is "
        f"{zone_name(zone)}: receipts use the shop's time."
    )
