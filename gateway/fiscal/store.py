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

Every statement runs on the store's one database thread, and a write transaction is one
plain function run there whole (:meth:`Store.transact`): a receipt's transaction costs
one hand-off between the event loop and that thread, not one per statement — each
hand-off costs far more than the statements themselves — and no other statement can
come between its ``BEGIN`` and its ``COMMIT``.
"""

from __future__ import annotations

import asyncio
import enum
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from gateway.common.clock import Clock
from gateway.common.migrations import migrate
from gateway.common.signing import Signer
from gateway.fiscal.journal import Entry, JournalBody, append, journal_head
from gateway.fiscal.schema import SCHEMA, TILL_DATABASE_STEPS

__all__ = ["SCHEMA", "AppendHook", "CommitListener", "RequestState", "Row", "StorageFull", "Store", "Writer"]

T = TypeVar("T")
Row = tuple[Any, ...]  # rows come back as plain tuples

AppendHook = Callable[["Writer", Entry], None]
"""Called for every entry appended, inside its transaction on the database thread (the outbox's rows)."""

CommitListener = Callable[[list[Entry]], None]
"""Called on the event loop with the entries a transaction committed (the publisher's wake-up)."""


class RequestState(enum.StrEnum):
    """What a POS request (``requests.state``) has come to."""

    PENDING = "pending"  # its receipt waits for the control unit's answer
    DONE = "done"  # registered: ``result`` is the receipt the POS got
    REFUSED = "refused"  # the unit said no: ``result`` is the error the POS got


class StorageFull(Exception):
    """A write transaction that failed because the disk holding the database is full.

    Rolled back whole, like any failed transaction; ``path`` is the database file,
    ``free`` and ``size`` the bytes free to the till and the file system's size when it
    failed.
    """

    def __init__(self, path: Path, free: int, size: int) -> None:
        super().__init__(f"the disk holding {path} is full ({free} of {size} bytes free)")
        self.path = path
        self.free = free
        self.size = size


def space_of(path: Path) -> tuple[int, int]:
    """(bytes free to an unprivileged writer, bytes in all) of the file system holding ``path``."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize


class Writer:
    """What may be done inside one write transaction: plain calls, on the database thread."""

    def __init__(
        self, conn: sqlite3.Connection, signer: Signer, at: datetime, hooks: tuple[AppendHook, ...] = ()
    ) -> None:
        self.conn = conn
        self._signer = signer
        self._hooks = hooks
        self.at = at
        self.appended: list[Entry] = []
        self._head: tuple[int, bytes] | None = None  # the chain's head, once read in this transaction

    def head(self) -> tuple[int, bytes]:
        """The last entry's number and hash (0 and the genesis hash for an empty journal)."""
        if self._head is None:
            self._head = journal_head(self.conn)
        return self._head

    def append(self, kind: str, body: JournalBody) -> Entry:
        """Journal an entry: its kind's Struct (gateway.fiscal.bodies) or the plain JSON object."""
        entry = append(self.conn, self._signer, kind, body, self.at, head=self.head())
        self._head = (entry.seq, entry.hash)
        self.appended.append(entry)
        for hook in self._hooks:
            hook(self, entry)
        return entry

    def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)


class Store:
    """The open database of one till: one connection, used only on the store's own thread.

    Writes are serialised by that thread; each is one transaction, whole.
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        signer: Signer,
        thread: ThreadPoolExecutor,
        clock: Clock | None = None,
    ) -> None:
        self.path = path
        # Stamps every entry (``at``) in the shop's zone, whatever the computer's zone.
        self.clock = clock if clock is not None else Clock()
        self.conn = conn
        self.signer = signer
        self._thread = thread
        self._closed = False
        self.append_hooks: list[AppendHook] = []
        self.commit_listeners: list[CommitListener] = []
        self.full: StorageFull | None = None  # the last write failed for space; None once one commits

    @classmethod
    async def open(cls, path: Path, signer: Signer, clock: Clock | None = None) -> Store:
        """The database at ``path``; ``clock`` (default: Swedish local time) stamps its entries."""
        path.parent.mkdir(parents=True, exist_ok=True)
        thread = ThreadPoolExecutor(1, thread_name_prefix="tillgw-db")
        conn = await asyncio.get_running_loop().run_in_executor(thread, _connect, path)
        store = cls(path, conn, signer, thread, clock)
        created_at = store.clock.now().isoformat()
        await store.transact(lambda w: _first_start(w, signer, created_at))
        return store

    async def close(self) -> None:
        """Close the database (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        await self.run(self.conn.close)
        self._thread.shutdown(wait=True)

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on the database thread (one hand-off), after everything queued before it."""
        return await asyncio.wrap_future(self._thread.submit(work))

    async def transact(self, work: Callable[[Writer], T], at: datetime | None = None) -> T:
        """``work(writer)`` as one durable write transaction; rolled back if it raises.

        ``work`` is a plain function run whole on the database thread. If the caller is
        cancelled meanwhile, the transaction still ends whole — committed or rolled back,
        never left open, or (cancelled while still queued) never begun — and the commit
        listeners still hear of what it committed. Like a crash after a commit, a caller
        cancelled may not learn that its transaction ran: what follows must read the
        database, not assume.
        """
        done = self._thread.submit(self._transaction, work, at or self.clock.now())
        try:
            result, appended = await asyncio.wrap_future(done)
        except asyncio.CancelledError:
            loop = asyncio.get_running_loop()
            done.add_done_callback(lambda f: loop.call_soon_threadsafe(self._committed_late, f))
            raise
        except StorageFull as exc:
            self.full = exc
            raise
        self.full = None
        self._committed(appended)
        return result

    def _transaction(self, work: Callable[[Writer], T], at: datetime) -> tuple[T, list[Entry]]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            w = Writer(self.conn, self.signer, at, tuple(self.append_hooks))
            result = work(w)
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:  # SQLite may have rolled back already (a full disk does)
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and _is_full(exc):
                # Named, so that the API, the status and the log speak of the disk, not of a fault.
                raise StorageFull(self.path, *space_of(self.path.parent)) from exc
            raise
        return result, w.appended

    def _committed(self, entries: list[Entry]) -> None:
        if entries:
            for listener in tuple(self.commit_listeners):
                listener(entries)

    def _committed_late(self, done: Future[tuple[Any, list[Entry]]]) -> None:
        if not done.cancelled() and done.exception() is None:
            self._committed(done.result()[1])

    async def executescript(self, script: str) -> None:
        await self.run(lambda: self.conn.executescript(script))

    async def meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        return await self.run(lambda: self.conn.execute(sql, params).fetchone())

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        return await self.run(lambda: self.conn.execute(sql, params).fetchall())


def _is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL, whichever statement met it (also as an extended code)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_FULL


def _connect(path: Path) -> sqlite3.Connection:
    # Made on the database thread and used only there (check_same_thread stays on as a guard).
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # fsync on every commit
        conn.execute("PRAGMA busy_timeout=10000")  # another process may be writing
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn, TILL_DATABASE_STEPS, database=f"the till's database {path}", path=path)
    except BaseException:
        conn.close()
        raise
    return conn


def _first_start(w: Writer, signer: Signer, created_at: str) -> None:
    if w.fetchone("SELECT value FROM meta WHERE key = 'seq_base'") is None:
        # The control unit keeps the sequence numbers it has seen. A till whose database
        # was lost starts again above any number it can have used: from the clock, in
        # seconds (ten digits until the year 2286).
        w.execute("INSERT INTO meta VALUES ('seq_base', ?)", (str(int(time.time())),))
        w.execute("INSERT INTO meta VALUES ('created_at', ?)", (created_at,))
    w.execute("INSERT OR REPLACE INTO meta VALUES ('key_id', ?)", (signer.key_id,))
