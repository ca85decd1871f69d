"""The receipts index checked row by row against the signed journal.

X and Z reports add up the ``receipts`` and ``receipt_groups`` tables (an index: one row
per registered receipt) because summing 100,000 rows is fast and parsing 100,000 journal
entries is not. The index has no signature of its own, so every figure it gives must be
checked against the entry it was made from: ``tillgw journal verify`` and the till at
start check the whole index; every Z checks the rows of its own period before it adds
them up. A row that disagrees with its entry — a changed amount, a row with no entry, an
entry with no row, a group amount the entry does not hold, a receipt wrongly left or
taken out of doubt — is named, and the Z is refused.

The comparison runs inside SQLite (``json_extract`` on each entry's body), one pass over
the period; only the rows found to differ are looked at again in Python to say how.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.common.i18n import tr
from gateway.fiscal.bodies import PendingBody, ReceiptBody
from gateway.receipts.model import PaymentMethod, compute, group_amounts

__all__ = ["IndexMismatch", "check_index", "group_amounts_of_entry"]

# What the index row says and what its receipt entry says, each as one JSON array, so
# that SQLite parses each entry's body once (one ``json_extract`` with many paths).
# Amounts that are absent from the entry (a means of payment not used, a VAT rate not
# used) are 0 in the index; a row whose arrays differ is looked at again in Python,
# which decides (and says how it differs).
_PAID = tuple(sorted(PaymentMethod))  # as the journal's canonical JSON orders them: card, cash, …
_ENTRY_PATHS = (
    "$.receipt_no",
    "$.type",
    "$.control_code",
    "$.unit_id",
    "$.totals.total",
    "$.totals.rounding",
    "$.totals.to_pay",
    "$.totals.discount",
    "$.totals.return_total",
    "$.totals.items",
    "$.totals.services",
    *(f"$.totals.paid.{m}" for m in _PAID),
    "$.totals.vat",
    "$.groups",
)
_INDEX_VALUES = (
    "r.receipt_no, r.kind, r.control_code, r.unit_id, r.total, r.rounding, r.to_pay, r.discount, "
    "r.return_total, r.items, r.services, "
    + ", ".join(f"NULLIF(r.{m}, 0)" for m in _PAID)
    + ", json('[' || rtrim("
    + " || ".join(
        f"CASE WHEN r.gross_{r} != 0 OR {vat} != 0 "
        f"THEN '[{rate},' || r.gross_{r} || ',' || {vat} || '],' ELSE '' END"
        for r, rate, vat in (
            ("25", 2500, "r.vat_25"),
            ("12", 1200, "r.vat_12"),
            ("6", 600, "r.vat_6"),
            ("0", 0, "0"),
        )
    )
    + ", ',') || ']'), "
    # The receipt's sales per main group, as the journal's canonical JSON: keys sorted.
    + "(SELECT json_group_object(grp, amount) FROM "
    + "(SELECT grp, amount FROM receipt_groups g WHERE g.entry_seq = r.entry_seq ORDER BY grp))"
)
_ENTRY_VALUES = "json_extract(j.body, " + ", ".join(f"'{p}'" for p in _ENTRY_PATHS) + ")"

# A return is a receipt whose lines are negative: its totals say so, except for a receipt
# of 0 kr, whose first line in the pending entry does.
_RETURN_AGREES = """CASE WHEN r.return_total > 0 OR r.total < 0 THEN r.is_return = 1
    WHEN r.total > 0 THEN r.is_return = 0
    ELSE r.is_return = (SELECT CAST(json_extract(p.body, '$.receipt.lines[0].quantity') AS REAL) < 0
                        FROM journal p WHERE p.seq = json_extract(j.body, '$.pending')) END"""

# When the sale was made and the POS's id for it: in the pending entry (checked by
# ``verify`` and at start; a report adds up no such column).
_PENDING_AGREES = """json_array(r.at, r.request_id) IS (
    SELECT json_extract(p.body, '$.at', '$.request_id') FROM journal p
    WHERE p.seq = json_extract(j.body, '$.pending') AND p.kind = 'receipt.pending')"""

_ROWS = """
SELECT r.entry_seq FROM receipts r LEFT JOIN journal j ON j.seq = r.entry_seq AND j.kind = 'receipt'
WHERE r.entry_seq > :after AND r.entry_seq <= :through
  AND (j.seq IS NULL OR {entry} IS NOT json_array({index}) OR NOT ({returns}){pending})
ORDER BY r.entry_seq
"""

# Receipt entries the index has no row for (their sales would be missing from a report).
_ENTRIES_UNINDEXED = """
SELECT j.seq, json_extract(j.body, '$.receipt_no') FROM journal j
WHERE j.kind = 'receipt' AND j.seq > :after AND j.seq <= :through
  AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.entry_seq = j.seq)
ORDER BY j.seq LIMIT 1
"""

# Group rows of an entry that is no receipt (a receipt's own are compared with the rest of its row).
_GROUPS_ORPHANED = """
SELECT g.entry_seq FROM receipt_groups g LEFT JOIN journal j ON j.seq = g.entry_seq
WHERE g.entry_seq > :after AND g.entry_seq <= :through AND j.kind IS NOT 'receipt'
ORDER BY g.entry_seq LIMIT 1
"""


# Pending entries neither completed nor refused are in doubt, and only they.
_DOUBT_LISTED = """
SELECT d.pending_seq, 'listed' FROM in_doubt d
WHERE d.pending_seq > :after AND d.pending_seq <= :through AND (
    NOT EXISTS (SELECT 1 FROM journal p WHERE p.seq = d.pending_seq AND p.kind = 'receipt.pending')
    OR EXISTS (SELECT 1 FROM journal e WHERE e.kind IN ('receipt', 'receipt.refused')
               AND e.seq > d.pending_seq AND json_extract(e.body, '$.pending') = d.pending_seq))
"""
# (Scanning every completion: ``verify`` and the start do it; a report checks the listed ones.)
_DOUBT_UNLISTED = """
UNION ALL
SELECT p.seq, 'missing' FROM journal p
WHERE p.kind = 'receipt.pending' AND p.seq > :after AND p.seq <= :through
  AND NOT EXISTS (SELECT 1 FROM in_doubt d WHERE d.pending_seq = p.seq)
  AND p.seq NOT IN (SELECT json_extract(e.body, '$.pending') FROM journal e
                    WHERE e.kind IN ('receipt', 'receipt.refused') AND e.seq > :after)
"""


@dataclass(frozen=True, slots=True)
class IndexMismatch(Exception):
    """The receipts index disagrees with the signed journal; ``str()`` names the receipt and what differs."""

    entry_seq: int
    receipt_no: int | None
    what: str

    def __str__(self) -> str:
        receipt = (
            tr("receipt {receipt_no}").format(receipt_no=self.receipt_no)
            if self.receipt_no is not None
            else tr("a receipt")
        )
        return tr(
            "the receipts index disagrees with the signed journal at {receipt} (journal entry "
            "{entry_seq}): {what}. The index was changed outside the till; the journal is "
            "the record. No Z report is made until the database is restored from a backup "
            "(docs/operations.md)."
        ).format(receipt=receipt, entry_seq=self.entry_seq, what=self.what)


def check_index(
    conn: sqlite3.Connection, *, after: int = 0, through: int | None = None, whole: bool = True
) -> None:
    """Check the index rows of journal entries ``after`` < seq ≤ ``through`` (all by default).

    Raises :class:`IndexMismatch` for the first row that differs. ``whole`` also checks
    what no report adds up (each sale's time and the POS's id for it). ``conn`` may be
    read-only.
    """
    if through is None:
        row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
        through = int(row[0])
    span = {"after": after, "through": through}
    sql = _ROWS.format(
        entry=_ENTRY_VALUES,
        index=_INDEX_VALUES,
        returns=_RETURN_AGREES,
        pending=f" OR NOT ({_PENDING_AGREES})" if whole else "",
    )
    for (seq,) in conn.execute(sql, span).fetchall():
        _check_row(conn, int(seq), whole=whole)
    missing = conn.execute(_ENTRIES_UNINDEXED, span).fetchone()
    if missing is not None:
        raise IndexMismatch(int(missing[0]), _int_or_none(missing[1]), tr("the index has no row for it"))
    orphan = conn.execute(_GROUPS_ORPHANED, span).fetchone()
    if orphan is not None:
        raise IndexMismatch(
            int(orphan[0]), None, tr("the index has sales per group for an entry that is no receipt")
        )
    doubt = conn.execute(
        _DOUBT_LISTED + (_DOUBT_UNLISTED if whole else "") + " ORDER BY 1 LIMIT 1", span
    ).fetchone()
    if doubt is not None:
        seq, how = int(doubt[0]), str(doubt[1])
        raise IndexMismatch(
            seq,
            _receipt_number(conn, seq),
            tr("it is listed as waiting for the control unit, but the journal completed or refused it")
            if how == "listed"
            else tr("the journal has it waiting for the control unit, but the in-doubt list does not"),
        )


_COLUMN_NAMES = (
    "receipt_no", "kind", "at", "request_id", "is_return", "total", "rounding", "to_pay", "discount",
    "return_total", "items", "services", "cash", "card", "gift_card", "swish", "other",
    "gross_25", "vat_25", "gross_12", "vat_12", "gross_6", "vat_6", "gross_0", "control_code", "unit_id",
)  # fmt: skip


def _check_row(conn: sqlite3.Connection, seq: int, *, whole: bool) -> None:
    """One index row the SQL found suspect, compared field by field with its entries in Python."""
    row = conn.execute(
        f"SELECT {', '.join(_COLUMN_NAMES)} FROM receipts WHERE entry_seq = ?", (seq,)
    ).fetchone()
    indexed = dict(zip(_COLUMN_NAMES, row, strict=True))
    number = _int_or_none(indexed["receipt_no"])
    entry = conn.execute("SELECT kind, body FROM journal WHERE seq = ?", (seq,)).fetchone()
    if entry is None or entry[0] != "receipt":
        raise IndexMismatch(
            seq, number, tr("the index has a row for it, but the journal has no such receipt")
        )
    body = msgspec.json.decode(entry[1], type=ReceiptBody)
    pending_row = conn.execute(
        "SELECT body FROM journal WHERE seq = ? AND kind = 'receipt.pending'", (body.pending,)
    ).fetchone()
    if pending_row is None:
        raise IndexMismatch(seq, number, tr("the journal entry it names does not follow a pending receipt"))
    journaled = _journaled_row(body, msgspec.json.decode(pending_row[0], type=PendingBody))
    _check_groups(conn, seq)
    for name in _COLUMN_NAMES:
        if not whole and name in ("at", "request_id"):
            continue
        if indexed[name] != journaled[name]:
            raise IndexMismatch(
                seq,
                number,
                tr("{name} is {indexed} in the index but {journaled} in the journal").format(
                    name=name, indexed=_shown(indexed[name]), journaled=_shown(journaled[name])
                ),
            )


def _journaled_row(body: ReceiptBody, pending: PendingBody) -> dict[str, Any]:
    """The index row a receipt entry (and its pending entry) makes, as the pipeline writes it."""
    totals = body.totals
    vat = {rate: (gross, tax) for rate, gross, tax in totals.vat}
    lines = pending.receipt.get("lines") or [{}]  # the sale as posted: a return's quantities are negative
    first = str(lines[0].get("quantity", "1"))
    is_return = totals.return_total > 0 or totals.total < 0 or (totals.total == 0 and first.startswith("-"))
    return {
        "receipt_no": body.receipt_no,
        "kind": body.type.value,
        "at": pending.at,
        "request_id": pending.request_id,
        "is_return": int(is_return),
        "total": totals.total,
        "rounding": totals.rounding,
        "to_pay": totals.to_pay,
        "discount": totals.discount,
        "return_total": totals.return_total,
        "items": totals.items,
        "services": totals.services,
        **{m.value: totals.paid.get(m, 0) for m in _PAID},
        "gross_25": vat.get(2500, (0, 0))[0],
        "vat_25": vat.get(2500, (0, 0))[1],
        "gross_12": vat.get(1200, (0, 0))[0],
        "vat_12": vat.get(1200, (0, 0))[1],
        "gross_6": vat.get(600, (0, 0))[0],
        "vat_6": vat.get(600, (0, 0))[1],
        "gross_0": vat.get(0, (0, 0))[0],
        "control_code": body.control_code,
        "unit_id": body.unit_id,
    }


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def group_amounts_of_entry(conn: sqlite3.Connection, entry_seq: int) -> dict[str, int]:
    """A receipt entry's sales per main group, from its body or (older entries) its lines."""
    row = conn.execute(
        "SELECT j.body, p.body FROM journal j JOIN journal p ON p.seq = json_extract(j.body, '$.pending') "
        "WHERE j.seq = ?",
        (entry_seq,),
    ).fetchone()
    body = msgspec.json.decode(row[0], type=ReceiptBody)
    if body.groups is not msgspec.UNSET:
        return dict(body.groups)
    receipt = msgspec.json.decode(row[1], type=PendingBody).sale()
    return group_amounts(receipt, compute(receipt))


def _check_groups(conn: sqlite3.Connection, seq: int) -> None:
    """One receipt's sales per main group, the index's against its entry's."""
    journaled = group_amounts_of_entry(conn, seq)
    indexed = {
        str(g): int(a)
        for g, a in conn.execute("SELECT grp, amount FROM receipt_groups WHERE entry_seq = ?", (seq,))
    }
    if indexed != journaled:
        raise IndexMismatch(
            seq,
            _receipt_number(conn, seq),
            tr(
                "its sales per main group are {indexed} in the index but {journaled} in the journal (öre)"
            ).format(indexed=indexed, journaled=journaled),
        )


def _receipt_number(conn: sqlite3.Connection, seq: int) -> int | None:
    row = conn.execute(
        "SELECT json_extract(body, '$.receipt_no') FROM journal WHERE seq = ?", (seq,)
    ).fetchone()
    return None if row is None else _int_or_none(row[0])


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
