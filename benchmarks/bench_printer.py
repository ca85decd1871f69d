"""A 40-line receipt on the wire, and print jobs per second through the printer driver.

    .venv/bin/python benchmarks/bench_printer.py [--jobs 500]

1. The receipt: 40 printed lines built with :mod:`protocols.escpos` (header at double
   size, 28 article lines, totals in bold, VAT, payment, control code, an EAN-13 and a
   cut) -> its byte count and the time those bytes take on a serial line at 9600 and
   115200 baud (8N1: 10 bits per byte). USB and TCP carry it in well under a millisecond.
2. Jobs per second: :class:`gateway.devices.printer.driver.PrinterDriver` printing that receipt
   to ``tillgw sim printer`` over TCP, in its own process, with PNG output off (the
   simulator still interprets every command and writes each receipt's ``.txt``). Every
   job is two round trips — the status before it, then the job with the status after it
   — so this is the driver's cost per receipt on top of the printer's own printing time
   (a real 250 mm/s printer needs about a second for this receipt).
   *sequential*: one job at a time, each awaited, as a till prints; *queued*: all jobs
   submitted at once (the driver still prints them one at a time, in order).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway.devices.printer.driver import PrinterDriver
from gateway.devices.printer.job import Outcome
from protocols import escpos
from protocols.escpos import Alignment, BarcodeSystem, CodeTable

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = 48
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
BAUDS = (9600, 115200)


def receipt(number: int = 1) -> tuple[bytes, int]:
    """The benchmark receipt and how many lines it prints."""
    table = CodeTable.CP865
    lines: list[bytes] = []

    def line(text: str) -> None:
        lines.append(escpos.encode_text(text + "\n", table))

    def row(left: str, right: str) -> None:
        line(left[: COLUMNS - len(right) - 1].ljust(COLUMNS - len(right)) + right)

    out = [escpos.initialise(), escpos.select_code_table(table), escpos.align(Alignment.CENTRE)]
    out += [escpos.double_size(), escpos.encode_text("Hörnbutiken\n", table), escpos.normal_size()]
    header = (
        "Storgatan 1, 111 22 Stockholm",
        "Org.nr 556036-0793",
        "Kvitto 2026-11-21 14:05",
        f"Nr {number}",
    )
    out += [escpos.encode_text(text + "\n", table) for text in header]
    out.append(escpos.align(Alignment.LEFT))
    printed = 1 + len(header)
    for i in range(28):
        row(f"Räksmörgås med ägg, nr {i + 1}", f"{45 + i},00")
    line("-" * COLUMNS)
    out += lines
    printed += len(lines)
    out += [
        escpos.bold(),
        escpos.double_height(),
        escpos.encode_text("TOTALT".ljust(38) + "1 638,00\n", table),
    ]
    out += [escpos.normal_size(), escpos.bold(False)]
    tail = ["Moms 12 %        175,50", "Kort             1 638,00", "Kontrollkod ABCD1234EFGH5678", "Tack!"]
    out += [escpos.encode_text(text + "\n", table) for text in tail]
    printed += 1 + len(tail)
    out += [escpos.align(Alignment.CENTRE), escpos.barcode(BarcodeSystem.EAN13, "731086500470", height=60)]
    out.append(escpos.cut(feed=3))
    return b"".join(out), printed + 1  # the barcode is a line too


def start_simulator(output: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "gateway.cli", "sim", "printer", "--listen", "tcp://127.0.0.1:0"]
    command += ["--output", str(output), "--no-png"]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def sequential(driver: PrinterDriver, job: bytes, count: int) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        result = await driver.print(job)
        latencies.append(time.perf_counter() - t0)
        assert result.outcome is Outcome.PRINTED, result
    return time.perf_counter() - started, latencies


async def queued(driver: PrinterDriver, job: bytes, count: int) -> float:
    started = time.perf_counter()
    results = await asyncio.gather(*(asyncio.ensure_future(driver.submit(job)) for _ in range(count)))
    elapsed = time.perf_counter() - started
    assert all(r.outcome is Outcome.PRINTED for r in results)
    return elapsed


async def measure(url: str, job: bytes, count: int) -> tuple[float, list[float], float]:
    async with PrinterDriver(url) as driver:
        await sequential(driver, job, 20)  # warm up: connection, caches
        seq_time, latencies = await sequential(driver, job, count)
        queued_time = await queued(driver, job, count)
    return seq_time, latencies, queued_time


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500, help="jobs per run (default 500)")
    args = parser.parse_args()

    job, printed_lines = receipt()
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    print(f"command: {python} benchmarks/bench_printer.py --jobs {args.jobs}")
    print(f"machine: {platform.python_implementation()} {platform.python_version()}, {platform.machine()}\n")

    print(f"## A {printed_lines}-line receipt on the wire\n")
    print("| bytes | " + " | ".join(f"{baud} baud 8N1" for baud in BAUDS) + " |")
    print("|---:|" + "---:|" * len(BAUDS))
    times = " | ".join(f"{len(job) * BITS_PER_BYTE / baud * 1000:.0f} ms" for baud in BAUDS)
    print(f"| {len(job)} | {times} |\n")

    with tempfile.TemporaryDirectory() as folder:
        proc, url = start_simulator(Path(folder))
        try:
            seq_time, latencies, queued_time = asyncio.run(measure(url, job, args.jobs))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        written = len(list(Path(folder).glob("receipt-*.txt")))
    assert written == 2 * args.jobs + 20, written  # every job printed exactly once

    print(
        f"## Print jobs through PrinterDriver to `tillgw sim printer --no-png` over TCP ({args.jobs} jobs)\n"
    )
    print("| mode | jobs/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000
    print(f"| sequential (each awaited) | {args.jobs / seq_time:.0f} | {p50:.2f} | {p99:.2f} |")
    print(f"| queued (submitted at once) | {args.jobs / queued_time:.0f} | - | - |")


if __name__ == "__main__":
    main()
