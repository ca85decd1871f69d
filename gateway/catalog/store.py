"""The catalog's database: ``<data_dir>/catalog.db``, the store's master data as the till holds it.

Its own SQLite file, apart from the fiscal database (:mod:`gateway.fiscal.store`): a
revision of 100,000 articles is written in one long transaction, and a sale must never
wait behind it. WAL, so that lookups read the last committed revision while the next
one is written; ``synchronous=NORMAL``, because nothing here is fiscal — a commit lost
to a power cut leaves the till one revision behind, and it asks for what follows at
every start (:class:`~gateway.messages.catalog.CatalogRequest`).

Tables:

* ``articles`` — number, name, price (öre incl. VAT), VAT rate, unit, group, service,
  stock goods; ``name_key`` is the name casefolded, what the search matches.
* ``barcodes`` — barcode → article number, unique across articles. The article number
  itself also answers as a barcode (a label printed with the number).
* ``customers`` — the ERP's customers, and those made at the till (``origin = 'till'``)
  until a revision names them.
* ``stock`` — article number → quantity (decimal text; negative when sold before booked in).
* ``held_parts`` — parts of revisions not yet applied: waiting for their siblings, or
  for the revisions before them.
* ``state`` — the revision held, when it was applied, the counter of till-made numbers.

Writes run on the catalog's own thread, each one transaction (:meth:`Catalog.apply`).
Lookups by barcode and number run on the event loop on a read-only connection: an index
lookup in SQLite takes a few microseconds, less than handing the work to a thread and
back would (tens of microseconds, and more while the loop is busy), and never waits for
the writer (WAL). Searches by name may scan the whole table, so they run on a thread of
their own with their own read-only connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from gateway.catalog.database import (
    CatalogState,
    connect_readonly,
    create,
    read_state,
    set_state_value,
    state_value,
)
from gateway.catalog.rows import (
    ARTICLE_COLUMNS,
    ARTICLE_FROM,
    CUSTOMER_COLUMNS,
    CatalogArticle,
    CatalogCustomer,
    apply_part,
    article_from_row,
    customer_from_row,
    customer_row,
)
from gateway.common.clock import Clock
from gateway.messages.catalog import (
    MAX_ITEMS,
    CatalogUpdate,
    Customer,
    decode_update,
)
from gateway.messages.envelope import MessageError

__all__ = ["DECODED_ITEMS", "MAX_SEARCH", "Applied", "Catalog", "Outcome"]

T = TypeVar("T")

MAX_SEARCH = 100  # results of one search, at most: a search box shows a screenful
# Items of held parts kept decoded in memory, at most (about 10 MiB): a small revision is
# applied from the parts as they were decoded on arrival; the parts of a larger one are read
# back from held_parts one at a time, so that a revision of a million articles costs the
# till the memory of one part, not of the whole revision.
DECODED_ITEMS = 5 * MAX_ITEMS


class Outcome(StrEnum):
    """What one received part did."""

    APPLIED = "applied"  # it completed a revision, which is applied (and any held ones that follow)
    HELD = "held"  # kept until the rest of its revision arrives
    GAP = "gap"  # kept, but it does not follow the revision held: ask for what is missing
    OLD = "old"  # its revision is held already (a repeat): nothing changed


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    revision: int  # the revision held after it
    applied: tuple[int, ...] = ()  # the revisions applied because of it, in order


class Catalog:
    """The open catalog of one till. ``await Catalog.open(path)``, ``await close()``."""

    def __init__(
        self, path: Path, writer: sqlite3.Connection, reader: sqlite3.Connection, clock: Clock | None = None
    ) -> None:
        self.path = path
        self.clock = clock if clock is not None else Clock()  # stamps what is held and applied
        self._writer = writer  # used only on self._thread
        self._reader = reader  # used only on the event loop's thread
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tillgw-catalog")
        self._search_thread = ThreadPoolExecutor(1, thread_name_prefix="tillgw-catalog-search")
        self._search_conn: sqlite3.Connection | None = None  # made on, and used only on, that thread
        self._decoded: dict[tuple[int, int], CatalogUpdate] = {}  # some held parts, decoded (writer thread)
        self._decoded_items = 0  # the items (and removed numbers) of the parts in _decoded
        self._state = read_state(writer)
        self._closed = False
        self.created = False  # True when open() made the file

    @classmethod
    async def open(cls, path: Path, clock: Clock | None = None) -> Catalog:
        created, writer = await asyncio.to_thread(create, path)
        # The writer was made on a passing thread; from here on only the catalog's thread uses it.
        reader = connect_readonly(path)
        catalog = cls(path, writer, reader, clock)
        catalog.created = created
        return catalog

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._reader.close()
        await self._run(self._writer.close)
        self._thread.shutdown(wait=True)
        if self._search_conn is not None:
            conn = self._search_conn
            await asyncio.wrap_future(self._search_thread.submit(conn.close))
        self._search_thread.shutdown(wait=True)

    @property
    def state(self) -> CatalogState:
        return self._state

    @property
    def revision(self) -> int:
        return self._state.revision

    @property
    def decoded_items(self) -> int:
        """Items of held parts kept decoded in memory (at most :data:`DECODED_ITEMS`)."""
        return self._decoded_items

    # -- writes (the catalog's thread) --------------------------------------------------

    async def _run(self, work: Callable[[], T]) -> T:
        # A write started runs to its end on the thread even if the caller is cancelled.
        return await asyncio.wrap_future(self._thread.submit(work))

    async def apply(self, update: CatalogUpdate, message: bytes | None = None) -> Applied:
        """Take one received part: apply its revision when it is complete and follows the one held.

        ``message`` is the part as received (kept while it is held); made from ``update``
        when not given. Raises :class:`MessageError` for a part that contradicts its
        siblings (another count of parts, another base).
        """
        data = update.to_bytes() if message is None else message
        return await self._run(lambda: self._transaction(lambda: self._take(update, data)))

    async def put_customer(self, customer: Customer) -> bool:
        """A customer made or changed at the till, at once; True when the number is new here."""
        return await self._run(lambda: self._transaction(lambda: self._put_customer(customer)))

    async def provisional_number(self, register: str) -> str:
        """A customer number the till makes until the ERP gives one: ``T-{register}-{n}``."""
        return await self._run(lambda: self._transaction(lambda: self._next_number(register)))

    async def count_provisional_from(self, floor: int) -> None:
        """Make the till's numbers start above ``floor`` (numbers the journal shows were used)."""

        def raise_floor() -> None:
            current = int(state_value(self._writer, "provisional", "0"))
            if floor > current:
                set_state_value(self._writer, "provisional", str(floor))

        await self._run(lambda: self._transaction(raise_floor))

    def _transaction(self, work: Callable[[], T]) -> T:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            conn.execute("ROLLBACK")
            self._forget_decoded(None)  # may hold parts the rollback took back out
            raise
        conn.execute("COMMIT")
        self._state = read_state(conn)
        return result

    def _take(self, update: CatalogUpdate, data: bytes) -> Applied:
        conn = self._writer
        held = int(state_value(conn, "revision", "0"))
        if update.revision <= held:
            return Applied(Outcome.OLD, held)
        siblings = conn.execute(
            "SELECT parts, base, is_full FROM held_parts WHERE revision = ? LIMIT 1", (update.revision,)
        ).fetchone()
        if siblings is not None and tuple(siblings) != (update.parts, update.base, int(update.full)):
            raise MessageError(
                f"revision {update.revision} part {update.part}: says {update.parts} parts on base "
                f"{update.base}{' (full)' if update.full else ''}, its other parts "
                f"{siblings[0]} parts on base {siblings[1]}{' (full)' if siblings[2] else ''}"
            )
        cursor = conn.execute(
            "INSERT OR IGNORE INTO held_parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                update.revision,
                update.part,
                update.parts,
                update.base,
                int(update.full),
                data,
                self.clock.now().isoformat(),
            ),
        )
        size = len(update.items) + len(update.removed)
        if cursor.rowcount and self._decoded_items + size <= DECODED_ITEMS:
            self._decoded[(update.revision, update.part)] = update
            self._decoded_items += size
        applied = self._apply_ready()
        revision = int(state_value(conn, "revision", "0"))
        if update.revision in applied or (applied and update.revision <= revision):
            return Applied(Outcome.APPLIED, revision, applied)
        if not update.full and update.base != revision:
            return Applied(Outcome.GAP, revision, applied)
        return Applied(Outcome.HELD, revision, applied)

    def _apply_ready(self) -> tuple[int, ...]:
        """Apply every complete held revision that can follow the one held, in order."""
        conn = self._writer
        applied: list[int] = []
        while True:
            held = int(state_value(conn, "revision", "0"))
            complete = conn.execute(
                "SELECT revision, base, is_full FROM held_parts WHERE revision > ? "
                "GROUP BY revision HAVING COUNT(*) = MAX(parts) ORDER BY revision",
                (held,),
            ).fetchall()
            fulls = [int(r[0]) for r in complete if r[2]]
            follows = [int(r[0]) for r in complete if int(r[1]) == held]
            # A full revision replaces everything: the newest complete one makes those before it moot.
            choice = max(fulls) if fulls else (follows[0] if follows else None)
            if choice is None:
                return tuple(applied)
            self._apply_revision(choice)
            applied.append(choice)

    def _apply_revision(self, revision: int) -> None:
        """Apply the held parts of ``revision``, one at a time: each is read (or taken decoded),
        written and let go before the next, so the memory it takes is one part's."""
        conn = self._writer
        numbers = [
            (int(row[0]), bool(row[1]))
            for row in conn.execute(
                "SELECT part, is_full FROM held_parts WHERE revision = ? ORDER BY part", (revision,)
            )
        ]
        full = numbers[0][1]
        if full:
            conn.execute("DELETE FROM articles")
            conn.execute("DELETE FROM barcodes")
            conn.execute("DELETE FROM stock")
            conn.execute("DELETE FROM customers WHERE origin = 'erp'")
        revision_at = ""
        for number, _ in numbers:
            part = self._decoded.get((revision, number)) or self._read_part(revision, number)
            revision_at = revision_at or part.at
            apply_part(conn, part, full)
        set_state_value(conn, "revision", str(revision))
        set_state_value(conn, "applied_at", self.clock.now().isoformat())
        set_state_value(conn, "revision_at", revision_at)
        conn.execute("DELETE FROM held_parts WHERE revision <= ?", (revision,))
        self._forget_decoded(revision)

    def _read_part(self, revision: int, number: int) -> CatalogUpdate:
        row = self._writer.execute(
            "SELECT message FROM held_parts WHERE revision = ? AND part = ?", (revision, number)
        ).fetchone()
        return decode_update(bytes(row[0]))

    def _forget_decoded(self, up_to: int | None) -> None:
        """Let go of the decoded parts of revisions up to ``up_to`` (None: all)."""
        for key in [k for k in self._decoded if up_to is None or k[0] <= up_to]:
            part = self._decoded.pop(key)
            self._decoded_items -= len(part.items) + len(part.removed)

    def _put_customer(self, customer: Customer) -> bool:
        conn = self._writer
        new = conn.execute("SELECT 1 FROM customers WHERE number = ?", (customer.number,)).fetchone() is None
        conn.execute(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'till') "
            "ON CONFLICT (number) DO UPDATE SET name = excluded.name, name_key = excluded.name_key, "
            "orgnr = excluded.orgnr, email = excluded.email, phone = excluded.phone, "
            "address = excluded.address, price_list = excluded.price_list",
            customer_row(customer),
        )
        return new

    def _next_number(self, register: str) -> str:
        conn = self._writer
        n = int(state_value(conn, "provisional", "0"))
        while True:
            n += 1
            number = f"T-{register}-{n}"
            if conn.execute("SELECT 1 FROM customers WHERE number = ?", (number,)).fetchone() is None:
                break
        set_state_value(conn, "provisional", str(n))
        return number

    # -- lookups (the event loop) -------------------------------------------------------

    def article(self, number: str) -> CatalogArticle | None:
        """The article ``number``, or None."""
        row = self._reader.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM {ARTICLE_FROM} WHERE a.number = ?", (number,)
        ).fetchone()
        return None if row is None else article_from_row(row)

    def article_by_barcode(self, barcode: str) -> CatalogArticle | None:
        """The article with this barcode — or with this article number, printed as a barcode."""
        row = self._reader.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM barcodes b JOIN articles a ON a.number = b.number "
            "LEFT JOIN stock s ON s.number = a.number WHERE b.barcode = ?",
            (barcode,),
        ).fetchone()
        return article_from_row(row) if row is not None else self.article(barcode)

    def customer(self, number: str) -> CatalogCustomer | None:
        row = self._reader.execute(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE number = ?", (number,)
        ).fetchone()
        return None if row is None else customer_from_row(row)

    # -- searches (their own thread) ----------------------------------------------------

    async def _search(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._search_conn is None:
                self._search_conn = connect_readonly(self.path)
            return work(self._search_conn)

        return await asyncio.wrap_future(self._search_thread.submit(run))

    async def search_articles(self, text: str, limit: int = 20) -> list[CatalogArticle]:
        """Articles whose name holds ``text`` (any case), or whose number or a barcode is ``text``.

        Names that begin with it come first, then by name; at most ``limit`` (≤ :data:`MAX_SEARCH`).
        """
        key, limit = text.casefold(), max(1, min(limit, MAX_SEARCH))

        def search(conn: sqlite3.Connection) -> list[CatalogArticle]:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM {ARTICLE_FROM} "
                "WHERE instr(a.name_key, ?1) > 0 OR a.number = ?2 "
                "OR a.number IN (SELECT number FROM barcodes WHERE barcode = ?2) "
                "ORDER BY a.number != ?2, instr(a.name_key, ?1) != 1, a.name_key, a.number LIMIT ?3",
                (key, text, limit),
            ).fetchall()
            return [article_from_row(row) for row in rows]

        return await self._search(search)

    async def search_customers(self, text: str, limit: int = 20) -> list[CatalogCustomer]:
        """Customers whose name holds ``text``, or whose number, orgnr, phone or e-mail is ``text``."""
        key, limit = text.casefold(), max(1, min(limit, MAX_SEARCH))

        def search(conn: sqlite3.Connection) -> list[CatalogCustomer]:
            rows = conn.execute(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers "
                "WHERE instr(name_key, ?1) > 0 OR number = ?2 OR orgnr = ?2 OR phone = ?2 "
                "OR lower(email) = ?1 "
                "ORDER BY number != ?2, instr(name_key, ?1) != 1, name_key, number LIMIT ?3",
                (key, text, limit),
            ).fetchall()
            return [customer_from_row(row) for row in rows]

        return await self._search(search)
