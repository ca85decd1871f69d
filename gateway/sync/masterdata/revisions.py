"""The catalog revisions the tills were sent, read back to answer a till that missed some.

A till that finds a gap in the revisions it got (or starts afresh) asks for what follows
the revision it holds (gateway/sync/masterdata/publisher.py). :func:`answer` gives it the
stored parts of every revision after that one when all of them are kept and complete,
and otherwise the catalog as it is now as one full revision (:func:`snapshot`). The
engine (:mod:`.engine`) makes the revisions and stores their parts.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import aiosqlite

from gateway.messages.catalog import (
    Article,
    CatalogUpdate,
    Customer,
    StockLevel,
    decode_update,
    split_revision,
)
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.masterdata.config import MasterDataConfig

__all__ = ["all_stock", "answer", "snapshot", "stored_parts"]


async def stored_parts(catalog: CatalogDb, revision: int) -> list[CatalogUpdate]:
    """The messages of a revision of changes, as they were sent."""
    rows = await catalog.fetchall(
        "SELECT message FROM revision_parts WHERE revision = ? ORDER BY part", (revision,)
    )
    return [decode_update(bytes(r[0])) for r in rows]


async def snapshot(catalog: CatalogDb, config: MasterDataConfig, base: int) -> list[CatalogUpdate]:
    """The catalog as it is at the head revision, as a full revision on ``base``."""
    async with catalog.transaction(write=False) as db:
        head = int(await CatalogDb.get_mark(db, "head") or 0)
        async with db.execute("SELECT item FROM articles ORDER BY number") as c:
            articles = [Article.from_json(json.loads(r[0]), "articles") for r in await c.fetchall()]
        async with db.execute("SELECT item FROM customers ORDER BY number") as c:
            customers = [Customer.from_json(json.loads(r[0]), "customers") for r in await c.fetchall()]
        stock = await all_stock(db)
    if head == 0:
        return []
    return split_revision(
        config.orgnr,
        config.store,
        head,
        min(base, head - 1),
        full=True,
        at=datetime.now().astimezone().isoformat(timespec="seconds"),
        sections={"articles": (articles, ()), "customers": (customers, ()), "stock": (stock, ())},
    )


async def answer(
    catalog: CatalogDb, config: MasterDataConfig, holds: int, reason: str
) -> list[CatalogUpdate]:
    """What a till that holds revision ``holds`` needs: the revisions after it, or a full one."""
    rows = await catalog.fetchall(
        "SELECT revision, full, (SELECT COUNT(*) FROM revision_parts p WHERE p.revision = r.revision), "
        "parts, published_at FROM revisions r WHERE revision > ? ORDER BY revision",
        (holds,),
    )
    head = await catalog.head()
    if holds == head and reason != "reset":
        return []
    complete = (
        reason != "reset"
        and holds < head
        and rows
        and int(rows[0][0]) == holds + 1
        and all(not r[1] and int(r[2]) == int(r[3]) and r[4] is not None for r in rows)
    )
    if not complete:
        return await snapshot(catalog, config, holds if holds < head else head - 1)
    out: list[CatalogUpdate] = []
    for row in rows:
        out.extend(await stored_parts(catalog, int(row[0])))
    return out


async def all_stock(db: aiosqlite.Connection) -> list[StockLevel]:
    """Every stock level the tills have, by article number."""
    async with db.execute("SELECT number, quantity FROM stock ORDER BY number") as cursor:
        return [StockLevel(str(r[0]), Decimal(r[1])) for r in await cursor.fetchall()]
