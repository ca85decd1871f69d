"""``tillgw journal accept-gap``: record receipts lost with the database, so no number repeats.

A till restored from an older backup ends its journal at receipt M while the register has
sold up to N (``series.json`` says so, and the start is refused). When no newer backup holds
receipts M+1..N, they are lost from the journal, but their numbers are taken: the control
unit holds them, and so may the paper and the ERP. Accepting the gap writes a signed
``series.gap`` entry naming the lost range and why; the next receipt is N+1, and every
report and export can show the gap for what it is.

The control unit's sequence numbers must not repeat either: a unit that registered the lost
receipts holds their numbers with their data, and would refuse (NAK 011) the same number
with a new receipt's. So the gap also moves the base the till counts them from past every
number the lost entries could have used (the journal size ``series.json`` recorded).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gateway.common.clock import Clock
from gateway.common.i18n import tr
from gateway.common.signing import Signer, load_or_create_key
from gateway.fiscal.journal import append, journal_head
from gateway.fiscal.key_rotation import signs_head

__all__ = ["SERIES_GAP", "GapRefused", "SeriesGap", "accept_gap"]

SERIES_GAP = "series.gap"


class GapRefused(Exception):
    """Nothing was recorded; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class SeriesGap:
    first: int  # the first receipt number lost
    last: int  # the last
    entry: int  # the journal entry that records it

    @property
    def words(self) -> str:
        span = (
            tr("receipt {first}").format(first=self.first)
            if self.first == self.last
            else tr("receipts {first}-{last}").format(first=self.first, last=self.last)
        )
        words = tr("{span} recorded as lost (journal entry {entry}); the next receipt is {next_receipt}")
        return words.format(span=span, entry=self.entry, next_receipt=self.last + 1)


def accept_gap(
    database: Path, key_path: Path, sold: int, entries: int, reason: str, clock: Clock | None = None
) -> SeriesGap:
    """Record receipts after the journal's last up to ``sold`` as lost, and move the control
    unit's sequence base past ``entries`` (the journal size when receipt ``sold`` was made).

    Run with the till stopped (the caller holds the data directory's lock).
    """
    if not database.exists():
        raise GapRefused(
            tr("no till database at {database}: restore it from your backup first").format(database=database)
        )
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute(
                "SELECT seq, kind, at, body, prev_hash, signature FROM journal ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if head is None or not key_path.exists() or not signs_head(key_path, head):
                raise GapRefused(
                    tr(
                        "the signing key {key_path} must be the one that signed this journal: restore "
                        "both from the same backup"
                    ).format(key_path=key_path)
                )
            signer = Signer(load_or_create_key(key_path))
            row = conn.execute(
                "SELECT MAX(n) FROM (SELECT json_extract(body, '$.receipt_no') AS n FROM journal "
                "WHERE kind = 'receipt' UNION ALL SELECT json_extract(body, '$.to') FROM journal "
                "WHERE kind = ?)",
                (SERIES_GAP,),
            ).fetchone()
            last = 0 if row is None or row[0] is None else int(row[0])
            if sold <= last:
                raise GapRefused(
                    tr(
                        "the journal already holds the series up to receipt {last}: nothing is missing"
                    ).format(last=last)
                )
            base_row = conn.execute("SELECT value FROM meta WHERE key = 'seq_base'").fetchone()
            base = 0 if base_row is None else int(base_row[0])
            head_seq, _ = journal_head(conn)
            # Past every sequence number the lost entries could have used: base + entries.
            new_base = max(base, base + entries - head_seq)
            entry = append(
                conn,
                signer,
                SERIES_GAP,
                {"from": last + 1, "to": sold, "reason": reason, "seq_base": new_base},
                (clock or Clock()).now(),
                head=journal_head(conn),
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('seq_base', ?)", (str(new_base),))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    return SeriesGap(last + 1, sold, entry.seq)
