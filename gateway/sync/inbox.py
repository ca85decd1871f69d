"""The sync module's inbox: every message from the bus, durably, once.

One store (:mod:`gateway.sync.database`): an SQLite file (WAL, ``synchronous=FULL``: a
commit is fsynced before it returns), or a PostgreSQL database shared by several workers
(:mod:`gateway.sync.postgres`). A message is acked to the till only after the transaction
that stored it has committed, so an ack always means "on disk here"; a message that
arrives again (the till resends until it has the ack) finds its ``msg_id`` already there
(``UNIQUE``), is stored no second time and is acked again. Processing reads from here,
never from the network, in ``sequence`` order per register, and marks each message processed in the same
transaction as the adapters' own records — a crash anywhere loses and doubles nothing.

Tables:

* ``inbox`` — one row per message: the message as received, ``processed_at`` NULL until
  the adapters have handled it. ``held_reason`` set: the message is *held* — by the
  intake (``held_by = 'intake'``: a register of a served store that the configuration
  does not list; the till was acked ``held``), or by processing (``'processing'``: an
  adapter or ERP refused it; it is tried again every ``retry_interval`` and by
  ``--reprocess``). A held message stops its register's later messages (in order).
  ``ack_owed``: an ack the till is still to get (``stored``, after ``--reprocess`` took a
  held message), sent at the next connection.
* ``rejected`` — messages that cannot be read as a message of ours (not JSON, another
  schema version, a ``msg_id`` that does not match, a topic that does not match, the same
  ``msg_id`` with other content): the bytes, the reason, how often it came. Those with a
  ``msg_id`` are *held* too (their till was acked ``held``) until ``--reprocess`` reads them
  again (``released_at``); those without one are no till's message and are only counted.
  (The table keeps its old name so that an inbox of an earlier version reads as it is:
  its rows, a register not configured among them, are held messages now.)
* ``registers`` — one row per register seen: ``processed_to``, the last sequence number
  processed (every message up to it is processed, every one after it is not). Processing
  reads from here which registers have work and where each stands, so a pass costs what
  is pending, not what the inbox has ever held.
* the adapters' own tables (``sie_files``), created by the adapters.

A message is decoded once: the intake keeps what it decoded (by ``msg_id``) for processing,
which decodes the stored bytes only for a message this process did not take itself.

Which messages are ours is decided by :mod:`gateway.sync.intake`; how the file is opened,
by :mod:`gateway.sync.database`.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.common.migrations import Step, split_script
from gateway.messages.envelope import BusMessage, Topics, decode_message
from gateway.sync.database import Database, SqliteDatabase, now_text, open_database
from gateway.sync.intake import Rejection, classify
from gateway.sync.routing import Routing
from gateway.sync.sql import SqlConnection

__all__ = [
    "INBOX_SCHEMA",
    "INBOX_STEPS",
    "HeldRow",
    "Inbox",
    "Intake",
    "OwedAck",
    "Pending",
    "RegisterKey",
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
    held_reason TEXT,                 -- NULL unless held: why, and what to do
    held_by TEXT,                     -- intake | processing
    held_at TEXT,
    ack_owed TEXT,                    -- an ack the till is still to get (stored)
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
    times INTEGER NOT NULL DEFAULT 1,
    released_at TEXT                  -- --reprocess read it as a message and took it into the inbox
);

-- The topic filters each client id last subscribed to: its session at the broker keeps them,
-- so a filter the configuration no longer names is unsubscribed at the next connection.
CREATE TABLE IF NOT EXISTS subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    PRIMARY KEY (client_id, filter)
);

CREATE TABLE IF NOT EXISTS registers (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    register TEXT NOT NULL,
    processed_to INTEGER NOT NULL DEFAULT 0,   -- every message up to this sequence is processed
    PRIMARY KEY (orgnr, store, register)
);
"""

# An inbox of an earlier version gets the columns of held messages and owed acks.
_ADDED_COLUMNS = {
    "inbox": ("held_reason TEXT", "held_by TEXT", "held_at TEXT", "ack_owed TEXT"),
    "rejected": ("released_at TEXT",),
}
_INDEXES = """
CREATE INDEX IF NOT EXISTS inbox_held ON inbox (orgnr, store, register, sequence)
    WHERE held_reason IS NOT NULL;
CREATE INDEX IF NOT EXISTS inbox_ack_owed ON inbox (id) WHERE ack_owed IS NOT NULL;
"""
# An inbox from before ``registers``: where each register's processing stands, read once.
_FILL_REGISTERS = (
    "INSERT INTO registers (orgnr, store, register, processed_to) "
    "SELECT orgnr, store, register, COALESCE(MAX(CASE WHEN processed_at IS NOT NULL THEN sequence END), 0) "
    "FROM inbox WHERE true GROUP BY orgnr, store, register ON CONFLICT DO NOTHING"
)

_REJECTED_HELD = (
    "CREATE INDEX IF NOT EXISTS rejected_held ON rejected (id)"
    " WHERE released_at IS NULL AND msg_id IS NOT NULL"
)

POSTGRES_STEPS = (INBOX_SCHEMA + _INDEXES + _REJECTED_HELD + ";\n",)
"""The inbox's schema in PostgreSQL, step by step (:class:`gateway.sync.postgres.PostgresDatabase`)."""

_DECODED_KEPT = 10_000  # messages kept decoded between the intake and processing (some 20 MB at most)
_DEADLOCK = ("40P01", "40001")  # PostgreSQL: two workers storing the same resent messages; done again


def _version_1(conn: sqlite3.Connection) -> None:
    """The inbox of every release before the file carried a version, brought up whole."""
    for statement in split_script(INBOX_SCHEMA):
        conn.execute(statement)
    for table, columns in _ADDED_COLUMNS.items():
        have = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column.split()[0] not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    for statement in split_script(_INDEXES):
        conn.execute(statement)


def _version_3(conn: sqlite3.Connection) -> None:
    """``registers`` filled from what an inbox of an earlier version has stored and processed."""
    for statement in split_script(INBOX_SCHEMA):  # the new table (the others are there)
        conn.execute(statement)
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM registers)").fetchone()[0]:
        conn.execute(_FILL_REGISTERS)


INBOX_STEPS = (
    Step(1, "messages, held and rejected messages, subscriptions (2084e15 on)", _version_1),
    # --status, the tills' status and --reprocess ask for the held rejected messages: without
    # this index each asking read every message ever set aside.
    Step(
        2,
        "an index of the rejected messages still held",
        _REJECTED_HELD,
    ),
    # Each pass asked the whole inbox which registers had work (a full-index SELECT DISTINCT
    # that grew with every message ever stored): ``registers`` keeps where each one stands.
    Step(3, "registers: where each register's processing stands", _version_3),
)
"""The versions of the inbox file, in order (docs/operations.md lists them)."""

RegisterKey = tuple[str, str, str]
"""(orgnr, store, register)."""


@dataclass(frozen=True, slots=True)
class Intake:
    """What became of one message from the bus, and the ack it gets (if any)."""

    outcome: str  # stored | duplicate | held | ignored
    topic: str
    msg_id: str | None
    ack_topic: str | None
    ack_status: str | None  # stored | held; None: no ack
    entry_hash: str = ""
    message: BusMessage | None = None
    reason: str | None = None
    conflict: bool = False


@dataclass(frozen=True, slots=True)
class OwedAck:
    """An ack a till is still to get: a held message taken by ``--reprocess``."""

    id: int
    msg_id: str
    ack_topic: str
    status: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class HeldRow:
    """A held message, for ``--status``, the tills' status and ``--reprocess``."""

    table: str  # inbox | rejected
    id: int
    msg_id: str
    orgnr: str
    store: str
    register: str
    sequence: int | None
    kind: str | None
    reason: str
    held_by: str  # intake | processing
    since: str

    def to_json(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "register": self.register,
            "sequence": self.sequence,
            "kind": self.kind,
            "reason": self.reason,
            "held_by": self.held_by,
            "since": self.since,
        }


@dataclass(frozen=True, slots=True)
class Pending:
    """A stored message waiting to be processed."""

    id: int
    message: BusMessage


class Inbox:
    """The open inbox: its store (:class:`~gateway.sync.database.Database`) and what it keeps decoded."""

    def __init__(self, store: Database) -> None:
        self.store = store
        # Processing's connection: the intake's own until :meth:`open_processing` gives it one.
        self.work = store
        self.conn: SqlConnection = store.conn
        self.name = store.name
        self._decoded: dict[str, BusMessage] = {}  # msg_id -> the message, until processed
        self._known: set[RegisterKey] = set()  # registers with their row in ``registers``

    @classmethod
    async def open(cls, where: Path | str) -> Inbox:
        """The inbox in the SQLite file ``where``, or in the PostgreSQL database of the URL ``where``."""
        if isinstance(where, str):
            from gateway.sync.postgres import PostgresDatabase  # the driver loads only when used

            return cls(await PostgresDatabase.open(where, POSTGRES_STEPS))
        # Another worker may be writing: wait up to 10 s for it.
        store = SqliteDatabase(
            where,
            await open_database(
                where, INBOX_STEPS, database="the sync module's inbox", busy_timeout_ms=10_000
            ),
        )
        return cls(store)

    @property
    def dialect(self) -> str:
        return self.store.dialect

    async def close(self) -> None:
        if self.work is not self.store:
            await self.work.close()
        await self.store.close()

    async def open_processing(self) -> None:
        """PostgreSQL: processing gets a connection of its own, so that the intake's burst is
        never queued behind a processing transaction (an adapter writing its file or calling
        its ERP) on a shared one, nor the other way round: the two run side by side as two
        workers would. SQLite has one writer per file whatever the connections: it keeps one."""
        from gateway.sync.postgres import PostgresDatabase  # the driver loads only when used

        if isinstance(self.store, PostgresDatabase) and self.work is self.store:
            self.work = await PostgresDatabase.open(self.store.url, POSTGRES_STEPS)

    def transaction(self, *, write: bool = True) -> contextlib.AbstractAsyncContextManager[SqlConnection]:
        return self.store.transaction(write=write)

    def processing_transaction(self) -> contextlib.AbstractAsyncContextManager[SqlConnection]:
        """A write transaction on processing's connection (:meth:`open_processing`)."""
        return self.work.transaction()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return await self.store.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self.store.fetchall(sql, params)

    def _keep(self, message: BusMessage) -> None:
        """Keep what the intake decoded for processing; past the bound, processing decodes the bytes."""
        if len(self._decoded) < _DECODED_KEPT:
            self._decoded[message.msg_id] = message

    # -- intake -------------------------------------------------------------------------

    async def take(self, items: Sequence[tuple[str, bytes]], routing: Routing, source: str) -> list[Intake]:
        """Store a batch of messages from the bus in one transaction (committed on return).

        Only after this returns may the acks it hands back be sent. ``source``: the
        configuration file, named in what a held message's reason says to do.
        """
        found = [(topic, payload, classify(topic, payload, routing, source)) for topic, payload in items]
        for attempt in range(3):
            try:
                out = await self._take(found)
            except Exception as exc:
                if getattr(exc, "sqlstate", None) not in _DEADLOCK or attempt == 2:
                    raise
                continue
            for intake in out:
                if intake.outcome == "stored" and intake.message is not None:
                    self._keep(intake.message)
            return out
        raise AssertionError("unreachable")

    async def _take(self, found: Sequence[tuple[str, bytes, BusMessage | Rejection | None]]) -> list[Intake]:
        at = now_text()
        storable: list[tuple[str, bytes, BusMessage, str | None]] = []
        for topic, payload, f in found:
            if isinstance(f, BusMessage):
                storable.append((topic, payload, f, None))
            elif f is not None and f.message is not None:
                storable.append((topic, payload, f.message, f.reason))
        out: list[Intake] = []
        async with self.transaction() as db:
            await self._register_rows(db, {(m.orgnr, m.store, m.register) for _, _, m, _ in storable})
            inserted = await self._insert(db, storable, at)
            before = await self._stored_before(
                db, [m.msg_id for _, _, m, _ in storable if m.msg_id not in inserted]
            )
            for topic, payload, f in found:
                if f is None:
                    out.append(Intake("ignored", topic, None, None, None))
                elif isinstance(f, Rejection) and f.message is None:
                    out.append(await self._reject(db, topic, payload, f, at))
                else:
                    m = f if isinstance(f, BusMessage) else f.message
                    held = None if isinstance(f, BusMessage) else f.reason
                    assert m is not None
                    stored = before.get(m.msg_id)
                    out.append(
                        await self._outcome(db, topic, payload, m, at, held, m.msg_id in inserted, stored)
                    )
        return out

    async def _stored_before(self, db: SqlConnection, msg_ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """What the inbox holds of messages a burst brought again (a till resending what it has
        not had acked): one statement for the burst, not one per message."""
        if not msg_ids:
            return {}
        columns = "msg_id, kind, journal_entry, entry_hash, held_reason, held_by"
        if self.dialect == "postgresql":
            rows = await db.execute_fetchall(f"SELECT {columns} FROM inbox WHERE msg_id = ANY(?)", (msg_ids,))
        else:
            rows = []
            for start in range(0, len(msg_ids), 500):  # SQLite's limit on parameters is 32,766 (or 999)
                part = msg_ids[start : start + 500]
                rows += await db.execute_fetchall(
                    f"SELECT {columns} FROM inbox WHERE msg_id IN ({', '.join('?' * len(part))})", part
                )
        return {str(r[0]): tuple(r[1:]) for r in rows}

    async def _register_rows(self, db: SqlConnection, keys: set[RegisterKey]) -> None:
        """Each register of the batch has its ``registers`` row (read first: an insert would wait
        on a row another worker's processing is updating)."""
        for key in sorted(keys - self._known):
            async with db.execute(
                "SELECT 1 FROM registers WHERE orgnr = ? AND store = ? AND register = ?", key
            ) as cursor:
                there = await cursor.fetchone()
            if there is None:
                await db.execute(
                    "INSERT INTO registers (orgnr, store, register) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    key,
                )
        self._known |= keys

    async def _insert(
        self, db: SqlConnection, rows: Sequence[tuple[str, bytes, BusMessage, str | None]], at: str
    ) -> set[str]:
        """Insert what is not stored yet; the msg_ids inserted. In PostgreSQL one statement for the
        burst, in msg_id order (two workers storing the same resent messages lock them in one order)."""
        if not rows:
            return set()
        values = [
            (m.msg_id, m.orgnr, m.store, m.register, m.sequence, m.kind, topic, m.journal_entry, m.entry_hash,
             payload, at, held, None if held is None else "intake", None if held is None else at)
            for topic, payload, m, held in rows
        ]  # fmt: skip
        columns = (
            "msg_id, orgnr, store, register, sequence, kind, topic, journal_entry, entry_hash, message, "
            "received_at, held_reason, held_by, held_at"
        )
        if self.dialect == "postgresql":
            values.sort(key=lambda v: str(v[0]))
            types = ("text", "text", "text", "text", "int8", "text", "text", "int8", "text", "bytea",
                     "text", "text", "text", "text")  # fmt: skip
            arrays = ", ".join(f"?::{t}[]" for t in types)
            async with db.execute_binary(
                f"INSERT INTO inbox ({columns}) SELECT * FROM unnest({arrays}) "
                "ON CONFLICT DO NOTHING RETURNING msg_id",
                [list(column) for column in zip(*values, strict=True)],
            ) as cursor:
                return {str(r[0]) for r in await cursor.fetchall()}
        inserted: set[str] = set()
        for v in values:
            cursor = await db.execute(
                f"INSERT INTO inbox ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                v,
            )
            if cursor.rowcount == 1:
                inserted.add(str(v[0]))
        return inserted

    async def _store(
        self,
        db: SqlConnection,
        topic: str,
        payload: bytes,
        m: BusMessage,
        at: str,
        held: str | None = None,
    ) -> Intake:
        await self._register_rows(db, {(m.orgnr, m.store, m.register)})
        inserted = m.msg_id in await self._insert(db, [(topic, payload, m, held)], at)
        stored = None if inserted else (await self._stored_before(db, [m.msg_id])).get(m.msg_id)
        return await self._outcome(db, topic, payload, m, at, held, inserted, stored)

    async def _outcome(
        self,
        db: SqlConnection,
        topic: str,
        payload: bytes,
        m: BusMessage,
        at: str,
        held: str | None,
        inserted: bool,
        row: tuple[Any, ...] | None,
    ) -> Intake:
        """``row``: what the inbox holds under the msg_id when it was not inserted (None: nothing)."""
        acks = Topics(m.orgnr, m.store, m.register).acks
        if inserted:
            if held is not None:
                return Intake("held", topic, m.msg_id, acks, "held", m.entry_hash, m, held)
            return Intake("stored", topic, m.msg_id, acks, "stored", m.entry_hash, m)
        if row is not None and (str(row[0]), int(row[1]), str(row[2])) == (
            m.kind,
            m.journal_entry,
            m.entry_hash,
        ):
            if row[3] is not None and row[4] == "intake":  # still held: the same answer again
                return Intake("held", topic, m.msg_id, acks, "held", m.entry_hash, m, str(row[3]))
            return Intake("duplicate", topic, m.msg_id, acks, "stored", m.entry_hash, m)
        reason = (
            f"msg_id {m.msg_id} is already stored with other content "
            f"(journal entry {None if row is None else row[1]}, not {m.journal_entry}) — two tills with "
            "one identity, or a till database restored from a backup: find out which is right before "
            "anything else is booked for this register"
        )
        return await self._reject(
            db, topic, payload, Rejection(reason, m.msg_id, acks, conflict=True, entry_hash=m.entry_hash), at
        )

    async def _reject(self, db: SqlConnection, topic: str, payload: bytes, r: Rejection, at: str) -> Intake:
        digest = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
        await db.execute(
            "INSERT INTO rejected (digest, topic, message, msg_id, reason, received_at, last_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (digest) DO UPDATE SET times = times + 1, last_at = excluded.last_at",
            (digest, topic, payload, r.msg_id, r.reason, at, at),
        )
        acked = r.msg_id is not None and r.ack_topic is not None
        return Intake(
            "held",
            topic,
            r.msg_id,
            r.ack_topic if acked else None,
            "held" if acked else None,
            r.entry_hash,
            None,
            r.reason,
            r.conflict,
        )

    # -- held messages and owed acks ------------------------------------------------------

    async def held(self, register: str | None = None, msg_id: str | None = None) -> list[HeldRow]:
        """Every held message (of ``register``, or the one ``msg_id``), oldest first per register."""
        where, params = "", []
        if register is not None:
            where += " AND register = ?"
            params.append(register)
        if msg_id is not None:
            where += " AND msg_id = ?"
            params.append(msg_id)
        rows = await self.fetchall(
            "SELECT id, msg_id, orgnr, store, register, sequence, kind, held_reason, held_by, held_at "
            f"FROM inbox WHERE held_reason IS NOT NULL{where} ORDER BY orgnr, store, register, sequence",
            params,
        )
        out = [
            HeldRow("inbox", int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), str(r[6]),
                    str(r[7]), str(r[8] or "intake"), str(r[9] or ""))
            for r in rows
        ]  # fmt: skip
        raw = await self.fetchall(
            "SELECT id, msg_id, topic, reason, last_at FROM rejected "
            "WHERE released_at IS NULL AND msg_id IS NOT NULL ORDER BY id"
        )
        for r in raw:
            parts = str(r[1]).split("/")
            orgnr, store, reg = [*parts, "?", "?", "?"][:3]
            sequence = int(parts[3]) if len(parts) == 4 and parts[3].isdigit() else None
            if (register is None or reg == register) and (msg_id is None or r[1] == msg_id):
                out.append(
                    HeldRow("rejected", int(r[0]), str(r[1]), orgnr, store, reg, sequence, None, str(r[3]),
                            "intake", str(r[4]))
                )  # fmt: skip
        return out

    async def owed_acks(self, limit: int = 500) -> list[OwedAck]:
        rows = await self.fetchall(
            "SELECT id, msg_id, orgnr, store, register, ack_owed, entry_hash FROM inbox "
            "WHERE ack_owed IS NOT NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [
            OwedAck(int(r[0]), str(r[1]), Topics(str(r[2]), str(r[3]), str(r[4])).acks, str(r[5]), str(r[6]))
            for r in rows
        ]

    async def acks_sent(self, owed: Sequence[OwedAck]) -> None:
        if not owed:
            return
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE inbox SET ack_owed = NULL WHERE id = ? AND ack_owed = ?",
                [(a.id, a.status) for a in owed],
            )

    async def release(self, rows: Sequence[HeldRow], routing: Routing, source: str) -> dict[str, str]:
        """Take held messages again with today's configuration (``--reprocess``), in one transaction.

        An intake-held message of a register now accepted is held no longer and owes its till
        a ``stored`` ack; a message set aside is read again and, when it is now a message of
        ours, stored (owing the ack). Processing-held messages are left to processing.
        Returns msg_id -> why it is still held, for those that are.
        """
        still: dict[str, str] = {}
        at = now_text()
        async with self.transaction() as db:
            for row in rows:
                if row.table == "inbox" and row.held_by == "intake":
                    if not routing.accepts(row.orgnr, row.store, row.register):
                        still[row.msg_id] = routing.why_not(row.orgnr, row.store, row.register, source)
                        continue
                    await db.execute(
                        "UPDATE inbox SET held_reason = NULL, held_by = NULL, held_at = NULL, "
                        "ack_owed = 'stored' WHERE id = ?",
                        (row.id,),
                    )
                elif row.table == "rejected":
                    async with db.execute("SELECT topic, message FROM rejected WHERE id = ?", (row.id,)) as c:
                        found = await c.fetchone()
                    if found is None:
                        continue
                    topic, payload = str(found[0]), bytes(found[1])
                    message = classify(topic, payload, routing, source)
                    if not isinstance(message, BusMessage):
                        still[row.msg_id] = row.reason if message is None else message.reason
                        continue
                    taken = await self._store(db, topic, payload, message, at)
                    if taken.outcome not in ("stored", "duplicate"):
                        still[row.msg_id] = taken.reason or row.reason
                        continue
                    await db.execute("UPDATE rejected SET released_at = ? WHERE id = ?", (at, row.id))
                    await db.execute(
                        "UPDATE inbox SET ack_owed = 'stored' WHERE msg_id = ?", (message.msg_id,)
                    )
        return still

    async def subscribed(self, client_id: str) -> set[str]:
        rows = await self.fetchall("SELECT filter FROM subscriptions WHERE client_id = ?", (client_id,))
        return {str(r[0]) for r in rows}

    async def forget_subscriptions(self, client_id: str) -> None:
        """The client id's session is ended (gateway.sync.sessions): nothing of it is left to take over."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM subscriptions WHERE client_id = ?", (client_id,))

    async def record_subscriptions(self, client_id: str, filters: Sequence[str]) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM subscriptions WHERE client_id = ?", (client_id,))
            await db.executemany(
                "INSERT INTO subscriptions (client_id, filter) VALUES (?, ?)",
                [(client_id, f) for f in filters],
            )

    async def hold_processing(self, item_id: int, reason: str) -> None:
        """An adapter refused the message: held with the reason (tried again by later passes)."""
        async with self.processing_transaction() as db:
            await db.execute(
                "UPDATE inbox SET held_reason = ?, held_by = 'processing', held_at = COALESCE(held_at, ?) "
                "WHERE id = ? AND processed_at IS NULL",
                (reason, now_text(), item_id),
            )

    async def processed(self, msg_ids: Sequence[str]) -> set[str]:
        """Which of ``msg_ids`` are processed (booked)."""
        if not msg_ids:
            return set()
        marks = ", ".join("?" * len(msg_ids))
        rows = await self.fetchall(
            f"SELECT msg_id FROM inbox WHERE msg_id IN ({marks}) AND processed_at IS NOT NULL", list(msg_ids)
        )
        return {str(r[0]) for r in rows}

    # -- processing ---------------------------------------------------------------------

    async def pending_registers(self) -> list[RegisterKey]:
        """The registers with a message stored after the last one processed: one index probe per
        register, however many messages the inbox has ever held."""
        rows = await self.work.fetchall(
            "SELECT r.orgnr, r.store, r.register FROM registers r WHERE EXISTS (SELECT 1 FROM inbox i "
            "WHERE i.orgnr = r.orgnr AND i.store = r.store AND i.register = r.register "
            "AND i.sequence > r.processed_to) ORDER BY 1, 2, 3"
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def next_expected(self, key: RegisterKey) -> int:
        """The sequence number the register's processing is at: the last processed + 1."""
        row = await self.work.fetchone(
            "SELECT processed_to FROM registers WHERE orgnr = ? AND store = ? AND register = ?", key
        )
        return 1 if row is None else int(row[0]) + 1

    async def pending(self, key: RegisterKey, limit: int = 500) -> tuple[int, list[Pending], int | None]:
        """``(expected, messages, waiting_from)``: the unbroken run of messages from the next
        sequence on (up to ``limit``); when the next one is missing, no messages and
        ``waiting_from`` the first one stored after the gap.

        The stored bytes are read (and decoded) only for the messages this process has not
        kept decoded since it took them."""
        found = await self.work.fetchall(
            "SELECT r.processed_to, i.id, i.sequence, i.msg_id, i.held_by FROM registers r "
            "JOIN inbox i ON i.orgnr = r.orgnr AND i.store = r.store AND i.register = r.register "
            "AND i.sequence > r.processed_to WHERE r.orgnr = ? AND r.store = ? AND r.register = ? "
            "ORDER BY i.sequence LIMIT ?",
            (*key, limit),
        )
        expected = int(found[0][0]) + 1 if found else await self.next_expected(key)
        rows = [row[1:] for row in found]
        run: list[tuple[int, str]] = []
        for row in rows:
            if int(row[1]) != expected + len(run) or row[3] == "intake":
                break  # a gap, or a message held until a person acts: the later ones wait (in order)
            run.append((int(row[0]), str(row[2])))
        missing = [i for i, msg_id in run if msg_id not in self._decoded]
        if missing:
            marks = ", ".join("?" * len(missing))
            for r in await self.work.fetchall(f"SELECT message FROM inbox WHERE id IN ({marks})", missing):
                message = decode_message(bytes(r[0]))
                self._decoded[message.msg_id] = message  # until processed: a later run reads it again
        out = [Pending(i, self._decoded[msg_id]) for i, msg_id in run]
        waiting = int(rows[0][1]) if rows and not out and int(rows[0][1]) != expected else None
        return expected, out, waiting

    async def first_held(self, key: RegisterKey) -> tuple[int, str] | None:
        """The register's first message held by the intake: (sequence, reason)."""
        row = await self.work.fetchone(
            "SELECT sequence, held_reason FROM inbox WHERE orgnr = ? AND store = ? AND register = ? "
            "AND held_by = 'intake' AND processed_at IS NULL ORDER BY sequence LIMIT 1",
            key,
        )
        return None if row is None else (int(row[0]), str(row[1]))

    async def claim(self, db: SqlConnection, key: RegisterKey, run: Sequence[Pending]) -> bool:
        """Inside the processing transaction: this worker holds the register (no other worker
        sharing the store is processing it) and none of ``run`` has been processed meanwhile."""
        return await self.store.claim_register(db, key, run[0].message.sequence - 1)

    async def mark_processed(
        self, db: SqlConnection, key: RegisterKey, run: Sequence[Pending], at: str
    ) -> None:
        # The run is the register's next messages in unbroken sequence: one statement marks them.
        await db.execute(
            "UPDATE inbox SET processed_at = ?, held_reason = NULL, held_by = NULL WHERE orgnr = ? "
            "AND store = ? AND register = ? AND sequence BETWEEN ? AND ? AND processed_at IS NULL",
            (at, *key, run[0].message.sequence, run[-1].message.sequence),
        )
        await db.execute(
            "UPDATE registers SET processed_to = ? WHERE orgnr = ? AND store = ? AND register = ?",
            (run[-1].message.sequence, *key),
        )
        for item in run:
            self._decoded.pop(item.message.msg_id, None)

    async def counts(self) -> dict[str, int]:
        """``messages``, ``processed``, ``held`` (a till's message waiting for a person or a retry)
        and ``set_aside`` (bytes that are no till's message)."""
        row = await self.fetchone(
            "SELECT COUNT(*), COUNT(processed_at), COUNT(held_reason), "
            "(SELECT COUNT(*) FROM rejected WHERE released_at IS NULL AND msg_id IS NOT NULL), "
            "(SELECT COUNT(*) FROM rejected WHERE msg_id IS NULL) FROM inbox"
        )
        assert row is not None
        return {
            "messages": int(row[0]),
            "processed": int(row[1]),
            "held": int(row[2]) + int(row[3]),
            "set_aside": int(row[4]),
        }
