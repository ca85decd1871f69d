"""The sync module's last run, for the tills to show (schema ``tillgw.sync-status/1``).

Topic, one per store (beside the catalog's, see :mod:`gateway.messages.catalog`)::

    tillgw/{orgnr}/{store}/sync/status      the last pass or run       sync -> tills (retained)

The sync module publishes a :class:`SyncStatus` after each run of ``tillgw sync --once``
and after the passes of a running ``tillgw sync``, at QoS 1 with the *retain* flag: the
broker keeps the last one and hands it to every till that subscribes, also to a till
started long after. A store with several sync workers has one retained message: the
last worker to publish wins (``worker`` says which one it was).

A message::

    {"schema": "tillgw.sync-status/1", "msg_id": "…", "orgnr": "5599000006", "store": "main",
     "worker": "tillgw-sync-server1", "at": "2026-05-21T10:00:02+02:00", "state": "error",
     "summary": "stored 3, …, processed 3; …", "errors": ["ERROR 10:00:01 sie: cannot write …"]}

``state`` is ``ok`` or ``error``; ``errors`` are the ERROR lines of the day's log since the
last status (at most :data:`MAX_ERRORS`, the latest, each at most :data:`MAX_ERROR_CHARS`).

``held`` (optional; a status without it holds nothing): the store's messages the sync
module holds — it cannot take or book them until a person acts — at most
:data:`MAX_HELD`, the oldest first, each ``{"msg_id", "register", "sequence", "kind",
"reason", "held_by", "since"}`` (``held_by``: ``intake`` or ``processing``); ``held_count``
how many there are in all. Each reason says what to do; ``tillgw sync --reprocess`` takes
them once the cause is fixed. A status with held messages has ``state`` ``error``.

``registers`` (optional; a status without it says nothing of them): where each register's
series of the store stands in the sync module's inbox, the same figures ``tillgw sync
--status`` prints — ``{"register": "KASSA-1", "sequence": 812, "receipt": 640}``: the
highest message sequence stored from the register, and the highest receipt number among
them (``null``: no receipt yet), at most :data:`MAX_REGISTERS`, in order of their names.
``tillgw restore`` reads them to refuse a backup that ends before what the sync module has.
"""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.messages.envelope import MessageError, StoreTopics
from gateway.messages.fields import of_schema

__all__ = [
    "MAX_ERRORS",
    "MAX_ERROR_CHARS",
    "MAX_HELD",
    "MAX_REGISTERS",
    "SCHEMA",
    "STATES",
    "SyncState",
    "SyncStatus",
    "decode_status",
    "status_topic",
]

SCHEMA = "tillgw.sync-status/1"


class SyncState(enum.StrEnum):
    OK = "ok"
    ERROR = "error"  # the run met errors, or holds messages a person must act on


STATES = tuple(state.value for state in SyncState)
MAX_ERRORS = 10
MAX_ERROR_CHARS = 300
MAX_SUMMARY_CHARS = 500
MAX_HELD = 10
MAX_HELD_REASON_CHARS = 400
MAX_REGISTERS = 200  # at about 60 bytes each, well inside MAX_BYTES beside the rest
MAX_BYTES = 32 * 1024  # a status is a few kilobytes; anything much larger is not one


def status_topic(orgnr: str, store: str) -> str:
    return f"{StoreTopics(orgnr, store).store_base}/sync/status"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    orgnr: str
    store: str
    worker: str  # the sync module's MQTT client id
    at: str  # ISO 8601 with offset: when the pass or run ended
    state: SyncState
    summary: str
    errors: tuple[str, ...] = ()
    msg_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    held: tuple[dict[str, Any], ...] = ()
    held_count: int = 0
    registers: tuple[dict[str, Any], ...] = ()  # {"register", "sequence", "receipt"} of each

    def register(self, name: str) -> dict[str, Any] | None:
        """What the status says of the register ``name``; None: nothing."""
        return next((r for r in self.registers if r["register"] == name), None)

    @classmethod
    def make(
        cls,
        orgnr: str,
        store: str,
        worker: str,
        at: datetime,
        summary: str,
        errors: list[str],
        held: list[dict[str, Any]] | None = None,
        registers: list[dict[str, Any]] | None = None,
    ) -> SyncStatus:
        """A status with the limits applied: the last :data:`MAX_ERRORS` errors, each cut short;
        the first :data:`MAX_HELD` held messages."""
        kept = tuple(_cut(e, MAX_ERROR_CHARS) for e in errors[-MAX_ERRORS:])
        held = held or []
        shown = tuple(
            {**h, "reason": _cut(str(h.get("reason", "")), MAX_HELD_REASON_CHARS)} for h in held[:MAX_HELD]
        )
        return cls(
            orgnr,
            store,
            worker,
            at.isoformat(timespec="seconds"),
            SyncState.ERROR if errors or held else SyncState.OK,
            _cut(summary, MAX_SUMMARY_CHARS),
            kept,
            held=shown,
            held_count=len(held),
            registers=tuple((registers or [])[:MAX_REGISTERS]),
        )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema": SCHEMA,
            "msg_id": self.msg_id,
            "orgnr": self.orgnr,
            "store": self.store,
            "worker": self.worker,
            "at": self.at,
            "state": self.state,
            "summary": self.summary,
            "errors": list(self.errors),
        }
        if self.held_count:  # a status that holds nothing is as it always was
            body["held"] = [dict(h) for h in self.held]
            body["held_count"] = self.held_count
        if self.registers:
            body["registers"] = [dict(r) for r in self.registers]
        return body

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise MessageError(f"{key!r} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise MessageError(f"{key!r} is {len(value)} characters; at most {limit}")
    return value


def _held_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("msg_id"), str)
        and isinstance(item.get("reason"), str)
        and len(item["reason"]) <= MAX_HELD_REASON_CHARS
        and all(isinstance(v, str | int | None) for v in item.values())
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _register_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("register"), str)
        and bool(item["register"])
        and _count(item.get("sequence"))
        and (item.get("receipt") is None or _count(item["receipt"]))
    )


def decode_status(payload: bytes) -> SyncStatus:
    """The status in ``payload``; :class:`MessageError` says what is wrong with it."""
    if len(payload) > MAX_BYTES:
        raise MessageError(f"{len(payload)} bytes; a sync status is at most {MAX_BYTES}")
    body = of_schema(payload, SCHEMA)
    state = body.get("state")
    if state not in STATES:
        raise MessageError(f"state {state!r} is not one of {', '.join(STATES)}")
    at = _text(body, "at", 40)
    try:
        datetime.fromisoformat(at)
    except ValueError:
        raise MessageError(f"'at' {at!r} is not an ISO 8601 time") from None
    errors = body.get("errors", [])
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        raise MessageError("'errors' must be a list of strings")
    if len(errors) > MAX_ERRORS or any(len(e) > MAX_ERROR_CHARS for e in errors):
        raise MessageError(f"'errors' holds more than {MAX_ERRORS} lines or a line over {MAX_ERROR_CHARS}")
    held = body.get("held", [])
    if not isinstance(held, list) or len(held) > MAX_HELD or not all(_held_item(h) for h in held):
        raise MessageError(f"'held' must be a list of at most {MAX_HELD} held messages")
    held_count = body.get("held_count", len(held))
    if not isinstance(held_count, int) or isinstance(held_count, bool) or held_count < len(held):
        raise MessageError(f"'held_count' {held_count!r} is not a count of the held messages")
    registers = body.get("registers", [])
    if (
        not isinstance(registers, list)
        or len(registers) > MAX_REGISTERS
        or not all(map(_register_item, registers))
    ):
        raise MessageError(
            f"'registers' must be a list of at most {MAX_REGISTERS} registers, each "
            '{"register": name, "sequence": a count, "receipt": a count or null}'
        )
    return SyncStatus(
        registers=tuple(
            {"register": r["register"], "sequence": r["sequence"], "receipt": r.get("receipt")}
            for r in registers
        ),
        held=tuple(held),
        held_count=held_count,
        orgnr=_text(body, "orgnr", 20),
        store=_text(body, "store", 64),
        worker=_text(body, "worker", 100),
        at=at,
        state=SyncState(state),
        summary=_text(body, "summary", MAX_SUMMARY_CHARS),
        errors=tuple(errors),
        msg_id=_text(body, "msg_id", 64),
    )
