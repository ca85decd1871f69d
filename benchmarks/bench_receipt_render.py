"""Receipts laid out and rendered to ESC/POS per second, on one core.

    .venv/bin/python benchmarks/bench_receipt_render.py [--seconds 5]

Two receipts: the sample of docs/images (four lines, two VAT rates, card and cash) and
a 40-line one. Each figure is the best of five rounds (interference only slows a round).
The work measured is what the gateway does per receipt before printing: the layout of
every item of SKVFS 2014:9 7 kap. 1 § for 42 columns, and its ESC/POS bytes (CP858).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import platform
import time
from collections.abc import Callable
from decimal import Decimal

from gateway.fiscal.receipt_text import PrintedReceipt, layout, render
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, compute
from protocols.escpos import CodeTable
from tools.render_sample_receipt import sample_receipt


def long_receipt() -> PrintedReceipt:
    lines = tuple(
        Line(
            f"Artikel nummer {i} med ett längre namn",
            Decimal(1 + i % 3),
            10_00 + i * 37,
            (2500, 1200, 600)[i % 3],
        )
        for i in range(40)
    )
    total = sum(line.gross for line in lines)
    receipt = Receipt(lines, (Payment(PaymentMethod.CARD, total),))
    return dataclasses.replace(sample_receipt(copy=False), receipt=receipt, totals=compute(receipt))


def rate(fn: Callable[[], object], seconds: float, rounds: int = 5) -> float:
    best = 0.0
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while (now := time.perf_counter()) < start + seconds / rounds:
            for _ in range(20):
                fn()
            calls += 20
        best = max(best, calls / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"# receipt rendering, {platform.python_implementation()} {platform.python_version()}, one core")
    print("| receipt | printed lines | ESC/POS bytes | receipts/s (layout + ESC/POS) |")
    print("|---|---|---|---|")
    for name, doc in (("sample (4 lines)", sample_receipt()), ("40 lines", long_receipt())):
        data = render(doc, 42, CodeTable.CP858)
        per_second = rate(functools.partial(render, doc, 42, CodeTable.CP858), args.seconds)
        print(f"| {name} | {len(layout(doc, 42))} | {len(data):,} | {per_second:,.0f} |")


if __name__ == "__main__":
    main()
