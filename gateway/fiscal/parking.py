"""Parked sales: the POS's unfinished sales put aside, kept for good in the journal.

Since 2021 Skatteverket counts a parked sale that is not completed as an *unfinished
sale* (oavslutad försäljning) on the X and Z reports, so the gateway keeps every parking
and what became of it. A parked sale goes one way::

    parked ──resume──▶ resumed ──a receipt naming it──▶ completed
       ├──abandon──▶ abandoned
       └──a receipt naming it──▶ completed

Each step is a journal entry — ``sale.parked``, ``sale.resumed``, ``sale.abandoned``,
``sale.completed`` (:mod:`gateway.fiscal.bodies`) — and, in the same transaction, the
sale's row in ``parked_sales``, so what is parked survives a restart and is read without
going through the journal. The row is derived: the reports check it against the signed
entries before counting (:mod:`gateway.fiscal.reports.parked`).

The POS names each parked sale (``id``, like a receipt's): parking the same id with the
same lines again is a repeat and changes nothing; with other lines it is refused. An id
parks one sale once: a sale parked again after it was resumed takes a new id.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from gateway.fiscal.bodies import (
    SaleAbandonedBody,
    SaleCompletedBody,
    SaleParkedBody,
    SaleResumedBody,
)
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.schema import PARKING_SCHEMA
from gateway.fiscal.store import Store, Writer
from gateway.receipts.codec import receipt_from_json, receipt_to_json
from gateway.receipts.model import Payment, PaymentMethod, Receipt, ReceiptError, Totals, compute
from gateway.receipts.money import money_text

__all__ = [
    "ENDING_KINDS",
    "PARKING_NOTED",
    "ParkedSale",
    "Parking",
    "SaleState",
    "ensure_parking_schema",
    "sale_totals",
]


ENDING_KINDS = ("sale.resumed", "sale.abandoned", "sale.completed")
"""The entries that take a sale off the parking (the first of them does)."""

PARKING_NOTED = ENDING_KINDS
"""What became of a parking: noted in the SKV export, which knows no element for it."""

SALE_FIELDS = ("lines", "discount", "cashier")
"""What a parked sale holds of a receipt: no payments (nothing is paid yet), no type."""


class SaleState:
    PARKED = "parked"
    RESUMED = "resumed"
    ABANDONED = "abandoned"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class ParkedSale:
    """One parked sale and what became of it."""

    id: str
    state: str
    parked_seq: int  # its sale.parked entry
    at: str  # when it was parked: local time with offset
    receipt: Receipt  # its lines, discount and cashier
    total: int  # öre, signed
    ended_seq: int | None  # the entry that took it off the parking
    receipt_no: int | None  # the receipt that completed it

    def to_json(self) -> dict[str, Any]:
        """As the API shows it: amounts as ``"12.50"``, the lines as the POS posted them."""
        sale = receipt_to_json(self.receipt)
        out: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "parked_at": self.at,
            "journal_entry": self.parked_seq,
            "lines": sale["lines"],
            "discount": sale["discount"],
            "total": money_text(self.total),
        }
        if self.receipt.cashier is not None:
            out["cashier"] = self.receipt.cashier
        if self.ended_seq is not None:
            out["ended_entry"] = self.ended_seq
        if self.receipt_no is not None:
            out["receipt_no"] = self.receipt_no
        return out


def sale_totals(receipt: Receipt) -> Totals:
    """The figures of a sale not yet paid: every check of a receipt's lines and discount
    (:func:`~gateway.receipts.model.compute`), none of its payments. Raises
    :class:`~gateway.receipts.model.ReceiptError` naming the field."""
    try:
        return compute(receipt)  # a sale that comes to nothing needs no payment
    except ReceiptError as exc:
        if exc.field != "payments" or receipt.payments:
            raise
    # The lines and the discount passed; only the payment is missing. The total is what the
    # lines come to less the discount (spread over them, it keeps its sum); paid "other".
    sign = -1 if receipt.lines[0].is_return else 1
    total = sum(line.amount for line in receipt.lines) - sign * receipt.discount
    return compute(replace(receipt, payments=(Payment(PaymentMethod.OTHER, total),)))


# -- on the database thread -------------------------------------------------------------------

_SELECT = (
    "SELECT p.sale_id, p.state, p.parked_seq, j.at, j.body, p.total, p.ended_seq, p.receipt_no "
    "FROM parked_sales p JOIN journal j ON j.seq = p.parked_seq"
)


def ensure_parking_schema(conn: sqlite3.Connection) -> None:
    for statement in PARKING_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _sale_of(row: tuple[Any, ...]) -> ParkedSale:
    sale_id, state, parked_seq, at, body, total, ended_seq, receipt_no = row
    return ParkedSale(
        id=str(sale_id),
        state=str(state),
        parked_seq=int(parked_seq),
        at=str(at),
        receipt=receipt_from_json(json.loads(body)["sale"]),
        total=int(total),
        ended_seq=None if ended_seq is None else int(ended_seq),
        receipt_no=None if receipt_no is None else int(receipt_no),
    )


def _read(conn: sqlite3.Connection, sale_id: str) -> ParkedSale | None:
    row = conn.execute(_SELECT + " WHERE p.sale_id = ?", (sale_id,)).fetchone()
    return None if row is None else _sale_of(row)


def _known(conn: sqlite3.Connection, sale_id: str) -> ParkedSale:
    sale = _read(conn, sale_id)
    if sale is None:
        raise FiscalError("not_found", f"there is no parked sale {sale_id!r}", 404)
    return sale


def _not_over(sale: ParkedSale, doing: str) -> None:
    """A 409 in words for a sale that is no longer parked (``doing``: what was asked)."""
    if sale.state == SaleState.PARKED:
        return
    since = f" (journal entry {sale.ended_seq})" if sale.ended_seq is not None else ""
    if sale.state == SaleState.COMPLETED:
        words = f"parked sale {sale.id!r} was completed by receipt {sale.receipt_no}{since}"
    else:
        words = f"parked sale {sale.id!r} was already {sale.state}{since}"
    raise FiscalError(f"already_{sale.state}", f"{words}; it cannot be {doing}", 409)


def _park(w: Writer, sale_id: str, receipt: Receipt, total: int, pos_id: str) -> tuple[ParkedSale, bool]:
    ensure_parking_schema(w.conn)
    existing = _read(w.conn, sale_id)
    if existing is not None:
        if existing.receipt != receipt:
            raise FiscalError(
                "id_reused",
                f"id {sale_id!r} belongs to a sale parked at {existing.at} with other lines; "
                "every parking needs a new id",
                409,
                "id",
            )
        return existing, False
    sale = {k: v for k, v in receipt_to_json(receipt).items() if k in SALE_FIELDS}
    entry = w.append("sale.parked", SaleParkedBody(id=sale_id, sale=sale, total=total, pos_id=pos_id))
    w.execute(
        "INSERT INTO parked_sales (sale_id, parked_seq, total, state) VALUES (?, ?, ?, ?)",
        (sale_id, entry.seq, total, SaleState.PARKED),
    )
    return _known(w.conn, sale_id), True


def _resume(w: Writer, sale_id: str, cashier: str | None, pos_id: str) -> ParkedSale:
    ensure_parking_schema(w.conn)
    sale = _known(w.conn, sale_id)
    _not_over(sale, "resumed")
    entry = w.append(
        "sale.resumed", SaleResumedBody(id=sale_id, parked=sale.parked_seq, cashier=cashier, pos_id=pos_id)
    )
    w.execute(
        "UPDATE parked_sales SET state = ?, ended_seq = ? WHERE sale_id = ?",
        (SaleState.RESUMED, entry.seq, sale_id),
    )
    return _known(w.conn, sale_id)


def _abandon(w: Writer, sale_id: str, cashier: str | None, reason: str | None, pos_id: str) -> ParkedSale:
    ensure_parking_schema(w.conn)
    sale = _known(w.conn, sale_id)
    _not_over(sale, "abandoned")
    body = SaleAbandonedBody(
        id=sale_id, parked=sale.parked_seq, cashier=cashier, reason=reason, pos_id=pos_id
    )
    entry = w.append("sale.abandoned", body)
    w.execute(
        "UPDATE parked_sales SET state = ?, ended_seq = ? WHERE sale_id = ?",
        (SaleState.ABANDONED, entry.seq, sale_id),
    )
    return _known(w.conn, sale_id)


def _completable(conn: sqlite3.Connection, sale_id: str, request_id: str) -> ParkedSale | None:
    """The sale a receipt may complete; None when this very receipt completed it already."""
    ensure_parking_schema(conn)
    sale = _known(conn, sale_id)
    if sale.state == SaleState.COMPLETED and _completed_by(conn, sale) == request_id:
        return None
    if sale.state in (SaleState.ABANDONED, SaleState.COMPLETED):
        _not_over(sale, "completed")
    return sale


def _completed_by(conn: sqlite3.Connection, sale: ParkedSale) -> str | None:
    row = conn.execute("SELECT request_id FROM parked_sales WHERE sale_id = ?", (sale.id,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _complete(
    w: Writer, sale_id: str, receipt_no: int, receipt_seq: int, request_id: str, pos_id: str
) -> ParkedSale:
    sale = _completable(w.conn, sale_id, request_id)
    if sale is None:
        return _known(w.conn, sale_id)
    body = SaleCompletedBody(
        id=sale_id,
        parked=sale.parked_seq,
        receipt_no=receipt_no,
        receipt=receipt_seq,
        request_id=request_id,
        pos_id=pos_id,
    )
    entry = w.append("sale.completed", body)
    w.execute(
        "UPDATE parked_sales SET state = ?, ended_seq = COALESCE(ended_seq, ?), receipt_no = ?, "
        "request_id = ? WHERE sale_id = ?",
        (SaleState.COMPLETED, entry.seq, receipt_no, request_id, sale_id),
    )
    return _known(w.conn, sale_id)


# -- for the API ----------------------------------------------------------------------------------


class Parking:
    """The parked sales of one register, over its store.

    :meth:`completing` holds a lock from the check that a receipt may complete a parked
    sale until that completion is journaled, so two receipts never complete one sale.
    """

    def __init__(self, store: Store, pos_id: str) -> None:
        self.store = store
        self.pos_id = pos_id
        self.lock = asyncio.Lock()

    async def park(self, sale_id: str, receipt: Receipt) -> tuple[ParkedSale, bool]:
        """Park a sale (its lines checked first); ``(sale, False)`` for a repeat of the same parking."""
        totals = sale_totals(receipt)  # ReceiptError names the field, before anything is written
        return await self.store.transact(lambda w: _park(w, sale_id, receipt, totals.total, self.pos_id))

    async def resume(self, sale_id: str, cashier: str | None = None) -> ParkedSale:
        """Take a parked sale back to the POS (404 unknown, 409 no longer parked)."""
        return await self.store.transact(lambda w: _resume(w, sale_id, cashier, self.pos_id))

    async def abandon(
        self, sale_id: str, cashier: str | None = None, reason: str | None = None
    ) -> ParkedSale:
        """Give up a parked sale: nothing was sold (404 unknown, 409 no longer parked)."""
        return await self.store.transact(lambda w: _abandon(w, sale_id, cashier, reason, self.pos_id))

    async def find(self, sale_id: str) -> ParkedSale | None:
        def read() -> ParkedSale | None:
            ensure_parking_schema(self.store.conn)
            return _read(self.store.conn, sale_id)

        return await self.store.run(read)

    async def parked(self) -> list[ParkedSale]:
        """The sales parked now, the oldest first."""

        def read() -> list[ParkedSale]:
            ensure_parking_schema(self.store.conn)
            rows = self.store.conn.execute(
                _SELECT + " WHERE p.state = ? ORDER BY p.parked_seq", (SaleState.PARKED,)
            ).fetchall()
            return [_sale_of(row) for row in rows]

        return await self.store.run(read)

    async def completable(self, sale_id: str, request_id: str) -> None:
        """Raise the 404 or 409 a receipt naming ``sale_id`` gets; hold :attr:`lock` around it
        and the sale (:meth:`complete`)."""
        await self.store.run(lambda: _completable(self.store.conn, sale_id, request_id))

    async def complete(self, sale_id: str, receipt_no: int, receipt_seq: int, request_id: str) -> ParkedSale:
        """Journal that receipt ``receipt_no`` completed the parked sale (once; a repeat does nothing)."""
        return await self.store.transact(
            lambda w: _complete(w, sale_id, receipt_no, receipt_seq, request_id, self.pos_id)
        )
