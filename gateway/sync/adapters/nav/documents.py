"""A receipt as NAV's sales document: its kind (invoice or credit memo) and its lines.

NAV keeps prices excl. VAT and computes VAT per VAT Prod. Posting Group on the sum of
the group's line amounts, so :func:`nav_lines` works out here, before NAV is asked,
what the document will come to, and ends it with a rounding line that makes it what the
customer paid, to the öre. The booking (:mod:`.adapter`) and the orders
(:mod:`.orders`) send these lines.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from gateway.receipts.model import Receipt, compute
from gateway.receipts.money import kronor_decimal
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.nav.config import NavConfig

__all__ = ["CREDIT_MEMO", "INVOICE", "DocumentKind", "NavLine", "nav_lines"]


@dataclass(frozen=True, slots=True)
class DocumentKind:
    document_type: str  # Document_Type of the sales header and lines
    header: str  # keys of NavConfig.services
    lines: str
    posted: str
    payment_type: str  # Document_Type of the journal line that settles it


INVOICE = DocumentKind("Invoice", "sales_invoice", "invoice_lines", "posted_invoice", "Payment")
CREDIT_MEMO = DocumentKind(
    "Credit Memo", "sales_credit_memo", "credit_memo_lines", "posted_credit_memo", "Refund"
)


@dataclass(frozen=True, slots=True)
class NavLine:
    type: str  # "Item" | "G/L Account"
    no: str
    quantity: Decimal
    unit_price: Decimal  # excl. VAT, 5 decimals
    line_amount: Decimal  # excl. VAT, to the öre
    vat_group: str | None
    description: str | None = None

    def body(self, kind: DocumentKind, document_no: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Document_Type": kind.document_type,
            "Document_No": document_no,
            "Type": self.type,
            "No": self.no,
            "Quantity": float(self.quantity),
            "Unit_Price": float(self.unit_price),
            "Line_Amount": float(self.line_amount),
        }
        if self.vat_group is not None:
            body["VAT_Prod_Posting_Group"] = self.vat_group
        if self.description is not None:
            body["Description"] = self.description
        return body


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _up5(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00001"), ROUND_UP)


def nav_lines(receipt: Receipt, config: NavConfig) -> tuple[DocumentKind, list[NavLine]]:
    """The document's kind and lines, the last one evening out the öre to what was paid.

    NAV computes VAT per VAT group on the sum of the group's line amounts (rounded once
    per group), so the document's total incl. VAT is known here before NAV is asked, and
    the rounding line makes it what the customer paid, to the öre.
    """
    totals = compute(receipt)
    kind = CREDIT_MEMO if totals.is_return else INVOICE
    groups: dict[int, str] = {}
    for group, rate in config.vat_groups.items():
        groups.setdefault(rate, group)
    lines: list[NavLine] = []
    net_by_rate: dict[int, int] = {}
    for i, (line, amount) in enumerate(zip(receipt.lines, totals.line_amounts, strict=True)):
        item = line.article or config.item_without_article
        if item is None:
            raise AdapterError(
                f"lines[{i}] ({line.text!r}) names no article and item_without_article is not set"
            )
        vat_group = groups.get(line.vat_rate)
        if vat_group is None:
            raise AdapterError(
                f"lines[{i}] ({line.text!r}): VAT {line.vat_rate / 100:g} % has no VAT Prod. Posting Group "
                "in [sync.nav].vat_groups"
            )
        quantity = abs(line.quantity)
        net = _half_up(Decimal(abs(amount)) * 10000 / (10000 + line.vat_rate))
        line_amount = kronor_decimal(net)
        listed = Decimal(line.unit_price) * 100 / (10000 + line.vat_rate)
        # Never below line amount / quantity: NAV makes the difference a line discount and
        # refuses a negative one.
        unit = max(_up5(listed), _up5(line_amount / quantity)) if quantity else _up5(listed)
        lines.append(NavLine("Item", item, quantity, unit, line_amount, vat_group))
        net_by_rate[line.vat_rate] = net_by_rate.get(line.vat_rate, 0) + net
    total = sum(net + _half_up(Decimal(net) * rate / 10000) for rate, net in net_by_rate.items())
    rest = abs(totals.to_pay) - total
    if rest:
        evened = kronor_decimal(rest)
        lines.append(
            NavLine(
                "G/L Account",
                config.rounding_account,
                Decimal(1 if rest > 0 else -1),
                abs(evened),
                evened,
                groups.get(0),
                "Öresavrundning",
            )
        )
    return kind, lines
