"""The journal's own export: every entry of a period as one JSON line, exactly as it was signed.

The first line is a header::

    {"format": "tillgw-journal", "version": 1, "till": {...}, "key_id": "...",
     "period": {"from": "2025-03-01", "to": "2025-03-31"}, "first_seq": 812, "last_seq": 1650,
     "prev_hash": "<hash entry 811 had>", "journal_head": {"seq": 2001, "hash": "..."},
     "exported_at": "..."}

then one line per entry, in order, with none left out between ``first_seq`` and
``last_seq``::

    {"seq": 812, "kind": "receipt", "at": "...", "body": {...}, "prev_hash": "...",
     "hash": "...", "signature": "..."}

``body`` is the entry's canonical JSON exactly as stored (sorted keys, no spaces,
UTF-8), so with the till's public key an auditor can check the exported run the way
``tillgw journal verify`` checks the whole journal: each line's hash is the SHA-256 of
``<seq>\\n<kind>\\n<at>\\n<prev_hash>\\n<body>``, each ``prev_hash`` is the hash of the
line before it (the first one's is the header's ``prev_hash``), and each signature is
the key's Ed25519 signature of those bytes. docs/journal-export.md has the details.

Streamed: entries are read in order in batches and written as they come.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from gateway.common.progress import NO_PROGRESS, Progress
from gateway.fiscal.export.period import ExportRefused, Period, period_range, written_whole
from gateway.fiscal.journal import GENESIS, journal_head

__all__ = ["FORMAT", "Till", "default_file_name", "export_jsonl", "write_jsonl"]

FORMAT = "tillgw-journal"


@dataclass(frozen=True, slots=True)
class Till:
    """Whose journal it is, for the header."""

    pos_id: str
    company: str
    orgnr: str


def default_file_name(period: Period) -> str:
    return f"tillgw-journal_{period.start.isoformat()}-{period.end.isoformat()}.jsonl"


def export_jsonl(
    conn: sqlite3.Connection,
    till: Till,
    period: Period,
    path: Path,
    *,
    now: datetime | None = None,
    progress: Progress = NO_PROGRESS,
) -> int:
    """Write the export to ``path`` (whole or not at all); the number of entries written."""
    with written_whole(path) as out:
        return write_jsonl(conn, till, period, out, now=now, progress=progress)


def write_jsonl(
    conn: sqlite3.Connection,
    till: Till,
    period: Period,
    out: TextIO,
    *,
    now: datetime | None = None,
    progress: Progress = NO_PROGRESS,
) -> int:
    """Write the export to ``out``. Raises :class:`ExportRefused` before writing when the period is empty."""
    first, last = period_range(conn, period)
    if last < first:
        raise ExportRefused(
            f"cannot export: the journal holds no entries from {period.start} to {period.end}"
        )
    anchor = conn.execute("SELECT hash FROM journal WHERE seq = ?", (first - 1,)).fetchone()
    key = conn.execute("SELECT value FROM meta WHERE key = 'key_id'").fetchone()
    head_seq, head_hash = journal_head(conn)
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "till": {"pos_id": till.pos_id, "company": till.company, "orgnr": till.orgnr},
        "key_id": None if key is None else str(key[0]),
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "first_seq": first,
        "last_seq": last,
        "prev_hash": (GENESIS if anchor is None else bytes(anchor[0])).hex(),
        "journal_head": {"seq": head_seq, "hash": head_hash.hex()},
        "exported_at": (now or datetime.now(period.zone)).isoformat(timespec="seconds"),
    }
    out.write(json.dumps(header, ensure_ascii=False) + "\n")
    cursor = conn.execute(
        "SELECT seq, kind, at, body, prev_hash, hash, signature FROM journal WHERE seq BETWEEN ? AND ? "
        "ORDER BY seq",
        (first, last),
    )
    written = 0
    progress.stage("journal entries written", total=last - first + 1)
    while rows := cursor.fetchmany(256):
        progress.advance(len(rows))
        for seq, kind, at, body, prev_hash, digest, signature in rows:
            # The body goes in as stored: re-encoding it could change the bytes the hash covers.
            out.write(
                f'{{"seq":{int(seq)},"kind":{json.dumps(kind, ensure_ascii=False)},'
                f'"at":{json.dumps(at)},"body":{body},"prev_hash":"{bytes(prev_hash).hex()}",'
                f'"hash":"{bytes(digest).hex()}","signature":"{bytes(signature).hex()}"}}\n'
            )
            written += 1
    return written
