"""Dynamics NAV (OData v4 page services): each receipt as a posted sales invoice for the cash customer, paid.

Booking (docs/adapters/nav.md): a sales receipt becomes a sales invoice (a return a sales
credit memo) for the configured cash customer with the receipt's reference in the chain as
``External_Document_No`` (:mod:`gateway.sync.references`: Code[35]; the payment lines'
``Document_No``, Code[20], its 20-character form) and the cashier as salesperson; one line of type Item per
receipt line, its unit price and line amount excl. VAT as NAV keeps them and the VAT
Prod. Posting Group of the line's rate; a G/L Account line on the rounding account for
what the cash rounding leaves; then the partner's posting codeunit when ``post =
"at_once"``; then one cash receipt journal line per means of payment, balanced on that
means' account and applied to the posted document.

NAV takes no idempotency key. Before each step the adapter reads what NAV has — the
posted document and the open one by ``External_Document_No``, the open one's lines, the
journal's and the customer ledger's payments with our reference — and does only what is
missing, so a crash or a lost answer anywhere never makes a second document, line or payment.
A document the module made before references named the store (``{register}-{receipt_no}``)
is taken for the receipt only when its day, customer and total are the receipt's: that
form names every store's receipt of the same number.

The configuration is in :mod:`.config`, the page services' client in :mod:`.api`, the
document's lines in :mod:`.documents`, master data in :mod:`.source`, sales orders in
:mod:`.orders`.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.receipts.money import kronor_decimal, kronor_number
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.nav.api import NavApi
from gateway.sync.adapters.nav.config import NavConfig
from gateway.sync.adapters.nav.documents import DocumentKind, NavLine, nav_lines
from gateway.sync.adapters.odata import odata_quote
from gateway.sync.database import now_text
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.payloads import invoiceable_sale
from gateway.sync.references import (
    NAV_DOCUMENT_NO,
    NAV_EXTERNAL_DOCUMENT_NO,
    DocumentReference,
    LegacyWindow,
)
from gateway.sync.sql import SqlConnection

__all__ = ["NAV_SCHEMA", "NavAdapter"]

NAV_SCHEMA = """
CREATE TABLE IF NOT EXISTS nav_documents (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    receipt_no INTEGER NOT NULL,
    msg_id TEXT NOT NULL,             -- the message it was made from
    document_type TEXT NOT NULL,      -- 'Invoice' | 'Credit Memo'
    document_no TEXT NOT NULL,        -- the posted document's No. (the open one's for batch posting)
    posted INTEGER NOT NULL,
    booked_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, register, receipt_no)
);
"""


class NavAdapter:
    """Receipts to posted, paid sales invoices (returns: credit memos) in Dynamics NAV."""

    name = "Dynamics NAV"

    def __init__(self, config: NavConfig, api: NavApi, *, create_tries: int = 3) -> None:
        self.config = config
        self.api = api
        self.create_tries = create_tries
        self.legacy = LegacyWindow("nav")

    def handles(self, kind: str) -> bool:
        return kind == "receipt"

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(NAV_SCHEMA)
        await self.legacy.setup(db)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        booked = invoiceable_sale(message)  # None: no sale, or one the order adapter books
        if booked is None:
            return None
        payload, sale = booked
        receipt_no = payload.receipt_no
        ours = DocumentReference.of(message, "receipt", receipt_no)
        reference = ours.in_field(NAV_EXTERNAL_DOCUMENT_NO)
        document_no = ours.in_field(NAV_DOCUMENT_NO)
        day = payload.at[:10]
        if self.config.from_date is not None and day < self.config.from_date.isoformat():
            return f"receipt {reference} ({day}) is before from_date {self.config.from_date}: not booked"
        async with db.execute(
            "SELECT document_type, document_no FROM nav_documents "
            "WHERE orgnr = ? AND store = ? AND register = ? AND receipt_no = ?",
            (message.orgnr, message.store, message.register, receipt_no),
        ) as cursor:
            earlier = await cursor.fetchone()
        if earlier is not None:
            return f"receipt {reference} is already {earlier[0].lower()} {earlier[1]}; nothing booked"
        kind, lines = nav_lines(sale, self.config)
        try:
            if ours.legacy is not None and self.legacy.covers(message):
                found = await self._legacy(reference, ours.legacy, day, kind, payload)
                if found:
                    reference = document_no = ours.legacy  # the older module's document: finish it so
            number, posted = await self._book(reference, day, payload, kind, lines, document_no)
        except (ApiError, ApiUnavailable, OutcomeUnknown) as exc:
            raise AdapterError(f"receipt {reference}: {exc}") from None
        await db.execute(
            "INSERT INTO nav_documents (orgnr, store, register, receipt_no, msg_id, document_type, "
            "document_no, posted, booked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message.orgnr, message.store, message.register, receipt_no, message.msg_id, kind.document_type,
             number, int(posted), now_text()),
        )  # fmt: skip
        state = "posted" if posted else "open, for batch posting"
        return f"receipt {reference} booked as {kind.document_type.lower()} {number} ({state})"

    def _reference_filter(self, reference: str) -> str:
        return f"External_Document_No eq '{odata_quote(reference)}'"

    async def _legacy(
        self, reference: str, legacy: str, day: str, kind: DocumentKind, payload: ReceiptPayload
    ) -> bool:
        """Whether NAV has no document of ``reference`` but one the module made before under the
        ``legacy`` form for this very receipt: posted, with its day, the cash customer and the
        receipt's total; or open, with its day and customer (an open one may be half made)."""
        for page in (kind.posted, kind.header):
            if await self.api.first(page, self._reference_filter(reference)) is not None:
                return False
        paid = kronor_decimal(abs(payload.totals.to_pay))
        async for doc in self.api.client.values(
            self.api.path(kind.posted), {"$filter": self._reference_filter(legacy)}
        ):
            same = (doc.get("Posting_Date"), doc.get("Sell_to_Customer_No")) == (day, self.config.customer)
            if same and Decimal(str(doc.get("Amount_Including_VAT", "NaN"))) == paid:
                return True
        async for doc in self.api.client.values(
            self.api.path(kind.header), {"$filter": self._reference_filter(legacy)}
        ):
            if (doc.get("Posting_Date"), doc.get("Sell_to_Customer_No")) == (day, self.config.customer):
                return True
        return False

    async def _book(
        self,
        reference: str,
        day: str,
        payload: ReceiptPayload,
        kind: DocumentKind,
        lines: list[NavLine],
        document_no: str,
    ) -> tuple[str, bool]:
        """(the document's No., whether it is posted), doing only what NAV does not have yet."""
        number = ""
        posted = await self.api.first(kind.posted, self._reference_filter(reference))
        if posted is None:
            document = await self.api.first(kind.header, self._reference_filter(reference))
            if document is None:
                document = await self._create(kind, reference, day, payload)
            number = str(document["No"])
            await self._lines(kind, number, lines)
            if self.config.post == "at_once":
                posted = await self._post(kind, number, reference)
        await self._payments(kind, reference, day, payload, posted, document_no=document_no)
        if posted is not None:
            return str(posted["No"]), True
        return number, False

    async def _create(
        self, kind: DocumentKind, reference: str, day: str, payload: ReceiptPayload
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Sell_to_Customer_No": self.config.customer,
            "External_Document_No": reference,
            "Posting_Date": day,
            "Document_Date": day,
        }
        cashier = payload.cashier
        if self.config.salesperson_from_cashier and cashier:
            body["Salesperson_Code"] = cashier[:20]
        unclear = ""
        for _ in range(self.create_tries):
            try:
                created = await self.api.client.request("POST", self.api.path(kind.header), json=body)
            except OutcomeUnknown as exc:
                unclear = str(exc)
                found = await self.api.first(kind.header, self._reference_filter(reference))
                if found is not None:
                    return found
                continue  # not carried out: send it again
            if not isinstance(created, dict) or "No" not in created:
                raise AdapterError(
                    f"POST {self.api.path(kind.header)} answered no document: {str(created)[:200]}"
                )
            return created
        raise AdapterError(f"{unclear}; {reference} is not in NAV yet, tried again next pass")

    async def _lines(self, kind: DocumentKind, number: str, lines: list[NavLine]) -> None:
        where = f"Document_Type eq '{kind.document_type}' and Document_No eq '{odata_quote(number)}'"
        unclear = ""
        for _ in range(self.create_tries):
            have = [x async for x in self.api.client.values(self.api.path(kind.lines), {"$filter": where})]
            try:
                for line in lines[len(have) :]:  # lines go in order: those there are the first ones
                    await self.api.client.request(
                        "POST", self.api.path(kind.lines), json=line.body(kind, number)
                    )
            except OutcomeUnknown as exc:
                unclear = str(exc)
                continue  # read the lines again: the one in doubt is there or not
            return
        raise AdapterError(f"{unclear}; the lines of {number} are tried again next pass")

    async def _post(self, kind: DocumentKind, number: str, reference: str) -> dict[str, Any]:
        with contextlib.suppress(
            OutcomeUnknown
        ):  # the posted document, looked for below, says if it was done
            await self.api.client.request(
                "POST",
                self.config.posting_service,
                params={"company": self.config.company},
                json={"documentType": kind.document_type, "documentNo": number},
            )
        posted = await self.api.first(kind.posted, self._reference_filter(reference))
        if posted is None:
            raise AdapterError(
                f"{kind.document_type} {number} ({reference}) was sent to {self.config.posting_service} "
                "but NAV shows no posted document for it yet; tried again next pass"
            )
        return posted

    async def _payment_there(self, reference: str, text: str, customer: str | None = None) -> bool:
        """A payment line with our text, in the journal (unposted) or the customer ledger (posted)."""
        c = self.config
        customer = customer or c.customer
        journal = (
            f"Journal_Template_Name eq '{odata_quote(c.payment_journal_template)}' and "
            f"Journal_Batch_Name eq '{odata_quote(c.payment_journal_batch)}' and "
            + self._reference_filter(reference)
        )
        async for line in self.api.client.values(self.api.path("payment_journal"), {"$filter": journal}):
            if line.get("Description") == text:
                return True
        ledger = f"Customer_No eq '{odata_quote(customer)}' and {self._reference_filter(reference)}"
        async for entry in self.api.client.values(self.api.path("customer_ledger"), {"$filter": ledger}):
            if entry.get("Description") == text:
                return True
        return False

    async def _payments(
        self,
        kind: DocumentKind,
        reference: str,
        day: str,
        payload: ReceiptPayload,
        posted: dict[str, Any] | None,
        customer: str | None = None,
        *,
        document_no: str,
    ) -> None:
        """One journal line per means paid, for ``customer`` (the cash customer unless given);
        ``document_no`` is the receipt's reference in the 20 characters of ``Document_No``."""
        paid = payload.totals.paid
        c = self.config
        customer = customer or c.customer
        for means, amount in paid.items():
            account = c.payment_accounts.get(means)
            if not amount or account is None:
                continue
            text = f"{reference} {means}"
            if await self._payment_there(reference, text, customer):
                continue
            body: dict[str, Any] = {
                "Journal_Template_Name": c.payment_journal_template,
                "Journal_Batch_Name": c.payment_journal_batch,
                "Posting_Date": day,
                "Document_Type": kind.payment_type,
                "Document_No": document_no,
                "External_Document_No": reference,
                "Account_Type": "Customer",
                "Account_No": customer,
                "Description": text,
                "Amount": kronor_number(-amount),
                "Bal_Account_Type": "G/L Account",
                "Bal_Account_No": account,
            }
            if means in c.payment_methods:
                body["Payment_Method_Code"] = c.payment_methods[means]
            if posted is not None:
                body["Applies_to_Doc_Type"] = kind.document_type
                body["Applies_to_Doc_No"] = posted["No"]
            try:
                await self.api.client.request("POST", self.api.path("payment_journal"), json=body)
            except OutcomeUnknown:
                if not await self._payment_there(reference, text, customer):
                    raise
