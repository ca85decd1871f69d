"""A till message's payload as its Struct, for the adapters: decoded once, a bad field named.

An adapter reads a message it handles through the bus contract
(:mod:`gateway.messages.bodies`) at the start of its work and passes the Struct down; a
payload the contract does not describe — a field missing or of the wrong type, a sale the
receipt codec refuses — is an :class:`~gateway.sync.adapters.AdapterError` naming the
field (``payload.totals.to_pay: expected int, got str``), so the processor holds the
message with those words until a person (or a newer sync module) takes it.

A receipt is read in either version of the bus (:mod:`gateway.messages.receipt_payload`):
a ``tillgw.bus/1`` receipt — an old message in the inbox, a till not yet upgraded — is
handed on as the ``tillgw.bus/2`` payload it would be today, so an adapter has one shape.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from gateway.messages.bodies import ReportBody
from gateway.messages.envelope import SCHEMA, BusMessage
from gateway.messages.fields import FieldError
from gateway.messages.receipt_payload import ReceiptPayload, ReceiptPayloadV1
from gateway.receipts.model import Receipt, ReceiptError, ReceiptType
from gateway.sync.adapters import AdapterError

__all__ = [
    "ZReport",
    "invoiceable_sale",
    "read_payload",
    "receipt_day",
    "receipt_payload",
    "sale_of",
    "z_report",
]

B = TypeVar("B")

ZReport = ReportBody[int]
"""A ``report.z`` (or ``report.x``) payload: every figure in öre."""

_ADVICE = (
    " — the till sends what this sync module cannot read: update tillgw sync, then run "
    "tillgw sync --reprocess"
)


def read_payload(message: BusMessage, kind: type[B]) -> B:
    """``message``'s payload as the Struct ``kind``; :class:`AdapterError` names a bad field."""
    try:
        return message.payload_as(kind)
    except FieldError as exc:
        raise AdapterError(f"{message.msg_id} ({message.kind}) cannot be read: {exc}{_ADVICE}") from None


def receipt_payload(message: BusMessage) -> ReceiptPayload:
    """A ``receipt`` message's payload, as ``tillgw.bus/2`` carries it (a ``tillgw.bus/1`` one
    upgraded; :class:`AdapterError` names a field of its sale the receipt codec refuses:
    ``payload.receipt.lines[0].quantity: …``)."""
    if message.schema != SCHEMA:
        return read_payload(message, ReceiptPayload)
    old = read_payload(message, ReceiptPayloadV1)
    try:
        return old.upgraded()
    except ReceiptError as exc:
        bad = FieldError(f"payload.receipt.{exc.field}", exc.reason)
        raise AdapterError(f"{message.msg_id} ({message.kind}) cannot be read: {bad}{_ADVICE}") from None


def z_report(message: BusMessage) -> ZReport:
    """A ``report.z`` message's payload."""
    return read_payload(message, ZReport)


def receipt_day(message: BusMessage, payload: ReceiptPayload) -> date:
    """The day a receipt was sold (its ``at``); :class:`AdapterError` when ``at`` holds no date."""
    try:
        return date.fromisoformat(payload.at[:10])
    except ValueError:
        raise AdapterError(
            f"{message.msg_id} ({message.kind}) cannot be read: payload.at: {payload.at!r} does not "
            f"start with a date YYYY-MM-DD{_ADVICE}"
        ) from None


def sale_of(message: BusMessage, payload: ReceiptPayload) -> Receipt:
    """The sale a receipt message (``message``, read as ``payload``) carries, as the till's model
    holds it: read and checked with the payload (:func:`receipt_payload`)."""
    return payload.sale.receipt()


def invoiceable_sale(message: BusMessage) -> tuple[ReceiptPayload, Receipt] | None:
    """A receipt message's payload and sale when an invoicing adapter books it, else None:
    not a receipt; a training, pro forma or copy receipt (no sale); or a receipt that pays
    a sales order (the order adapters book those)."""
    if message.kind != "receipt":
        return None
    payload = receipt_payload(message)
    if payload.type != ReceiptType.NORMAL:
        return None
    sale = sale_of(message, payload)
    return None if sale.order else (payload, sale)
