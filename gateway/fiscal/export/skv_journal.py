"""What the journal holds, as the SKV export needs it: sales, their completions, Z numbers.

The journal is read forward only (docs/journal-export.md): a receipt is exported at its
``receipt.pending`` entry with the answer of the ``receipt`` entry that completes it
(:class:`Completions`), and the number of the Z report that closes its period
(:class:`ZSeries`); a copy looks up its original (:func:`original_of`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, tzinfo

import msgspec

from gateway.fiscal.bodies import PendingBody, ReceiptBody
from gateway.fiscal.export.period import ExportRefused, wall_clock
from gateway.fiscal.export.skv_register import Register
from gateway.fiscal.journal import Entry, read_entries
from gateway.receipts.model import Receipt, Totals, compute
from protocols.skv import ReceiptType

__all__ = ["Completions", "ExportedSale", "Original", "ZSeries", "exported_sale", "original_of", "unit_ids"]


@dataclass(frozen=True, slots=True)
class ExportedSale:
    """A completed receipt: its pending entry (the sale) and its ``receipt`` entry (the unit's answer)."""

    number: int
    type: ReceiptType
    moment: datetime  # the sale's local time: on the printed receipt
    pos_id: str
    receipt: Receipt
    totals: Totals
    control_code: str
    unit_id: str
    z_no: int  # the Z report that closes its period
    copy_of: int | None  # a copy: the original's receipt entry


@dataclass(frozen=True, slots=True)
class Original:
    """The receipt a copy is of: its number, time, control code and type."""

    number: int
    moment: datetime  # the original sale's local time
    control_code: str  # "" for a training or pro forma receipt
    type: ReceiptType


class _Completion(msgspec.Struct, frozen=True):
    """What every ``receipt`` and ``receipt.refused`` body says: the pending entry it ends."""

    pending: int


class Completions:
    """The ``receipt`` / ``receipt.refused`` entries in order: what became of each pending entry."""

    def __init__(self, conn: sqlite3.Connection, first: int) -> None:
        self._rows = read_entries(conn, first=first, kinds=("receipt", "receipt.refused"))
        self._next = self._read()

    def _read(self) -> tuple[Entry, int] | None:
        entry = next(self._rows, None)
        return None if entry is None else (entry, entry.body_as(_Completion).pending)

    def of(self, pending_seq: int) -> Entry | None:
        """The entry that completed or refused ``pending_seq``; None while it is still in doubt.

        Called with increasing numbers: one receipt is pending at a time (the pipeline
        resolves one in doubt before any other), so the cursor only moves forward.
        """
        while self._next is not None and self._next[1] < pending_seq:
            self._next = self._read()
        if self._next is not None and self._next[1] == pending_seq:
            found, self._next = self._next[0], self._read()
            return found
        return None


class _ZNumber(msgspec.Struct, frozen=True):
    z_no: int


class ZSeries:
    """The Z number that closes the period of an entry: the last Z before it, plus one."""

    def __init__(self, conn: sqlite3.Connection, first: int) -> None:
        row = conn.execute(
            "SELECT json_extract(body, '$.z_no') FROM journal WHERE kind = 'report.z' AND seq < ? "
            "ORDER BY seq DESC LIMIT 1",
            (first,),
        ).fetchone()
        self._last = int(row[0]) if row is not None and row[0] is not None else 0
        self._rows = read_entries(conn, first=first, kinds=("report.z",))
        self._next: Entry | None = next(self._rows, None)

    def closing(self, seq: int) -> int:
        """Called with non-decreasing entry numbers."""
        while self._next is not None and self._next.seq < seq:
            self._last = self._next.body_as(_ZNumber).z_no
            self._next = next(self._rows, None)
        return self._last + 1


def unit_ids(conn: sqlite3.Connection, first: int, last: int) -> list[str]:
    """The control units that answered for receipts of the period, or the last one before it."""
    rows = conn.execute(
        "SELECT json_extract(body, '$.unit_id') AS unit, MIN(seq) FROM journal "
        "WHERE kind = 'receipt' AND seq BETWEEN ? AND ? AND unit IS NOT NULL GROUP BY unit ORDER BY 2",
        (first, last),
    ).fetchall()
    units = [str(row[0]) for row in rows if str(row[0]).strip()]
    if units:
        return units
    row = conn.execute(
        "SELECT json_extract(body, '$.unit_id') FROM journal WHERE kind = 'receipt' AND seq < ? "
        "ORDER BY seq DESC LIMIT 1",
        (first,),
    ).fetchone()
    if row is None or row[0] is None or not str(row[0]).strip():
        raise ExportRefused(
            "cannot export: no control unit has registered a receipt of this register up to the end of "
            "the period, so its manufacturing number is not known"
        )
    return [str(row[0])]


def exported_sale(
    pending_entry: Entry, done_entry: Entry, z_no: int, register: Register, zone: tzinfo
) -> ExportedSale:
    pending, done = pending_entry.body_as(PendingBody), done_entry.body_as(ReceiptBody)
    receipt = pending.sale()
    return ExportedSale(
        number=done.receipt_no,
        type=done.type,
        moment=wall_clock(pending.at or pending_entry.at, zone),
        pos_id=pending.control.pos_id or register.pos_id,
        receipt=receipt,
        totals=compute(receipt),
        control_code=done.control_code,
        unit_id=done.unit_id,
        z_no=z_no,
        copy_of=done.copy_of,
    )


def original_of(conn: sqlite3.Connection, copy: ExportedSale, zone: tzinfo) -> Original:
    """The original of a copy. Refuses when it is gone."""
    row = conn.execute(
        "SELECT body FROM journal WHERE seq = ? AND kind = 'receipt'", (copy.copy_of,)
    ).fetchone()
    body = None if row is None else msgspec.json.decode(row[0], type=ReceiptBody)
    pending = None
    if body is not None:
        pending = conn.execute(
            "SELECT at, body FROM journal WHERE seq = ? AND kind = 'receipt.pending'", (body.pending,)
        ).fetchone()
    if body is None or pending is None:
        raise ExportRefused(
            f"cannot export: the copy of receipt {copy.number} names journal entry {copy.copy_of} as its "
            "original, and that is not a completed receipt"
        )
    sold_at = msgspec.json.decode(pending[1], type=PendingBody).at or str(pending[0])
    return Original(body.receipt_no, wall_clock(sold_at, zone), body.control_code, body.type)
