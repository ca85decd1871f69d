"""Visma eEkonomi / Spiris API v2: each Z report as one voucher.

Booking (docs/adapters/visma.md): a Z report becomes ``POST /v2/vouchers`` with the rows
of :func:`gateway.sync.booking.book_z` (debit and credit in kronor), dated the day of the
Z. Visma takes no idempotency key, so the voucher text ends with our own reference
``tillgw {orgnr}/{store}/{register} Z{n}``, and before a voucher is created the day's
vouchers are searched for it (``$filter=VoucherDate eq YYYY-MM-DD``): a voucher that
is already there — made by an earlier run that crashed before its local record, or by a
POST whose answer was lost — is recorded and never made again. The ``visma_vouchers``
table records the voucher in the same transaction that marks the message processed.

One company per organisation number: the integration is authorised for one Visma
company, and a Z of a till of another organisation number is refused (it waits for the
sync module of its own company), never booked into these books.

A cost centre (``[sync.visma].cost_center``, the item's short name as the company's
cost centre list shows it) goes on every row. Visma wants the item's id, in the row field
of its cost centre (``CostCenterItemId1`` … ``3``, after the cost centre's ``Number``):
the adapter looks the code up in ``GET /v2/costcenters`` once and keeps the answer.

The configuration is in :mod:`~gateway.sync.adapters.visma.config`, the API client in
:mod:`~gateway.sync.adapters.visma.api`, master data in
:mod:`~gateway.sync.adapters.visma.source`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.receipts.money import kronor_number
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.visma.api import VISMA, VismaApi, VismaCompany
from gateway.sync.adapters.visma.config import VismaConfig
from gateway.sync.booking import BookingError, ZFigures, book_z, z_figures
from gateway.sync.database import now_text
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from gateway.sync.payloads import z_report
from gateway.sync.references import voucher_tag
from gateway.sync.settings import AccountsConfig
from gateway.sync.sql import SqlConnection

__all__ = ["VISMA_SCHEMA", "VismaAdapter", "z_reference"]

VISMA_SCHEMA = """
CREATE TABLE IF NOT EXISTS visma_vouchers (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    z_no INTEGER NOT NULL,
    msg_id TEXT NOT NULL,             -- the message it was made from
    voucher_id TEXT NOT NULL,         -- Visma's Id of the voucher
    voucher_number TEXT,              -- NumberAndNumberSeries, as Visma numbered it
    booked_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, register, z_no)
);
"""


def z_reference(message: BusMessage, z_no: int) -> str:
    """Our stable reference of a Z report, carried at the end of its voucher text (at most
    1000 characters, Visma's VoucherText): the Z voucher tag of :mod:`gateway.sync.references`."""
    return voucher_tag(message, z_no)


def _failure(what: str, exc: Exception) -> AdapterError:
    return AdapterError(f"{what}: {exc}")


class VismaAdapter:
    """Z reports to vouchers in Visma eEkonomi; receipts need nothing from it."""

    name = VISMA

    def __init__(
        self, config: VismaConfig, api: VismaApi, accounts: AccountsConfig, *, create_tries: int = 3
    ):
        self.config = config
        self.api = api
        self.accounts = accounts
        self.create_tries = create_tries
        self.company = VismaCompany(api)
        self._cost_center: tuple[str, str] | None = None  # (row field, item id), once looked up

    def handles(self, kind: str) -> bool:
        return kind == "report.z"

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(VISMA_SCHEMA)

    def voucher(self, message: BusMessage, z: ZFigures) -> tuple[str, dict[str, Any]]:
        """(our reference, the voucher's JSON) of a Z report; :class:`BookingError` if it does not balance."""
        reference = z_reference(message, z.z_no)
        text = self.config.voucher_text.format(
            z_no=z.z_no, register=message.register, store=message.store, day=z.day.isoformat()
        )
        rows = [
            {
                "AccountNumber": int(t.account),
                "DebitAmount": kronor_number(t.amount) if t.amount > 0 else 0.0,
                "CreditAmount": kronor_number(-t.amount) if t.amount < 0 else 0.0,
                "TransactionText": t.text[:60],
            }
            for t in book_z(z, self.accounts)
        ]
        return reference, {
            "VoucherDate": z.day.isoformat(),
            "VoucherText": f"{text} {reference}",
            "Rows": rows,
        }

    async def cost_center(self) -> tuple[str, str] | None:
        """(the row field, the item's id) of ``[sync.visma].cost_center``; None when none is set.

        Raises :class:`AdapterError` when Visma has no active item of that short name, or has
        it in more than one cost centre (which one is meant cannot be told).
        """
        code = self.config.cost_center
        if code is None or self._cost_center is not None:
            return self._cost_center
        found: list[tuple[str, str, str]] = []  # (row field, item id, cost centre name)
        inactive = False
        async for centre in self.api.pages("costcenters"):
            number = centre.get("Number")
            for item in centre.get("Items") or ():
                if not isinstance(item, dict) or item.get("ShortName") != code:
                    continue
                if not (centre.get("IsActive", True) and item.get("IsActive", True)):
                    inactive = True
                elif isinstance(number, int) and 1 <= number <= 3 and item.get("Id"):
                    found.append(
                        (f"CostCenterItemId{number}", str(item["Id"]), str(centre.get("Name") or ""))
                    )
        if not found:
            why = "is inactive" if inactive else "is not among the company's cost centres (GET costcenters)"
            raise AdapterError(f"[sync.visma].cost_center: the cost centre item {code!r} {why}")
        if len(found) > 1:
            names = ", ".join(repr(name) for _, _, name in found)
            raise AdapterError(
                f"[sync.visma].cost_center: {code!r} is an item of more than one cost centre ({names}); "
                "give the item a short name of its own in Visma"
            )
        self._cost_center = found[0][:2]
        return self._cost_center

    async def find(self, day: str, reference: str) -> dict[str, Any] | None:
        """The voucher of ``day`` whose text ends with ``reference``, if Visma has one."""
        async for voucher in self.api.pages("vouchers", {"$filter": f"VoucherDate eq {day}"}):
            text = voucher.get("VoucherText")
            if isinstance(text, str) and text.rstrip().endswith(reference):
                return voucher
        return None

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        if message.kind != "report.z":
            return None
        where = f"{message.orgnr}/{message.store}/{message.register}"
        report = z_report(message)
        try:
            z = z_figures(report)
            if z.nothing_to_book:
                return f"Z {z.z_no} of {where}, {z.day}: no sales, so no voucher"
            reference, body = self.voucher(message, z)
        except (BookingError, ValueError) as exc:
            raise AdapterError(f"refused to book the voucher of {message.msg_id}: {exc}") from None
        z_no = z.z_no
        day = body["VoucherDate"]
        if self.config.from_date is not None and date.fromisoformat(day) < self.config.from_date:
            return f"Z {z_no} of {where} ({day}) is before from_date {self.config.from_date}: not booked"
        async with db.execute(
            "SELECT voucher_number, msg_id FROM visma_vouchers "
            "WHERE orgnr = ? AND store = ? AND register = ? AND z_no = ?",
            (message.orgnr, message.store, message.register, z_no),
        ) as cursor:
            earlier = await cursor.fetchone()
        if earlier is not None:
            return f"Z {z_no} of {where} is already voucher {earlier[0]} (from {earlier[1]}); nothing booked"
        try:
            await self._same_company(message)
            cost_center = await self.cost_center()
            if cost_center is not None:
                row_field, item_id = cost_center
                body = {**body, "Rows": [{**row, row_field: item_id} for row in body["Rows"]]}
            voucher, found = await self._book(day, reference, body)
        except (ApiError, ApiUnavailable, TokenError) as exc:
            if isinstance(exc, ApiError):
                self._cost_center = None  # perhaps the item is gone: the next pass looks it up again
            raise _failure(f"voucher of Z {z_no} of {where}", exc) from None
        number = str(voucher.get("NumberAndNumberSeries") or "")
        await db.execute(
            "INSERT INTO visma_vouchers (orgnr, store, register, z_no, msg_id, voucher_id, voucher_number, "
            "booked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (message.orgnr, message.store, message.register, z_no, message.msg_id, str(voucher.get("Id")),
             number, now_text()),
        )  # fmt: skip
        if found:
            return f"Z {z_no} of {where} was already voucher {number} in Visma ({reference}); recorded"
        return f"booked Z {z_no} of {where}, {day}, as voucher {number}"

    async def _same_company(self, message: BusMessage) -> None:
        """Refuse a message of another organisation number than this company's."""
        company = await self.company.orgnr()
        if message.orgnr != company:
            raise AdapterError(
                f"{message.orgnr}/{message.store}/{message.register} is organisation number {message.orgnr}, "
                f"but this {VISMA} company is {company or 'without one'}: one company per organisation "
                "number — give that company its own sync module (its tills in [sync].registers, its own "
                "[sync.visma])"
            )

    async def _book(self, day: str, reference: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The voucher (created now, or found) and whether it was found already there."""
        existing = await self.find(day, reference)
        if existing is not None:
            return existing, True
        unclear = ""
        for _ in range(self.create_tries):
            try:
                created = await self.api.request("POST", "vouchers", json=body)
            except OutcomeUnknown as exc:
                unclear = str(exc)
                existing = await self.find(day, reference)
                if existing is not None:
                    return existing, True
                continue  # not carried out: send it again
            if not isinstance(created, dict):
                raise AdapterError(f"POST vouchers answered no voucher: {str(created)[:200]}")
            return created, False
        raise AdapterError(f"{unclear}; {reference} is not in Visma yet, tried again next pass")
