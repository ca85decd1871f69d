"""Visma eEkonomi / Spiris: API calls and time for master data and a store's day, within
Visma's 600 requests a minute per client and endpoint.

    .venv/bin/python benchmarks/bench_visma.py [--articles 10000] [--changed 100] [--receipts 10000]

**The parts.** The fake Visma of the tests (tests/sync/fakes/visma.py, built from Visma's
API definition, every request checked against it) on 127.0.0.1 with its real limit (600
requests in any 60 s per endpoint, 429 beyond), the real source and adapter
(:mod:`gateway.sync.adapters.visma.source`, :mod:`gateway.sync.adapters.visma.adapter`) with the
real client and one real limiter per endpoint, OAuth tokens in a real token file, a real
inbox database (SQLite, WAL) for the day.

**Master data.** ``--articles`` articles (no stock module) and 100 customers:

* *full*: every article (with the VAT rates of the account codings), every customer, the
  stock of every stock article;
* *changes*: the ``--changed`` articles and 10 customers changed since the last sync
  (``$filter=ChangedUtc gt …``), and the stock merge of ``--changed`` articles sold: the
  stock read (every article: the list cannot be filtered to a set of numbers in one call),
  then a PUT of each whole article, as Visma wants it;

at ``$pagesize`` 100 (the default of ``[sync.visma].page_size``) and 1000 (the largest).

**The day.** ``--receipts`` card receipts (each its own message) and the Z report that
sums them: the adapter books the Z as one voucher; receipts need no call.

The floor is the least time the limit allows: 600 requests go at once, each further 600 on
one endpoint wait a minute; the endpoints' limits are separate, so the busiest one sets it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Visma lives with the tests (tests/sync/fakes)

from erp_day import ORGNR, receipt_message, z_message  # noqa: E402  (beside this script)

from gateway.messages.envelope import BusMessage  # noqa: E402
from gateway.sync.adapters.visma.adapter import VismaAdapter  # noqa: E402
from gateway.sync.adapters.visma.api import VismaApi, visma_tokens  # noqa: E402
from gateway.sync.adapters.visma.config import parse_visma  # noqa: E402
from gateway.sync.adapters.visma.source import VismaSource  # noqa: E402
from gateway.sync.http.oauth import store_initial  # noqa: E402
from gateway.sync.inbox import Inbox  # noqa: E402
from gateway.sync.settings import AccountsConfig  # noqa: E402
from tests.sync.fakes.visma import VismaFake  # noqa: E402

OLD = "2026-01-01T00:00:00.000Z"
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
RECENT = "2026-06-01T10:00:00.000Z"


def day_messages(receipts: int, today: str) -> list[BusMessage]:
    """``receipts`` card receipts of 125.00 at 25 % and the Z report summing them."""
    at = f"{today}T12:00:00+01:00"
    out = [receipt_message(n, at) for n in range(1, receipts + 1)]
    out.append(z_message(receipts + 1, receipts, today))
    return out


class Bench:
    """The fake, filled, and a fresh API client per measured step (calls counted per endpoint)."""

    def __init__(self, fake: VismaFake, folder: Path) -> None:
        self.fake = fake
        self.folder = folder

    async def api(self, page_size: int) -> VismaApi:
        config = parse_visma(
            {
                "base_url": self.fake.api_url,
                "token_url": self.fake.token_url,
                "client_id": self.fake.client_id,
                "client_secret": self.fake.client_secret,
                "page_size": page_size,
            }
        )
        tokens = self.folder / f"tokens-{time.monotonic_ns()}.db"
        endpoint = visma_tokens(config, tokens).endpoint
        await store_initial(tokens, "visma", "", endpoint, refresh_token=self.fake.first_refresh_token())
        api = VismaApi(config, visma_tokens(config, tokens))
        await api.auth.access_token()  # the token exchange is not an API call
        return api

    async def measure(self, step: Callable[[], Awaitable[None]]) -> tuple[Counter[str], float]:
        before = len(self.fake.requests)
        start = time.perf_counter()
        await step()
        seconds = time.perf_counter() - start
        calls = Counter(path.split("/")[2].split("?")[0] for _, path in self.fake.requests[before:])
        return calls, seconds


async def master_data(
    bench: Bench, articles: int, changed: int, page_size: int
) -> list[tuple[str, Counter[str], float]]:
    api = await bench.api(page_size)
    source = VismaSource(api.config, api)
    rows = []
    try:

        async def full() -> None:
            assert sum([1 async for _ in source.articles(None)]) == articles
            assert sum([1 async for _ in source.customers(None)]) == 100
            assert len(await source.stock(None)) == articles

        async def changes() -> None:
            assert sum([1 async for _ in source.articles(SINCE)]) == changed
            assert sum([1 async for _ in source.customers(SINCE)]) == 10
            sold = [f"{n:06d}" for n in range(changed)]
            assert len(await source.stock(sold)) == changed  # the merge reads, then writes
            await source.set_stock(dict.fromkeys(sold, Decimal(5)))

        for name, step in (("full", full), ("changes", changes)):
            calls, seconds = await bench.measure(step)
            rows.append((f"master data, {name}, $pagesize {page_size}", calls, seconds))
    finally:
        await api.close()
    return rows


async def day(bench: Bench, receipts: int) -> tuple[str, Counter[str], float]:
    api = await bench.api(100)
    adapter = VismaAdapter(api.config, api, AccountsConfig())
    inbox = await Inbox.open(bench.folder / "inbox.db")
    try:
        await adapter.setup(inbox.conn)
        messages = day_messages(receipts, time.strftime("%Y-%m-%d"))

        async def book() -> None:
            for m in messages:
                if adapter.handles(m.kind):
                    async with inbox.transaction() as db:
                        await adapter.process(db, m)

        calls, seconds = await bench.measure(book)
    finally:
        await inbox.close()
        await api.close()
    assert len(bench.fake.vouchers) == 1
    return f"a day of {receipts:,} receipts and its Z", calls, seconds


def filled(args: argparse.Namespace) -> VismaFake:
    """A fake company with the articles and customers; each case gets its own, so its own
    minute of the limit (the limit is per client id, and every case is the same client)."""
    fake = VismaFake(orgnr=f"{ORGNR[:6]}-{ORGNR[6:]}")
    for n in range(args.articles):
        fake.add_article(f"{n:06d}", f"Artikel {n}", "100.00", ChangedUtc=RECENT if n < args.changed else OLD)
    for n in range(100):
        fake.add_customer(f"{n + 1:04d}", f"Kund {n}", ChangedUtc=RECENT if n < 10 else OLD)
    return fake


async def amain(args: argparse.Namespace) -> None:
    rows = []
    for case in (100, 1000, "day"):
        fake = filled(args)
        await fake.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                bench = Bench(fake, Path(tmp))
                if case == "day":
                    rows.append(await day(bench, args.receipts))
                else:
                    rows += await master_data(bench, args.articles, args.changed, int(case))
        finally:
            await fake.stop()
        assert fake.violations == [], fake.violations
        assert not any(status == 429 for status, _ in fake.refused)

    cpu = platform.processor() or platform.machine()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}`")
    print()
    print(
        f"{args.articles:,} articles, {args.changed} changed, against the fake Visma (600 requests / min per "
        f"endpoint). {python}, {cpu}, {os.cpu_count()} CPUs."
    )
    print()
    print("| what | API calls | by endpoint | time | floor of the limit |")
    print("|---|---|---|---|---|")
    for name, calls, seconds in rows:
        by = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
        floor = max(0, max(calls.values(), default=0) - 1) // 600 * 60
        print(f"| {name} | {sum(calls.values()):,} | {by} | {seconds:.2f} s | {floor} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="articles in Visma (default 10,000)")
    parser.add_argument("--changed", type=int, default=100, help="articles changed and sold (default 100)")
    parser.add_argument("--receipts", type=int, default=10_000, help="receipts in the day (default 10,000)")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
