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
``payload``   the kind's data (amounts in integer öre, as in the journal): its Struct in
              :mod:`gateway.messages.bodies` (:meth:`BusMessage.payload_as`)

The envelope is checked field by field when it is read (:func:`decode_message`, a msgspec
Struct): a field that is missing or of the wrong type is a :class:`FieldError` naming it.
The payload is read as its kind's Struct where it is used, so that a module reading a
message of a kind it does not handle never refuses it for that.

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

import enum
import json
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from gateway.messages.bodies import Body, body_error, decode_payload
from gateway.messages.fields import FieldError, MessageError, of_schema, validate_topic_level

__all__ = [
    "ACK_SCHEMA",
    "ACK_STATUSES",
    "KIND_TOPICS",
    "SCHEMA",
    "Ack",
    "AckStatus",
    "BusMessage",
    "MessageError",
    "StoreTopics",
    "Topics",
    "decode_ack",
    "decode_message",
    "validate_topic_level",
]

SCHEMA = "tillgw.bus/1"

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

B = TypeVar("B")


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


class BusMessage(msgspec.Struct, frozen=True):
    """One message on the bus, as its envelope holds it (``SCHEMA``, without the schema)."""

    msg_id: str
    kind: str
    orgnr: str
    store: str
    register: str
    sequence: int
    journal_entry: int
    entry_hash: str
    at: str
    payload: dict[str, Any]  # the kind's body as JSON: read it with payload_as() or body()

    def payload_as(self, kind: type[B]) -> B:
        """The payload as the Struct ``kind`` (:mod:`gateway.messages.bodies`): ``message.payload_as(
        ReceiptPayload)``. :class:`FieldError` names a bad field: ``payload.totals.to_pay: expected
        int, got str``."""
        try:
            return msgspec.convert(self.payload, kind)
        except msgspec.ValidationError as exc:
            raise body_error(exc, "payload") from None

    def body(self) -> Body:
        """The payload as the Struct of the message's kind
        (:func:`~gateway.messages.bodies.decode_payload`)."""
        return decode_payload(self.kind, self.payload)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"schema": SCHEMA, **msgspec.structs.asdict(self)}, ensure_ascii=False, separators=(",", ":")
        ).encode()


class _Envelope(BusMessage, frozen=True):
    """A bus message as it travels: the message and its ``schema``, what
    :func:`decode_message` checks."""

    schema: str


def _decoded(data: bytes, kind: type[B], schema: str) -> B:
    """``data`` as the Struct ``kind`` of ``schema``: :class:`MessageError` for what is no JSON
    object of that schema, :class:`FieldError` naming a field that is wrong."""
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:  # JSON, but not this Struct
        of_schema(data, schema)  # another schema's message is named as that, not by a field of it
        raise body_error(exc, "") from None
    except msgspec.DecodeError as exc:  # not UTF-8, not JSON, or nested too deep
        raise MessageError(f"not JSON: {exc}") from None


def decode_message(data: bytes) -> BusMessage:
    """A message from the bus; :class:`MessageError` says why one is not ours."""
    wire = _decoded(data, _Envelope, SCHEMA)
    if wire.schema != SCHEMA:
        raise MessageError(f"schema {wire.schema!r} is not {SCHEMA!r}")
    if wire.kind not in KIND_TOPICS:
        raise MessageError(f"kind {wire.kind!r} is not one this version knows")
    if wire.sequence < 1:
        raise MessageError(f"sequence {wire.sequence} is not 1 or more")
    message = BusMessage(*(getattr(wire, name) for name in BusMessage.__struct_fields__))
    expected = f"{message.orgnr}/{message.store}/{message.register}/{message.sequence}"
    if message.msg_id != expected:
        raise MessageError(f"msg_id {message.msg_id!r} is not {expected!r}")
    return message


class AckStatus(enum.StrEnum):
    STORED = "stored"  # in the sync module's inbox: the till is done with the message
    HELD = "held"  # the sync module has it but cannot take it yet: ``reason`` says why


ACK_STATUSES = tuple(AckStatus)


@dataclass(frozen=True, slots=True)
class Ack:
    msg_id: str
    status: str  # an AckStatus: stored | held
    reason: str | None = None
    proof: str | None = None  # base64 Ed25519 signature (gateway.messages.ack_proof)

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {"schema": ACK_SCHEMA, "msg_id": self.msg_id, "status": self.status}
        if self.reason is not None:
            body["reason"] = self.reason
        if self.proof is not None:
            body["proof"] = self.proof
        return json.dumps(body, ensure_ascii=False).encode()


class _AckWire(msgspec.Struct, frozen=True):
    """An ack as it travels (``ACK_SCHEMA``); a ``reason`` or ``proof`` that is no text is ignored."""

    schema: str
    msg_id: str
    status: str
    reason: Any = None
    proof: Any = None


def decode_ack(data: bytes) -> Ack:
    try:
        wire = _decoded(data, _AckWire, ACK_SCHEMA)
    except FieldError:
        raise
    except MessageError as exc:  # no JSON object, or one of another schema
        words = f"ack {exc}" if "schema" not in str(exc) else f"not an ack of schema {ACK_SCHEMA!r}"
        raise MessageError(words) from None
    if wire.schema != ACK_SCHEMA:
        raise MessageError(f"not an ack of schema {ACK_SCHEMA!r}")
    status = wire.status
    if status == "rejected":  # an older sync module's word: kept, shown, never final
        status = AckStatus.HELD
    if status not in ACK_STATUSES:
        raise MessageError(f"ack status {status!r} is not stored or held")
    return Ack(
        wire.msg_id,
        AckStatus(status),
        wire.reason if isinstance(wire.reason, str) else None,
        wire.proof if isinstance(wire.proof, str) else None,
    )
