"""What a backup holds: its files with their sha256, and where the till's series stood in it.

``manifest.json`` sits beside the files of a backup. Besides each file's size and sha256 it
names the journal's last entry (number and hash: the hash is the one ``tillgw journal
verify`` and the Z report print), the last receipt number the series had used and the
outbox's last message sequence — read from the copied database, so they are the copy's,
not the live till's a moment later. :func:`till_facts` reads them from a ``till.db``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "MANIFEST", "BackupFile", "Manifest", "TillFacts", "sha256_of", "till_facts"]

MANIFEST = "manifest.json"
FORMAT = "tillgw-backup/1"


@dataclass(frozen=True, slots=True)
class TillFacts:
    """Where a till database's series stands."""

    journal_entries: int
    head_seq: int
    head_hash: str  # hex; "" for an empty journal
    last_receipt: int  # the last receipt number the series used (a recorded gap included); 0: none
    outbox_sequence: int  # the outbox's last message sequence; 0: none


@dataclass(frozen=True, slots=True)
class BackupFile:
    name: str
    size: int
    sha256: str
    database: bool  # an SQLite file, copied with SQLite's online backup


@dataclass(frozen=True, slots=True)
class Manifest:
    made_at: str  # local time with offset
    data_dir: str  # the directory it was taken from
    register: str  # "orgnr/store/pos_id" of the configuration; "" without one
    facts: TillFacts
    files: tuple[BackupFile, ...] = field(default=())
    format: str = FORMAT

    def file(self, name: str) -> BackupFile | None:
        return next((f for f in self.files if f.name == name), None)

    def to_json(self) -> str:
        doc = asdict(self)
        doc["files"] = [asdict(f) for f in self.files]
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        """Raises ValueError naming what is wrong with the manifest at ``where``."""
        try:
            doc: dict[str, Any] = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ValueError(f"it is of format {doc.get('format')!r}, not {FORMAT!r}")
            return cls(
                made_at=str(doc["made_at"]),
                data_dir=str(doc["data_dir"]),
                register=str(doc["register"]),
                facts=TillFacts(
                    journal_entries=int(doc["facts"]["journal_entries"]),
                    head_seq=int(doc["facts"]["head_seq"]),
                    head_hash=str(doc["facts"]["head_hash"]),
                    last_receipt=int(doc["facts"]["last_receipt"]),
                    outbox_sequence=int(doc["facts"]["outbox_sequence"]),
                ),
                files=tuple(
                    BackupFile(str(f["name"]), int(f["size"]), str(f["sha256"]), bool(f["database"]))
                    for f in doc["files"]
                ),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"the backup's manifest {where} cannot be read: {exc}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def till_facts(database: Path) -> TillFacts:
    """The series of the till database at ``database`` (opened read-only)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return _facts_of(conn)


def _facts_of(conn: sqlite3.Connection) -> TillFacts:
    tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "journal" not in tables:
        return TillFacts(0, 0, "", 0, 0)
    # One read transaction: the figures of one moment, even while the till writes.
    conn.execute("BEGIN")
    try:
        entries = int(conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        head = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
        # As the start check counts the series: receipts, and receipts recorded as lost.
        last = conn.execute(
            "SELECT MAX(n) FROM (SELECT json_extract(body, '$.receipt_no') AS n FROM journal "
            "WHERE kind = 'receipt' UNION ALL SELECT json_extract(body, '$.to') FROM journal "
            "WHERE kind = 'series.gap')"
        ).fetchone()[0]
        outbox = (
            conn.execute("SELECT MAX(sequence) FROM outbox").fetchone()[0] if "outbox" in tables else None
        )
    finally:
        conn.execute("COMMIT")
    return TillFacts(
        journal_entries=entries,
        head_seq=0 if head is None else int(head[0]),
        head_hash="" if head is None else bytes(head[1]).hex(),
        last_receipt=0 if last is None else int(last),
        outbox_sequence=0 if outbox is None else int(outbox),
    )
