"""Fortnox: API calls and time to book a store's day and to sync its master data, within
Fortnox's 25 requests per 5 s.

    .venv/bin/python benchmarks/bench_fortnox.py [--receipts 20] [--day-receipts 10000]
        [--articles 10000] [--changed 100] [--scale 0.01]

**The parts.** The fake Fortnox of the tests (tests/sync/fakes/fortnox.py) on 127.0.0.1
with its real limit (25 requests in any 5 s, 429 beyond), the real adapter
(:class:`gateway.sync.adapters.fortnox.adapter.FortnoxAdapter`) with the real client and its real
limiter (25 in 5.25 s), a real inbox database (SQLite, WAL, ``synchronous=FULL``) and
OAuth tokens in a real token file. Each message is processed in its own inbox transaction,
as the sync module does.

**The day.** ``--receipts`` card receipts of 125.00 at 25 % (each its own message) and the
Z report that sums them, for three settings:

* *Z voucher only* (``mode = "start"``): receipts need nothing; the Z is a voucher;
* *invoice per receipt, booked and paid* (``invoices = "all"``, ``invoice_bookkeep = true``);
* *invoice per receipt, not booked* (``invoice_bookkeep = false``);
* *order per receipt* (``invoices_as = "order"``): an order each, the Z a voucher.

The time is bounded below by the limit: the table shows the measured time and the
limit's floor, calls / 25 × 5 s. Booking invoices for every receipt is slow by
Fortnox's own limit, so the default day here is small; the table also gives what
``--day-receipts`` (10,000) receipts would take at the measured calls per receipt.
After each run the fake is checked to hold each document once and never to have
seen more than 25 requests in 5 s.

**Master data.** ``--articles`` articles (one in 100 inactive), read by the real
:class:`~gateway.sync.adapters.fortnox.source.FortnoxSource` as a full sync and as a
changes sync after ``--changed`` of them changed, with price list A and with another
price list (one more request per active article). Every request is counted as it is made
against the fake; so that 10,000 articles do not take the 35 minutes Fortnox's limit
sets, this part runs with the window scaled by ``--scale`` (the fake's 5 s and the
limiter's 5.25 s alike): the table gives the calls, the scaled run's time divided by the
scale, and the limit's floor. The fake checks every request against Fortnox's OpenAPI
definition, as in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Fortnox lives with the tests (tests/sync/fakes)

from erp_day import receipt_message, z_message  # noqa: E402  (beside this script)

from gateway.messages.envelope import BusMessage  # noqa: E402
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter  # noqa: E402
from gateway.sync.adapters.fortnox.api import MAX_REQUESTS, WINDOW, fortnox_client  # noqa: E402
from gateway.sync.adapters.fortnox.orders import FortnoxOrderAdapter  # noqa: E402
from gateway.sync.adapters.fortnox.source import FortnoxSource  # noqa: E402
from gateway.sync.http import SlidingWindowLimiter  # noqa: E402
from gateway.sync.inbox import Inbox  # noqa: E402
from gateway.sync.settings import AccountsConfig  # noqa: E402
from tests.sync.fakes.fortnox import config_for, running  # noqa: E402


def day_messages(receipts: int, today: str) -> list[BusMessage]:
    at = f"{today}T12:00:00+01:00"
    out = []
    for n in range(1, receipts + 1):
        out.append(receipt_message(n, at))
    out.append(z_message(receipts + 1, receipts, today))
    return out


async def run(settings: dict[str, Any], receipts: int, folder: Path) -> tuple[int, int, float, int]:
    """(API calls, of which for the receipts, seconds, the most requests the fake saw in any 5 s)."""
    today = time.strftime("%Y-%m-%d")
    async with running() as fake:
        fake.add_customer("1", "Kontantkund")
        config = config_for(fake, **settings)
        inbox = await Inbox.open(folder / "inbox.db")
        try:
            async with fortnox_client(config, folder / "tokens.db") as client:
                adapter = FortnoxAdapter(config, AccountsConfig(), client)
                # as gateway/sync/erp.py wires them: receipts sent as orders go to the order adapter
                orders = FortnoxOrderAdapter(config, client, adapter, till_orders=False)
                adapters: list[FortnoxAdapter | FortnoxOrderAdapter] = [adapter, orders]
                await adapter.setup(inbox.conn)
                await orders.setup(inbox.conn)
                # An ordinary day, not the day this module first booked in Fortnox: receipts of
                # that day are also looked for under the older reference form (docs/adapters/fortnox.md).
                await inbox.conn.execute("UPDATE reference_forms SET since = '2000-01-01T00:00:00+01:00'")
                await adapter.setup(inbox.conn)
                await client.auth.access_token()  # the token exchange is not an API call
                start = time.perf_counter()
                for_receipts = 0
                for m in day_messages(receipts, today):
                    if m.kind == "report.z":
                        for_receipts = client.requests
                    for handler in adapters:
                        if handler.handles(m.kind):
                            async with inbox.transaction() as db:
                                await handler.process(db, m)
                seconds = time.perf_counter() - start
                calls = client.requests
        finally:
            await inbox.close()
        invoiced = settings.get("invoices", "none") != "none"
        as_orders = settings.get("invoices_as") == "order"
        assert len(fake.invoices) == (receipts if invoiced and not as_orders else 0)
        assert len(fake.orders) == (receipts if as_orders else 0)
        booked = settings.get("invoice_bookkeep", True) and invoiced and not as_orders
        assert len(fake.vouchers) == (0 if booked else 1)
        assert all(s.status < 400 for s in fake.seen)
        return calls, for_receipts, seconds, fake.max_in_window()


async def amain(args: argparse.Namespace) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("Z voucher only", {}),
        (
            "invoice per receipt, booked and paid",
            {"mode": "full", "invoices": "all", "cash_customer": "1", "invoice_bookkeep": True},
        ),
        (
            "invoice per receipt, not booked",
            {"mode": "full", "invoices": "all", "cash_customer": "1", "invoice_bookkeep": False},
        ),
        (
            "order per receipt",
            {"mode": "full", "invoices": "all", "cash_customer": "1", "invoices_as": "order"},
        ),
    ]
    rows = []
    for name, settings in cases:
        with tempfile.TemporaryDirectory() as tmp:
            calls, for_receipts, seconds, most = await run(settings, args.receipts, Path(tmp))
        per_receipt = for_receipts / args.receipts
        day_calls = calls - for_receipts + per_receipt * args.day_receipts
        rows.append((name, calls, seconds, calls / 25 * 5, most, per_receipt, day_calls, day_calls / 25 * 5))

    cpu = platform.processor() or platform.machine()
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}`")
    print()
    print(
        f"{args.receipts} receipts and their Z against the fake Fortnox (25 requests / 5 s). "
        f"{platform.python_implementation()} {platform.python_version()}, {cpu}, {os.cpu_count()} CPUs."
    )
    print()
    print(
        f"| setting | API calls | time | floor (calls/25×5 s) | most in 5 s | calls/receipt "
        f"| {args.day_receipts:,} receipts: calls | {args.day_receipts:,} receipts: floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, calls, seconds, floor, most, per, day_calls, day_floor in rows:
        print(
            f"| {name} | {calls} | {seconds:.1f} s | {floor:.1f} s | {most} | {per:.1f} "
            f"| {day_calls:,.0f} | {day_floor / 3600:.1f} h |"
            if day_floor >= 3600
            else f"| {name} | {calls} | {seconds:.1f} s | {floor:.1f} s | {most} | {per:.1f} "
            f"| {day_calls:,.0f} | {day_floor:.0f} s |"
        )


async def master_data(articles: int, changed: int, price_list: str, scale: float, folder: Path) -> list[Any]:
    """(full calls, full seconds, changes calls, changes seconds), seconds unscaled."""
    async with running(window=5.0 * scale) as fake:
        for n in range(1, articles + 1):
            fake.add_article(
                f"{n:05d}", f"Artikel {n}", "10.00", Active=n % 100 != 0, LastModified="2026-01-01 10:00"
            )
            fake.prices[("B", f"{n:05d}")] = Decimal("8.00")
        config = config_for(fake, mode="full", price_list=price_list)
        limiter = SlidingWindowLimiter(MAX_REQUESTS, WINDOW * scale)
        async with fortnox_client(config, folder / "tokens.db", limiter=limiter, backoff=scale) as client:
            await client.auth.access_token()  # the token exchange is not an API call
            source = FortnoxSource(config, client)
            out: list[Any] = []
            for since in (None, datetime(2026, 6, 1)):
                if since is not None:
                    for n in range(1, changed + 1):
                        fake.articles[f"{n * (articles // changed) - 1:05d}"]["LastModified"] = (
                            "2026-06-02 10:00"
                        )
                before, start = client.requests, time.perf_counter()
                got = [a async for a in source.articles(since)]
                assert len(got) == (articles if since is None else changed)
                out += [client.requests - before, (time.perf_counter() - start) / scale]
        assert fake.max_in_window() <= 25 and not fake.violations
        return out


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


async def amain_master_data(args: argparse.Namespace) -> None:
    print()
    print(
        f"Master data: {args.articles:,} articles (1 in 100 inactive), a full sync, then a changes sync "
        f"with {args.changed} changed; the window scaled by {args.scale} and the time scaled back."
    )
    print()
    print(
        "| price list | full: calls | full: time | full: floor "
        "| changes: calls | changes: time | changes: floor |"
    )
    print("|---|---|---|---|---|---|---|")
    for price_list in ("A", "B"):
        with tempfile.TemporaryDirectory() as tmp:
            full, full_s, changes, changes_s = await master_data(
                args.articles, args.changed, price_list, args.scale, Path(tmp)
            )
        print(
            f"| {price_list} | {full:,} | {minutes(full_s)} | {minutes(full * WINDOW / MAX_REQUESTS)} "
            f"| {changes:,} | {minutes(changes_s)} | {minutes(changes * WINDOW / MAX_REQUESTS)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receipts", type=int, default=20, help="receipts in the day run (default 20)")
    parser.add_argument("--day-receipts", type=int, default=10_000, help="the day to extrapolate to")
    parser.add_argument("--articles", type=int, default=10_000, help="articles in the master-data runs")
    parser.add_argument("--changed", type=int, default=100, help="articles changed for the changes sync")
    parser.add_argument("--scale", type=float, default=0.01, help="the master-data runs' window scale")
    parser.add_argument("--only", choices=("day", "masterdata"), help="run one part only")
    args = parser.parse_args()
    if args.only != "masterdata":
        asyncio.run(amain(args))
    if args.only != "day":
        asyncio.run(amain_master_data(args))


if __name__ == "__main__":
    main()
