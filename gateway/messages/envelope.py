"""What travels on the bus between a till and the sync module: topics and message schemas.

Topics (DESIGN.md), one tree per store::

    tillgw/{orgnr}/{store}/{register}/receipts   receipts and copies          till -> sync
    tillgw/{orgnr}/{store}/{register}/reports    X and Z reports              till -> sync
    tillgw/{orgnr}/{store}/{register}/events     drawer openings, cashiers…   till -> sync
    tillgw/{orgnr}/{store}/{register}/customers  customers made at the till   till -> sync
    tillgw/{orgnr}/{store}/{register}/orders     new sales orders (order.new) till -> sync
    tillgw/{orgnr}/{store}/{register}/acks       application acks             sync -> till
    tillgw/{orgnr}/{store}/catalog/…             articles, prices, customers  sync -> tills

Every message is one JSON object (UTF-8) of schema ``tillgw.bus/2`` (a receipt, a price
change) or ``tillgw.bus/1`` (every other kind; :mod:`gateway.messages.payloads` says why,
and which payload each carries). The files of ``docs/bus/`` are the same contract as JSON Schema:

``schema``    ``tillgw.bus/1`` or ``tillgw.bus/2``

``msg_id``    unique for ever: ``{orgnr}/{store}/{register}/{sequence}``
``kind``      ``receipt``, ``report.x``, ``report.z``, ``drawer.open``, ``customer.change``,
              ``order.new``, …
``orgnr``, ``store``, ``register``
``sequence``  the register's outbox number: 1, 2, 3 … without gaps, the order to process in
``journal_entry``, ``entry_hash``   the journal entry the message comes from
``at``        when the entry was written (local time with offset)
``payload``   the kind's data (money in integer öre, quantities as decimal text): its
              Struct in :mod:`gateway.messages.payloads` (:meth:`BusMessage.body`)

The envelope is checked field by field when it is read (:func:`decode_message`, a msgspec
Struct): a field that is missing or of the wrong type is a :class:`FieldError` naming it.
The payload is read as its kind's Struct, by kind and schema, with :meth:`BusMessage.body`
(the sync module does so when it takes a message, before storing it).

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
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from gateway.messages.bodies import Body, body_error
from gateway.messages.fields import FieldError, MessageError, json_object, validate_topic_level
from gateway.messages.payloads import BUS_SCHEMAS, BUS_V1, BUS_V2, decode_payload, payload_type, schema_of

__all__ = [
    "ACK_SCHEMA",
    "ACK_STATUSES",
    "KIND_TOPICS",
    "SCHEMA",
    "SCHEMAS",
    "SCHEMA_V2",
    "Ack",
    "AckStatus",
    "AckWire",
    "BusMessage",
    "EnvelopeWire",
    "MessageError",
    "StoreTopics",
    "Topics",
    "decode_ack",
    "decode_message",
    "validate_topic_level",
]

SCHEMA = BUS_V1
SCHEMA_V2 = BUS_V2
SCHEMAS = BUS_SCHEMAS

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
    """One message on the bus, as its envelope holds it. ``schema`` left empty is the one this
    release writes for the kind (:func:`~gateway.messages.payloads.schema_of`)."""

    msg_id: str
    kind: str
    orgnr: str
    store: str
    register: str
    sequence: Annotated[int, msgspec.Meta(ge=1)]
    journal_entry: int
    entry_hash: str
    at: str
    payload: dict[str, Any]  # the kind's body as JSON: read it with payload_as() or body()
    schema: str = ""

    def __post_init__(self) -> None:
        if not self.schema:
            msgspec.structs.force_setattr(self, "schema", schema_of(self.kind))

    def payload_as(self, kind: type[B]) -> B:
        """The payload as the Struct ``kind`` (:mod:`gateway.messages.bodies`): ``message.payload_as(
        ReceiptPayload)``. :class:`FieldError` names a bad field: ``payload.totals.to_pay: expected
        int, got str``."""
        try:
            return msgspec.convert(self.payload, kind)
        except msgspec.ValidationError as exc:
            raise body_error(exc, "payload") from None

    def body(self) -> Body:
        """The payload as the Struct of the message's kind in its schema
        (:func:`~gateway.messages.payloads.decode_payload`)."""
        return decode_payload(self.kind, self.payload, self.schema)

    def payload_type(self) -> Any:
        """The Struct of the payload, by the message's schema and kind."""
        return payload_type(self.kind, self.schema)

    def to_bytes(self) -> bytes:
        fields = msgspec.structs.asdict(self)
        return json.dumps(
            {"schema": fields.pop("schema"), **fields}, ensure_ascii=False, separators=(",", ":")
        ).encode()


class EnvelopeWire(msgspec.Struct, frozen=True):
    """A bus message as it travels, what :func:`decode_message` checks: the same fields as
    :class:`BusMessage`, the ``schema`` among them required (the source of the envelope in
    ``docs/bus/till-message.schema.json``)."""

    schema: Annotated[
        str,
        msgspec.Meta(description="tillgw.bus/2 for a receipt and a price change, tillgw.bus/1 for the rest"),
    ]
    msg_id: Annotated[
        str, msgspec.Meta(description="{orgnr}/{store}/{register}/{sequence}: unique for ever; ack it")
    ]
    kind: Annotated[str, msgspec.Meta(description="what happened: receipt, report.z, drawer.open …")]
    orgnr: Annotated[str, msgspec.Meta(description="the company's organisationsnummer (a topic level)")]
    store: Annotated[str, msgspec.Meta(description="the store (a topic level)")]
    register: Annotated[str, msgspec.Meta(description="the till (a topic level)")]
    sequence: Annotated[
        int,
        msgspec.Meta(
            ge=1, description="the register's message number: 1, 2, 3 … without gaps; process in it"
        ),
    ]
    journal_entry: Annotated[
        int, msgspec.Meta(description="the till's journal entry the message is made from")
    ]
    entry_hash: Annotated[str, msgspec.Meta(description="that entry's hash (hex): an ack's proof signs it")]
    at: Annotated[
        str, msgspec.Meta(description="when the entry was written: ISO 8601 local time with offset")
    ]
    payload: Annotated[dict[str, Any], msgspec.Meta(description="the kind's data, by kind and schema")]


def _decoded(data: bytes, kind: type[B], *schemas: str) -> B:
    """``data`` as the Struct ``kind`` of one of ``schemas``: :class:`MessageError` for what is no
    JSON object of those, :class:`FieldError` naming a field that is wrong."""
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:  # JSON, but not this Struct
        obj = json_object(data)  # another schema's message is named as that, not by a field of it
        if obj.get("schema") not in schemas:
            raise MessageError(
                f"schema {obj.get('schema')!r} is not {' or '.join(map(repr, schemas))}"
            ) from None
        raise body_error(exc, "") from None
    except msgspec.DecodeError as exc:  # not UTF-8, not JSON, or nested too deep
        raise MessageError(f"not JSON: {exc}") from None


def decode_message(data: bytes) -> BusMessage:
    """A message from the bus; :class:`MessageError` says why one is not ours."""
    wire = _decoded(data, EnvelopeWire, *SCHEMAS)
    if wire.schema not in SCHEMAS:
        raise MessageError(f"schema {wire.schema!r} is not {' or '.join(map(repr, SCHEMAS))}")
    if wire.kind not in KIND_TOPICS:
        raise MessageError(f"kind {wire.kind!r} is not one this version knows")
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


class AckWire(msgspec.Struct, frozen=True):
    """An ack as it travels (``ACK_SCHEMA``), what :func:`decode_ack` checks: the source of
    ``docs/bus/ack.schema.json``."""

    schema: str
    msg_id: Annotated[str, msgspec.Meta(description="the msg_id of the message acked")]
    status: Annotated[
        Literal["stored", "held", "rejected"],
        msgspec.Meta(
            description="stored: in the consumer's durable store, the till is done with it; held: the "
            "consumer has it but cannot take it yet (reason says why), the till shows it until a stored "
            "ack follows; rejected: an older sync module's word, read as held"
        ),
    ]
    reason: Annotated[str | None, msgspec.Meta(description="why it is held, in words for a person")] = None
    proof: Annotated[
        str | None,
        msgspec.Meta(
            description="base64 of the consumer's Ed25519 signature over the compact JSON array "
            '["tillgw.bus-ack/1", msg_id, status, reason or null, entry_hash]; required by a till '
            "given the consumer's public key ([mqtt] sync_public_key)"
        ),
    ] = None


def decode_ack(data: bytes) -> Ack:
    try:
        wire = _decoded(data, AckWire, ACK_SCHEMA)
    except FieldError as exc:
        if exc.field == "status" and isinstance(status := json_object(data).get("status"), str):
            raise MessageError(f"ack status {status!r} is not stored or held") from None
        raise
    except MessageError as exc:  # no JSON object, or one of another schema
        words = f"ack {exc}" if "schema" not in str(exc) else f"not an ack of schema {ACK_SCHEMA!r}"
        raise MessageError(words) from None
    if wire.schema != ACK_SCHEMA:
        raise MessageError(f"not an ack of schema {ACK_SCHEMA!r}")
    # "rejected" is an older sync module's word: kept, shown, never final
    status = AckStatus.HELD if wire.status == "rejected" else AckStatus(wire.status)
    return Ack(wire.msg_id, status, wire.reason, wire.proof)
