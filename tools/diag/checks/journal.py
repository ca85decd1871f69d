"""The journal: does its chain hold (as ``tillgw journal verify``), and how long will the disk last?

The disk outlook divides the free space on the data directory's filesystem by the
journal's growth so far: its size (database and write-ahead log) over the days since its
first entry. Under :data:`MIN_DAYS` days or :data:`MIN_FREE` bytes it is a warning —
a journal that cannot be written stops the till's sales.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.common.i18n import tr
from gateway.common.signing import SigningKeyError, Verifier, load_or_create_key
from gateway.fiscal.index_check import IndexMismatch, check_index
from gateway.fiscal.journal import open_readonly, verify
from gateway.till_files import TillFiles
from tools.diag.checks import Check, Verdict

__all__ = ["MIN_DAYS", "MIN_FREE", "DiskOutlook", "check_disk", "check_journal", "disk_outlook"]

MIN_DAYS = 30
MIN_FREE = 500 * 1024 * 1024


def check_journal(files: TillFiles) -> Check:
    if not files.database.exists():
        return Check(
            "journal",
            Verdict.WARNING,
            tr("no journal at {database} yet").format(database=files.database),
            {"database": str(files.database)},
            tr("start the till once (tillgw run); if it has run, check [register].data_dir"),
        )
    if not files.signing_key.exists():
        return Check(
            "journal",
            Verdict.PROBLEM,
            tr("no signing key at {signing_key}: the journal cannot be checked").format(
                signing_key=files.signing_key
            ),
            {"database": str(files.database)},
            tr(
                "restore signing-key.pem from the till's backup; check with "
                "tillgw journal verify --public-key"
            ),
        )
    try:
        verifier = Verifier(load_or_create_key(files.signing_key).public_key())
        index_problem = None
        with open_readonly(files.database) as conn:
            report = verify(conn, verifier)
            if report.ok:
                try:
                    check_index(conn)
                except IndexMismatch as exc:
                    index_problem = exc
    except (SigningKeyError, sqlite3.Error, OSError) as exc:
        return Check(
            "journal",
            Verdict.PROBLEM,
            tr("cannot read the journal: {exc}").format(exc=exc),
            {"database": str(files.database)},
            tr("check the data directory's permissions and disk; run tillgw journal verify for details"),
        )
    details = {
        "database": str(files.database),
        "entries": report.entries,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "first_bad": report.first_bad,
        "key_id": verifier.key_id,
    }
    if not report.ok:
        return Check(
            "journal",
            Verdict.PROBLEM,
            tr("the chain does not hold: {problem}").format(problem=report.problem),
            details,
            tr(
                "keep the database exactly as it is (copy it for the auditor), "
                "run tillgw journal verify --all-signatures, and report it to "
                "whoever keeps the till"
            ),
        )
    if index_problem is not None:
        return Check(
            "journal",
            Verdict.PROBLEM,
            str(index_problem),
            details,
            tr(
                "keep the database as it is (copy it for the auditor) and "
                "restore till.db from the backup (docs/operations.md); no Z "
                "report is made until then"
            ),
        )
    return Check(
        "journal",
        Verdict.OK,
        tr("the chain holds: {entries} entries, signed").format(entries=report.entries),
        details,
    )


@dataclass(frozen=True, slots=True)
class DiskOutlook:
    free_bytes: int
    journal_bytes: int
    journal_days: float  # since the first entry
    bytes_per_day: float | None  # None: no journal yet
    days_left: float | None  # None: no growth to go by

    @property
    def low(self) -> bool:
        return self.free_bytes < MIN_FREE or (self.days_left is not None and self.days_left < MIN_DAYS)


def disk_outlook(free_bytes: int, journal_bytes: int, journal_days: float) -> DiskOutlook:
    """The days left at the journal's growth so far (a journal younger than a day counts as a day)."""
    if journal_bytes <= 0:
        return DiskOutlook(free_bytes, journal_bytes, journal_days, None, None)
    rate = journal_bytes / max(journal_days, 1.0)
    return DiskOutlook(free_bytes, journal_bytes, journal_days, rate, free_bytes / rate)


def _journal_age_days(database: Path, now: datetime) -> float:
    try:
        with open_readonly(database) as conn:
            row = conn.execute("SELECT at FROM journal ORDER BY seq LIMIT 1").fetchone()
    except (sqlite3.Error, OSError):
        return 0.0
    if row is None:
        return 0.0
    first = datetime.fromisoformat(str(row[0]))
    return max((now.astimezone(first.tzinfo) - first).total_seconds() / 86400, 0.0)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(files: TillFiles, now: datetime | None = None) -> Check:
    free = shutil.disk_usage(_existing(files.data_dir.resolve())).free
    database = files.database
    size = sum(p.stat().st_size for p in (database, Path(f"{database}-wal")) if p.exists())
    outlook = disk_outlook(free, size, _journal_age_days(database, now or datetime.now().astimezone()))
    details = {
        "data_dir": str(files.data_dir),
        "free_bytes": outlook.free_bytes,
        "journal_bytes": outlook.journal_bytes,
        "journal_days": round(outlook.journal_days, 2),
        "bytes_per_day": None if outlook.bytes_per_day is None else round(outlook.bytes_per_day),
        "days_left": None if outlook.days_left is None else int(outlook.days_left),
    }
    free_mb = f"{outlook.free_bytes / 1024**2:,.0f}"
    if outlook.days_left is None:
        summary = tr("{mb} MB free; no journal yet to tell its growth").format(mb=free_mb)
    else:
        summary = tr("{mb} MB free; the journal grows {bytes} bytes a day: {days} days left").format(
            mb=free_mb, bytes=f"{outlook.bytes_per_day or 0:,.0f}", days=f"{outlook.days_left:,.0f}"
        )
    if outlook.low:
        return Check(
            "disk",
            Verdict.WARNING,
            tr("{summary} (warned under {min_days} days or {mb} MB)").format(
                summary=summary, min_days=MIN_DAYS, mb=MIN_FREE // 1024**2
            ),
            details,
            tr(
                "free space on the data directory's disk or move "
                "[register].data_dir to a larger one; never delete the journal "
                "(till.db)"
            ),
        )
    return Check("disk", Verdict.OK, summary, details)
