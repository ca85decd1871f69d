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
import json
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from gateway.common.clock import local_now
from gateway.messages.catalog import (
    Article,
    CatalogSection,
    CatalogUpdate,
    Customer,
    StockLevel,
    decode_update,
)
from gateway.messages.envelope import MessageError

__all__ = [
    "CATALOG_SCHEMA",
    "MAX_SEARCH",
    "Applied",
    "Catalog",
    "CatalogArticle",
    "CatalogCustomer",
    "CatalogState",
    "Outcome",
]

T = TypeVar("T")

MAX_SEARCH = 100  # results of one search, at most: a search box shows a screenful

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

_ARTICLE_COLUMNS = (
    "a.number, a.name, a.price, a.vat_rate, a.unit, a.grp, a.service, a.stock_goods, s.quantity, "
    "(SELECT group_concat(barcode, char(31)) FROM barcodes WHERE number = a.number)"
)
_ARTICLE_FROM = "articles a LEFT JOIN stock s ON s.number = a.number"
_CUSTOMER_COLUMNS = "number, name, orgnr, email, phone, address, price_list, origin"


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


@dataclass(frozen=True, slots=True)
class CatalogArticle:
    article: Article
    stock: Decimal | None  # None: the ERP sends no stock for it

    def to_json(self) -> dict[str, Any]:
        """As the API shows it: money and VAT rate as a receipt line takes them."""
        a = self.article
        rate = a.vat_rate
        return {
            "number": a.number,
            "name": a.name,
            "price": f"{a.price // 100}.{a.price % 100:02d}",
            "vat_rate": f"{rate // 100}" if rate % 100 == 0 else f"{rate / 100:.2f}",
            "unit": a.unit,
            "group": a.group,
            "kind": "service" if a.service else "item",
            "stock_goods": a.stock_goods,
            "barcodes": list(a.barcodes),
            "stock": None if self.stock is None else str(self.stock),
        }


@dataclass(frozen=True, slots=True)
class CatalogCustomer:
    customer: Customer
    provisional: bool  # made at the till; the ERP has not yet sent it back

    def to_json(self) -> dict[str, Any]:
        return {**self.customer.to_json(), "provisional": self.provisional}


class Catalog:
    """The open catalog of one till. ``await Catalog.open(path)``, ``await close()``."""

    def __init__(self, path: Path, writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
        self.path = path
        self._writer = writer  # used only on self._thread
        self._reader = reader  # used only on the event loop's thread
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tillgw-catalog")
        self._search_thread = ThreadPoolExecutor(1, thread_name_prefix="tillgw-catalog-search")
        self._search_conn: sqlite3.Connection | None = None  # made on, and used only on, that thread
        self._decoded: dict[tuple[int, int], CatalogUpdate] = {}  # held parts, decoded (writer thread)
        self._state = _read_state(writer)
        self._closed = False
        self.created = False  # True when open() made the file

    @classmethod
    async def open(cls, path: Path) -> Catalog:
        created, writer = await asyncio.to_thread(_create, path)
        # The writer was made on a passing thread; from here on only the catalog's thread uses it.
        reader = _connect_readonly(path)
        catalog = cls(path, writer, reader)
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
            current = int(_get(self._writer, "provisional", "0"))
            if floor > current:
                _set(self._writer, "provisional", str(floor))

        await self._run(lambda: self._transaction(raise_floor))

    def _transaction(self, work: Callable[[], T]) -> T:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            conn.execute("ROLLBACK")
            self._decoded.clear()  # may hold parts the rollback took back out
            raise
        conn.execute("COMMIT")
        self._state = _read_state(conn)
        return result

    def _take(self, update: CatalogUpdate, data: bytes) -> Applied:
        conn = self._writer
        held = int(_get(conn, "revision", "0"))
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
                local_now().isoformat(),
            ),
        )
        if cursor.rowcount:
            self._decoded[(update.revision, update.part)] = update
        applied = self._apply_ready()
        revision = int(_get(conn, "revision", "0"))
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
            held = int(_get(conn, "revision", "0"))
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
        conn = self._writer
        rows = conn.execute(
            "SELECT part, message FROM held_parts WHERE revision = ? ORDER BY part", (revision,)
        ).fetchall()
        parts = [self._decoded.get((revision, int(part))) or decode_update(bytes(raw)) for part, raw in rows]
        full = parts[0].full
        if full:
            conn.execute("DELETE FROM articles")
            conn.execute("DELETE FROM barcodes")
            conn.execute("DELETE FROM stock")
            conn.execute("DELETE FROM customers WHERE origin = 'erp'")
        for part in parts:
            _apply_part(conn, part, full)
        _set(conn, "revision", str(revision))
        _set(conn, "applied_at", local_now().isoformat())
        _set(conn, "revision_at", parts[0].at)
        conn.execute("DELETE FROM held_parts WHERE revision <= ?", (revision,))
        for key in [k for k in self._decoded if k[0] <= revision]:
            del self._decoded[key]

    def _put_customer(self, customer: Customer) -> bool:
        conn = self._writer
        new = conn.execute("SELECT 1 FROM customers WHERE number = ?", (customer.number,)).fetchone() is None
        conn.execute(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'till') "
            "ON CONFLICT (number) DO UPDATE SET name = excluded.name, name_key = excluded.name_key, "
            "orgnr = excluded.orgnr, email = excluded.email, phone = excluded.phone, "
            "address = excluded.address, price_list = excluded.price_list",
            _customer_row(customer),
        )
        return new

    def _next_number(self, register: str) -> str:
        conn = self._writer
        n = int(_get(conn, "provisional", "0"))
        while True:
            n += 1
            number = f"T-{register}-{n}"
            if conn.execute("SELECT 1 FROM customers WHERE number = ?", (number,)).fetchone() is None:
                break
        _set(conn, "provisional", str(n))
        return number

    # -- lookups (the event loop) -------------------------------------------------------

    def article(self, number: str) -> CatalogArticle | None:
        """The article ``number``, or None."""
        row = self._reader.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM {_ARTICLE_FROM} WHERE a.number = ?", (number,)
        ).fetchone()
        return None if row is None else _article(row)

    def article_by_barcode(self, barcode: str) -> CatalogArticle | None:
        """The article with this barcode — or with this article number, printed as a barcode."""
        row = self._reader.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM barcodes b JOIN articles a ON a.number = b.number "
            "LEFT JOIN stock s ON s.number = a.number WHERE b.barcode = ?",
            (barcode,),
        ).fetchone()
        return _article(row) if row is not None else self.article(barcode)

    def customer(self, number: str) -> CatalogCustomer | None:
        row = self._reader.execute(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE number = ?", (number,)
        ).fetchone()
        return None if row is None else _customer(row)

    # -- searches (their own thread) ----------------------------------------------------

    async def _search(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._search_conn is None:
                self._search_conn = _connect_readonly(self.path)
            return work(self._search_conn)

        return await asyncio.wrap_future(self._search_thread.submit(run))

    async def search_articles(self, text: str, limit: int = 20) -> list[CatalogArticle]:
        """Articles whose name holds ``text`` (any case), or whose number or a barcode is ``text``.

        Names that begin with it come first, then by name; at most ``limit`` (≤ :data:`MAX_SEARCH`).
        """
        key, limit = text.casefold(), max(1, min(limit, MAX_SEARCH))

        def search(conn: sqlite3.Connection) -> list[CatalogArticle]:
            rows = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM {_ARTICLE_FROM} "
                "WHERE instr(a.name_key, ?1) > 0 OR a.number = ?2 "
                "OR a.number IN (SELECT number FROM barcodes WHERE barcode = ?2) "
                "ORDER BY a.number != ?2, instr(a.name_key, ?1) != 1, a.name_key, a.number LIMIT ?3",
                (key, text, limit),
            ).fetchall()
            return [_article(row) for row in rows]

        return await self._search(search)

    async def search_customers(self, text: str, limit: int = 20) -> list[CatalogCustomer]:
        """Customers whose name holds ``text``, or whose number, orgnr, phone or e-mail is ``text``."""
        key, limit = text.casefold(), max(1, min(limit, MAX_SEARCH))

        def search(conn: sqlite3.Connection) -> list[CatalogCustomer]:
            rows = conn.execute(
                f"SELECT {_CUSTOMER_COLUMNS} FROM customers "
                "WHERE instr(name_key, ?1) > 0 OR number = ?2 OR orgnr = ?2 OR phone = ?2 "
                "OR lower(email) = ?1 "
                "ORDER BY number != ?2, instr(name_key, ?1) != 1, name_key, number LIMIT ?3",
                (key, text, limit),
            ).fetchall()
            return [_customer(row) for row in rows]

        return await self._search(search)


# -- applying one part ----------------------------------------------------------------------


def _apply_part(conn: sqlite3.Connection, part: CatalogUpdate, full: bool) -> None:
    if part.section is CatalogSection.ARTICLES:
        articles = [item for item in part.items if isinstance(item, Article)]
        _delete(conn, "barcodes", part.removed)
        _delete(conn, "articles", part.removed)
        conn.executemany(
            "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.number,
                    a.name,
                    a.name.casefold(),
                    a.price,
                    a.vat_rate,
                    a.unit,
                    a.group,
                    int(a.service),
                    int(a.stock_goods),
                )
                for a in articles
            ],
        )
        if not full:  # an article's barcodes are the ones it lists now
            _delete(conn, "barcodes", (a.number for a in articles))
        conn.executemany(
            "INSERT OR REPLACE INTO barcodes VALUES (?, ?)",
            [(code, a.number) for a in articles for code in a.barcodes],
        )
    elif part.section is CatalogSection.CUSTOMERS:
        _delete(conn, "customers", part.removed)
        conn.executemany(
            "INSERT OR REPLACE INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'erp')",
            [_customer_row(c) for c in part.items if isinstance(c, Customer)],
        )
    else:
        _delete(conn, "stock", part.removed)
        conn.executemany(
            "INSERT OR REPLACE INTO stock VALUES (?, ?)",
            [(s.number, str(s.quantity)) for s in part.items if isinstance(s, StockLevel)],
        )


def _delete(conn: sqlite3.Connection, table: str, numbers: Iterable[str]) -> None:
    conn.executemany(f"DELETE FROM {table} WHERE number = ?", [(n,) for n in numbers])


def _customer_row(c: Customer) -> tuple[Any, ...]:
    address = json.dumps(list(c.address), ensure_ascii=False)
    return (c.number, c.name, c.name.casefold(), c.orgnr, c.email, c.phone, address, c.price_list)


# -- rows ---------------------------------------------------------------------------------


def _article(row: tuple[Any, ...]) -> CatalogArticle:
    barcodes = tuple(sorted(row[9].split("\x1f"))) if row[9] else ()
    article = Article(
        number=row[0],
        name=row[1],
        price=int(row[2]),
        vat_rate=int(row[3]),
        barcodes=barcodes,
        unit=row[4],
        group=row[5],
        service=bool(row[6]),
        stock_goods=bool(row[7]),
    )
    return CatalogArticle(article, None if row[8] is None else Decimal(row[8]))


def _customer(row: tuple[Any, ...]) -> CatalogCustomer:
    customer = Customer(
        number=row[0],
        name=row[1],
        orgnr=row[2],
        email=row[3],
        phone=row[4],
        address=tuple(json.loads(row[5])),
        price_list=row[6],
    )
    return CatalogCustomer(customer, row[7] == "till")


def _get(conn: sqlite3.Connection, key: str, default: str) -> str:
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def _set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def _read_state(conn: sqlite3.Connection) -> CatalogState:
    applied = conn.execute("SELECT value FROM state WHERE key = 'applied_at'").fetchone()
    return CatalogState(
        revision=int(_get(conn, "revision", "0")),
        applied_at=None if applied is None else str(applied[0]),
        articles=int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]),
        customers=int(conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]),
        held_parts=int(conn.execute("SELECT COUNT(*) FROM held_parts").fetchone()[0]),
    )


def _create(path: Path) -> tuple[bool, sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    return created, _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread off: made on a passing thread, then used only on the catalog's own.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(CATALOG_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=1000")
    return conn
