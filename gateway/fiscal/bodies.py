"""The bodies of the journal entries that stay in the journal: each kind's Struct.

The kinds that also go on the bus (receipts' figures, reports, the POS's events) are in
:mod:`gateway.messages.bodies`, which the sync module shares; these are the till's own:

* ``receipt.pending`` — :class:`PendingBody`: the pipeline, before the control unit is asked
* ``receipt`` — :class:`ReceiptBody`: the pipeline, with the unit's code and frames
* ``receipt.refused`` — :class:`RefusedBody`: the unit said no
* ``receipt.printed`` — :class:`PrintedBody`: on paper
* ``control_unit.error`` — :class:`ControlUnitErrorBody`: no answer; the receipt waits in doubt
* ``registration.changed`` — :class:`RegistrationChangedBody`: the start (gateway.registration)
* ``key.replaced`` — :class:`KeyReplacedBody`: ``tillgw journal rotate-key``
* ``series.gap`` — :class:`SeriesGapBody`: ``tillgw journal accept-gap``
* ``sale.parked`` — :class:`SaleParkedBody`: the POS parked an unfinished sale (gateway.fiscal.parking)
* ``sale.resumed`` — :class:`SaleResumedBody`: a parked sale taken back to the POS
* ``sale.abandoned`` — :class:`SaleAbandonedBody`: a parked sale given up
* ``sale.completed`` — :class:`SaleCompletedBody`: the receipt that completed a parked sale
* ``control_unit.outage`` — :class:`OutageBody`: the unit unusable too long in opening hours
  (gateway.fiscal.outages)
* ``control_unit.outage_ended`` — :class:`OutageEndedBody`: it answered again

A body's Struct encodes to exactly the object each kind has always had, so its canonical
bytes (sorted keys) are what every earlier release hashed: a key absent from older
entries is :data:`~msgspec.UNSET` (never written as null), and
tests/fiscal/test_release_journal.py holds a journal of the release before these Structs
to that. :func:`entry_body` reads any entry's body as its kind's Struct.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.messages.bodies import (
    ENTRY_PAYLOAD_TYPES,
    Body,
    TotalsBody,
)
from gateway.receipts.codec import receipt_from_json
from gateway.receipts.model import Receipt
from protocols.skv import ReceiptType

__all__ = [
    "BODY_KINDS",
    "OUTAGE_KINDS",
    "PARKING_KINDS",
    "ControlBody",
    "ControlUnitErrorBody",
    "KeyReplacedBody",
    "OutageBody",
    "OutageEndedBody",
    "PendingBody",
    "PrintedBody",
    "ReceiptBody",
    "RefusedBody",
    "RegistrationChangedBody",
    "SaleAbandonedBody",
    "SaleCompletedBody",
    "SaleParkedBody",
    "SaleResumedBody",
    "SeriesGapBody",
    "body_type",
    "entry_body",
]


class ControlBody(Body, frozen=True):
    """What was registered with the control unit (SKVFS 2009:2), as the pending entry keeps it."""

    date: str  # YYYYMMDDhhmm, local time
    orgnr: str
    pos_id: str
    receipt_no: int
    type: ReceiptType
    total: int  # öre
    return_total: int
    vat: tuple[tuple[int, int], ...]  # (rate in hundredths of a percent, VAT) per slot


class PendingBody(Body, frozen=True):
    """``receipt.pending``: all it takes to register the receipt again after a crash."""

    receipt_no: int
    at: str  # the sale's time, local with offset
    type: ReceiptType
    cu_seq: int  # the control unit's sequence number: the same on every retry
    request_id: str | None  # the POS's idempotency key
    copy_of: int | None  # a copy: the original's receipt entry
    control: ControlBody
    receipt: dict[str, Any]  # the sale as the POS posted it (gateway.receipts.codec)

    def sale(self) -> Receipt:
        return receipt_from_json(self.receipt)


class ReceiptBody(Body, frozen=True, kw_only=True):
    """``receipt``: the pending entry ``pending`` registered, with the unit's code and frames."""

    receipt_no: int
    type: ReceiptType
    pending: int  # the receipt.pending entry it completes
    copy_of: int | None
    cu_seq: int
    control_code: str  # "" for a training or pro forma receipt
    unit_id: str
    frames: tuple[tuple[str, str, str, str], ...]  # (tx|rx, time, hex, note) exchanged with the unit
    totals: TotalsBody
    # Sales per main group (öre), signed so that the report index can be checked against it;
    # entries made before it was signed have none (their lines tell it).
    groups: dict[str, int] | msgspec.UnsetType = msgspec.UNSET


class RefusedBody(Body, frozen=True, kw_only=True):
    """``receipt.refused``: the unit said no; the number was not used."""

    pending: int
    receipt_no: int
    nak: int | None  # the CCSP NAK number; None from a service that names its refusals
    said: str | msgspec.UnsetType = msgspec.UNSET  # the unit's own words (not in the first entries)
    words: str


class PrintedBody(Body, frozen=True):
    """``receipt.printed``: the receipt entry ``entry`` is on paper."""

    receipt_no: int
    entry: int


class ControlUnitErrorBody(Body, frozen=True):
    """``control_unit.error``: no answer for the pending entry ``pending``; it waits in doubt."""

    pending: int
    words: str


class RegistrationChangedBody(Body, frozen=True):
    """``registration.changed``: the till no longer matches its registration with Skatteverket."""

    registered: dict[str, str]
    registered_on: str
    current: dict[str, str | None]
    changed: tuple[str, ...]
    report_by: str  # two weeks from the day it was first seen
    pos_id: str


class KeyReplacedBody(Body, frozen=True):
    """``key.replaced``: from this entry on the journal is signed by ``new_key_id``."""

    old_key_id: str
    new_key_id: str
    public_key: str  # the new key's public half, PEM
    reason: str


class SeriesGapBody(Body, frozen=True):
    """``series.gap``: receipts ``first``–``last`` lost with an older database; their numbers are taken."""

    first: int = msgspec.field(name="from")
    last: int = msgspec.field(name="to")
    reason: str
    seq_base: int  # the control unit's sequence numbers start above this from here on


class SaleParkedBody(Body, frozen=True):
    """``sale.parked``: an unfinished sale the POS put aside (oavslutad försäljning) until it
    is resumed or abandoned; counted as unfinished on every report made while it is parked."""

    id: str  # the POS's own name for the parked sale (the idempotency key of the parking)
    sale: dict[str, Any]  # its lines so far, its discount and cashier (gateway.receipts.codec)
    total: int  # öre, what its lines come to (signed; before öresavrundning: nothing is paid)
    pos_id: str

    def receipt(self) -> Receipt:
        return receipt_from_json(self.sale)


class SaleResumedBody(Body, frozen=True):
    """``sale.resumed``: the parked sale of entry ``parked`` went back to the POS."""

    id: str
    parked: int  # its sale.parked entry
    cashier: str | None
    pos_id: str


class SaleAbandonedBody(Body, frozen=True):
    """``sale.abandoned``: the parked sale of entry ``parked`` was given up; nothing was sold."""

    id: str
    parked: int
    cashier: str | None
    reason: str | None
    pos_id: str


class SaleCompletedBody(Body, frozen=True):
    """``sale.completed``: receipt ``receipt_no`` (its ``receipt`` entry ``receipt``) completed the
    parked sale of entry ``parked``; ``request_id`` is the receipt's id at the POS."""

    id: str
    parked: int
    receipt_no: int
    receipt: int
    request_id: str
    pos_id: str


class OutageBody(Body, frozen=True):
    """``control_unit.outage``: the control unit has been unusable since ``since`` for longer than
    ``after_seconds`` in opening hours; the till refuses sales meanwhile (``action``)."""

    since: str  # when the unit stopped answering (local, with offset)
    unit: str  # its address, without credentials
    unit_id: str | None  # its manufacturing number, when it ever answered
    pos_id: str
    reason: str  # what the till saw, in words
    after_seconds: int  # the configured [control_unit] outage_after_minutes
    action: str  # what the till did


class OutageEndedBody(Body, frozen=True):
    """``control_unit.outage_ended``: the outage of entry ``outage`` ended at ``until``."""

    outage: int  # its control_unit.outage entry
    since: str
    until: str  # when the unit answered again
    minutes: int  # how long it lasted, rounded up
    unit_id: str | None
    pos_id: str


_BODIES: dict[str, Any] = {
    "receipt.pending": PendingBody,
    "receipt": ReceiptBody,
    "receipt.refused": RefusedBody,
    "receipt.printed": PrintedBody,
    "control_unit.error": ControlUnitErrorBody,
    "registration.changed": RegistrationChangedBody,
    "key.replaced": KeyReplacedBody,
    "series.gap": SeriesGapBody,
    # The kinds that go on the bus (but the receipt, whose message is made from its entry):
    # the journal's body is the bus payload.
    **ENTRY_PAYLOAD_TYPES,
    "sale.parked": SaleParkedBody,
    "sale.resumed": SaleResumedBody,
    "sale.abandoned": SaleAbandonedBody,
    "sale.completed": SaleCompletedBody,
    "control_unit.outage": OutageBody,
    "control_unit.outage_ended": OutageEndedBody,
}

PARKING_KINDS = ("sale.parked", "sale.resumed", "sale.abandoned", "sale.completed")
"""The kinds that record parked sales, newer than the release journal of tests/fiscal/recordings."""


OUTAGE_KINDS = ("control_unit.outage", "control_unit.outage_ended")
"""The kinds that record control-unit outages, newer than the release journal too."""


BODY_KINDS = tuple(_BODIES)
"""Every kind of entry the till writes."""


def body_type(kind: str) -> Any:
    """The Struct of an entry ``kind`` (``KeyError`` for a kind the till does not write)."""
    return _BODIES[kind]


def entry_body(kind: str, body: dict[str, Any] | str) -> Body:
    """An entry's body — as stored (JSON text) or parsed — as its kind's Struct.

    Raises :class:`msgspec.ValidationError` naming the field for a body that is not its
    kind's, and ``KeyError`` for a kind the till does not write.
    """
    if isinstance(body, str):
        decoded: Body = msgspec.json.decode(body, type=_BODIES[kind])
        return decoded
    converted: Body = msgspec.convert(body, _BODIES[kind])
    return converted
