"""The sync module's store: one interface, an embedded SQLite file or a PostgreSQL database.

The inbox, the held messages, the adapters' done-once records (and, with PostgreSQL, the
ERPs' tokens) live in one store. :class:`Database` is what they use: transactions that
take turns on this process's one connection, plain reads under the same turn (a read on
the connection while another task's transaction is open would run inside it), and a
per-register claim so that one worker at a time processes a register.

* SQLite (the default, :class:`SqliteDatabase`): one file in WAL mode with
  ``synchronous=FULL`` (a commit is fsynced before it returns), opened by
  :func:`open_database`. A write transaction is ``BEGIN IMMEDIATE``: the whole file is
  one writer at a time, so it is the register lock too.
* PostgreSQL (``[sync] database = "postgresql://…"``): :mod:`gateway.sync.postgres`.

Times in them are :func:`now_text`: local time with its offset, to the millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.common.migrations import Step, migrate
from gateway.sync.sql import SqlConnection, SqliteConnection

__all__ = ["Database", "SqliteDatabase", "SqliteFile", "migrate_file", "now_text", "open_database"]

Row = tuple[Any, ...]


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


async def migrate_file(path: Path, steps: Sequence[Step], *, database: str, busy_timeout_ms: int) -> None:
    """The file at ``path`` brought to the last of ``steps`` (gateway/common/migrations.py),
    on a connection of its own, in a worker thread: a file written by a newer version refused."""

    def run() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            migrate(conn, steps, database=f"{database} {path}", path=path)
        finally:
            conn.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(run)


async def open_database(
    path: Path, steps: Sequence[Step], *, database: str, busy_timeout_ms: int
) -> aiosqlite.Connection:
    """``path`` opened as the sync module keeps its databases, its folder made, brought to the
    last of ``steps`` (``database`` names it in a refusal: "the sync module's inbox").

    WAL, ``synchronous=FULL`` (a commit is fsynced before it returns), autocommit (the
    callers begin their own transactions), and a wait of up to ``busy_timeout_ms`` while
    another connection writes. Closed again if any of it fails.
    """
    await migrate_file(path, steps, database=database, busy_timeout_ms=busy_timeout_ms)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    except BaseException:
        await conn.close()
        raise
    return conn


class Database:
    """An open store: one connection, on which this process's transactions and reads take turns."""

    name: str  # the file, or the database's URL without its password: for log lines
    conn: SqlConnection
    # What claim_register adds to lock the register's row; SQLite's write transaction holds the
    # whole file, so every register, and needs nothing.
    ROW_LOCK = ""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return self.conn.dialect

    async def close(self) -> None:
        raise NotImplementedError

    def _begin(self, write: bool) -> contextlib.AbstractAsyncContextManager[None]:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[SqlConnection]:
        """One durable transaction (a consistent read with ``write=False``); rolled back if the
        block raises."""
        async with self._lock, self._begin(write):
            yield self.conn

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._lock, self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._lock, self.conn.execute(sql, params) as cursor:
            return await cursor.fetchall()

    async def claim_register(self, db: SqlConnection, key: Sequence[str], processed_to: int) -> bool:
        """Inside a write transaction: True when the register stands at ``processed_to`` and is
        this worker's to process until the transaction ends; False while another worker holds it,
        when it has been processed further meanwhile, or has no row (:attr:`ROW_LOCK`)."""
        async with db.execute(
            "SELECT 1 FROM registers WHERE orgnr = ? AND store = ? AND register = ? AND processed_to = ?"
            + self.ROW_LOCK,
            (*key, processed_to),
        ) as cursor:
            return await cursor.fetchone() is not None


class SqliteDatabase(Database):
    """An SQLite file (:func:`open_database`). A write transaction locks the whole file, so it
    holds every register too."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        super().__init__()
        self.path = path
        self.name = str(path)
        self.raw = conn
        self.conn = SqliteConnection(conn)

    async def close(self) -> None:
        await self.raw.close()

    @contextlib.asynccontextmanager
    async def _begin(self, write: bool) -> AsyncIterator[None]:
        await self.raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            await self.raw.execute("ROLLBACK")
            raise
        await self.raw.execute("COMMIT")


class SqliteFile:
    """An SQLite file of the module's own (the master-data catalog): one aiosqlite connection, on
    which this process's transactions take turns."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self.conn = conn
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self.conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """One durable transaction (a consistent read with ``write=False``); rolled back if the
        block raises."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")
