"""Booking in Fortnox: each Z report a voucher, receipts of account customers invoices.

A ``report.z`` message becomes one voucher (``POST vouchers``) in the configured series,
dated the day of the Z, its rows the voucher :mod:`gateway.sync.booking` makes for the
SIE file, and its description ending in our reference ``(tillgw {orgnr}/{store}/{register}
Z{z_no})``; with ``cost_center`` set, every row carries that cost centre (kostnadsställe).
With ``invoices`` set, a ``receipt`` of an account customer (the receipt's ``customer``)
becomes an invoice whose ``ExternalInvoiceReference1`` is the receipt's reference in the
chain (:mod:`gateway.sync.references`: orgnr, store, register and number), booked and paid
at once (``invoice_bookkeep``) for what was paid at the till. With
``invoices_as = "order"`` such receipts become orders instead, and a receipt that pays a
sales order is invoiced from that order: both in :mod:`.orders`.

Fortnox takes no idempotency key, so every document carries our reference, and before
any document is made — on every (re)processing of a message, and again after a request
whose outcome is unknown — Fortnox is searched for it: a crash between Fortnox's answer
and our commit finds the document on the next pass instead of making a second one. What
was made is recorded in ``fortnox_documents`` inside the inbox transaction. An invoice the
module made before references named the store (``{register}-{receipt_no}``) is found too,
and taken only when its day, customer and total are the receipt's
(:meth:`FortnoxAdapter.find_invoice`).

An invoice that is booked carries its own sale into the books; the Z report's voucher then
leaves those receipts out (``fortnox_invoiced`` keeps their figures until their Z), so no
sale is booked twice. An invoice that is not booked is only a claim on the customer: the
Z report books the whole day.

What an invoice holds and which receipts get one is in :mod:`.invoices`; the
configuration in :mod:`.config`, the client in :mod:`.api`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.messages.receipt_payload import ReceiptPayload, ReceiptTotalsBody
from gateway.receipts.money import kronor_decimal, kronor_number, money_text
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.fortnox.api import pages
from gateway.sync.adapters.fortnox.config import FortnoxConfig
from gateway.sync.adapters.fortnox.invoices import (
    ExpectedDocument,
    gross_kronor,
    invoice_rows,
    invoiced_customer,
    whole_percent,
)
from gateway.sync.booking import BookingError, ZFigures, z_figures, z_voucher
from gateway.sync.database import now_text
from gateway.sync.http import ApiClient, ApiError, ApiUnavailable, OutcomeUnknown, TokenError
from gateway.sync.payloads import ZReport, receipt_day, receipt_payload, sale_of, z_report
from gateway.sync.references import (
    FORTNOX_EXTERNAL_INVOICE_REFERENCE,
    DocumentReference,
    LegacyWindow,
    voucher_tag,
)
from gateway.sync.settings import MEANS, AccountsConfig
from gateway.sync.sql import SqlConnection

__all__ = ["FORTNOX_SCHEMA", "FortnoxAdapter"]

FORTNOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS fortnox_documents (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    reference TEXT NOT NULL,          -- the voucher tag, or the invoice's ExternalInvoiceReference1
    kind TEXT NOT NULL,               -- "voucher" | "invoice"
    number TEXT NOT NULL,             -- "A 17" (series, number) or the invoice's DocumentNumber
    msg_id TEXT NOT NULL,             -- the message it was made from
    found INTEGER NOT NULL,           -- 1: it was already in Fortnox (made before a crash)
    made_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, kind, reference)
);
CREATE TABLE IF NOT EXISTS fortnox_invoiced (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    receipt_no INTEGER NOT NULL,
    figures TEXT NOT NULL,            -- JSON {"vat": [[rate, gross, vat]], "paid": {means: öre}, "rounding"}
    z_no INTEGER,                     -- the Z whose voucher left it out (NULL until then)
    PRIMARY KEY (orgnr, store, register, receipt_no)
);
"""

_SEARCH_ROUNDS = 3  # a POST with an unknown outcome: search, send again, at most this often


class FortnoxAdapter:
    """Z reports to vouchers; receipts of account customers to invoices (``invoices`` set)."""

    name = "Fortnox"

    def __init__(self, config: FortnoxConfig, accounts: AccountsConfig, client: ApiClient) -> None:
        self.config = config
        self.accounts = accounts
        self.client = client
        self.legacy = LegacyWindow("fortnox")

    def handles(self, kind: str) -> bool:
        return kind == "report.z" or (kind == "receipt" and self.config.invoices != "none")

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(FORTNOX_SCHEMA)
        await self.legacy.setup(db)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        try:
            if message.kind == "report.z":
                return await self._z(db, message, z_report(message))
            if message.kind == "receipt" and self.config.invoices != "none":
                return await self._receipt(db, message, receipt_payload(message))
            return None
        except ApiError as exc:
            raise AdapterError(f"Fortnox refused: {exc}") from None
        except (ApiUnavailable, TokenError, OutcomeUnknown) as exc:
            raise AdapterError(f"Fortnox: {exc}") from None

    # -- records ------------------------------------------------------------------------

    async def _recorded(self, db: SqlConnection, m: BusMessage, kind: str, ref: str) -> str | None:
        async with db.execute(
            "SELECT number FROM fortnox_documents "
            "WHERE orgnr = ? AND store = ? AND kind = ? AND reference = ?",
            (m.orgnr, m.store, kind, ref),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def _record(
        self, db: SqlConnection, m: BusMessage, kind: str, ref: str, number: str, found: bool
    ) -> None:
        await db.execute(
            "INSERT INTO fortnox_documents (orgnr, store, reference, kind, number, msg_id, found, made_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (m.orgnr, m.store, ref, kind, number, m.msg_id, int(found), now_text()),
        )

    def _before_start(self, day: date) -> bool:
        return self.config.from_date is not None and day < self.config.from_date

    # -- Z reports as vouchers ----------------------------------------------------------

    async def _z(self, db: SqlConnection, m: BusMessage, report: ZReport) -> str:
        try:
            z = z_figures(report)
        except BookingError as exc:
            raise AdapterError(f"refused to book {m.msg_id}: {exc}") from None
        where = f"{m.orgnr}/{m.store}/{m.register}"
        if z.nothing_to_book:
            return f"Z {z.z_no} of {where}, {z.day}: no sales, so no voucher"
        if self._before_start(z.day):
            return (
                f"Z {z.z_no} of {where} ({z.day}) is dated before from_date {self.config.from_date}: not sent"
            )
        tag = voucher_tag(m, z.z_no)
        earlier = await self._recorded(db, m, "voucher", tag)
        if earlier is not None:
            return f"Z {z.z_no} of {where} already is voucher {earlier}; {m.msg_id} makes no second one"
        z = await self._leave_out_invoiced(db, m, z)
        try:
            voucher = z_voucher(z, self.accounts, self.config.voucher_series, "", m.register)
        except BookingError as exc:
            raise AdapterError(f"refused to book {m.msg_id}: {exc}") from None
        day = z.day.isoformat()
        if not voucher.transactions:
            await self._record(db, m, "voucher", tag, "-", False)
            return f"Z {z.z_no} of {where}, {day}: every sale is on a booked invoice; no voucher"
        year = await self._financial_year(day)
        if year is None:
            raise AdapterError(
                f"Fortnox has no financial year for {day}: create it in Fortnox, then Z {z.z_no} "
                f"of {where} is booked on the next pass"
            )
        body = {
            "Voucher": {
                "VoucherSeries": self.config.voucher_series,
                "TransactionDate": day,
                "Description": f"{voucher.text} ({tag})"[-200:],
                "VoucherRows": [
                    {
                        "Account": int(t.account),
                        "Debit": kronor_number(t.amount) if t.amount > 0 else 0,
                        "Credit": kronor_number(-t.amount) if t.amount < 0 else 0,
                        "Description": t.text[:60],
                        **({"CostCenter": self.config.cost_center} if self.config.cost_center else {}),
                    }
                    for t in voucher.transactions
                ],
            }
        }
        number, found = await self._make(
            lambda: self._find_voucher(day, tag, year), lambda: self._post_voucher(body, year)
        )
        await self._record(db, m, "voucher", tag, number, found)
        sales = sum(g for _, g, _ in z.vat)
        how = "found already made" if found else "booked"
        return f"Z {z.z_no} of {where}, {day}: {how} as voucher {number}, sales {money_text(sales)} incl. VAT"

    async def _financial_year(self, day: str) -> int | None:
        """The Id of Fortnox's financial year holding ``day``, or None when it has none.

        A voucher is identified by series, number and financial year: without
        ``financialyear`` Fortnox books into, and lists only, the year preselected for the
        company, so a Z of an earlier year would be refused (or land in the wrong year)
        and the search for it would miss it and post it twice.
        """
        answer = await self.client.request("GET", "financialyears", params={"date": day})
        years = answer.get("FinancialYears") if isinstance(answer, dict) else None
        for y in years if isinstance(years, list) else []:
            if isinstance(y, dict) and str(y.get("FromDate")) <= day <= str(y.get("ToDate")):
                return int(y["Id"])
        return None

    async def _find_voucher(self, day: str, tag: str, year: int) -> str | None:
        series = self.config.voucher_series
        params: dict[str, str | int] = {"financialyear": year, "fromdate": day, "todate": day}
        async for v in pages(self.client, f"vouchers/sublist/{series}", "Vouchers", params):
            if f"({tag})" in str(v.get("Description", "")):
                return f"{series} {v.get('VoucherNumber')}"
        return None

    async def _post_voucher(self, body: dict[str, Any], year: int) -> str:
        answer = await self.client.request("POST", "vouchers", params={"financialyear": year}, json=body)
        v = answer.get("Voucher", {}) if isinstance(answer, dict) else {}
        return f"{v.get('VoucherSeries', self.config.voucher_series)} {v.get('VoucherNumber')}"

    async def _make(
        self, find: Callable[[], Awaitable[str | None]], post: Callable[[], Awaitable[str]]
    ) -> tuple[str, bool]:
        """Search first; make it if absent; after an unknown outcome search again before resending."""
        last: OutcomeUnknown | None = None
        for _ in range(_SEARCH_ROUNDS):
            existing = await find()
            if existing is not None:
                return existing, True
            try:
                return await post(), False
            except OutcomeUnknown as exc:
                last = exc
        assert last is not None
        raise last

    async def _leave_out_invoiced(self, db: SqlConnection, m: BusMessage, z: ZFigures) -> ZFigures:
        """The Z's figures less the receipts whose booked invoices already carry them."""
        async with db.execute(
            "SELECT receipt_no, figures FROM fortnox_invoiced WHERE orgnr = ? AND store = ? AND register = ? "
            "AND z_no IS NULL",
            (m.orgnr, m.store, m.register),
        ) as cursor:
            rows = list(await cursor.fetchall())
        if not rows:
            return z
        vat = {rate: [gross, v] for rate, gross, v in z.vat}
        paid = dict(z.payments)
        rounding = z.rounding
        for _, text in rows:
            figures = json.loads(text)
            for rate, gross, v in figures["vat"]:
                vat[whole_percent(rate)][0] -= gross
                vat[whole_percent(rate)][1] -= v
            for means, amount in figures["paid"].items():
                paid[means] = paid.get(means, 0) - amount
            rounding -= figures["rounding"]
        await db.executemany(
            "UPDATE fortnox_invoiced SET z_no = ? WHERE orgnr = ? AND store = ? AND register = ? "
            "AND receipt_no = ?",
            [(z.z_no, m.orgnr, m.store, m.register, no) for no, _ in rows],
        )
        return replace(
            z,
            vat=tuple((rate, g, v) for rate, (g, v) in vat.items()),
            payments=tuple((means, paid.get(means, 0)) for means in MEANS),
            rounding=rounding,
        )

    # -- receipts as invoices -----------------------------------------------------------

    async def _receipt(self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload) -> str | None:
        sale = sale_of(m, payload)
        customer = invoiced_customer(self.config, payload, sale)
        if customer is None or self.config.invoices_as == "order":
            return None  # not to invoice, or orders.py makes it an order
        receipt_no, totals = payload.receipt_no, payload.totals
        day = receipt_day(m, payload)
        if self._before_start(day):
            return None
        reference = DocumentReference.of(m, "receipt", receipt_no)
        ref = reference.in_field(FORTNOX_EXTERNAL_INVOICE_REFERENCE)
        earlier = await self.recorded_as(db, m, "invoice", reference)
        if earlier is not None:
            return f"receipt {ref} already is invoice {earlier}"
        body = {
            "Invoice": {
                "CustomerNumber": str(customer),
                "InvoiceDate": day.isoformat(),
                "ExternalInvoiceReference1": ref,
                "VATIncluded": True,  # the till's prices include VAT
                "InvoiceRows": invoice_rows(sale, totals),
            }
        }
        made: dict[str, Any] = {}  # the invoice as Fortnox answered, when made just now
        legacy = reference.legacy if self.legacy.covers(m) else None
        expected = ExpectedDocument(day.isoformat(), str(customer), gross_kronor(totals))
        number, found = await self._make(
            lambda: self.find_invoice(ref, legacy, expected), lambda: self._post_invoice(body, made)
        )
        what = f"receipt {ref} ({customer}): invoice {number}" + (" (found already made)" if found else "")
        if await self.settle(db, m, receipt_no, number, totals, day, None if found else made):
            what += ", booked"
        await self._record(db, m, "invoice", ref, number, found)
        return what

    async def settle(
        self,
        db: SqlConnection,
        m: BusMessage,
        receipt_no: int,
        number: str,
        totals: ReceiptTotalsBody,
        day: date,
        made: dict[str, Any] | None,
    ) -> bool:
        """With ``invoice_bookkeep``: book invoice ``number`` and what receipt ``receipt_no`` of ``m``
        paid, and leave
        the receipt out of its Z voucher (the invoice carries the sale). Whether it was booked."""
        if not self.config.invoice_bookkeep:
            return False
        await self._bookkeep(number, totals, day, made)
        figures = {
            "vat": [[v.hundredths, v.gross, v.vat] for v in totals.vat],  # as this table has always kept it
            "paid": {str(means): amount for means, amount in totals.paid.items()},
            "rounding": totals.rounding,
        }
        await db.execute(
            "INSERT INTO fortnox_invoiced (orgnr, store, register, receipt_no, figures, z_no) "
            "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (orgnr, store, register, receipt_no) "
            "DO UPDATE SET figures = excluded.figures, z_no = NULL",
            (m.orgnr, m.store, m.register, receipt_no, json.dumps(figures)),
        )
        return True

    async def invoices_by_reference(self, ref: str) -> list[dict[str, Any]]:
        """The invoices (list items) whose ExternalInvoiceReference1 is exactly ``ref``, not cancelled."""
        answer = await self.client.request("GET", "invoices", params={"externalinvoicereference1": ref})
        found = (
            [i for i in (answer or {}).get("Invoices", []) if i.get("ExternalInvoiceReference1") == ref]
            if isinstance(answer, dict)
            else []
        )
        return [i for i in found if not i.get("Cancelled")]

    async def _find_invoice(self, ref: str) -> str | None:
        live = await self.invoices_by_reference(ref)
        return str(live[0]["DocumentNumber"]) if live else None

    async def find_invoice(self, ref: str, legacy: str | None, expected: ExpectedDocument) -> str | None:
        """The invoice of our reference ``ref``; else one made under the ``legacy`` form by the
        module before, taken only when its day, customer and total are the receipt's (the
        legacy form names the same receipt number of every store)."""
        number = await self._find_invoice(ref)
        if number is not None or legacy is None:
            return number
        for i in await self.invoices_by_reference(legacy):
            if expected.matches(i.get("InvoiceDate"), i.get("CustomerNumber"), i.get("Total")):
                return str(i["DocumentNumber"])
        return None

    async def recorded_as(
        self, db: SqlConnection, m: BusMessage, kind: str, reference: DocumentReference
    ) -> str | None:
        """What our records say was made for ``reference`` in ``m``'s store: under its
        reference, or under the legacy form (the records are per store, so unambiguous)."""
        ref = reference.in_field(FORTNOX_EXTERNAL_INVOICE_REFERENCE)
        earlier = await self._recorded(db, m, kind, ref)
        if earlier is None and reference.legacy is not None:
            earlier = await self._recorded(db, m, kind, reference.legacy)
        return earlier

    async def _post_invoice(self, body: dict[str, Any], made: dict[str, Any]) -> str:
        answer = await self.client.request("POST", "invoices", json=body)
        made.update(answer["Invoice"])
        return str(answer["Invoice"]["DocumentNumber"])

    async def _bookkeep(
        self, number: str, totals: ReceiptTotalsBody, day: date, made: dict[str, Any] | None
    ) -> None:
        """Book the invoice, then register and book what was paid at the till (each step once).

        ``made``: the invoice just made (nothing booked or paid yet); None: one found in
        Fortnox, whose state is read first because a crash may have left it half done.
        """
        if made is not None:
            invoice: dict[str, Any] = made
            payments: list[dict[str, Any]] = []
        else:
            invoice = (await self.client.request("GET", f"invoices/{number}"))["Invoice"]
            listed = await self.client.request("GET", "invoicepayments", params={"invoicenumber": number})
            # A list item has no ModeOfPayment (InvoicePaymentListItem): each payment's record
            # has, and telling a card payment from a cash one of the same amount needs it.
            payments = [
                (await self.client.request("GET", f"invoicepayments/{p['Number']}"))["InvoicePayment"]
                for p in (listed or {}).get("InvoicePayments", [])
            ]
        if not invoice.get("Booked"):
            await self.client.request("PUT", f"invoices/{number}/bookkeep")
        have = {(p.get("ModeOfPayment"), round(float(p.get("Amount", 0)), 2)) for p in payments}
        remaining = Decimal(str(invoice.get("Total", 0)))
        for means, amount in totals.paid.items():
            code = self.config.modes_of_payment.get(means, "")
            part = min(kronor_decimal(amount), remaining)
            if not code or part <= 0:
                continue
            remaining -= part
            if (code, round(float(part), 2)) in have:
                continue
            pay = {
                "InvoicePayment": {
                    "InvoiceNumber": int(number),
                    "Amount": float(part),
                    "PaymentDate": day.isoformat(),
                    "ModeOfPayment": code,
                }
            }
            # An unknown outcome fails this pass; the next one finds the payment in the list above.
            answer = await self.client.request("POST", "invoicepayments", json=pay)
            payments.append(answer["InvoicePayment"])
        for p in payments:
            if not p.get("Booked"):
                await self.client.request("PUT", f"invoicepayments/{p['Number']}/bookkeep")
