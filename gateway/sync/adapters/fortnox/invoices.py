"""What Fortnox is sent for a receipt, and how a document made for it is known again.

:func:`invoiced_customer` says which receipts become invoices (or orders) and for whom;
:func:`invoice_rows` makes a receipt's rows (prices incl. VAT, a row per discount);
:class:`ExpectedDocument` is what a document made for the receipt before references named
the store must show — its day, customer and total — to be taken for it. The booking
(:mod:`.adapter`) and the sales orders (:mod:`.orders`) share them.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.messages.receipt_payload import ReceiptPayload, ReceiptTotalsBody
from gateway.receipts.model import Receipt, ReceiptType
from gateway.receipts.money import kronor_decimal
from gateway.sync.adapters.fortnox.config import FortnoxConfig

__all__ = ["ExpectedDocument", "gross_kronor", "invoice_rows", "invoiced_customer", "whole_percent"]

_KRONA = Decimal(1)  # Fortnox may round an invoice's total to whole kronor (öresavrundning)


def whole_percent(value: int) -> int:
    """A VAT rate in whole percent, from hundredths (2500) or percent (25)."""
    return value // 100 if value >= 100 else value


def invoiced_customer(config: FortnoxConfig, payload: ReceiptPayload, sale: Receipt) -> str | None:
    """The customer a receipt (``payload``, its ``sale``) goes to under ``invoices`` (its own, or
    ``cash_customer`` with "all"), or None: a copy, a training or pro forma receipt, no customer
    under "account_customers", or a receipt that pays a sales order (orders.py books those)."""
    if payload.copy_of is not None:
        return None
    if payload.type != ReceiptType.NORMAL:
        return None  # training and pro forma receipts are not sales
    if sale.order:
        return None
    customer = sale.customer
    if not customer:
        if config.invoices != "all":
            return None
        customer = config.cash_customer
    return str(customer) if customer else None


def invoice_rows(sale: Receipt, totals: ReceiptTotalsBody) -> list[dict[str, Any]]:
    """A receipt's rows as an invoice's (prices incl. VAT): a row per line, a row per line
    discount, a row per rate for the receipt discount."""
    rows: list[dict[str, Any]] = []
    by_rate: dict[int, Decimal] = {}
    for line in sale.lines:
        rate = whole_percent(line.vat_rate)
        qty = line.quantity
        price = kronor_decimal(line.unit_price)
        row: dict[str, Any] = {
            "Description": line.text[:50],
            "DeliveredQuantity": str(qty),
            "Price": float(price),
            "VAT": rate,
        }
        if line.article:
            row["ArticleNumber"] = line.article
        rows.append(row)
        amount = qty * price
        discount = kronor_decimal(line.discount)
        if discount:
            sign = -1 if qty < 0 else 1
            rows.append(
                {
                    "Description": "Rabatt",
                    "DeliveredQuantity": "1",
                    "Price": float(-sign * discount),
                    "VAT": rate,
                }
            )
            amount -= sign * discount
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + amount
    for vat_row in totals.vat:
        r = whole_percent(vat_row.hundredths)
        rest = kronor_decimal(vat_row.gross) - by_rate.get(r, Decimal(0))
        if rest:
            rows.append(
                {
                    "Description": "Rabatt på kvittot",
                    "DeliveredQuantity": "1",
                    "Price": float(rest),
                    "VAT": r,
                }
            )
    return rows


@dataclass(frozen=True, slots=True)
class ExpectedDocument:
    """What a document made for a receipt shows: its day, customer and total incl. VAT (kronor)."""

    day: str | None  # None: not compared (an invoice made from an order is dated the day it is made)
    customer: str
    total: Decimal | None  # None: not compared (an order priced by Fortnox)

    def matches(self, day: Any, customer: Any, total: Any) -> bool:
        if self.day is not None and str(day or "") != self.day:
            return False
        if str(customer or "") != self.customer:
            return False
        if self.total is None:
            return True
        try:
            return abs(Decimal(str(total)) - self.total) < _KRONA
        except ArithmeticError:
            return False


def gross_kronor(totals: ReceiptTotalsBody) -> Decimal:
    """The receipt's sales incl. VAT before the cash rounding, in kronor (what its invoice totals)."""
    return kronor_decimal(sum(row.gross for row in totals.vat))
