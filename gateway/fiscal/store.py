"""The till's database: the journal and what is derived from it, in one SQLite file.

One file so that a receipt's journal entry, its row in the receipt index, its
idempotency record and (later) its outbox message are written in one transaction: a
crash leaves all of them or none. WAL with ``synchronous=FULL``: a commit is on disk
(fsynced) before it returns, and readers (``tillgw journal verify``, reports from a
shell) never block the writer.

Tables:

* ``journal`` — the fiscal record (see :mod:`gateway.fiscal.journal`); never changed.
* ``meta`` — the till's constants: the control-unit sequence base, the key id.
* ``receipts`` — one row per registered receipt or copy, the figures reports add up;
  derived from the journal (it could be rebuilt from it).
* ``receipt_groups`` — sales per main group, for the Z report.
* ``requests`` — the POS's idempotency keys and the result each got.
* ``in_doubt`` — a receipt sent to the control unit whose answer is not yet known.
* ``unprinted`` — registered receipts the printer has not yet confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.fiscal.journal import JOURNAL_SCHEMA, Entry, append, journal_head
from gateway.fiscal.signing import Signer

__all__ = ["SCHEMA", "AppendHook", "Store", "Writer", "local_now"]

AppendHook = Callable[["Writer", Entry], Awaitable[None]]
"""Called for every entry appended, inside the same transaction (the bus's outbox uses it)."""

SCHEMA = (
    JOURNAL_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS receipts (
    entry_seq INTEGER PRIMARY KEY REFERENCES journal (seq),
    receipt_no INTEGER NOT NULL,
    kind TEXT NOT NULL,              -- normal | ovning | profo | kopia
    at TEXT NOT NULL,
    request_id TEXT,
    is_return INTEGER NOT NULL,
    total INTEGER NOT NULL,          -- öre, signed
    rounding INTEGER NOT NULL,
    to_pay INTEGER NOT NULL,
    discount INTEGER NOT NULL,
    return_total INTEGER NOT NULL,
    items INTEGER NOT NULL,
    services INTEGER NOT NULL,
    cash INTEGER NOT NULL,
    card INTEGER NOT NULL,
    gift_card INTEGER NOT NULL,
    swish INTEGER NOT NULL,
    other INTEGER NOT NULL,
    gross_25 INTEGER NOT NULL, vat_25 INTEGER NOT NULL,
    gross_12 INTEGER NOT NULL, vat_12 INTEGER NOT NULL,
    gross_6 INTEGER NOT NULL, vat_6 INTEGER NOT NULL,
    gross_0 INTEGER NOT NULL,
    control_code TEXT NOT NULL,
    unit_id TEXT NOT NULL
);
-- One number per receipt (normal, training and pro forma share the series), one copy at most.
CREATE UNIQUE INDEX IF NOT EXISTS receipts_number ON receipts (receipt_no) WHERE kind != 'kopia';
CREATE UNIQUE INDEX IF NOT EXISTS receipts_one_copy ON receipts (receipt_no) WHERE kind = 'kopia';

CREATE TABLE IF NOT EXISTS receipt_groups (
    entry_seq INTEGER NOT NULL REFERENCES receipts (entry_seq),
    grp TEXT NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (entry_seq, grp)
);

CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    pending_seq INTEGER NOT NULL,
    state TEXT NOT NULL,             -- pending | done | refused
    result TEXT                      -- the JSON the POS got
);

CREATE TABLE IF NOT EXISTS in_doubt (
    pending_seq INTEGER PRIMARY KEY REFERENCES journal (seq)
);

CREATE TABLE IF NOT EXISTS unprinted (
    entry_seq INTEGER PRIMARY KEY REFERENCES journal (seq)
);
"""
)


def local_now() -> datetime:
    """Now, in local time with its UTC offset (what receipts and the journal show)."""
    return datetime.now().astimezone()


class Writer:
    """What may be done inside one write transaction."""

    def __init__(
        self, conn: aiosqlite.Connection, signer: Signer, at: datetime, hooks: tuple[AppendHook, ...] = ()
    ) -> None:
        self.conn = conn
        self._signer = signer
        self._hooks = hooks
        self.at = at
        self._head: tuple[int, bytes] | None = None  # the chain's head, once read in this transaction

    async def head(self) -> tuple[int, bytes]:
        """The last entry's number and hash (0 and the genesis hash for an empty journal)."""
        if self._head is None:
            self._head = await journal_head(self.conn)
        return self._head

    async def append(self, kind: str, body: dict[str, Any]) -> Entry:
        entry = await append(self.conn, self._signer, kind, body, self.at, head=await self.head())
        self._head = (entry.seq, entry.hash)
        for hook in self._hooks:
            await hook(self, entry)
        return entry

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
        await self.conn.execute(sql, params)


class Store:
    """The open database of one till. Writes are serialised; each is one transaction."""

    def __init__(self, path: Path, conn: aiosqlite.Connection, signer: Signer) -> None:
        self.path = path
        self.conn = conn
        self.signer = signer
        self._write_lock = asyncio.Lock()
        self.append_hooks: list[AppendHook] = []

    @classmethod
    async def open(cls, path: Path, signer: Signer) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")  # fsync on every commit
        await conn.execute("PRAGMA busy_timeout=10000")  # another process may be writing
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.executescript(SCHEMA)
        store = cls(path, conn, signer)
        async with store.write() as w:
            if await store.meta("seq_base") is None:
                # The control unit keeps the sequence numbers it has seen. A till whose
                # database was lost starts again above any number it can have used:
                # from the clock, in seconds (ten digits until the year 2286).
                await w.execute("INSERT INTO meta VALUES ('seq_base', ?)", (str(int(time.time())),))
                await w.execute("INSERT INTO meta VALUES ('created_at', ?)", (local_now().isoformat(),))
            await w.execute("INSERT OR REPLACE INTO meta VALUES ('key_id', ?)", (signer.key_id,))
        return store

    async def close(self) -> None:
        await self.conn.close()

    @contextlib.asynccontextmanager
    async def write(self, at: datetime | None = None) -> AsyncIterator[Writer]:
        """One durable write transaction; rolled back if the block raises."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield Writer(self.conn, self.signer, at or local_now(), tuple(self.append_hooks))
            except BaseException:
                # Also when cancelled during BEGIN: the BEGIN still runs on the database
                # thread, and this ROLLBACK, queued after it, undoes it — otherwise the
                # shared connection would stay inside a transaction and every later sale fail.
                await asyncio.shield(self._rollback())
                raise
            await self.conn.execute("COMMIT")

    async def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # "no transaction is active"
            await self.conn.execute("ROLLBACK")

    async def meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    # One trip to aiosqlite's thread per query (execute and fetch together): each trip
    # costs far more than the query itself, and a receipt makes a dozen of them.

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))
