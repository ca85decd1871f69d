"""Business Central API v2.0: each receipt as a sales invoice for the cash customer, paid.

Booking (docs/adapters/business-central.md): a sales receipt becomes
``POST companies({id})/salesInvoices`` for the configured cash customer with the receipt's
reference in the chain as ``externalDocumentNumber`` (:mod:`gateway.sync.references`: Code[35],
so in capitals, compact when the full form does not fit) and the cashier as salesperson;
one ``salesInvoiceLines`` line of type Item per receipt line (unit price excl. VAT, as BC
keeps it, after the line's share of discounts); an Account line on the rounding account
for what BC's own VAT arithmetic and the cash rounding leave between the invoice and what
was paid; then ``Microsoft.NAV.post`` when ``post = "at_once"``; then one customer
payment journal line per means of payment, applied to the posted invoice.

BC takes no idempotency key: before each step the adapter reads what BC already has —
the invoice by ``externalDocumentNumber``, its lines, its status, the journal's lines by
``externalDocumentNumber`` — and does only what is missing, so a crash or a lost answer
anywhere never makes a second invoice, line or payment. An invoice the module made before
references named the store (``{register}-{receipt_no}``) is taken for the receipt only when
its day, customer and total are the receipt's: that form names every store's receipt of the
same number.

The configuration is in :mod:`.config`, the API client in :mod:`.api`, master data in
:mod:`.source`, sales orders in :mod:`.orders`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.receipts.model import Receipt, compute
from gateway.receipts.money import kronor_number
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central.api import BusinessCentralApi
from gateway.sync.adapters.business_central.config import BusinessCentralConfig
from gateway.sync.adapters.odata import odata_quote
from gateway.sync.database import now_text
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from gateway.sync.payloads import invoiceable_sale
from gateway.sync.references import BC_EXTERNAL_DOCUMENT_NUMBER, DocumentReference, LegacyWindow
from gateway.sync.sql import SqlConnection

__all__ = ["BC_SCHEMA", "BusinessCentralAdapter", "InvoiceLine", "invoice_lines"]

BC_SCHEMA = """
CREATE TABLE IF NOT EXISTS bc_invoices (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    receipt_no INTEGER NOT NULL,
    msg_id TEXT NOT NULL,             -- the message it was made from
    invoice_id TEXT NOT NULL,         -- BC's id of the sales invoice
    invoice_number TEXT NOT NULL,
    booked_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, register, receipt_no)
);
"""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    item: str
    quantity: Decimal
    unit_price: Decimal  # excl. VAT


def invoice_lines(receipt: Receipt, item_without_article: str | None) -> tuple[list[InvoiceLine], int]:
    """The invoice's item lines and what the receipt came to incl. VAT (öre)."""
    totals = compute(receipt)
    lines: list[InvoiceLine] = []
    for i, (line, amount) in enumerate(zip(receipt.lines, totals.line_amounts, strict=True)):
        item = line.article or item_without_article
        if item is None:
            raise AdapterError(
                f"lines[{i}] ({line.text!r}) names no article and item_without_article is not set"
            )
        excl = Decimal(amount) * 10000 / (10000 + line.vat_rate) / 100
        unit = (excl / line.quantity).quantize(Decimal("0.00001"), ROUND_HALF_UP)
        lines.append(InvoiceLine(item, line.quantity, unit))
    return lines, totals.to_pay


class BusinessCentralAdapter:
    """Receipts to posted, paid sales invoices in Business Central."""

    name = "Business Central"

    def __init__(self, config: BusinessCentralConfig, api: BusinessCentralApi) -> None:
        self.config = config
        self.api = api
        self._journals: dict[str, str] = {}
        self.legacy = LegacyWindow("business_central")

    def handles(self, kind: str) -> bool:
        return kind == "receipt"

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(BC_SCHEMA)
        await self.legacy.setup(db)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        booked = invoiceable_sale(message)  # None: no sale, or one the order adapter books
        if booked is None:
            return None
        payload, sale = booked
        receipt_no = payload.receipt_no
        ours = DocumentReference.of(message, "receipt", receipt_no)
        reference = ours.in_field(BC_EXTERNAL_DOCUMENT_NUMBER)
        async with db.execute(
            "SELECT invoice_number FROM bc_invoices "
            "WHERE orgnr = ? AND store = ? AND register = ? AND receipt_no = ?",
            (message.orgnr, message.store, message.register, receipt_no),
        ) as cursor:
            earlier = await cursor.fetchone()
        if earlier is not None:
            return f"receipt {reference} is already invoice {earlier[0]}; nothing booked"
        lines, to_pay = invoice_lines(sale, self.config.item_without_article)
        try:
            if ours.legacy is not None and self.legacy.covers(message):
                reference = await self._reference_in_use(reference, ours.legacy, payload, to_pay)
            invoice = await self._book(reference, payload, lines, to_pay)
        except (ApiError, ApiUnavailable, TokenError, OutcomeUnknown) as exc:
            raise AdapterError(f"receipt {reference}: {exc}") from None
        await db.execute(
            "INSERT INTO bc_invoices (orgnr, store, register, receipt_no, msg_id, invoice_id, "
            "invoice_number, booked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (message.orgnr, message.store, message.register, receipt_no, message.msg_id, invoice["id"],
             invoice["number"], now_text()),
        )  # fmt: skip
        return f"receipt {reference} booked as invoice {invoice['number']} ({invoice['status']})"

    async def _reference_in_use(
        self, reference: str, legacy: str, payload: ReceiptPayload, to_pay: int
    ) -> str:
        """``legacy`` when BC has no invoice of ``reference`` but has one the module made before
        under the legacy form for this very receipt — its day, the cash customer and what was
        paid; ``reference`` otherwise. (A draft the older module left half made has another
        total and is not taken: it stays a draft in BC, to be deleted there.)"""
        if await self._invoice(reference) is not None:
            return reference
        day = payload.at[:10]
        async for invoice in self.api.values(
            "salesInvoices", {"$filter": f"externalDocumentNumber eq '{odata_quote(legacy)}'"}
        ):
            total = round(Decimal(str(invoice.get("totalAmountIncludingTax", 0))) * 100)
            if (invoice.get("invoiceDate"), invoice.get("customerNumber"), total) == (
                day,
                self.config.customer,
                to_pay,
            ):
                return legacy
        return reference

    async def _invoice(self, reference: str) -> dict[str, Any] | None:
        async for invoice in self.api.values(
            "salesInvoices", {"$filter": f"externalDocumentNumber eq '{odata_quote(reference)}'"}
        ):
            return invoice
        return None

    async def _book(
        self, reference: str, payload: ReceiptPayload, lines: list[InvoiceLine], to_pay: int
    ) -> dict[str, Any]:
        invoice = await self._invoice(reference)
        # Made by this very request: it has no lines and no payments yet, so neither is looked
        # for (two requests a receipt fewer against BC's limit).
        made_now = False
        if invoice is None:
            body: dict[str, Any] = {
                "customerNumber": self.config.customer,
                "invoiceDate": payload.at[:10],
                # invoiceDate is only the Document Date; without postingDate BC posts on its work
                # date, and a receipt booked a day late would land in the wrong day (and period).
                "postingDate": payload.at[:10],
                "externalDocumentNumber": reference,
            }
            cashier = payload.cashier
            if self.config.salesperson_from_cashier and cashier:
                body["salesperson"] = cashier[:20]  # the page's field on "Salesperson Code", Code[20]
            try:
                invoice = await self.api.request("POST", "salesInvoices", json=body)
                made_now = True
            except OutcomeUnknown:
                invoice = await self._invoice(reference)
                if invoice is None:
                    raise
        assert invoice is not None
        path = f"salesInvoices({invoice['id']})"
        if invoice.get("status") == "In Review":
            # Sent for approval in BC: neither its lines nor its posting are ours to change now.
            raise AdapterError(
                f"invoice {invoice.get('number')} ({reference}) is awaiting approval in Business Central "
                "(In Review): approve or reopen it there; tried again next pass"
            )
        if invoice.get("status") == "Draft":
            have = [] if made_now else [x async for x in self.api.values(f"{path}/salesInvoiceLines")]
            items = [x for x in have if x.get("lineType") == "Item"]
            for line in lines[len(items) :]:  # lines go in order: those there are the first ones
                await self.api.request(
                    "POST",
                    f"{path}/salesInvoiceLines",
                    json={
                        "lineType": "Item",
                        "lineObjectNumber": line.item,
                        "quantity": float(line.quantity),
                        "unitPrice": float(line.unit_price),
                    },
                )
            if not any(x.get("lineType") == "Account" for x in have):
                invoice = await self.api.request("GET", path)
                rest = to_pay - round(Decimal(str(invoice["totalAmountIncludingTax"])) * 100)
                if rest:
                    await self.api.request(
                        "POST",
                        f"{path}/salesInvoiceLines",
                        json={
                            "lineType": "Account",
                            "lineObjectNumber": self.config.rounding_account,
                            "quantity": 1,
                            "unitPrice": kronor_number(int(rest)),
                            "description": "Öresavrundning",
                        },
                    )
            if self.config.post == "at_once":
                with contextlib.suppress(OutcomeUnknown):  # the status read below says if it was posted
                    await self.api.request("POST", f"{path}/Microsoft.NAV.post")
                invoice = await self.api.request("GET", path)  # posted: its status and posted number
            # batch: a draft's number and status are what was read; lines do not change them
        await self._payments(reference, invoice, payload, made_now=made_now)
        return dict(invoice)

    async def _journal(self, code: str) -> str:
        if code not in self._journals:
            async for journal in self.api.values(
                "customerPaymentJournals", {"$filter": f"code eq '{odata_quote(code)}'"}
            ):
                self._journals[code] = str(journal["id"])
            if code not in self._journals:
                raise AdapterError(f"Business Central has no customer payment journal {code!r}")
        return self._journals[code]

    async def _payments(
        self,
        reference: str,
        invoice: dict[str, Any],
        payload: ReceiptPayload,
        customer: str | None = None,
        *,
        made_now: bool = False,
    ) -> None:
        """A payment journal line per means paid, for ``customer`` (the cash customer when None),
        applied to the invoice once it is posted; those BC has already are not made again
        (``made_now``: the invoice was made by this pass, so none can be there yet)."""
        paid = payload.totals.paid
        posted = invoice.get("status") != "Draft"
        for means, amount in paid.items():
            code = self.config.payment_journals.get(means)
            if not amount or code is None:
                continue
            journal = await self._journal(code)
            path = f"customerPaymentJournals({journal})/customerPayments"
            text = f"{reference} {means}"
            there = (
                []
                if made_now
                else [
                    p
                    async for p in self.api.values(
                        path, {"$filter": f"externalDocumentNumber eq '{odata_quote(reference)}'"}
                    )
                    if p.get("description") == text
                ]
            )
            if there:
                continue
            body: dict[str, Any] = {
                "customerNumber": customer or self.config.customer,
                "postingDate": invoice.get("postingDate") or invoice.get("invoiceDate"),
                "externalDocumentNumber": reference,
                "amount": -kronor_number(amount),
                "description": text,
            }
            if posted:
                body["appliesToInvoiceId"] = invoice["id"]
            await self.api.request("POST", path, json=body)
