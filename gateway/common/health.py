"""A device's health: one of four states, with a reason in words a shop owner understands.

Every driver keeps one :class:`HealthTracker`; the status API and ``tillgw diag`` read
it, and listeners (the WebSocket event stream, later) are told of every change.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.common.i18n import N_, tr

__all__ = ["DeviceState", "Health", "HealthListener", "HealthReporter", "HealthTracker"]

log = logging.getLogger("tillgw.devices.health")


class DeviceState(enum.StrEnum):
    CONNECTING = "connecting"  # not yet known to work: opening, identifying
    READY = "ready"  # works, nothing to report
    DEGRADED = "degraded"  # works, but someone should act soon (memory almost full)
    FAILED = "failed"  # does not work now; the reason says what to do

    @property
    def words(self) -> str:
        """The state for a person, in the till's language (the value stays the machine word)."""
        return tr(_STATE_WORDS[self])


# The state as the reason starts with it; the JSON's "state" is the English value.
_STATE_WORDS = {
    DeviceState.CONNECTING: N_("connecting"),
    DeviceState.READY: N_("ready"),
    DeviceState.DEGRADED: N_("degraded"),
    DeviceState.FAILED: N_("failed"),
}


@dataclass(frozen=True, slots=True)
class Health:
    state: DeviceState
    reason: str  # "ready", or "<state>: <what is wrong> — <what to do>", in the till's language
    since: datetime  # when the state or reason last changed (UTC)
    detail: str = ""  # the reason without its state: what an exception carries on


HealthListener = Callable[[Health], None]


class HealthTracker:
    """The current :class:`Health` of one device, and who wants to hear of changes."""

    def __init__(self, device: str, detail: str | None = None) -> None:
        self.device = device
        detail = tr("not yet contacted") if detail is None else detail
        self._health = Health(DeviceState.CONNECTING, _reason(DeviceState.CONNECTING, detail), _now(), detail)
        self._listeners: list[HealthListener] = []
        self._changed = asyncio.Event()

    @property
    def health(self) -> Health:
        return self._health

    @property
    def state(self) -> DeviceState:
        return self._health.state

    @property
    def reason(self) -> str:
        return self._health.reason

    def set(self, state: DeviceState, detail: str | None = None) -> None:
        """Enter ``state``; ``detail`` is the words after ``state:`` (none for ready)."""
        reason = _reason(state, detail)
        if state is self._health.state and reason == self._health.reason:
            return
        before = self._health.state
        self._health = Health(state, reason, _now(), detail or "")
        log.log(_level_of(before, state), "%s: %s", self.device, reason)
        # Wake waiters, then start a fresh event for the next change.
        self._changed.set()
        self._changed = asyncio.Event()
        for listener in list(self._listeners):
            try:
                listener(self._health)
            except Exception:  # a broken listener must not break the device
                log.exception("health listener %r failed", listener)

    def on_change(self, listener: HealthListener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that stops it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    async def wait_for(self, *states: DeviceState) -> Health:
        """Wait until the device is in one of ``states`` (returns at once if it is)."""
        while self._health.state not in states:
            await self._changed.wait()
        return self._health


def _level_of(before: DeviceState, state: DeviceState) -> int:
    """How loud a change is in the log: a device that stopped working is an error, one that
    needs attention soon a warning, every other change (a recovery among them) information."""
    if state is DeviceState.FAILED:
        return logging.ERROR
    if state is DeviceState.DEGRADED:
        return logging.WARNING
    return logging.INFO


def _reason(state: DeviceState, detail: str | None) -> str:
    return f"{state.words}: {detail}" if detail else state.words


def _now() -> datetime:
    return datetime.now(UTC)


class HealthReporter:
    """What every driver shows of its health; the driver sets ``_url`` and ``_health``.

    The status API, ``tillgw diag`` and the WebSocket read these, whatever the device.
    """

    _url: str
    _health: HealthTracker

    @property
    def url(self) -> str:
        return self._url

    @property
    def health(self) -> Health:
        return self._health.health

    @property
    def state(self) -> DeviceState:
        return self._health.state

    @property
    def reason(self) -> str:
        return self._health.reason

    @property
    def detail(self) -> str:
        """The reason without its state word: what the device's exceptions carry."""
        return self._health.health.detail

    def on_change(self, listener: HealthListener) -> Callable[[], None]:
        """Call ``listener`` on every change of state or reason; returns the way to stop."""
        return self._health.on_change(listener)

    async def wait_for(self, *states: DeviceState) -> Health:
        """Wait until the device is in one of ``states`` (at once if it is)."""
        return await self._health.wait_for(*states)
