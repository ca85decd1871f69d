"""The sync module's inbox: every message from the bus, durably, once.

One SQLite file (WAL, ``synchronous=FULL``: a commit is fsynced before it returns).
A message is acked to the till only after the transaction that stored it has committed,
so an ack always means "on disk here"; a message that arrives again (the till resends
until it has the ack) finds its ``msg_id`` already there (``UNIQUE``), is stored no
second time and is acked again. Processing reads from here, never from the network, in
``sequence`` order per register, and marks each message processed in the same
transaction as the adapters' own records — a crash anywhere loses and doubles nothing.

Tables:

* ``inbox`` — one row per message: the message as received, ``processed_at`` NULL until
  the adapters have handled it.
* ``rejected`` — messages set aside (not JSON, another schema version, a register not in
  the configuration, a ``msg_id`` that does not match, a topic that does not match, the
  same ``msg_id`` with other content): the bytes, the reason, how often it came. They
  never reach an adapter.
* the adapters' own tables (``sie_files``), created by the adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.bus.messages import KIND_TOPICS, Ack, BusMessage, MessageError, Topics, decode_message

__all__ = [
    "INBOX_SCHEMA",
    "Database",
    "Inbox",
    "Intake",
    "Pending",
    "RegisterKey",
    "Rejection",
    "classify",
    "now_text",
    "open_database",
]

INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL UNIQUE,
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    sequence INTEGER NOT NULL,        -- the register's outbox number: the order to process in
    kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    journal_entry INTEGER NOT NULL,
    entry_hash TEXT NOT NULL,
    message BLOB NOT NULL,            -- the bytes received
    received_at TEXT NOT NULL,
    processed_at TEXT,                -- NULL until every adapter has handled it
    UNIQUE (orgnr, store, register, sequence)
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (orgnr, store, register, sequence)
    WHERE processed_at IS NULL;

CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,      -- sha256 of topic and bytes: a message resent is set aside once
    topic TEXT NOT NULL,
    message BLOB NOT NULL,
    msg_id TEXT,                      -- when one could be read
    reason TEXT NOT NULL,
    received_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    times INTEGER NOT NULL DEFAULT 1
);
"""

RegisterKey = tuple[str, str, str]
"""(orgnr, store, register)."""

_LEAVES = frozenset(KIND_TOPICS.values())


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    msg_id: str | None  # when one could be read: then the till gets a ``rejected`` ack
    ack_topic: str | None
    conflict: bool = False  # the msg_id is stored with other content: worth an ERROR


def _acks_of(orgnr: Any, store: Any, register: Any) -> str | None:
    try:
        return Topics(str(orgnr), str(store), str(register)).acks
    except MessageError:
        return None


def classify(topic: str, payload: bytes, knows: Callable[[str, str, str], bool]) -> BusMessage | Rejection:
    """A message of ours, or why it is not (and where its ``rejected`` ack goes)."""
    where = Topics.register_of(topic)
    topic_acks = None if where is None else _acks_of(*where[:3])
    msg_id: str | None = None
    try:
        obj = json.loads(payload)
        if isinstance(obj, dict) and isinstance(obj.get("msg_id"), str):
            msg_id = obj["msg_id"]
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    if where is None or where[3] not in _LEAVES or topic_acks is None:
        return Rejection(f"topic {topic!r} is not a register's receipts, reports or events", None, None)
    try:
        message = decode_message(payload)
    except MessageError as exc:
        return Rejection(str(exc), msg_id, topic_acks if msg_id is not None else None)
    key = (message.orgnr, message.store, message.register)
    if key != where[:3] or KIND_TOPICS[message.kind] != where[3]:
        return Rejection(
            f"a {message.kind} of {'/'.join(key)} does not belong on topic {topic!r}",
            message.msg_id,
            topic_acks,
        )
    if not knows(*key):
        return Rejection(
            f"register {'/'.join(key)} is not one of [sync].registers", message.msg_id, topic_acks
        )
    return message


@dataclass(frozen=True, slots=True)
class Intake:
    """What became of one message from the bus, and the ack it gets (if any)."""

    outcome: str  # stored | duplicate | rejected
    topic: str
    msg_id: str | None
    ack_topic: str | None
    ack: Ack | None
    message: BusMessage | None = None
    reason: str | None = None
    conflict: bool = False


@dataclass(frozen=True, slots=True)
class Pending:
    """A stored message waiting to be processed."""

    id: int
    message: BusMessage


async def open_database(path: Path, schema: str, *, busy_timeout_ms: int) -> aiosqlite.Connection:
    """``path`` opened as the sync module keeps its databases, its folder made, ``schema`` created.

    WAL, ``synchronous=FULL`` (a commit is fsynced before it returns), autocommit (the
    callers begin their own transactions), and a wait of up to ``busy_timeout_ms`` while
    another connection writes. Closed again if any of it fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        await conn.executescript(schema)
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


class Inbox(Database):
    """The open inbox database. Write transactions are serialised (one connection)."""

    @classmethod
    async def open(cls, path: Path) -> Inbox:
        # Another worker may be writing: wait up to 10 s for it.
        return cls(path, await open_database(path, INBOX_SCHEMA, busy_timeout_ms=10_000))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # -- intake -------------------------------------------------------------------------

    async def take(
        self, items: Sequence[tuple[str, bytes]], knows: Callable[[str, str, str], bool]
    ) -> list[Intake]:
        """Store a batch of messages from the bus in one transaction (committed on return).

        Only after this returns may the acks it hands back be sent.
        """
        at = now_text()
        out: list[Intake] = []
        async with self.transaction() as db:
            for topic, payload in items:
                found = classify(topic, payload, knows)
                if isinstance(found, Rejection):
                    out.append(await self._reject(db, topic, payload, found, at))
                else:
                    out.append(await self._store(db, topic, payload, found, at))
        return out

    async def _store(
        self, db: aiosqlite.Connection, topic: str, payload: bytes, m: BusMessage, at: str
    ) -> Intake:
        acks = Topics(m.orgnr, m.store, m.register).acks
        cursor = await db.execute(
            "INSERT OR IGNORE INTO inbox (msg_id, orgnr, store, register, sequence, kind, topic, "
            "journal_entry, entry_hash, message, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                m.msg_id,
                m.orgnr,
                m.store,
                m.register,
                m.sequence,
                m.kind,
                topic,
                m.journal_entry,
                m.entry_hash,
                payload,
                at,
            ),
        )
        if cursor.rowcount == 1:
            return Intake("stored", topic, m.msg_id, acks, Ack(m.msg_id, "stored"), m)
        async with db.execute(
            "SELECT kind, journal_entry, entry_hash FROM inbox WHERE msg_id = ?", (m.msg_id,)
        ) as c:
            row = await c.fetchone()
        if row is not None and (str(row[0]), int(row[1]), str(row[2])) == (
            m.kind,
            m.journal_entry,
            m.entry_hash,
        ):
            return Intake("duplicate", topic, m.msg_id, acks, Ack(m.msg_id, "stored"), m)
        reason = (
            f"msg_id {m.msg_id} is already stored with other content "
            f"(journal entry {None if row is None else row[1]}, not {m.journal_entry})"
        )
        return await self._reject(db, topic, payload, Rejection(reason, m.msg_id, acks, conflict=True), at)

    async def _reject(
        self, db: aiosqlite.Connection, topic: str, payload: bytes, r: Rejection, at: str
    ) -> Intake:
        digest = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
        await db.execute(
            "INSERT INTO rejected (digest, topic, message, msg_id, reason, received_at, last_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (digest) DO UPDATE SET times = times + 1, last_at = excluded.last_at",
            (digest, topic, payload, r.msg_id, r.reason, at, at),
        )
        ack = None if r.msg_id is None or r.ack_topic is None else Ack(r.msg_id, "rejected", r.reason)
        return Intake(
            "rejected", topic, r.msg_id, r.ack_topic if ack else None, ack, None, r.reason, r.conflict
        )

    # -- processing ---------------------------------------------------------------------

    async def pending_registers(self) -> list[RegisterKey]:
        rows = await self.fetchall(
            "SELECT DISTINCT orgnr, store, register FROM inbox WHERE processed_at IS NULL ORDER BY 1, 2, 3"
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def next_expected(self, key: RegisterKey) -> int:
        """The sequence number the register's processing is at: the last processed + 1."""
        row = await self.fetchone(
            "SELECT MAX(sequence) FROM inbox WHERE orgnr = ? AND store = ? AND register = ? "
            "AND processed_at IS NOT NULL",
            key,
        )
        return 1 if row is None or row[0] is None else int(row[0]) + 1

    async def pending(self, key: RegisterKey, limit: int = 500) -> tuple[int, list[Pending], int | None]:
        """``(expected, messages, waiting_from)``: the unbroken run of messages from the next
        sequence on (up to ``limit``); when the next one is missing, no messages and
        ``waiting_from`` the first one stored after the gap."""
        expected = await self.next_expected(key)
        rows = await self.fetchall(
            "SELECT id, sequence, message FROM inbox WHERE orgnr = ? AND store = ? AND register = ? "
            "AND processed_at IS NULL ORDER BY sequence LIMIT ?",
            (*key, limit),
        )
        out: list[Pending] = []
        for row in rows:
            if int(row[1]) != expected + len(out):
                break
            out.append(Pending(int(row[0]), decode_message(bytes(row[2]))))
        waiting = int(rows[0][1]) if rows and not out else None
        return expected, out, waiting

    @staticmethod
    async def still_pending(db: aiosqlite.Connection, ids: Sequence[int]) -> bool:
        """Inside the processing transaction: none of ``ids`` has been processed meanwhile
        (by another worker sharing this inbox file)."""
        marks = ", ".join("?" * len(ids))
        async with db.execute(
            f"SELECT COUNT(*) FROM inbox WHERE id IN ({marks}) AND processed_at IS NULL", tuple(ids)
        ) as cursor:
            row = await cursor.fetchone()
        return row is not None and int(row[0]) == len(ids)

    @staticmethod
    async def mark_processed(db: aiosqlite.Connection, ids: Sequence[int], at: str) -> None:
        await db.executemany(
            "UPDATE inbox SET processed_at = ? WHERE id = ? AND processed_at IS NULL", [(at, i) for i in ids]
        )

    async def counts(self) -> dict[str, int]:
        row = await self.fetchone(
            "SELECT COUNT(*), COUNT(processed_at), (SELECT COUNT(*) FROM rejected) FROM inbox"
        )
        assert row is not None
        return {"messages": int(row[0]), "processed": int(row[1]), "rejected": int(row[2])}
