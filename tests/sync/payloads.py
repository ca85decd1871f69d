"""Bus payloads as the till writes them, for tests that build a message without a till.

Each is made through the bus contract's Structs (:mod:`gateway.messages.bodies`) and the
till's own pieces (the receipt codec, the totals, ``totals_body``), so that a test feeds
the sync module exactly what a till sends — every field there and of its type — and
changes only what it means to change.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.fiscal.bodies import PendingBody, ReceiptBody
from gateway.fiscal.receipt_entries import totals_body
from gateway.fiscal.store import Store
from gateway.messages.bodies import (
    CompanyBody,
    FloatBody,
    GrandTotalBody,
    HeadBody,
    PeriodBody,
    ReductionsBody,
    ReportBody,
    ReportKind,
    SalesBody,
    TallyBody,
    UnfinishedBody,
    VatBody,
    convert_body,
)
from gateway.messages.envelope import SCHEMA, BusMessage
from gateway.messages.receipt_payload import ReceiptPayloadV1, receipt_payload_of
from gateway.receipts.model import PaymentMethod, Receipt, ReceiptType, compute

__all__ = ["as_bus_v1", "sale_payload", "z_of", "z_payload"]


def sale_payload(
    receipt: Receipt,
    receipt_no: int,
    *,
    type: ReceiptType = ReceiptType.NORMAL,
    at: str = "2026-03-02T10:15:00+01:00",
    copy_of: int | None = None,
) -> dict[str, Any]:
    """The payload of a ``receipt`` message (``tillgw.bus/2``) for ``receipt``, registered as ``type``."""
    return receipt_payload_of(
        receipt_no=receipt_no,
        type=type,
        at=at,
        copy_of=copy_of,
        control_code="0" * 20,
        unit_id="TEST0000000000001",
        totals=totals_body(compute(receipt)),
        sale=receipt,
        cashier=receipt.cashier,
    ).to_json()


async def as_bus_v1(store: Store, message: BusMessage) -> BusMessage:
    """A ``receipt`` message as a till of the release before ``tillgw.bus/2`` wrote it from the same
    journal entries (``store``'s): the ``receipt`` entry's figures as signed, the VAT as
    ``[rate, gross, vat]`` triples, beside the pending entry's sale as the POS posted it."""
    row = await store.fetchone("SELECT body FROM journal WHERE seq = ?", (message.journal_entry,))
    assert row is not None
    done = msgspec.json.decode(row[0], type=ReceiptBody)
    row = await store.fetchone("SELECT body FROM journal WHERE seq = ?", (done.pending,))
    assert row is not None
    pending = msgspec.json.decode(row[0], type=PendingBody)
    old = ReceiptPayloadV1(
        receipt_no=done.receipt_no,
        type=done.type,
        at=pending.at,
        copy_of=done.copy_of,
        control_code=done.control_code,
        unit_id=done.unit_id,
        totals=done.totals,
        receipt=pending.receipt,
        cashier=pending.receipt.get("cashier"),
    )
    return msgspec.structs.replace(message, schema=SCHEMA, payload=old.to_json())


def _tally(count: int = 0, amount: int = 0) -> TallyBody[int]:
    return TallyBody(count=count, amount=amount)


def z_payload(**over: Any) -> dict[str, Any]:
    """The payload of a ``report.z`` message, with the fields of ``over`` replaced (JSON values):
    Z 7 of a day of 100,00 at 25 % by card and 56,60 at 12 % in cash rounded up to 57,00."""
    vat = (
        VatBody(rate="25", gross=100_00, vat=20_00, net=80_00),
        VatBody(rate="12", gross=56_60, vat=6_06, net=50_54),
        VatBody(rate="6", gross=0, vat=0, net=0),
        VatBody(rate="0", gross=0, vat=0, net=0),
    )
    payments = {PaymentMethod.CASH: 57_00, PaymentMethod.CARD: 100_00}
    body = ReportBody[int](
        report=ReportKind.Z,
        title=ReportKind.Z.words,
        z_no=7,
        at="2026-03-02T21:15:00+01:00",
        company=CompanyBody(name='Café "Bönan" AB', orgnr="5560360793"),
        pos_id="KASSA-1",
        period=PeriodBody(after_entry=0, through_entry=40, since=None),
        journal_head=HeadBody(seq=40, hash="0" * 64),
        sales=SalesBody(receipts=2, total=156_60),
        returns=_tally(),
        net_sales=156_60,
        groups=(),
        ungrouped=156_60,
        vat=vat,
        payments={m: payments.get(m, 0) for m in PaymentMethod},
        rounding=40,
        float_=FloatBody(amount=0, put_in=0, taken_out=0, changes=0),
        items=3,
        services=0,
        receipts=2,
        drawer_openings=0,
        copies=_tally(),
        training=_tally(),
        pro_forma=_tally(),
        discounts=_tally(),
        other_reductions=ReductionsBody(count=0, amount=0, what=""),
        unfinished=UnfinishedBody(count=0, amount=0, refused=_tally(), in_doubt=_tally()),
        grand_total=GrandTotalBody(sales=156_60, returns=0, net=156_60),
    ).to_json()
    body.update(over)
    return body


def z_of(payload: dict[str, Any]) -> ReportBody[int]:
    """A ``report.z`` payload (a JSON object) as the Struct the sync module reads it into."""
    return convert_body(payload, ReportBody[int])
