"""The catalog: applying 100,000 articles (goal: under 10 s) and barcode lookups (goal: p99 under 1 ms).

    .venv/bin/python benchmarks/bench_catalog.py [--articles 100000] [--lookups 100000] [--http 3000]

**Apply.** A full revision of ``--articles`` articles, each with one EAN-13 barcode and
a stock level, made by :func:`gateway.messages.catalog.split_revision` into its messages
(2,000 items each), encoded to bytes as the sync module publishes them, then — timed —
each decoded with :func:`~gateway.messages.catalog.decode_update` and handed to
:meth:`Catalog.apply <gateway.catalog.store.Catalog.apply>` on a fresh ``catalog.db``:
the parts are held, and the last one applies the whole revision in one transaction. This
is what the subscriber does with each message, less the broker.

**Lookups in the store.** ``--lookups`` calls of :meth:`Catalog.article_by_barcode`, as
the API makes them (on the event loop, on the read-only connection): random barcodes,
half of them known and half unknown (an unknown one costs two index lookups, barcode and
article number). Each call is timed alone with ``perf_counter_ns``.

**Lookups over HTTP.** ``--http`` requests ``GET /v1/articles?barcode=…`` (same mix) to
the API served on 127.0.0.1 by a real :class:`~gateway.till.Till` on that catalog (no
bus; the project's simulated control unit over TCP), one at a time from an aiohttp
client in the same process, each timed from the request to the answer's JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import shlex
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

from gateway.api.app import serving
from gateway.catalog.store import Catalog
from gateway.config import Config, ControlUnitConfig, ShopConfig
from gateway.messages.catalog import Article, StockLevel, decode_update, split_revision
from gateway.till import Till

ORGNR = "5560360793"
STORE = "main"


def ean13(n: int) -> str:
    body = f"730{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def make_messages(count: int) -> list[bytes]:
    articles = [
        Article(
            f"A{n:06d}",
            f"Artikel nummer {n} {random.choice(('röd', 'blå', 'grön'))}",
            100 + n % 50_000,
            (2500, 1200, 600)[n % 3],
            (ean13(n),),
            group=f"Grupp {n % 40}",
            stock_goods=True,
        )
        for n in range(count)
    ]
    stock = [StockLevel(a.number, Decimal(n % 97)) for n, a in enumerate(articles)]
    parts = split_revision(
        ORGNR,
        STORE,
        1,
        0,
        full=True,
        at="2026-05-21T10:00:00+02:00",
        sections={"articles": (articles, ()), "stock": (stock, ())},
    )
    return [part.to_bytes() for part in parts]


async def apply(path: Path, messages: list[bytes]) -> tuple[Catalog, float]:
    catalog = await Catalog.open(path)
    start = time.perf_counter()
    for data in messages:
        await catalog.apply(decode_update(data), data)
    return catalog, time.perf_counter() - start


def codes(count: int, articles: int) -> list[str]:
    rng = random.Random(7)
    return [
        ean13(rng.randrange(articles)) if i % 2 else ean13(articles + rng.randrange(10**6))
        for i in range(count)
    ]


def store_lookups(catalog: Catalog, wanted: list[str]) -> tuple[list[float], int]:
    times, hits = [], 0
    clock = time.perf_counter_ns
    for code in wanted:
        start = clock()
        found = catalog.article_by_barcode(code)
        times.append((clock() - start) / 1000)
        hits += found is not None
    return times, hits


async def http_lookups(data_dir: Path, wanted: list[str]) -> list[float]:
    """``GET /v1/articles?barcode=`` of a real till (its catalog in ``data_dir``), served on 127.0.0.1."""
    from firmware_sim.control_unit import ControlUnit, UnitConfig
    from firmware_sim.control_unit.ccsp_server import serve_tcp

    unit = ControlUnit(UnitConfig(data_dir / "unit"))
    times: list[float] = []
    try:
        async with serve_tcp(unit) as unit_url:
            config = Config(
                shop=ShopConfig("Benchmark AB", ORGNR, ("Storgatan 1",), STORE),
                pos_id="KASSA1",
                data_dir=data_dir,
                control_unit=ControlUnitConfig(unit_url),
                printer=None,
                scanner=None,
                mqtt=None,
            )
            till = await Till.open(config)
            try:
                async with (
                    serving(till, "127.0.0.1", 0) as url,
                    aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {till.token}"}) as session,
                ):
                    for code in wanted:
                        start = time.perf_counter_ns()
                        async with session.get("/v1/articles", params={"barcode": code}) as response:
                            await response.json()
                            assert response.status in (200, 404), response.status
                        times.append((time.perf_counter_ns() - start) / 1000)
            finally:
                await till.close()
    finally:
        unit.close()
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def main_async(args: argparse.Namespace) -> None:
    random.seed(1)
    messages = make_messages(args.articles)
    size = sum(len(m) for m in messages)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "till" / "catalog.db"
        catalog, seconds = await apply(path, messages)
        state = catalog.state
        wanted = codes(args.lookups, args.articles)
        store_lookups(catalog, wanted[:1000])  # warms the page cache and the statement cache
        times, hits = store_lookups(catalog, wanted)
        await catalog.close()
        http = await http_lookups(path.parent, codes(args.http, args.articles))

    command = shlex.join([".venv/bin/python", "benchmarks/bench_catalog.py", *sys.argv[1:]])
    print(f"`{command}`")
    print()
    print(
        f"{state.articles:,} articles with a barcode and a stock level each, in {len(messages)} messages "
        f"({size / 1e6:.0f} MB of JSON). {platform.python_implementation()} {platform.python_version()} "
        f"{platform.machine()}, SQLite {__import__('sqlite3').sqlite_version}."
    )
    print()
    print("| measured | count | p50 | p99 | max | total |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| apply a full revision (decode + apply, all parts) | {len(messages)} messages "
        f"| | | | {seconds:.2f} s |"
    )
    for name, values in (
        (f"barcode lookup in the store ({hits:,} hits)", times),
        ("`GET /v1/articles?barcode=` over HTTP", http),
    ):
        print(
            f"| {name} | {len(values):,} | {statistics.median(values):,.1f} µs | "
            f"{percentile(values, 99):,.1f} µs | {max(values):,.0f} µs | {sum(values) / 1e6:.2f} s |"
        )
    print()
    print("Goals: the apply under 10 s; a barcode lookup in the store p99 under 1 ms.")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000, help="articles in the revision")
    parser.add_argument("--lookups", type=int, default=100_000, help="barcode lookups in the store")
    parser.add_argument("--http", type=int, default=3000, help="barcode lookups over HTTP")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
