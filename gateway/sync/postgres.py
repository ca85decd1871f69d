"""The sync module's store in PostgreSQL: ``[sync] database = "postgresql://…"``.

Several sync workers — processes, on one machine or several — share one database: the
inbox, the held messages, every adapter's done-once records and the ERPs' tokens. What
keeps them from doubling anything:

* a message is stored once: ``msg_id`` is ``UNIQUE`` and a burst is stored with one
  ``INSERT … ON CONFLICT DO NOTHING`` (:mod:`gateway.sync.inbox`);
* a register is processed by one worker at a time: the processing transaction locks the
  register's row in ``registers`` with ``SELECT … FOR UPDATE SKIP LOCKED``
  (:meth:`~gateway.sync.database.Database.claim_register`); a worker that does not get it leaves the
  register to the one that has it. The lock ends with the transaction, so a worker that
  dies (even SIGKILLed) releases it as its connection drops, and the next pass of another
  worker takes the register on. The intake never waits on it: it only reads a register's
  row, and inserts one only for a register not seen before;
* an ERP refresh token is refreshed by one worker at a time: ``pg_advisory_xact_lock`` on
  the token's key around the refresh (:mod:`gateway.sync.http.oauth`).

The schema is the module's own: ``schema_version`` records the numbered steps applied
(:data:`STEPS`); each is applied once, in one transaction, under an advisory lock, so
workers starting together migrate once. The adapters' tables are created by the adapters
(``CREATE TABLE IF NOT EXISTS``, their SQLite definitions turned into PostgreSQL's by
:func:`gateway.sync.sql.postgres_ddl`).

Transactions run at READ COMMITTED with the server's durable commit (``synchronous_commit``
on, its default): a commit has returned only once it is on the server's disk.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg

from gateway.sync.database import Database
from gateway.sync.sql import SCHEMA_LOCK, PostgresConnection

__all__ = ["PostgresDatabase", "lock_key", "public_url"]

_CONNECT_TIMEOUT = 10


def public_url(url: str) -> str:
    """``url`` without its password, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def lock_key(*parts: str) -> int:
    """A 64-bit advisory-lock key for a name (the same in every worker, on every machine)."""
    text = "\0".join(parts).encode()
    high = zlib.crc32(text)
    low = zlib.crc32(text, 0x5EED)
    return ((high << 32) | low) - (1 << 63)


class PostgresDatabase(Database):
    """One connection to the shared PostgreSQL database, in autocommit between transactions."""

    # A claimed register's row is locked, and a worker whose transaction finds it locked gets
    # False at once. The position is part of claim_register's WHERE, so a worker that comes too
    # late locks no row it will not use: locked until its transaction ended, it kept the register
    # from the worker that had just processed it and was going on (each let go of it until a
    # later pass; two workers, each a run of the same register, under load: 9 of 40 processed).
    ROW_LOCK = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        super().__init__()
        self.url = url
        self.name = public_url(url)
        self.raw = conn
        self.conn = PostgresConnection(conn)

    @classmethod
    async def open(cls, url: str, steps: Sequence[str]) -> PostgresDatabase:
        """Connect and bring the schema to the last of ``steps`` (step n is ``steps[n - 1]``)."""
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT, application_name="tillgw sync"
        )
        database = cls(url, conn)
        try:
            await database._migrate(steps)
        except BaseException:
            await conn.close()
            raise
        return database

    async def _migrate(self, steps: Sequence[str]) -> None:
        async with self.transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cursor:
                row = await cursor.fetchone()
            have = 0 if row is None else int(row[0])
            for number, step in enumerate(steps, start=1):
                if number > have:
                    await db.executescript(step)
                    await db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))

    async def close(self) -> None:
        await self.raw.close()

    @contextlib.asynccontextmanager
    async def _begin(self, write: bool) -> AsyncIterator[None]:
        async with self.raw.transaction():
            yield
