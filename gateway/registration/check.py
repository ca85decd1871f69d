"""Does the till still match what was registered with Skatteverket?

A register whose control unit is replaced, or whose manufacturing number, designation
or organisationsnummer changes, must be reported again within two weeks. At start the
till compares what it is now — the control unit's answer and the config's register
identity — with ``registration.json`` (:mod:`gateway.registration.record`), and when they
differ it says so: a WARNING in its log, ``registration`` in ``GET /v1/status``, and
once in the journal as a ``registration.changed`` entry. That entry's date is the day
the change was first seen, from which the two weeks run, so a restart neither journals
the change again nor moves the date.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from gateway.common.i18n import N_, tr
from gateway.config import Config
from gateway.registration.record import Registration, RegistrationError, load_registration

__all__ = [
    "CHANGED_KIND",
    "REPORT_WITHIN",
    "RegistrationState",
    "assess",
    "check_at_start",
    "current_identity",
    "first_seen_in",
]

log = logging.getLogger("tillgw.registration")


def _as_written(words: str) -> str:
    return words


CHANGED_KIND = "registration.changed"
REPORT_WITHIN = timedelta(days=14)  # "inom två veckor"
NOT_REGISTERED = N_("not registered yet: run tillgw register")
ITEM_WORDS = {
    "control_unit.manufacturing_number": N_("control unit's manufacturing number"),
    "register.manufacturing_number": N_("register's manufacturing number"),
    "register.designation": N_("register's designation"),
    "business.orgnr": N_("organisationsnummer"),
}


def current_identity(config: Config, unit_id: str | None) -> dict[str, str | None]:
    """What the till is now: ``unit_id`` is the control unit's answer (None when it gave none)."""
    orgnr = config.shop.orgnr
    return {
        "control_unit.manufacturing_number": unit_id,
        "register.manufacturing_number": config.manufacturing_number,
        "register.designation": config.pos_id,
        "business.orgnr": f"{orgnr[:6]}-{orgnr[6:]}" if len(orgnr) == 10 else orgnr,
    }


@dataclass(slots=True)
class RegistrationState:
    """The till against its registration, in words and items (``GET /v1/status``, ``tillgw diag``)."""

    registered: dict[str, str] | None
    registered_on: date | None
    current: dict[str, str | None]
    changed: list[str] = field(default_factory=list)
    first_seen: date | None = None  # the day a change was first seen
    problem: str | None = None  # a registration.json that cannot be read

    @property
    def report_by(self) -> date | None:
        return None if self.first_seen is None else self.first_seen + REPORT_WITHIN

    @property
    def ok(self) -> bool:
        return self.registered is not None and not self.changed and self.problem is None

    @property
    def message(self) -> str:
        """In English, for the log."""
        return self._said(_as_written)

    @property
    def words(self) -> str:
        """In the till's language, for a person (``GET /v1/status``, ``tillgw diag``)."""
        return self._said(tr)

    def _said(self, say: Callable[[str], str]) -> str:
        if self.problem is not None:
            return say(N_("{problem} — run tillgw register again")).format(problem=self.problem)
        if self.registered is None:
            return say(NOT_REGISTERED)
        if not self.changed:
            return say(N_("registered on {day}: the till matches its registration")).format(
                day=self.registered_on
            )
        items = "; ".join(
            f"{say(ITEM_WORDS[item])} {self.registered[item]} -> {self.current[item]}"
            for item in self.changed
        )
        return say(
            N_(
                "changed since it was registered on {day}: {items} — report the change to "
                "Skatteverket within two weeks, by {report_by}, then run tillgw register again"
            )
        ).format(day=self.registered_on, items=items, report_by=self.report_by)

    def journal_body(self) -> dict[str, Any]:
        """The ``registration.changed`` entry's body (the journal adds the POS id)."""
        assert self.registered is not None and self.report_by is not None
        return {
            "registered": self.registered,
            "registered_on": str(self.registered_on),
            "current": self.current,
            "changed": self.changed,
            "report_by": self.report_by.isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "registered": self.registered,
            "registered_on": None if self.registered_on is None else self.registered_on.isoformat(),
            "current": self.current,
            "changed": self.changed,
            "first_seen": None if self.first_seen is None else self.first_seen.isoformat(),
            "report_by": None if self.report_by is None else self.report_by.isoformat(),
            "message": self.words,
        }


def first_seen_in(entries: Iterable[tuple[str, str]], state: RegistrationState) -> date | None:
    """The day of the earliest ``registration.changed`` entry (``at``, body text) for this very change."""
    for at, body_text in entries:
        body = json.loads(body_text)
        if body.get("registered") == state.registered and body.get("current") == state.current:
            return date.fromisoformat(at[:10])
    return None


def assess(
    registration: Registration | None,
    current: dict[str, str | None],
    *,
    first_seen: date | None = None,
    today: date | None = None,
) -> RegistrationState:
    """Compare; an item the till cannot tell now (a unit that did not answer) is not a change."""
    if registration is None:
        return RegistrationState(None, None, current)
    registered = registration.identity()
    changed = [
        item for item, value in registered.items() if current[item] is not None and current[item] != value
    ]
    state = RegistrationState(registered, registration.registered_on, current, changed)
    if changed:
        state.first_seen = first_seen or today or date.today()
    return state


class _Journal(Protocol):
    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...


class _Recorder(Protocol):
    async def record(self, kind: str, body: dict[str, Any]) -> int: ...


async def check_at_start(
    config: Config, unit_id: str | None, store: _Journal, pipeline: _Recorder, *, today: date | None = None
) -> RegistrationState:
    """The till's start: assess, journal a new change once, and warn in the log while it lasts.

    ``today`` is the shop's date (``[shop] timezone``), not the computer's.
    """
    today = today or datetime.now(config.shop.timezone).date()
    try:
        registration = load_registration(config.data_dir)
    except RegistrationError as exc:
        state = RegistrationState(None, None, current_identity(config, unit_id), problem=exc.reason)
        log.warning("registration: %s", state.message)
        return state
    state = assess(registration, current_identity(config, unit_id), today=today)
    if not state.changed:
        if state.registered is None:
            log.info("registration: %s", state.message)
        return state
    rows = await store.fetchall(f"SELECT at, body FROM journal WHERE kind = '{CHANGED_KIND}' ORDER BY seq")
    seen = first_seen_in(((str(r[0]), str(r[1])) for r in rows), state)
    if seen is None:
        await pipeline.record(CHANGED_KIND, state.journal_body())
    else:
        state.first_seen = seen
    log.warning("registration: %s", state.message)
    return state
