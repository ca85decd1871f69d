"""What travels on the bus between a till and the sync module: topics and message schemas.

Topics (DESIGN.md), one tree per store::

    tillgw/{orgnr}/{store}/{register}/receipts   receipts and copies          till -> sync
    tillgw/{orgnr}/{store}/{register}/reports    X and Z reports              till -> sync
    tillgw/{orgnr}/{store}/{register}/events     drawer openings, cashiers…   till -> sync
    tillgw/{orgnr}/{store}/{register}/customers  customers made at the till   till -> sync
    tillgw/{orgnr}/{store}/{register}/orders     new sales orders (order.new) till -> sync
    tillgw/{orgnr}/{store}/{register}/acks       application acks             sync -> till
    tillgw/{orgnr}/{store}/catalog/…             articles, prices, customers  sync -> tills

Every message is one JSON object (UTF-8) of schema ``tillgw.bus/1``:

``msg_id``    unique for ever: ``{orgnr}/{store}/{register}/{sequence}``
``kind``      ``receipt``, ``report.x``, ``report.z``, ``drawer.open``, ``customer.change``,
              ``order.new``, …
``orgnr``, ``store``, ``register``
``sequence``  the register's outbox number: 1, 2, 3 … without gaps, the order to process in
``journal_entry``, ``entry_hash``   the journal entry the message comes from
``at``        when the entry was written (local time with offset)
``payload``   the kind's data (amounts in integer öre, as in the journal)

An ack (schema ``tillgw.bus-ack/1``) says ``{"msg_id", "status": "stored" | "held",
"reason"?, "proof"}``: the sync module sends it only after the message is safely in its
inbox — ``stored``, or ``held`` with the reason when it cannot take it yet (a register it
does not know, content it cannot read: a person decides) — and the till keeps the
message until it arrives. A held message that is later taken gets a ``stored`` ack.
``proof`` is the sync module's Ed25519 signature (:mod:`gateway.messages.ack_proof`). An ack
``rejected`` from an older sync module is read as ``held``: nothing is final until it is
booked or a person decides.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from gateway.messages.fields import FieldReader, MessageError, json_object, of_schema, validate_topic_level

__all__ = [
    "ACK_SCHEMA",
    "ACK_STATUSES",
    "KIND_TOPICS",
    "NO_DELAY",
    "SCHEMA",
    "Ack",
    "BusMessage",
    "MessageError",
    "StoreTopics",
    "Topics",
    "decode_ack",
    "decode_message",
    "validate_topic_level",
]

SCHEMA = "tillgw.bus/1"

# Socket options for every MQTT client of ours: without TCP_NODELAY each small publish
# or ack may wait for a delayed TCP ACK (up to 40 ms a hop; p50 126 ms end to end vs 5 ms).
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
ACK_SCHEMA = "tillgw.bus-ack/1"

KIND_TOPICS = {
    "receipt": "receipts",
    "report.x": "reports",
    "report.z": "reports",
    "drawer.open": "events",
    "cashier.login": "events",
    "cashier.logout": "events",
    "price.change": "events",
    "float.change": "events",
    "customer.change": "customers",
    "order.new": "orders",
}
"""The journal entry kinds that go on the bus, and the topic each goes to."""

_FIELDS = FieldReader()


@dataclass(frozen=True, slots=True)
class StoreTopics:
    """The topics of one store: its levels checked (:func:`validate_topic_level`) when made."""

    orgnr: str
    store: str

    def __post_init__(self) -> None:
        validate_topic_level(self.orgnr, "orgnr")
        validate_topic_level(self.store, "store")

    @property
    def store_base(self) -> str:
        return f"tillgw/{self.orgnr}/{self.store}"

    def of_register(self, register: str, leaf: str) -> str:
        """``tillgw/{orgnr}/{store}/{register}/{leaf}``, the register's level checked."""
        return f"{self.store_base}/{validate_topic_level(register, 'register')}/{leaf}"


@dataclass(frozen=True, slots=True)
class Topics(StoreTopics):
    """The topics of one register."""

    register: str

    def __post_init__(self) -> None:
        StoreTopics.__post_init__(self)
        validate_topic_level(self.register, "register")

    @property
    def base(self) -> str:
        return f"{self.store_base}/{self.register}"

    def for_kind(self, kind: str) -> str:
        return f"{self.base}/{KIND_TOPICS[kind]}"

    @property
    def acks(self) -> str:
        return f"{self.base}/acks"

    @staticmethod
    def register_of(topic: str) -> tuple[str, str, str, str] | None:
        """``(orgnr, store, register, leaf)`` of one of our register topics, else None."""
        parts = topic.split("/")
        if len(parts) != 5 or parts[0] != "tillgw":
            return None
        return parts[1], parts[2], parts[3], parts[4]


@dataclass(frozen=True, slots=True)
class BusMessage:
    msg_id: str
    kind: str
    orgnr: str
    store: str
    register: str
    sequence: int
    journal_entry: int
    entry_hash: str
    at: str
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "schema": SCHEMA,
                "msg_id": self.msg_id,
                "kind": self.kind,
                "orgnr": self.orgnr,
                "store": self.store,
                "register": self.register,
                "sequence": self.sequence,
                "journal_entry": self.journal_entry,
                "entry_hash": self.entry_hash,
                "at": self.at,
                "payload": self.payload,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


def decode_message(data: bytes) -> BusMessage:
    """A message from the bus; :class:`MessageError` says why one is not ours."""
    obj = of_schema(data, SCHEMA)
    kind = _FIELDS.text(obj, "kind", "")
    if kind not in KIND_TOPICS:
        raise MessageError(f"kind {kind!r} is not one this version knows")
    sequence = _FIELDS.integer(obj, "sequence", "")
    if sequence < 1:
        raise MessageError(f"sequence {sequence} is not 1 or more")
    message = BusMessage(
        msg_id=_FIELDS.text(obj, "msg_id", ""),
        kind=kind,
        orgnr=_FIELDS.text(obj, "orgnr", ""),
        store=_FIELDS.text(obj, "store", ""),
        register=_FIELDS.text(obj, "register", ""),
        sequence=sequence,
        journal_entry=_FIELDS.integer(obj, "journal_entry", ""),
        entry_hash=_FIELDS.text(obj, "entry_hash", ""),
        at=_FIELDS.text(obj, "at", ""),
        payload=_FIELDS.object(obj.get("payload"), "payload"),
    )
    expected = f"{message.orgnr}/{message.store}/{message.register}/{message.sequence}"
    if message.msg_id != expected:
        raise MessageError(f"msg_id {message.msg_id!r} is not {expected!r}")
    return message


ACK_STATUSES = ("stored", "held")


@dataclass(frozen=True, slots=True)
class Ack:
    msg_id: str
    status: str  # stored | held
    reason: str | None = None
    proof: str | None = None  # base64 Ed25519 signature (gateway.messages.ack_proof)

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {"schema": ACK_SCHEMA, "msg_id": self.msg_id, "status": self.status}
        if self.reason is not None:
            body["reason"] = self.reason
        if self.proof is not None:
            body["proof"] = self.proof
        return json.dumps(body, ensure_ascii=False).encode()


def decode_ack(data: bytes) -> Ack:
    try:
        obj = json_object(data)
    except MessageError as exc:
        raise MessageError(f"ack {exc}") from None
    if obj.get("schema") != ACK_SCHEMA:
        raise MessageError(f"not an ack of schema {ACK_SCHEMA!r}")
    status = _FIELDS.text(obj, "status", "")
    if status == "rejected":  # an older sync module's word: kept, shown, never final
        status = "held"
    if status not in ACK_STATUSES:
        raise MessageError(f"ack status {status!r} is not stored or held")
    reason = obj.get("reason")
    proof = obj.get("proof")
    return Ack(
        _FIELDS.text(obj, "msg_id", ""),
        status,
        reason if isinstance(reason, str) else None,
        proof if isinstance(proof, str) else None,
    )
