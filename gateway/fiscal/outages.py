"""Control-unit outages: a unit unusable too long in opening hours is journaled, shown, and ended.

A register whose control unit stops working must have it documented and reported to
Skatteverket without delay (felanmälan, 4 kap. 1 § SKVFS 2014:10), and sales may not be
entered afterwards as if registered. The till already refuses every sale the unit does
not answer (no control code, no receipt); :class:`OutageWatch` documents it. It listens
to the unit's health (the driver's own tracker: it asks the unit nothing itself), and
once the unit has been failed for ``[control_unit] outage_after_minutes`` of opening
hours (``[shop] opening_hours``) it journals a ``control_unit.outage`` entry, and a
``control_unit.outage_ended`` entry when the unit answers again.

The journal is the record: at start the watch reads it, so an outage journaled and not
ended is still open after a restart, until the unit answers. ``tillgw register
--fault-report`` makes the felanmälan sheet from the same entries (:func:`outages_in`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.common.health import DeviceState, Health
from gateway.common.i18n import tr
from gateway.common.opening_hours import OpeningHours
from gateway.devices.control_units.interface import ControlUnit
from gateway.fiscal.bodies import OUTAGE_KINDS, OutageBody, OutageEndedBody
from gateway.fiscal.journal import read_entries
from gateway.fiscal.store import Store

__all__ = [
    "ACTION",
    "ENDED_KIND",
    "FAULT_REPORT_COMMAND",
    "OUTAGE_KIND",
    "SHOWN_AFTER_END",
    "Outage",
    "OutageListener",
    "OutageWatch",
    "due_at",
    "outages_in",
]

log = logging.getLogger("tillgw.outages")

OUTAGE_KIND, ENDED_KIND = OUTAGE_KINDS
ACTION = "sales refused: no control code, no receipt"
FAULT_REPORT_COMMAND = "tillgw register --fault-report"
# An ended outage stays on the status page this long, so that whoever opens the shop the
# next day still sees that a fault report is owed.
SHOWN_AFTER_END = timedelta(hours=24)
_LONGEST_SLEEP = 3600.0  # wake at least hourly: a clock set forward is noticed


@dataclass(frozen=True, slots=True)
class Outage:
    """One ``control_unit.outage`` entry (``seq``), and its end when one is journaled."""

    seq: int
    journaled_at: datetime
    body: OutageBody
    ended_seq: int | None = None
    until: datetime | None = None

    @property
    def since(self) -> datetime:
        return datetime.fromisoformat(self.body.since)

    @property
    def ongoing(self) -> bool:
        return self.until is None

    def minutes(self, now: datetime) -> int:
        """How long it lasted (or has lasted until ``now``), in whole minutes rounded up."""
        return _minutes(self.since, self.until or now)

    def message(self, now: datetime) -> str:
        """In words a shop owner understands, with what to do."""
        since = _clock_text(self.since, now)
        if self.until is None:
            return tr(
                "The control unit has not answered since {since} ({minutes}). Sales are refused. "
                "File a fault report (felanmälan) with Skatteverket: {command}"
            ).format(since=since, minutes=_minutes_text(self.minutes(now)), command=FAULT_REPORT_COMMAND)
        return tr(
            "The control unit did not answer from {since} to {until} ({minutes}); sales were refused. "
            "File a fault report (felanmälan) with Skatteverket if it is not done: {command}"
        ).format(
            since=since,
            until=_clock_text(self.until, now),
            minutes=_minutes_text(self.minutes(now)),
            command=FAULT_REPORT_COMMAND,
        )

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "ongoing": self.ongoing,
            "since": self.body.since,
            "until": None if self.until is None else self.until.isoformat(timespec="seconds"),
            "minutes": self.minutes(now),
            "unit_id": self.body.unit_id,
            "reason": self.body.reason,
            "action": self.body.action,
            "journal_entry": self.seq,
            "message": self.message(now),
        }


def outages_in(conn: sqlite3.Connection) -> list[Outage]:
    """Every outage in the journal, oldest first, each with its end when it has one."""
    found: dict[int, Outage] = {}
    for entry in read_entries(conn, kinds=OUTAGE_KINDS):
        if entry.kind == OUTAGE_KIND:
            found[entry.seq] = Outage(entry.seq, datetime.fromisoformat(entry.at), entry.body_as(OutageBody))
        else:
            ended = entry.body_as(OutageEndedBody)
            if ended.outage in found:
                outage = found[ended.outage]
                until = datetime.fromisoformat(ended.until)
                found[ended.outage] = Outage(outage.seq, outage.journaled_at, outage.body, entry.seq, until)
    return list(found.values())


def due_at(since: datetime, after: timedelta, hours: OpeningHours) -> datetime | None:
    """When a unit failed since ``since`` has been failed for ``after`` of opening hours (None:
    not within a week: a shop with no opening hours)."""
    left = after
    for begin, end in hours.open_spans(since):
        if end - begin >= left:
            return begin + left
        left -= end - begin
    return None


OutageListener = Callable[[dict[str, Any] | None], None]


class OutageWatch:
    """Watches one control unit's health and journals its outages (see the module's words)."""

    def __init__(
        self,
        store: Store,
        unit: ControlUnit,
        pos_id: str,
        *,
        after: timedelta,
        hours: OpeningHours,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.unit = unit
        self.pos_id = pos_id
        self.after = after
        self.hours = hours
        self._clock = clock if clock is not None else store.clock.now  # the shop's time
        self._last: Outage | None = None  # the open outage, or the last that ended
        self._failing_since: datetime | None = None
        self.due: datetime | None = None  # when a failing unit becomes an outage; None: not failing
        self._wake = asyncio.Event()
        self._seen = 0  # health changes heard
        self._handled = 0  # and acted on
        self._settled = asyncio.Event()
        self._told = asyncio.Event()  # set when an outage is journaled or ends
        self._task: asyncio.Task[None] | None = None
        self._stop_listening: Callable[[], None] | None = None
        self._listeners: list[OutageListener] = []

    @property
    def open_outage(self) -> Outage | None:
        return self._last if self._last is not None and self._last.ongoing else None

    @property
    def last_outage(self) -> Outage | None:
        return self._last

    async def start(self) -> None:
        """Read the journal's last outage, then follow the unit's health."""
        found = await self.store.run(lambda: outages_in(self.store.conn))
        self._last = found[-1] if found else None
        if self.open_outage is not None:
            self._failing_since = self.open_outage.since  # still open from before the restart
        self._stop_listening = self.unit.on_change(self._heard)
        self._heard(self.unit.health)
        self._task = asyncio.create_task(self._run(), name="control unit outage watch")

    async def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def on_change(self, listener: OutageListener) -> Callable[[], None]:
        """Call ``listener`` with :meth:`status` whenever an outage is journaled or ends."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def settled(self) -> None:
        """Return once every change of the unit's health heard so far has been acted on."""
        while self._handled < self._seen:
            await self._settled.wait()

    async def wait_until(self, *, ongoing: bool) -> None:
        """Return once an outage is open (``ongoing``), or once none is."""
        while (self.open_outage is not None) is not ongoing:
            await self._told.wait()

    def status(self) -> dict[str, Any] | None:
        """``outage`` in ``GET /v1/status``: the open outage, or the last one for a day after it ended."""
        now = self._clock()
        last = self._last
        if last is None or (last.until is not None and now - last.until > SHOWN_AFTER_END):
            return None
        return last.to_json(now)

    # -- the watch ------------------------------------------------------------------------------

    def _heard(self, health: Health) -> None:
        if health.state is DeviceState.FAILED:
            if self._failing_since is None:
                self._failing_since = health.since.astimezone(self._clock().tzinfo)
        elif health.state is not DeviceState.CONNECTING:  # it answers: ready, or working with a warning
            self._failing_since = None
        self._seen += 1
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            seen = self._seen
            try:
                await self._step()
            except Exception:  # a full disk, say: the watch goes on, the next change tries again
                log.exception("control unit outage watch")
            self._handled = seen
            self._settled.set()
            self._settled = asyncio.Event()
            timeout = _LONGEST_SLEEP
            if self.due is not None and self.open_outage is None:
                timeout = min(timeout, max((self.due - self._clock()).total_seconds(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _step(self) -> None:
        now, since, open_outage = self._clock(), self._failing_since, self.open_outage
        self.due = None if since is None else due_at(since, self.after, self.hours)
        if since is None and open_outage is not None and self.unit.state is not DeviceState.CONNECTING:
            await self._end(open_outage, self.unit.health.since.astimezone(now.tzinfo))
        elif since is not None and open_outage is None and self.due is not None and now >= self.due:
            await self._begin(since)

    async def _begin(self, since: datetime) -> None:
        identity = self.unit.unit_identity
        body = OutageBody(
            since=since.isoformat(timespec="seconds"),
            unit=self.unit.url,
            unit_id=identity.unit_id if identity is not None else None,
            pos_id=self.pos_id,
            reason=self.unit.reason,
            after_seconds=round(self.after.total_seconds()),
            action=ACTION,
        )
        entry = await self.store.transact(lambda w: w.append(OUTAGE_KIND, body))
        self._last = Outage(entry.seq, datetime.fromisoformat(entry.at), body)
        words = self._last.message(self._clock())
        log.warning("control unit outage (journal entry %d): %s", entry.seq, words)
        self._tell()

    async def _end(self, outage: Outage, until: datetime) -> None:
        until = max(until, outage.since)
        body = OutageEndedBody(
            outage=outage.seq,
            since=outage.body.since,
            until=until.isoformat(timespec="seconds"),
            minutes=_minutes(outage.since, until),
            unit_id=outage.body.unit_id,
            pos_id=self.pos_id,
        )
        entry = await self.store.transact(lambda w: w.append(ENDED_KIND, body))
        self._last = Outage(outage.seq, outage.journaled_at, outage.body, entry.seq, until)
        log.warning("control unit outage of journal entry %d ended (entry %d)", outage.seq, entry.seq)
        self._tell()

    def _tell(self) -> None:
        self._told.set()
        self._told = asyncio.Event()
        status = self.status()
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:  # a broken listener must not stop the watch
                log.exception("outage listener %r failed", listener)


def _minutes(since: datetime, until: datetime) -> int:
    return max(0, math.ceil((until - since).total_seconds() / 60))


def _minutes_text(minutes: int) -> str:
    return tr("1 minute") if minutes == 1 else tr("{minutes} minutes").format(minutes=minutes)


def _clock_text(moment: datetime, now: datetime) -> str:
    """``10:42`` today, ``2025-03-01 10:42`` another day."""
    local = moment.astimezone(now.tzinfo)
    return local.strftime("%H:%M") if local.date() == now.date() else local.strftime("%Y-%m-%d %H:%M")
