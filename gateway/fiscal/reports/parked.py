"""The parked sales a report counts as unfinished, checked against the signed journal first.

A sale parked and not resumed, abandoned or completed when a report is made is an
unfinished sale (oavslutad försäljning) on it, whenever it was parked. The figure comes
from the ``parked_sales`` table (:mod:`gateway.fiscal.parking`), which is not signed: like
the receipts index (:mod:`gateway.fiscal.index_check`), it is compared with the entries
before it is added up.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.fiscal.index_check import IndexMismatch
from gateway.fiscal.parking import ensure_parking_schema
from gateway.fiscal.store import Writer

__all__ = ["ParkingMismatch", "parked_tally"]


@dataclass(frozen=True, slots=True)
class ParkingMismatch(IndexMismatch):
    """The ``parked_sales`` table disagrees with the signed journal; the report is refused."""

    def __str__(self) -> str:
        return (
            f"the parked sales table disagrees with the signed journal at journal entry {self.entry_seq}: "
            f"{self.what}. The table was changed outside the till; the journal is the record. No "
            "report is made until the database is restored from a backup (docs/operations.md)."
        )


_ROWS_UNLIKE_ENTRIES = """
SELECT p.parked_seq, p.sale_id FROM parked_sales p LEFT JOIN journal j ON j.seq = p.parked_seq
WHERE p.parked_seq <= :through
  AND (j.kind IS NOT 'sale.parked' OR json_extract(j.body, '$.id') IS NOT p.sale_id
       OR json_extract(j.body, '$.total') IS NOT p.total)
LIMIT 1
"""

_ENDS_UNLIKE_ENTRIES = """
SELECT p.ended_seq, p.sale_id FROM parked_sales p LEFT JOIN journal e ON e.seq = p.ended_seq
WHERE p.ended_seq <= :through
  AND (e.kind NOT IN ('sale.resumed', 'sale.abandoned', 'sale.completed')
       OR json_extract(e.body, '$.parked') IS NOT p.parked_seq)
LIMIT 1
"""

_ENTRIES_NOT_IN_ROWS = """
SELECT e.seq, json_extract(e.body, '$.id') FROM journal e
LEFT JOIN parked_sales p ON p.parked_seq = json_extract(e.body, '$.parked')
WHERE e.kind IN ('sale.resumed', 'sale.abandoned', 'sale.completed') AND e.seq <= :through
  AND (p.parked_seq IS NULL OR p.ended_seq IS NULL OR p.ended_seq > e.seq)
LIMIT 1
"""

_PARKED_AT = """
SELECT COUNT(*), COALESCE(SUM(total), 0) FROM parked_sales
WHERE parked_seq <= ? AND (ended_seq IS NULL OR ended_seq > ?)
"""


def parked_tally(w: Writer, through: int) -> tuple[int, int]:
    """How many sales were parked, and not resumed, abandoned or completed, as of entry
    ``through``, and what they come to (öre, signed); in a report's transaction.

    The ``parked_sales`` rows are checked against the signed entries first — every
    parking is a row with its id and total, every row's end is an entry that ends it, and
    every ending entry is its row's end or after it — and :class:`ParkingMismatch` refuses
    the report when one differs. Parkings are few beside receipts, so all of them are
    checked every time.
    """
    ensure_parking_schema(w.conn)
    entries = w.fetchone("SELECT COUNT(*) FROM journal WHERE kind = 'sale.parked' AND seq <= ?", (through,))
    rows = w.fetchone("SELECT COUNT(*) FROM parked_sales WHERE parked_seq <= ?", (through,))
    if (entries or (0,))[0] != (rows or (0,))[0]:
        missing = w.fetchone(
            "SELECT seq FROM journal WHERE kind = 'sale.parked' AND seq <= ? "
            "AND seq NOT IN (SELECT parked_seq FROM parked_sales) LIMIT 1",
            (through,),
        )
        seq = through if missing is None else int(missing[0])
        raise ParkingMismatch(seq, None, "a parked sale of the journal has no row")
    for sql, what in (
        (_ROWS_UNLIKE_ENTRIES, "its row does not match the sale.parked entry"),
        (_ENDS_UNLIKE_ENTRIES, "its row's end is not an entry that ends it"),
        (_ENTRIES_NOT_IN_ROWS, "the row of the sale this entry ends does not say so"),
    ):
        found = w.conn.execute(sql, {"through": through}).fetchone()
        if found is not None:
            raise ParkingMismatch(int(found[0]), None, f"parked sale {found[1]!r}: {what}")
    row = w.fetchone(_PARKED_AT, (through, through))
    return (0, 0) if row is None else (int(row[0]), int(row[1]))
