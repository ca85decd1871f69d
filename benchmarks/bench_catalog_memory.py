"""The till's memory while it takes a full catalog revision of 1,000,000 articles.

    .venv/bin/python benchmarks/bench_catalog_memory.py [--articles 1000000] [--tracemalloc]

Goal: the memory a revision costs the till does not grow with its size.

A full revision of ``--articles`` articles (each with one EAN-13 barcode) and their stock
levels arrives as the sync module sends it: messages of 2,000 items
(:data:`~gateway.messages.catalog.MAX_ITEMS`), articles first, then stock. Each message is
made and encoded only when its turn comes, so this process holds one at a time, as the
subscriber does; each is decoded with :func:`~gateway.messages.catalog.decode_update` and
handed to :meth:`Catalog.apply <gateway.catalog.store.Catalog.apply>` on a fresh
``catalog.db`` — the parts are held, the last one applies the revision in one transaction.

Measured: the process's resident memory (``/proc/self/status`` ``VmRSS``) before the
first message, and its peak (``VmHWM``) at the end: the difference is what taking the
revision cost. ``--tracemalloc`` also reports the peak of Python's own allocations over
the same span (several times slower).
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
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from bench_catalog import ORGNR, STORE, ean13  # beside this script

from gateway.catalog.store import Catalog
from gateway.common.clock import Clock
from gateway.messages.catalog import (
    MAX_ITEMS,
    Article,
    CatalogSection,
    CatalogUpdate,
    StockLevel,
    decode_update,
)


def status_kib(field: str) -> int:
    """A ``kB`` line of /proc/self/status (VmRSS: resident now, VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def messages(count: int) -> Iterator[bytes]:
    """The revision's messages, each made when it is asked for."""
    chunks = (count + MAX_ITEMS - 1) // MAX_ITEMS
    parts = 2 * chunks
    for part in range(1, parts + 1):
        chunk = (part - 1) % chunks
        numbers = range(chunk * MAX_ITEMS, min(count, (chunk + 1) * MAX_ITEMS))
        if part <= chunks:
            section = CatalogSection.ARTICLES
            items: tuple[Article | StockLevel, ...] = tuple(
                Article(
                    f"A{n:07d}",
                    f"Artikel nummer {n} {('röd', 'blå', 'grön')[n % 3]}",
                    100 + n % 50_000,
                    (2500, 1200, 600)[n % 3],
                    (ean13(n),),
                    group=f"Grupp {n % 40}",
                    stock_goods=True,
                )
                for n in numbers
            )
        else:
            section = CatalogSection.STOCK
            items = tuple(StockLevel(f"A{n:07d}", Decimal(n % 97)) for n in numbers)
        yield CatalogUpdate(
            ORGNR, STORE, 1, 0, True, part, parts, section, items, (), "2026-12-07T10:00:00+01:00"
        ).to_bytes()


async def run(path: Path, count: int, trace: bool) -> tuple[int, int, int | None, float, int]:
    catalog = await Catalog.open(path)
    try:
        before = status_kib("VmRSS")
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        for data in messages(count):
            await catalog.apply(decode_update(data), data)
        seconds = time.perf_counter() - start
        traced = tracemalloc.get_traced_memory()[1] if trace else None
        tracemalloc.stop()
        peak = status_kib("VmHWM")
        held = catalog.article_by_barcode(ean13(count - 1))
        assert held is not None and held.stock == Decimal((count - 1) % 97), "the revision was not applied"
        return before, peak, traced, seconds, catalog.revision
    finally:
        await catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000, help="articles in the full revision")
    parser.add_argument("--tracemalloc", action="store_true", help="also the peak of Python's allocations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before, peak, traced, seconds, revision = asyncio.run(
            run(Path(tmp) / "catalog.db", args.articles, args.tracemalloc)
        )
    assert revision == 1
    command = shlex.join([".venv/bin/python", "benchmarks/bench_catalog_memory.py", *sys.argv[1:]])
    print(f"`{command}`")
    print()
    print(
        f"A full revision of {args.articles:,} articles and their stock; "
        f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {Clock().today()}."
    )
    print()
    print("| RSS before | peak RSS | the revision's cost | Python's peak (tracemalloc) | time |")
    print("|---:|---:|---:|---:|---:|")
    python = "–" if traced is None else f"{traced / 2**20:,.0f} MiB"
    print(
        f"| {before / 1024:,.0f} MiB | {peak / 1024:,.0f} MiB | {(peak - before) / 1024:,.0f} MiB | "
        f"{python} | {seconds:,.0f} s |"
    )


if __name__ == "__main__":
    main()
