"""Z and X report time over a till database of 100,000 receipts (goal: a Z under 1 s).

    .venv/bin/python benchmarks/bench_reports.py [--receipts 100000] [--batch 1000] [--day 1000]

**Filling the database (the benchmark's fast path, not the till's).** Registering
100,000 receipts through the pipeline would cost two durable transactions and a
control-unit round trip each — minutes of setup that measure the pipeline, not the
report (the pipeline's own benchmark does that). Instead the receipts are written in batches of
``--batch`` per transaction, but with the till's own parts so that the database is the
one the pipeline leaves behind: ``Store.transact`` and ``Writer.append`` (signed,
hash-chained ``receipt.pending`` and ``receipt`` entries with the pipeline's own bodies,
``receipt_entries.pending_body`` and ``receipt_entries.receipt_body``), and the index rows written by
the pipeline's own indexing function ``receipt_entries.index_receipt`` (the ``receipts`` row and
``receipt_groups``).
The mix: cash, card, Swish and gift-card sales over three VAT rates and four main
groups, with discounts; one return in 25; a training receipt in 100, a pro forma in
200, a copy in 150; a drawer opening without sale in 500, a refused receipt in 1,000
and a float change each 5,000.

**Measured** (each the wall time of ``make_x``/``make_z`` from the call to the return:
the SQL aggregates, the journal entry, the durable commit):

1. X over the whole period (the best and the median of 5; an X closes nothing);
2. the first Z, over every receipt;
3. after ``--day`` more receipts, a Z over just that day, on the big database;
4. a Z with nothing since the last.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from gateway.common.signing import Signer, load_or_create_key
from gateway.devices.control_units.interface import Registration
from gateway.fiscal.receipt_entries import control_data, index_receipt, pending_body, receipt_body
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.reports.report import Report, make_x, make_z
from gateway.fiscal.store import Store, Writer
from gateway.receipts.model import (
    Line,
    LineKind,
    Payment,
    PaymentMethod,
    Receipt,
    ReceiptKind,
    Totals,
    compute,
    group_amounts,
)
from protocols.skv import ReceiptType

SHOP = Shop("Benchmark AB", "5560360793", ("Storgatan 1",))
POS_ID = "KASSA1"
UNIT_ID = "TGBENCH0000000001"
CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Template:
    receipt: Receipt
    totals: Totals


def templates() -> list[Template]:
    d = Decimal
    sales = [
        Receipt(
            (
                Line("Kaffe", d(2), 32_50, 1200, group="Dryck"),
                Line("Kanelbulle", d(1), 28_40, 1200, group="Bröd"),
            ),
            (Payment(PaymentMethod.CASH, 100_00),),
        ),
        Receipt(
            (
                Line("T-shirt", d(1), 199_00, 2500, discount=20_00, group="Kläder"),
                Line("Tidning", d(1), 45_00, 600, group="Tidningar"),
                Line("Montering", d(1), 150_00, 2500, kind=LineKind.SERVICE),
            ),
            (Payment(PaymentMethod.CARD, 374_00),),
        ),
        Receipt(
            (Line("Kaffebönor", d(2), 89_00, 1200, group="Dryck"), Line("Mugg", d(1), 60_00, 2500)),
            (Payment(PaymentMethod.GIFT_CARD, 100_00), Payment(PaymentMethod.SWISH, 100_00)),
            discount=38_00,
        ),
        Receipt(
            (Line("Ost", d("0.347"), 189_00, 1200, group="Mat"),), (Payment(PaymentMethod.SWISH, 65_58),)
        ),
    ]
    ret = Receipt(
        (Line("T-shirt", d(-1), 199_00, 2500, discount=20_00, group="Kläder"),),
        (Payment(PaymentMethod.CARD, -179_00),),
    )
    training = Receipt(sales[0].lines, sales[0].payments, kind=ReceiptKind.TRAINING)
    pro_forma = Receipt(sales[1].lines, sales[1].payments, kind=ReceiptKind.PRO_FORMA)
    return [Template(r, compute(r)) for r in [*sales, ret, training, pro_forma]]


def add_receipt(
    w: Writer, base: int, number: int, kind: ReceiptType, t: Template, *, refused: bool = False
) -> None:
    """The entries and index rows the pipeline writes for one receipt (its two transactions' worth)."""
    last_seq, _ = w.head()
    data = control_data(SHOP, POS_ID, number, w.at, kind, t.totals)
    body = pending_body(data, w.at, base + last_seq + 1, t.receipt)
    pending = w.append("receipt.pending", body)
    if refused:
        w.append(
            "receipt.refused", {"pending": pending.seq, "receipt_no": number, "nak": 10, "words": "full"}
        )
        return
    registration = Registration(body.cu_seq, CODE, UNIT_ID, None, None, (), 1)
    groups = group_amounts(t.receipt, t.totals)
    entry = w.append("receipt", receipt_body(body, pending.seq, registration, t.totals, groups))
    index_receipt(w, entry.seq, number, kind, body.at, None, t.totals, registration, t.receipt)


async def fill(store: Store, count: int, batch: int, start_no: int = 1) -> int:
    """``count`` receipts numbered from ``start_no``; returns the next free number."""
    plates = templates()
    sales, ret, training, pro_forma = plates[:4], plates[4], plates[5], plates[6]
    base = int(await store.meta("seq_base") or 0)
    number = start_no
    done = 0
    while done < count:

        def write(w: Writer, first: int, todo: int) -> None:
            for n in range(first, first + todo):
                if n % 100 == 0:
                    add_receipt(w, base, n, ReceiptType.TRAINING, training)
                elif n % 200 == 1:
                    add_receipt(w, base, n, ReceiptType.PRO_FORMA, pro_forma)
                elif n % 25 == 0:
                    add_receipt(w, base, n, ReceiptType.NORMAL, ret)
                else:
                    add_receipt(w, base, n, ReceiptType.NORMAL, sales[n % 4])
                if n % 150 == 2:
                    add_receipt(w, base, n, ReceiptType.COPY, sales[n % 4])
                if n % 500 == 0:
                    w.append("drawer.open", {"cashier": None, "reason": "no sale", "pos_id": POS_ID})
                if n % 1000 == 0:  # refused: the number is not burnt, the next receipt takes it
                    add_receipt(w, base, n + 1, ReceiptType.NORMAL, sales[0], refused=True)
                if n % 5000 == 1:
                    w.append("float.change", {"amount": 2000_00, "pos_id": POS_ID})

        todo = min(batch, count - done)
        await store.transact(functools.partial(write, first=number, todo=todo))
        number += todo
        done += todo
    return number


async def timed(make: Callable[[], Awaitable[Report]]) -> tuple[float, Report]:
    t0 = time.perf_counter()
    report = await make()
    return time.perf_counter() - t0, report


def database_size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


async def run(receipts: int, batch: int, day: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "till.db"
        store = await Store.open(path, Signer(load_or_create_key(Path(tmp) / "key.pem")))
        try:
            t0 = time.perf_counter()
            next_no = await fill(store, receipts, batch)
            filled = time.perf_counter() - t0
            entries_row = await store.fetchone("SELECT MAX(seq) FROM journal")
            entries = int(entries_row[0]) if entries_row else 0
            x_times = []
            for _ in range(5):
                seconds, x = await timed(lambda: make_x(store, SHOP, POS_ID))
                x_times.append(seconds)
            z_seconds, z = await timed(lambda: make_z(store, SHOP, POS_ID))
            assert z.z_no == 1 and z.figures == x.figures
            indexed = z.figures.sales.count + z.figures.returns.count
            indexed += z.figures.training.count + z.figures.pro_forma.count + z.figures.copies.count
            next_no = await fill(store, day, batch, next_no)
            day_seconds, z2 = await timed(lambda: make_z(store, SHOP, POS_ID))
            empty_seconds, z3 = await timed(lambda: make_z(store, SHOP, POS_ID))
            assert (z2.z_no, z3.z_no) == (2, 3) and z3.figures.sales.count == 0
            size = database_size(path)
        finally:
            await store.close()
    cpu = platform.processor() or platform.machine()
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}`")
    print()
    print(
        f"{receipts:,} receipts ({indexed:,} index rows incl. copies, training and pro forma), "
        f"{entries:,} journal entries, database {size / 1e6:.0f} MB; filled in {filled:.1f} s "
        f"({batch} receipts per transaction). {platform.python_implementation()} "
        f"{platform.python_version()}, {cpu}, {os.cpu_count()} CPUs."
    )
    print()
    print("| report | receipts in the period | time |")
    print("|---|---|---|")
    print(
        f"| X, whole period (best / median of 5) | {indexed:,} | "
        f"{min(x_times) * 1000:.0f} ms / {statistics.median(x_times) * 1000:.0f} ms |"
    )
    print(f"| Z 1, whole period (goal < 1 s) | {indexed:,} | {z_seconds * 1000:.0f} ms |")
    day_rows = z2.figures.sales.count + z2.figures.returns.count + z2.figures.training.count
    day_rows += z2.figures.pro_forma.count + z2.figures.copies.count
    print(f"| Z 2, one day after Z 1 | {day_rows:,} | {day_seconds * 1000:.1f} ms |")
    print(f"| Z 3, nothing since Z 2 | 0 | {empty_seconds * 1000:.1f} ms |")
    print()
    f = z.figures
    print(
        f"Z 1: sales {f.sales.amount / 100:,.2f} kr on {f.sales.count:,} receipts, returns "
        f"{f.returns.count:,}, training {f.training.count:,}, pro forma {f.pro_forma.count:,}, copies "
        f"{f.copies.count:,}, drawer openings {f.drawer_openings}, refused {f.refused.count}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="receipts per write transaction")
    parser.add_argument("--day", type=int, default=1000, help="receipts between Z 1 and Z 2")
    args = parser.parse_args()
    asyncio.run(run(args.receipts, args.batch, args.day))


if __name__ == "__main__":
    main()
