# mypy: ignore-errors
# (This script runs against release 2084e15, whose module paths this tree no longer has.)
# ruff: noqa: I001  (its imports are the old release's modules, sorted as that tree sorts them)
"""Make the till's catalog and the sync module's databases as release 2084e15 wrote them.

The files, each written by that release's own code (its ``CREATE TABLE`` statements, its
writers), WAL folded in, vacuumed:

* ``release-2084e15-catalog.db`` — a till's ``catalog.db``: a full catalog revision of
  articles (with barcodes) and customers, then a change revision, and a customer made at
  the till (``Catalog.apply``, ``Catalog.put_customer``, ``Catalog.provisional_number``).
* ``release-2084e15-inbox.db`` — the sync module's inbox: the first 20 bus messages of the
  release journal ``tests/fiscal/recordings/release-2084e15.db`` (its outbox rows, as its till
  sent them), the first 15 of them processed; a message of a register not configured (held
  by the intake) and a message that is not one of ours (rejected); a subscription
  (``Inbox.take``, ``Inbox.mark_processed``, ``Inbox.record_subscriptions``).
* ``release-2084e15-masterdata.db`` — the sync module's master-data catalog: marks, and
  articles and a revision as its sync writes them.
* ``release-2084e15-tokens.db`` — the token store: Fortnox's first refresh token
  (``store_initial``).

Run from the root of a checkout of that release, in its own virtual environment::

    git worktree add --detach /tmp/old-2084e15 2084e15     # in a clone of the repository
    cd /tmp/old-2084e15 && python3 -m venv .venv && .venv/bin/pip install -q -e .
    .venv/bin/python /path/to/tests/recordings/make_release_files.py /path/to/tests/recordings \\
        /path/to/tests/fiscal/recordings/release-2084e15.db
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from gateway.bus.catalog import Article, CatalogUpdate, Customer
from gateway.catalog.store import Catalog
from gateway.sync.http.oauth import TokenEndpoint, store_initial
from gateway.sync.inbox import Inbox
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.routing import Routing

NAME = "release-2084e15"
ORGNR = "5560360793"
STORE = "main"


def articles() -> tuple[Article, ...]:
    return (
        Article("1001", "Kaffe", 3200, 1200, ("7310865004703",), group="Dryck"),
        Article("1002", "Kanelbulle", 2850, 1200, ("2000001000028",), group="Bröd"),
        Article("1003", "Tidning", 4500, 600, (), group="Press"),
        Article("2001", "Cykelreparation", 45000, 2500, (), unit="tim", service=True),
        Article("3001", "Termos", 24900, 2500, ("7318690000117",), stock_goods=True),
    )


async def make_catalog(path: Path) -> None:
    catalog = await Catalog.open(path)
    try:
        at = "2026-12-01T07:00:00+01:00"
        full = CatalogUpdate(ORGNR, STORE, 1, 0, True, 1, 2, "articles", articles(), at=at)
        customers = CatalogUpdate(
            ORGNR,
            STORE,
            1,
            0,
            True,
            2,
            2,
            "customers",
            (Customer("K100", "Byggfirman AB", orgnr="5569990001"), Customer("K101", "Anna Andersson")),
            at="2026-12-01T07:00:00+01:00",
        )
        await catalog.apply(full)
        await catalog.apply(customers)
        change = CatalogUpdate(
            ORGNR,
            STORE,
            2,
            1,
            False,
            1,
            1,
            "articles",
            (Article("1001", "Kaffe", 3500, 1200, ("7310865004703",), group="Dryck"),),
            removed=("1003",),
            at="2026-12-02T07:00:00+01:00",
        )
        await catalog.apply(change)
        number = await catalog.provisional_number("KASSA1")
        await catalog.put_customer(Customer(number, "Kalle Kund"))
    finally:
        await catalog.close()


async def make_inbox(path: Path, journal: Path) -> None:
    conn = sqlite3.connect(journal)
    rows = conn.execute("SELECT topic, message FROM outbox ORDER BY sequence LIMIT 20").fetchall()
    conn.close()
    routing = Routing(frozenset(), frozenset({f"{ORGNR}/{STORE}/KASSA1"}))
    inbox = await Inbox.open(path)
    try:
        await inbox.take([(str(t), bytes(m)) for t, m in rows], routing, "till.toml")
        foreign = json.loads(bytes(rows[0][1]))
        foreign.update(msg_id=f"{ORGNR}/{STORE}/KASSA9/1", register="KASSA9")
        await inbox.take(
            [
                (f"tillgw/{ORGNR}/{STORE}/KASSA9/events", json.dumps(foreign).encode()),
                (f"tillgw/{ORGNR}/{STORE}/KASSA1/events", b"not a message of ours"),
            ],
            routing,
            "till.toml",
        )
        first = "SELECT id FROM inbox WHERE register = 'KASSA1' ORDER BY sequence LIMIT 15"
        ids = [int(r[0]) for r in await inbox.fetchall(first)]
        async with inbox.transaction() as db:
            await Inbox.mark_processed(db, ids, "2026-12-01T18:00:00.000+01:00")
        await inbox.record_subscriptions("tillgw-sync-1", [f"tillgw/{ORGNR}/{STORE}/+/+"])
    finally:
        await inbox.close()


async def make_masterdata(path: Path) -> None:
    db = await CatalogDb.open(path)
    try:
        async with db.transaction() as conn:
            for a in articles():
                await conn.execute(
                    "INSERT INTO articles (number, item, source_barcodes) VALUES (?, ?, ?)",
                    (a.number, json.dumps(a.to_json()), json.dumps(list(a.barcodes))),
                )
            await conn.execute(
                "INSERT INTO revisions VALUES (1, 0, 1, 1, '2026-12-01T07:00:00.000+01:00', "
                "'2026-12-01T07:00:01.000+01:00', 'articles: 5')"
            )
            await CatalogDb.set_mark(conn, "articles.changed_since", "2026-12-01T07:00:00+01:00")
    finally:
        await db.close()


async def make_tokens(path: Path) -> None:
    endpoint = TokenEndpoint("https://apps.fortnox.se/oauth-v1/token", "client-id", "client-secret")
    await store_initial(path, "fortnox", "", endpoint, refresh_token="recorded-refresh-token")


def fold(source: Path, target: Path) -> None:
    """``source`` (WAL) as one file at ``target``: checkpointed and vacuumed into it."""
    conn = sqlite3.connect(source)
    conn.execute(f"VACUUM INTO '{target}'")
    conn.close()


async def main(out: Path, journal: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        await make_catalog(work / "catalog.db")
        await make_inbox(work / "inbox.db", journal)
        await make_masterdata(work / "masterdata.db")
        await make_tokens(work / "tokens.db")
        for name in ("catalog", "inbox", "masterdata", "tokens"):
            target = out / f"{NAME}-{name}.db"
            target.unlink(missing_ok=True)
            fold(work / f"{name}.db", target)
    shutil.rmtree(out / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
