"""The catalog's SQLite file: its tables, its connections, and the state row it keeps.

The writer connection (WAL, ``synchronous=NORMAL``: nothing here is fiscal) is made by
:func:`create`; lookups and searches use read-only connections (:func:`connect_readonly`).
The ``state`` table holds the revision held, when it was applied, and the counter of
till-made customer numbers (:func:`state_value`, :func:`set_state_value`); :func:`read_state` sums it up.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.common.migrations import Step, migrate

__all__ = [
    "CATALOG_SCHEMA",
    "CATALOG_STEPS",
    "CatalogState",
    "connect",
    "connect_readonly",
    "create",
    "read_state",
    "set_state_value",
    "state_value",
]

CATALOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,          -- the name casefolded: what a search matches
    price INTEGER NOT NULL,          -- öre incl. VAT
    vat_rate INTEGER NOT NULL,       -- hundredths of a percent
    unit TEXT NOT NULL,
    grp TEXT,
    service INTEGER NOT NULL,
    stock_goods INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS barcodes (
    barcode TEXT PRIMARY KEY,
    number TEXT NOT NULL             -- the article's
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS barcodes_by_article ON barcodes (number);

CREATE TABLE IF NOT EXISTS customers (
    number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    orgnr TEXT,
    email TEXT,
    phone TEXT,
    address TEXT NOT NULL,           -- JSON list of lines
    price_list TEXT,
    origin TEXT NOT NULL             -- erp | till (made at the till, not yet in a revision)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS stock (
    number TEXT PRIMARY KEY,         -- article number
    quantity TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS held_parts (
    revision INTEGER NOT NULL,
    part INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    base INTEGER NOT NULL,
    is_full INTEGER NOT NULL,
    message BLOB NOT NULL,           -- the message as received
    received_at TEXT NOT NULL,
    PRIMARY KEY (revision, part)
);

CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

CATALOG_STEPS = (
    Step(1, "articles, barcodes, customers, stock, held parts and state (2084e15 on)", CATALOG_SCHEMA),
)
"""The versions of the till's ``catalog.db``, in order (docs/operations.md lists them)."""


@dataclass(frozen=True, slots=True)
class CatalogState:
    """What ``GET /v1/status`` shows of the catalog; kept in memory, renewed by every write."""

    revision: int  # 0: nothing yet
    applied_at: str | None
    articles: int
    customers: int
    held_parts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "applied_at": self.applied_at,
            "articles": self.articles,
            "customers": self.customers,
            "held_parts": self.held_parts,
        }


def state_value(conn: sqlite3.Connection, key: str, default: str) -> str:
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def set_state_value(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def read_state(conn: sqlite3.Connection) -> CatalogState:
    applied = conn.execute("SELECT value FROM state WHERE key = 'applied_at'").fetchone()
    return CatalogState(
        revision=int(state_value(conn, "revision", "0")),
        applied_at=None if applied is None else str(applied[0]),
        articles=int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]),
        customers=int(conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]),
        held_parts=int(conn.execute("SELECT COUNT(*) FROM held_parts").fetchone()[0]),
    )


def create(path: Path) -> tuple[bool, sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    return created, connect(path)


def connect(path: Path) -> sqlite3.Connection:
    # check_same_thread off: made on a passing thread, then used only on the catalog's own.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        migrate(conn, CATALOG_STEPS, database=f"the till's catalog {path}", path=path)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=1000")
    return conn
