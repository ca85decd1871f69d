"""The master-data engine: one sync, from the ERP's records to one catalog revision.

:meth:`MasterDataEngine.sync` with ``full=True`` ("sync all") reads every article and
customer; with ``full=False`` ("sync changes") those the ERP changed since the last
sync. Either way, under :meth:`CatalogDb.exclusive` (a service and ``tillgw sync --all``
never interleave):

1. publish any revision committed but not yet published (a crash or the broker down);
2. finish a stock merge a crash interrupted (:mod:`.stock`);
3. read the ERP and turn it into the tills' catalog (:mod:`.pricing`), add the customers
   the tills created (:mod:`.customers`), merge the stock;
4. commit, in one transaction, the new catalog, the stock result and the revision —
   a full revision (everything) for "sync all", the differences for "sync changes";
5. publish it at QoS 1 on ``tillgw/{orgnr}/{store}/catalog/updates``;
6. only then move the "changes since" marks, so that changes read by a sync whose
   revision never went out are read again.

Articles and customers missing in the ERP are removed from the tills on a full sync
only with ``delete_missing_articles`` / ``delete_missing_customers``. A till that missed a
revision is answered from the stored revisions (:mod:`.revisions`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.common.progress import NO_PROGRESS, Progress
from gateway.messages.catalog import Article, CatalogUpdate, Customer, StockLevel, split_revision
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.masterdata.config import MasterDataConfig
from gateway.sync.masterdata.pricing import exclusion, till_article, till_customer, with_unique_barcodes
from gateway.sync.masterdata.revisions import all_stock, answer, snapshot, stored_parts
from gateway.sync.masterdata.source import MasterDataSource
from gateway.sync.masterdata.stock import StockMerge, prepare_merge, record_merge, recover_merge
from gateway.sync.runlog import LOGGER

__all__ = ["MasterDataEngine", "Publish", "SyncResult"]

log = logging.getLogger(LOGGER)

Publish = Callable[[list[CatalogUpdate]], Awaitable[None]]
"""Sends a revision's messages (QoS 1); raises when it cannot."""


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class SyncResult:
    revision: int
    full: bool
    articles: list[str] = field(default_factory=list)  # numbers sent (new or changed)
    articles_removed: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    customers_removed: list[str] = field(default_factory=list)
    stock: dict[str, Decimal] = field(default_factory=dict)  # sent to the tills
    stock_written: dict[str, Decimal] = field(default_factory=dict)  # written to the ERP
    published: bool = False
    seconds: float = 0.0
    parts: int = 0  # messages the revision went out in

    def summary(self) -> str:
        kind = "full" if self.full else "changes"
        return (
            f"revision {self.revision} ({kind}): {len(self.articles)} article(s), "
            f"{len(self.articles_removed)} removed; {len(self.customers)} customer(s), "
            f"{len(self.customers_removed)} removed; stock of {len(self.stock)} article(s), "
            f"{len(self.stock_written)} written to the ERP"
        )


def _dump(item: Article | Customer) -> str:
    return json.dumps(item.to_json(), ensure_ascii=False, sort_keys=True)


class MasterDataEngine:
    def __init__(
        self,
        config: MasterDataConfig,
        catalog: CatalogDb,
        source: MasterDataSource,
        inbox: Path,
        publish: Publish | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.source = source
        self.inbox = inbox
        self.publish = publish

    # -- one sync -----------------------------------------------------------------------

    async def sync(self, *, full: bool, progress: Progress = NO_PROGRESS) -> SyncResult:
        """One sync; ``progress`` is told of each article and customer read from the ERP."""
        async with self.catalog.exclusive():
            started = time.monotonic()
            await self.publish_pending()
            recovered = await recover_merge(self.catalog, self.source)
            if recovered is not None:
                async with self.catalog.transaction() as db:
                    await record_merge(db, recovered)
            begun = _now()
            result = await self._sync(full, begun, recovered, progress)
            result.seconds = time.monotonic() - started
            if full:
                async with self.catalog.transaction() as db:
                    await CatalogDb.set_mark(db, "full_sync_seconds", f"{result.seconds:.3f}")
            log.info("%s%s", result.summary(), "" if result.published else "; not yet published")
            return result

    async def _sync(
        self, full: bool, begun: datetime, recovered: StockMerge | None, progress: Progress
    ) -> SyncResult:
        config = self.config
        since: dict[str, datetime | None] = {"articles": None, "customers": None}
        if not full:
            for name in since:
                mark = await self.catalog.mark(f"{name}_since")
                since[name] = None if mark is None else datetime.fromisoformat(mark)

        # Articles: the ERP's, as the tills get them.
        old_articles = await self.catalog.items("articles")
        source_barcodes = {
            str(r[0]): tuple(json.loads(r[1]))
            for r in await self.catalog.fetchall("SELECT number, source_barcodes FROM articles")
        }
        seen: set[str] = set()
        excluded: dict[str, str] = {}
        fresh: dict[str, Article] = {}
        progress.stage(f"articles read from {self.source.name}")
        async for record in self.source.articles(since["articles"]):
            progress.advance()
            seen.add(record.number)
            why = exclusion(record, config)
            if why is not None:
                excluded[record.number] = why
                continue
            fresh[record.number] = till_article(record, config)
        wanted: dict[str, Article] = {}
        for number, item in old_articles.items():
            if number in excluded or (full and config.delete_missing_articles and number not in seen):
                continue
            kept = Article.from_json(item, f"articles.{number}")
            wanted[number] = Article(
                **{**_fields(kept), "barcodes": source_barcodes.get(number, kept.barcodes)}
            )
        wanted.update(fresh)
        for number, why in sorted(excluded.items()):
            if number in old_articles:
                log.info("article %s removed from the tills: %s", number, why)
        articles = with_unique_barcodes(wanted)

        # Customers: the ERP's, and those the tills created or changed.
        old_customers = await self.catalog.items("customers")
        till_owned = {
            str(r[0])
            for r in await self.catalog.fetchall("SELECT number FROM customers WHERE till_owned = 1")
        }
        pending = await self.catalog.fetchall("SELECT number, item, replaces FROM customers_pending")
        customers = {n: Customer.from_json(c, f"customers.{n}") for n, c in old_customers.items()}
        erp_customers: set[str] = set()
        customer_gone: set[str] = set()
        progress.stage(f"customers read from {self.source.name}")
        async for c in self.source.customers(since["customers"]):
            progress.advance()
            erp_customers.add(c.number)
            if config.customer_master == "till" and c.number in till_owned:
                continue  # the till's version wins
            if not c.active:
                customer_gone.add(c.number)
                continue
            customers[c.number] = till_customer(c)
        replaced: set[str] = set()
        for row in pending:
            customers[str(row[0])] = Customer.from_json(json.loads(row[1]), "customers_pending")
            if row[2] is not None:
                replaced.add(str(row[2]))
        pending_numbers = {str(r[0]) for r in pending}
        if full and config.delete_missing_customers:
            customer_gone |= {n for n in customers if n not in erp_customers and n not in pending_numbers}
        for number in customer_gone | replaced:
            customers.pop(number, None)

        # Stock: the three-way merge for every stock article the tills have.
        stock_numbers = sorted(n for n, a in articles.items() if a.stock_goods)
        merge = await prepare_merge(self.catalog, self.source, self.inbox, stock_numbers)

        # One transaction: the catalog, the stock result, the revision.
        result: SyncResult
        async with self.catalog.transaction() as db:
            head = int(await CatalogDb.get_mark(db, "head") or 0)
            revision = head + 1
            result = SyncResult(revision, full, stock_written=dict(merge.written))
            if recovered is not None:
                result.stock_written.update(recovered.written)
            art_items, art_removed = await self._store_articles(
                db, articles, old_articles, source_barcodes, wanted
            )
            cus_items, cus_removed = await self._store_customers(
                db, customers, old_customers, till_owned, pending_numbers, replaced
            )
            await record_merge(db, merge)
            stock_items, stock_removed = await self._store_stock(db, set(stock_numbers))
            await db.execute("DELETE FROM customers_pending")
            if full:
                art_items = list(articles.values())
                cus_items = list(customers.values())
                stock_items = await all_stock(db)
                art_removed, cus_removed, stock_removed = [], [], []
            result.articles = [a.number for a in art_items]
            result.articles_removed = art_removed
            result.customers = [c.number for c in cus_items]
            result.customers_removed = cus_removed
            result.stock = {s.number: s.quantity for s in stock_items}
            updates = split_revision(
                self._orgnr,
                self._store,
                revision,
                head,
                full=full,
                at=begun.isoformat(timespec="seconds"),
                sections={
                    "articles": (art_items, art_removed),
                    "customers": (cus_items, cus_removed),
                    "stock": (stock_items, stock_removed),
                },
            )
            await db.execute(
                "INSERT INTO revisions (revision, base, full, parts, made_at, summary) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (revision, head, int(full), len(updates), begun.isoformat(), result.summary()),
            )
            if not full:  # a full revision is sent again from the catalog as it is then
                await db.executemany(
                    "INSERT INTO revision_parts (revision, part, message) VALUES (?, ?, ?)",
                    [(revision, u.part, u.to_bytes()) for u in updates],
                )
            oldest = revision - self.config.keep_revisions + 1
            await db.execute("DELETE FROM revision_parts WHERE revision < ?", (oldest,))
            await db.execute("DELETE FROM revisions WHERE revision < ?", (oldest,))
            await CatalogDb.set_mark(db, "head", str(revision))
        result.parts = len(updates)
        progress.stage("revision published to the tills", total=len(updates))
        result.published = await self._publish(revision, updates)
        if result.published:
            async with self.catalog.transaction() as db:
                for name in ("articles", "customers"):
                    await CatalogDb.set_mark(db, f"{name}_since", begun.isoformat())
        return result

    @property
    def _orgnr(self) -> str:
        return self.config.orgnr

    @property
    def _store(self) -> str:
        return self.config.store

    async def _store_articles(
        self,
        db: aiosqlite.Connection,
        articles: dict[str, Article],
        old: dict[str, dict[str, Any]],
        source_barcodes: dict[str, tuple[str, ...]],
        wanted: dict[str, Article],
    ) -> tuple[list[Article], list[str]]:
        changed = [
            a
            for n, a in sorted(articles.items())
            if n not in old or _dump(a) != json.dumps(old[n], ensure_ascii=False, sort_keys=True)
        ]
        removed = sorted(set(old) - set(articles))
        await db.executemany("DELETE FROM articles WHERE number = ?", [(n,) for n in removed])
        await db.executemany(
            "INSERT INTO articles (number, item, source_barcodes) VALUES (?, ?, ?) ON CONFLICT (number) "
            "DO UPDATE SET item = excluded.item, source_barcodes = excluded.source_barcodes",
            [(n, _dump(a), json.dumps(list(wanted[n].barcodes))) for n, a in articles.items()],
        )
        return changed, removed

    async def _store_customers(
        self,
        db: aiosqlite.Connection,
        customers: dict[str, Customer],
        old: dict[str, dict[str, Any]],
        till_owned: set[str],
        pending: set[str],
        replaced: set[str],
    ) -> tuple[list[Customer], list[str]]:
        changed = [
            c
            for n, c in sorted(customers.items())
            if n not in old or _dump(c) != json.dumps(old[n], ensure_ascii=False, sort_keys=True)
        ]
        removed = sorted((set(old) - set(customers)) | replaced)
        await db.executemany("DELETE FROM customers WHERE number = ?", [(n,) for n in removed])
        owned = till_owned | (pending if self.config.customer_master == "till" else set())
        await db.executemany(
            "INSERT INTO customers (number, item, till_owned) VALUES (?, ?, ?) ON CONFLICT (number) "
            "DO UPDATE SET item = excluded.item, till_owned = excluded.till_owned",
            [(n, _dump(c), int(n in owned)) for n, c in customers.items()],
        )
        return changed, removed  # with the provisional numbers the ERP's replace

    async def _store_stock(
        self, db: aiosqlite.Connection, numbers: set[str]
    ) -> tuple[list[StockLevel], list[str]]:
        async with db.execute("SELECT number, quantity, sent FROM stock") as cursor:
            rows = list(await cursor.fetchall())
        gone = sorted(str(r[0]) for r in rows if str(r[0]) not in numbers)
        await db.executemany("DELETE FROM stock WHERE number = ?", [(n,) for n in gone])
        items = [
            StockLevel(str(r[0]), Decimal(r[1]))
            for r in sorted(rows, key=lambda r: str(r[0]))
            if str(r[0]) in numbers and r[1] != r[2]
        ]
        await db.execute("UPDATE stock SET sent = quantity")
        return items, [n for n in gone if any(str(r[0]) == n and r[2] is not None for r in rows)]

    # -- publishing ---------------------------------------------------------------------

    async def _publish(self, revision: int, updates: list[CatalogUpdate]) -> bool:
        if self.publish is None:
            return False
        try:
            await self.publish(updates)
        except Exception as exc:
            log.error(
                "catalog: revision %d not published: %s; it goes out when the broker is back", revision, exc
            )
            return False
        async with self.catalog.transaction() as db:
            await db.execute(
                "UPDATE revisions SET published_at = ? WHERE revision = ?", (_now().isoformat(), revision)
            )
        return True

    async def publish_pending(self) -> int:
        """Publish the revisions committed and not yet published, oldest first; how many."""
        if self.publish is None:
            return 0
        rows = await self.catalog.fetchall(
            "SELECT revision, full FROM revisions WHERE published_at IS NULL ORDER BY revision"
        )
        head = await self.catalog.head()
        done = 0
        for row in rows:
            revision, full = int(row[0]), bool(row[1])
            if full and revision != head:
                updates: list[CatalogUpdate] = []  # a later revision follows: a till behind asks
            elif full:
                updates = await snapshot(self.catalog, self.config, revision - 1)
            else:
                updates = await stored_parts(self.catalog, revision)
            if updates and not await self._publish(revision, updates):
                break
            if not updates:
                async with self.catalog.transaction() as db:
                    await db.execute(
                        "UPDATE revisions SET published_at = ? WHERE revision = ?",
                        (_now().isoformat(), revision),
                    )
            done += 1
        if done:  # the changes read for the head revision are out now: read on from there
            made = await self.catalog.fetchall(
                "SELECT made_at FROM revisions WHERE revision = ? AND published_at IS NOT NULL", (head,)
            )
            if made:
                async with self.catalog.transaction() as db:
                    for name in ("articles", "customers"):
                        await CatalogDb.set_mark(db, f"{name}_since", str(made[0][0]))
        return done

    # -- answering the tills ------------------------------------------------------------

    async def answer(self, holds: int, reason: str) -> list[CatalogUpdate]:
        """What a till that holds revision ``holds`` needs (:func:`.revisions.answer`)."""
        return await answer(self.catalog, self.config, holds, reason)

    async def last_full_seconds(self) -> float | None:
        value = await self.catalog.mark("full_sync_seconds")
        return None if value is None else float(value)


def _fields(article: Article) -> dict[str, Any]:
    return {name: getattr(article, name) for name in Article.__dataclass_fields__}
