"""The ``receipt`` message's payload, in both versions a sync module may meet.

``tillgw.bus/2`` (:class:`ReceiptPayload`, what a till writes): one unit for money, integer
öre, everywhere in the message — the figures (``totals``) and the sale (``sale``: its lines
and payments); quantities, which are not money, are decimal text (``"1"``, ``"0.347"``); the
VAT per rate is a list of labelled rows ``{"rate": "25", "gross", "vat", "net"}``, as an X or
Z report writes them.

``tillgw.bus/1`` (:class:`ReceiptPayloadV1`, what tills wrote before): the receipt entry's
figures in öre with the VAT as unlabelled triples ``[2500, gross, vat]``, beside the sale as
the POS posted it (``receipt``: decimal-string money). A sync module still reads it — an
inbox holds old messages, a store may have a till not yet upgraded — as the same
:class:`ReceiptPayload` (:meth:`ReceiptPayloadV1.upgraded`), so an adapter has one shape.

Neither is a journal body: the journal keeps the ``receipt`` entry's :class:`TotalsBody` and the
pending entry's sale as they were signed, and the till's outbox projects them into the
message (:func:`receipt_payload_of`) when it writes it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import msgspec

from gateway.messages.bodies import Body, TotalsBody, VatBody
from gateway.receipts.codec import receipt_from_json
from gateway.receipts.model import (
    Line,
    LineKind,
    Payment,
    PaymentMethod,
    Receipt,
    ReceiptKind,
    ReceiptType,
)
from gateway.receipts.vat import rate_text

__all__ = [
    "QUANTITY_PATTERN",
    "ReceiptPayload",
    "ReceiptPayloadV1",
    "ReceiptTotalsBody",
    "SaleBody",
    "SaleLineBody",
    "SalePaymentBody",
    "receipt_payload_of",
    "sale_body",
    "vat_rows",
]

QUANTITY_PATTERN = r"^-?[0-9]{1,9}(\.[0-9]{1,3})?$"
"""A quantity as the receipt codec takes it: ASCII digits, at most 3 decimals, negative on a return."""

Ore = Annotated[int, msgspec.Meta(description="money in integer öre (1 krona = 100 öre), signed")]
Quantity = Annotated[
    str,
    msgspec.Meta(
        pattern=QUANTITY_PATTERN,
        description="a quantity (not money) as decimal text: '1', '0.347'; negative on a return line",
    ),
]
VatRateValue = Literal[2500, 1200, 600, 0]
VatRate = Annotated[
    VatRateValue,
    msgspec.Meta(description="the line's VAT rate in hundredths of a percent: 2500 is 25 %"),
]


class SaleLineBody(Body, frozen=True):
    """One line of the sale."""

    text: str
    quantity: Quantity
    unit_price: Ore  # per unit, incl. VAT
    vat_rate: VatRate
    discount: Ore  # off this line (positive; on a return line it lowers the refund)
    kind: LineKind
    article: str | None  # the article number, when the POS gave one
    group: str | None  # the main group (huvudgrupp), for the Z report


class SalePaymentBody(Body, frozen=True):
    method: PaymentMethod
    amount: Ore  # for cash, what the customer handed over (the change is in totals)
    reference: str | None  # card approval code, gift-card number, Swish id


class SaleBody(Body, frozen=True):
    """The sale the POS posted, every amount in öre."""

    type: ReceiptKind  # what the POS asked for: normal, ovning (training), profo (pro forma)
    lines: tuple[SaleLineBody, ...]
    payments: tuple[SalePaymentBody, ...]
    discount: Ore  # off the whole receipt
    cashier: str | None
    customer: str | None  # the customer number of a sale on account
    order: str | None  # the ERP's sales order the receipt pays

    def receipt(self) -> Receipt:
        """The sale as the till's model holds it."""
        return Receipt(
            lines=tuple(
                Line(
                    text=line.text,
                    quantity=Decimal(line.quantity),
                    unit_price=line.unit_price,
                    vat_rate=line.vat_rate,
                    discount=line.discount,
                    kind=line.kind,
                    article=line.article,
                    group=line.group,
                )
                for line in self.lines
            ),
            payments=tuple(
                Payment(method=p.method, amount=p.amount, reference=p.reference) for p in self.payments
            ),
            discount=self.discount,
            kind=self.type,
            cashier=self.cashier,
            customer=self.customer,
            order=self.order,
        )


class ReceiptTotalsBody(Body, frozen=True):
    """A receipt's figures, in öre, signed (a return's are negative)."""

    total: Ore  # what the lines come to
    rounding: Ore  # öresavrundning on the cash part, booked apart
    to_pay: Ore  # total + rounding
    discount: Ore  # line discounts and the receipt discount (positive)
    return_total: Ore  # the return lines, as a positive sum (returbelopp)
    vat: tuple[VatBody[int], ...]  # one row per rate used, highest rate first
    paid: dict[PaymentMethod, int]  # öre per means of payment, change deducted
    change: Ore  # cash given back
    items: int  # goods sold (a count, not money)
    services: int  # services sold (a count)


class ReceiptPayload(Body, frozen=True):
    """The ``receipt`` message of ``tillgw.bus/2``: the registered receipt and its sale, in öre."""

    receipt_no: int
    type: ReceiptType  # as registered: normal, kopia, ovning, profo
    at: str  # when it was sold (local time with offset)
    copy_of: int | None  # a copy: the journal entry of the original's receipt
    control_code: str  # the control unit's code, as printed
    unit_id: str  # the control unit's identity
    cashier: str | None
    totals: ReceiptTotalsBody
    sale: SaleBody


class ReceiptPayloadV1(Body, frozen=True):
    """The ``receipt`` message of ``tillgw.bus/1``: figures in öre, the sale as the POS posted it."""

    receipt_no: int
    type: ReceiptType
    at: str
    copy_of: int | None
    control_code: str
    unit_id: str
    totals: TotalsBody  # öre; vat as [rate in hundredths, gross, vat]
    receipt: dict[str, Any]  # the sale with decimal-string money, as the POS posted it (docs/api.md)
    cashier: str | None

    def upgraded(self) -> ReceiptPayload:
        """The same receipt as ``tillgw.bus/2`` carries it. :class:`ReceiptError` names a field of
        the sale the receipt codec refuses (``lines[0].quantity``)."""
        return receipt_payload_of(
            receipt_no=self.receipt_no,
            type=self.type,
            at=self.at,
            copy_of=self.copy_of,
            control_code=self.control_code,
            unit_id=self.unit_id,
            totals=self.totals,
            sale=receipt_from_json(self.receipt),
            cashier=self.cashier,
        )


def vat_rows(totals: TotalsBody) -> tuple[VatBody[int], ...]:
    """The journal's ``[rate, gross, vat]`` triples as labelled rows, the net beside them."""
    return tuple(
        VatBody(rate=rate_text(rate), gross=gross, vat=vat, net=gross - vat)
        for rate, gross, vat in totals.vat
    )


def sale_body(sale: Receipt) -> SaleBody:
    """The sale as the bus carries it."""
    return SaleBody(
        type=sale.kind,
        lines=tuple(
            SaleLineBody(
                text=line.text,
                quantity=str(line.quantity),
                unit_price=line.unit_price,
                vat_rate=cast(VatRateValue, line.vat_rate),  # the model's rates are the four
                discount=line.discount,
                kind=line.kind,
                article=line.article,
                group=line.group,
            )
            for line in sale.lines
        ),
        payments=tuple(
            SalePaymentBody(method=p.method, amount=p.amount, reference=p.reference) for p in sale.payments
        ),
        discount=sale.discount,
        cashier=sale.cashier,
        customer=sale.customer,
        order=sale.order,
    )


def receipt_payload_of(
    *,
    receipt_no: int,
    type: ReceiptType,
    at: str,
    copy_of: int | None,
    control_code: str,
    unit_id: str,
    totals: TotalsBody,
    sale: Receipt,
    cashier: str | None,
) -> ReceiptPayload:
    """A ``tillgw.bus/2`` receipt payload from the journal's figures and the sale."""
    return ReceiptPayload(
        receipt_no=receipt_no,
        type=type,
        at=at,
        copy_of=copy_of,
        control_code=control_code,
        unit_id=unit_id,
        cashier=cashier,
        totals=ReceiptTotalsBody(
            total=totals.total,
            rounding=totals.rounding,
            to_pay=totals.to_pay,
            discount=totals.discount,
            return_total=totals.return_total,
            vat=vat_rows(totals),
            paid=dict(totals.paid),
            change=totals.change,
            items=totals.items,
            services=totals.services,
        ),
        sale=sale_body(sale),
    )
