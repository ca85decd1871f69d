"""How the sync module keeps its SQLite databases: the inbox and the master-data catalog.

Each is one file in WAL mode with ``synchronous=FULL`` (a commit is fsynced before it
returns), opened by :func:`open_database` and used through one connection on which this
process's transactions take turns (:class:`Database`). Times in them are
:func:`now_text`: local time with its offset, to the millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

import aiosqlite

from gateway.common.migrations import Step, migrate

__all__ = ["Database", "migrate_file", "now_text", "open_database"]


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
    """An open database of the sync module's (:func:`open_database`): one connection, on which
    this process's transactions take turns."""

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
