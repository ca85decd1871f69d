"""Business Central: API calls and time for master data and a day's receipts, within BC's limits.

    .venv/bin/python benchmarks/bench_business_central.py [--articles 10000] [--receipts 200]
        [--day-receipts 10000]

**The limits** (Business Central online, operational limits for OData and API requests):
6,000 requests per user (here: the app's service principal) in any 5 minutes, 429 beyond;
100 at once; 20,000 entities a page. The adapters send one request at a time through one
sliding-window limiter per environment.

**The parts.** The fake Business Central of the tests (tests/sync/fakes/business_central.py)
on 127.0.0.1 with its real limit (6,000 requests in 5 minutes) and BC's page size of 20,000,
checking every request against the API v2.0 pages; the real adapters, client and limiter;
tokens in a real token file (the token exchange is not counted as an API call).

**Master data.** ``--articles`` items (a gtin each), 1,000 customers, through the real
master-data engine (:class:`gateway.sync.masterdata.engine.MasterDataEngine`, a real catalog
database): a full sync ("sync all"), then a changes sync after 1 % of the items and
customers changed in BC; with and without a partner's item references page (one more
barcode per item).

**Receipts.** ``--receipts`` card receipts of 125.00 at 25 % (one Item line each), each its
own message in its own inbox transaction, as the sync module does, with ``post = "at_once"``
(each invoice posted and its payment applied) and ``post = "batch"``; what a day of
``--day-receipts`` takes at the measured calls per receipt, and the limit's floor for it
(calls / 6,000 × 5 min). After each run the fake is checked to hold each invoice and
payment once, to have refused nothing and to have seen no request the pages do not allow.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Business Central lives with the tests (tests/sync/fakes)

from erp_day import ORGNR, STORE, receipt_message  # noqa: E402  (beside this script)

from gateway.messages.envelope import BusMessage  # noqa: E402
from gateway.sync.adapters.business_central.adapter import BusinessCentralAdapter  # noqa: E402
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_tokens  # noqa: E402
from gateway.sync.adapters.business_central.config import BusinessCentralConfig, parse_business_central  # noqa: E402
from gateway.sync.adapters.business_central.source import BusinessCentralSource  # noqa: E402
from gateway.sync.inbox import Inbox  # noqa: E402
from gateway.sync.masterdata.catalog_db import CatalogDb  # noqa: E402
from gateway.sync.masterdata.config import MasterDataConfig  # noqa: E402
from gateway.sync.masterdata.engine import MasterDataEngine  # noqa: E402
from tests.sync.fakes.business_central import BusinessCentralFake, settings_for  # noqa: E402
from tests.sync.fakes.visma import utc_now  # noqa: E402

LIMIT, WINDOW = 6000, 300.0
PAGE = 20_000  # BC's most entities a page
CUSTOMERS = 1000


def floor_seconds(calls: float) -> float:
    """The least time ``calls`` take within 6,000 in any 5 minutes, the first 6,000 at once."""
    return max(0.0, (calls - LIMIT) / LIMIT * WINDOW) if calls > LIMIT else 0.0


def within_seconds(calls: float) -> float:
    """The time ``calls`` take at the limit's steady rate (20 a second)."""
    return calls / LIMIT * WINDOW


def config_of(fake: BusinessCentralFake, **more: Any) -> BusinessCentralConfig:
    return parse_business_central(
        settings_for(
            fake,
            payment_journals={"card": "KORT"},
            item_without_article="1001",
            vat_groups={"25": 25, "12": 12},
            **more,
        )
    )


async def started() -> BusinessCentralFake:
    fake = BusinessCentralFake()
    fake.page_size = PAGE
    await fake.start()
    return fake


async def counted(fake: BusinessCentralFake, work: Callable[[], Awaitable[Any]]) -> tuple[int, float]:
    """(API calls, seconds) of ``work``."""
    before = len(fake.requests)
    start = time.perf_counter()
    await work()
    return len(fake.requests) - before, time.perf_counter() - start


# -- master data ------------------------------------------------------------------------------


async def masterdata(articles: int, references: bool, folder: Path) -> list[tuple[str, int, float]]:
    fake = await started()
    try:
        page = fake.publish_reference_page() if references else None
        for n in range(articles):
            number = str(100000 + n)
            fake.add_item(number, f"Artikel {n}", "100.00", 25 if n % 2 else 12, gtin=f"7310{n:09d}")
            if references:
                fake.add_reference(number, f"2{n:012d}")
        for n in range(CUSTOMERS):
            fake.add_customer(str(20000 + n), f"Kund {n}", email=f"kund{n}@example.se")
        config = config_of(fake, item_reference_page=page)
        api = BusinessCentralApi(config, bc_tokens(config, folder / "tokens.db"))
        source = BusinessCentralSource(config, api)
        catalog = await CatalogDb.open(folder / "catalog.db")
        md = MasterDataConfig(source="business_central", orgnr=ORGNR, store=STORE, prices_include_vat=False)
        engine = MasterDataEngine(md, catalog, source, folder / "inbox.db")
        try:
            await api.client.auth.access_token()  # the token exchange is not an API call
            full_calls, full_seconds = await counted(fake, lambda: engine.sync(full=True))
            await asyncio.sleep(1.1)  # BC's lastModifiedDateTime is to the second: changes after it
            now = utc_now()
            for item in fake.items[::100]:
                item.update(unitPrice=120.0, lastModifiedDateTime=now)
            for customer in fake.customers[::100]:
                customer.update(displayName=customer["displayName"] + " AB", lastModifiedDateTime=now)
            changes_calls, changes_seconds = await counted(fake, lambda: engine.sync(full=False))
            assert len(await catalog.items("articles")) == articles
        finally:
            await catalog.close()
            await source.close()
            await api.close()
        assert not fake.refused, fake.refused[:3]
    finally:
        await fake.stop()  # fails on any request the API v2.0 pages do not allow
    how = "with a partner item references page" if references else "gtin only"
    return [
        (f"full sync, {articles:,} articles, {how}", full_calls, full_seconds),
        (f"changes sync, {articles // 100:,} articles changed, {how}", changes_calls, changes_seconds),
    ]


# -- receipts ---------------------------------------------------------------------------------


def day_receipt(n: int, day: str) -> BusMessage:
    """Receipt ``n`` of the day: one mug (article 1001) of 125.00 at 25 %, by card."""
    return receipt_message(n, f"{day}T12:00:00+01:00", text="Mugg", article="1001")


async def receipts(count: int, post: str, folder: Path) -> tuple[int, float]:
    fake = await started()
    try:
        fake.add_customer("KONTANT", "Kontantkund")
        fake.add_item("1001", "Mugg", "100.00", 25)
        fake.add_journal("KORT")
        config = replace(config_of(fake), post=post)
        api = BusinessCentralApi(config, bc_tokens(config, folder / "tokens.db"))
        adapter = BusinessCentralAdapter(config, api)
        inbox = await Inbox.open(folder / "inbox.db")
        day = time.strftime("%Y-%m-%d")
        try:
            await adapter.setup(inbox.conn)
            # A module upgraded to store-qualified references long ago: no receipt of today can
            # have been booked under the older form, so none costs that search (the steady state).
            adapter.legacy.since = "2026-01-01T00:00:00+00:00"
            await api.client.auth.access_token()

            async def day_of_receipts() -> None:
                for n in range(1, count + 1):
                    async with inbox.transaction() as db:
                        await adapter.process(db, day_receipt(n, day))

            calls, seconds = await counted(fake, day_of_receipts)
        finally:
            await inbox.close()
            await api.close()
        assert len({i["externalDocumentNumber"] for i in fake.invoices}) == len(fake.invoices) == count
        assert sum(len(p) for p in fake.payments.values()) == count
        assert not fake.refused, fake.refused[:3]
    finally:
        await fake.stop()
    return calls, seconds


async def amain(args: argparse.Namespace) -> None:
    md_rows: list[tuple[str, int, float]] = []
    for references in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            md_rows += await masterdata(args.articles, references, Path(tmp))
    day_rows = []
    for post in ("at_once", "batch"):
        with tempfile.TemporaryDirectory() as tmp:
            calls, seconds = await receipts(args.receipts, post, Path(tmp))
        per = calls / args.receipts
        day_calls = per * args.day_receipts
        day_rows.append((post, calls, seconds, per, day_calls))

    cpu = platform.processor() or platform.machine()
    print(f"`{shlex.join(['.venv/bin/python', 'benchmarks/bench_business_central.py', *sys.argv[1:]])}`")
    print()
    print(
        f"Against the fake Business Central (6,000 requests / 5 min, 20,000 a page). "
        f"{platform.python_implementation()} {platform.python_version()}, {cpu}, {os.cpu_count()} CPUs."
    )
    print()
    print("| master data | API calls | time | share of the 5-minute limit |")
    print("|---|---|---|---|")
    for name, calls, seconds in md_rows:
        print(f"| {name} | {calls} | {seconds:.1f} s | {calls / LIMIT:.2%} |")
    print()
    print(
        f"| receipts, post | {args.receipts} receipts: calls | time | calls/receipt "
        f"| {args.day_receipts:,} receipts: calls | at the limit's rate (20/s) "
        "| floor (first 6,000 at once) |"
    )
    print("|---|---|---|---|---|---|---|")
    for post, calls, seconds, per, day_calls in day_rows:
        print(
            f"| {post} | {calls} | {seconds:.1f} s | {per:.1f} | {day_calls:,.0f} "
            f"| {within_seconds(day_calls) / 60:.0f} min | {floor_seconds(day_calls) / 60:.0f} min |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="items in BC (default 10,000)")
    parser.add_argument("--receipts", type=int, default=200, help="receipts booked (default 200)")
    parser.add_argument("--day-receipts", type=int, default=10_000, help="the day to extrapolate to")
    args = parser.parse_args()
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
