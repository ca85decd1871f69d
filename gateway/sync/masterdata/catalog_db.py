"""The master-data engine's database: ``catalog.db`` beside the inbox.

One SQLite file (WAL, ``synchronous=FULL``, like the inbox). Tables:

* ``articles``, ``customers`` — the store's catalog as the tills hold it after the head
  revision (each item as its JSON on the bus). ``articles.source_barcodes`` keeps the
  barcodes as the ERP gives them, since a barcode two articles share is left out of the
  item and comes back when the ERP is corrected.
* ``stock`` — per stock article ``quantity``, the last synced value (``L`` of the
  three-way merge, :mod:`.stock`), and ``sent``, the value the tills were last sent (a
  revision's stock section carries the rows where the two differ).
* ``stock_merge`` — a merge under way: written before the ERP is written, cleared in the
  transaction that records its result (see :mod:`.stock`).
* ``customer_saves`` — customers from the tills written to the ERP, by message, so a
  message processed again never creates a second customer (see :mod:`.customers`);
  ``customers_pending`` — those still to go to the tills in the next revision, with the
  provisional number they replace.
* ``marks`` — ``head`` (the last revision), ``articles_since``/``customers_since`` (where
  the next "changes" sync reads from), ``stock_through`` (the last sale counted), the
  duration of the last full sync.
* ``revisions`` and ``revision_parts`` — the revision log: the last ``keep_revisions``
  revisions, to answer a till's "send me what follows N". A full revision's parts are not
  kept (it is everything: a till behind it gets the catalog as it is now, in full).

:meth:`CatalogDb.exclusive` is the lock that keeps two syncs from interleaving — a
running service and ``tillgw sync --all`` may try at once. It is ``flock`` on
``catalog.lock`` beside the database, held for a whole sync and released by the kernel
when the process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.common.migrations import Step
from gateway.sync.database import SqliteFile, open_database

__all__ = ["CATALOG_SCHEMA", "CATALOG_STEPS", "CatalogDb"]

CATALOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    number TEXT PRIMARY KEY,
    item TEXT NOT NULL,               -- gateway.messages.catalog.Article as JSON, as the tills hold it
    source_barcodes TEXT NOT NULL     -- JSON list: the barcodes as the ERP gives them
);
CREATE TABLE IF NOT EXISTS customers (
    number TEXT PRIMARY KEY,
    item TEXT NOT NULL,               -- gateway.messages.catalog.Customer as JSON
    till_owned INTEGER NOT NULL DEFAULT 0  -- customer_master = "till": the till's version wins
);
CREATE TABLE IF NOT EXISTS stock (
    number TEXT PRIMARY KEY,
    quantity TEXT NOT NULL,           -- L: the value last synced (ERP and tills agreed)
    sent TEXT                         -- the value last sent to the tills
);
CREATE TABLE IF NOT EXISTS stock_merge (
    number TEXT PRIMARY KEY,
    erp TEXT NOT NULL,                -- E: what the ERP said before the write
    merged TEXT NOT NULL,             -- E + the tills' change: what is being written
    through INTEGER NOT NULL          -- the last stock_changes id counted in it
);
CREATE TABLE IF NOT EXISTS customer_saves (
    msg_id TEXT PRIMARY KEY,          -- the customer.change message
    till_number TEXT NOT NULL,        -- the number the till gave (maybe provisional)
    erp_number TEXT,                  -- NULL while the ERP call is under way
    item TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers_pending (
    number TEXT PRIMARY KEY,          -- the ERP's number
    item TEXT NOT NULL,
    replaces TEXT                     -- the provisional number the tills know it by
);
CREATE TABLE IF NOT EXISTS marks (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revisions (
    revision INTEGER PRIMARY KEY,
    base INTEGER NOT NULL,
    full INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    made_at TEXT NOT NULL,
    published_at TEXT,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revision_parts (
    revision INTEGER NOT NULL,
    part INTEGER NOT NULL,
    message BLOB NOT NULL,
    PRIMARY KEY (revision, part)
);
"""

CATALOG_STEPS = (
    Step(1, "articles, customers, stock, saves, marks and revisions (2084e15 on)", CATALOG_SCHEMA),
)
"""The versions of the master-data catalog file, in order (docs/operations.md lists them)."""


class CatalogDb(SqliteFile):
    """The open ``catalog.db``. Transactions of this process are serialised."""

    @classmethod
    async def open(cls, path: Path) -> CatalogDb:
        # A sync of another process may be committing: wait up to 30 s for it.
        return cls(
            path,
            await open_database(
                path, CATALOG_STEPS, database="the sync module's master-data catalog", busy_timeout_ms=30_000
            ),
        )

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Held for a whole sync: another process's sync waits until this one is done."""
        fd = os.open(self.path.with_name("catalog.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock, self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def mark(self, name: str) -> str | None:
        rows = await self.fetchall("SELECT value FROM marks WHERE name = ?", (name,))
        return None if not rows else str(rows[0][0])

    @staticmethod
    async def get_mark(db: aiosqlite.Connection, name: str) -> str | None:
        async with db.execute("SELECT value FROM marks WHERE name = ?", (name,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    async def set_mark(db: aiosqlite.Connection, name: str, value: str) -> None:
        await db.execute(
            "INSERT INTO marks (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    async def head(self) -> int:
        value = await self.mark("head")
        return 0 if value is None else int(value)

    async def items(self, table: str) -> dict[str, dict[str, Any]]:
        """``articles`` or ``customers`` as the tills hold them: number -> item JSON."""
        assert table in ("articles", "customers")
        rows = await self.fetchall(f"SELECT number, item FROM {table}")
        return {str(r[0]): json.loads(r[1]) for r in rows}
