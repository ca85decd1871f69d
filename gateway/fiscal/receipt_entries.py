"""What a receipt's two journal entries and its index row hold, made from the sale.

A receipt is written twice (docs/fiscal-path.md): a ``receipt.pending`` entry before the
control unit is asked (:func:`pending_body`: the number, the control unit's sequence
number and all it takes to ask again after a crash) and a ``receipt`` entry with the
unit's answer (:func:`receipt_body`: the control code, the raw frames, the figures in
öre). Its row in the receipts index (:func:`index_receipt`), which the X and Z reports
add up, is derived from them — :mod:`gateway.fiscal.index_check` checks that it still is.
"""

from __future__ import annotations

from datetime import datetime

from gateway.devices.control_units.interface import Registration
from gateway.fiscal.bodies import ControlBody, PendingBody, ReceiptBody
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Writer
from gateway.messages.bodies import TotalsBody
from gateway.receipts.codec import receipt_to_json
from gateway.receipts.model import PaymentMethod, Receipt, Totals, compute, group_amounts
from protocols.skv import ControlData, ReceiptType, VatSlot, parse_datetime

__all__ = [
    "control_body",
    "control_data",
    "control_from_body",
    "index_receipt",
    "pending_body",
    "receipt_body",
    "totals_body",
]


def control_data(
    shop: Shop, pos_id: str, receipt_no: int, moment: datetime, kind: ReceiptType, totals: Totals
) -> ControlData:
    """What the control unit registers for a receipt (SKVFS 2009:2)."""
    return ControlData(
        moment=moment.replace(tzinfo=None),
        orgnr=shop.orgnr,
        pos_id=pos_id,
        receipt_no=receipt_no,
        receipt_type=kind,
        total=totals.to_pay,
        return_total=totals.return_total,
        vat=tuple(VatSlot(v.rate, v.vat) for v in totals.vat),
    )


def control_body(data: ControlData) -> ControlBody:
    return ControlBody(
        date=data.date_text,
        orgnr=data.orgnr,
        pos_id=data.pos_id,
        receipt_no=data.receipt_no,
        type=data.receipt_type,
        total=data.total,
        return_total=data.return_total,
        vat=tuple((slot.rate, slot.amount) for slot in data.vat),
    )


def control_from_body(body: ControlBody) -> ControlData:
    """The control data a pending entry holds, to register it again with the same data."""
    return ControlData(
        moment=parse_datetime(body.date),
        orgnr=body.orgnr,
        pos_id=body.pos_id,
        receipt_no=body.receipt_no,
        receipt_type=body.type,
        total=body.total,
        return_total=body.return_total,
        vat=tuple(VatSlot(rate, amount) for rate, amount in body.vat),
    )


def pending_body(
    data: ControlData,
    moment: datetime,
    cu_seq: int,
    receipt: Receipt,
    *,
    request_id: str | None = None,
    copy_of: int | None = None,
) -> PendingBody:
    """A ``receipt.pending`` entry's body: all it takes to register the receipt again after a crash."""
    return PendingBody(
        receipt_no=data.receipt_no,
        at=moment.isoformat(timespec="seconds"),
        type=data.receipt_type,
        cu_seq=cu_seq,
        request_id=request_id,
        copy_of=copy_of,
        control=control_body(data),
        receipt=receipt_to_json(receipt),
    )


def totals_body(totals: Totals) -> TotalsBody:
    return TotalsBody(
        total=totals.total,
        rounding=totals.rounding,
        to_pay=totals.to_pay,
        discount=totals.discount_total,
        return_total=totals.return_total,
        vat=tuple((v.rate, v.gross, v.vat) for v in totals.vat),
        paid=dict(totals.paid),
        change=totals.change,
        items=totals.items,
        services=totals.services,
    )


def receipt_body(
    pending: PendingBody,
    pending_seq: int,
    registration: Registration,
    totals: Totals,
    groups: dict[str, int] | None = None,
) -> ReceiptBody:
    """The ``receipt`` entry's body for the pending entry ``pending_seq``: the unit's code and frames.

    ``groups`` (sales per main group, öre) is signed with the rest, so that the report
    index's group rows can be checked against it; left out, it is worked out from the
    pending entry's receipt.
    """
    if groups is None:
        sale = pending.sale()
        groups = group_amounts(sale, compute(sale))
    return ReceiptBody(
        receipt_no=pending.receipt_no,
        type=pending.type,
        pending=pending_seq,
        copy_of=pending.copy_of,
        cu_seq=pending.cu_seq,
        control_code=registration.code,
        unit_id=registration.unit_id,
        frames=tuple((f.direction, f.at.isoformat(), f.data.hex(), f.note) for f in registration.frames),
        totals=totals_body(totals),
        groups=groups,
    )


def index_receipt(
    w: Writer,
    entry_seq: int,
    number: int,
    kind: ReceiptType,
    at: str,
    request_id: str | None,
    totals: Totals,
    registration: Registration,
    receipt: Receipt,
) -> None:
    """The receipt's row in the index reports add up, and its sales per group; derived from its entries."""
    vat = {v.rate: v for v in totals.vat}

    def gross(rate: int) -> int:
        return vat[rate].gross if rate in vat else 0

    def tax(rate: int) -> int:
        return vat[rate].vat if rate in vat else 0

    paid = totals.paid
    w.execute(
        "INSERT INTO receipts (entry_seq, receipt_no, kind, at, request_id, is_return, total, rounding, "
        "to_pay, discount, return_total, items, services, cash, card, gift_card, swish, other, "
        "gross_25, vat_25, gross_12, vat_12, gross_6, vat_6, gross_0, control_code, unit_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry_seq,
            number,
            kind.value,
            at,
            request_id,
            int(totals.is_return),
            totals.total,
            totals.rounding,
            totals.to_pay,
            totals.discount_total,
            totals.return_total,
            totals.items,
            totals.services,
            paid.get(PaymentMethod.CASH, 0),
            paid.get(PaymentMethod.CARD, 0),
            paid.get(PaymentMethod.GIFT_CARD, 0),
            paid.get(PaymentMethod.SWISH, 0),
            paid.get(PaymentMethod.OTHER, 0),
            gross(2500),
            tax(2500),
            gross(1200),
            tax(1200),
            gross(600),
            tax(600),
            gross(0),
            registration.code,
            registration.unit_id,
        ),
    )
    for name, amount in group_amounts(receipt, totals).items():
        w.execute(
            "INSERT INTO receipt_groups (entry_seq, grp, amount) VALUES (?, ?, ?)", (entry_seq, name, amount)
        )
