"""Control-unit driver round trips over TCP, and what the driver adds to a round trip.

    .venv/bin/python benchmarks/bench_control_unit_driver.py [--receipts 2000]

Three measurements, each a run of sequential registrations (one receipt at a time, as a
till does), reported as round trips per second and p50/p99 latency:

1. raw: a bare asyncio socket sends a prebuilt RR frame and waits for the reply frame,
   against ``benchmarks/instant_unit.py`` (a unit that answers at once) — the floor of
   loopback and event loop;
2. driver: ``ControlUnitDriver.register`` against the same instant unit — the difference
   to (1) is what the driver adds (codec, port owner, deadline, frame log, health);
3. simulator: the driver against ``tillgw sim control-unit`` over TCP, whose journal
   memory fsyncs every registration before it answers, as a real unit's flash write would.

The far end runs in its own process. The 9600-baud line time of the same RR and reply
frames is printed beside: on a real serial unit it is added to every round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
from protocols import ccsp
from protocols.skv import ControlData, ReceiptType, VatSlot

ROOT = Path(__file__).resolve().parent.parent


def receipt(n: int) -> ControlData:
    return ControlData(
        datetime(2026, 11, 21, 14, 5),
        "5560360793",
        "KASSA-1",
        n,
        ReceiptType.NORMAL,
        1_249_50,
        0,
        (VatSlot(2500, 199_90), VatSlot(1200, 53_57), VatSlot(600, 1_13)),
    )


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def timed(count: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    for i in range(min(50, count)):  # warm up: connection, caches
        await call(10_000_000 + i)
    latencies = []
    for i in range(count):
        t0 = time.perf_counter()
        await call(i + 1)
        latencies.append(time.perf_counter() - t0)
    return latencies


async def raw_round_trips(url: str, count: int) -> list[float]:
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    deframer = ccsp.Deframer()

    async def call(n: int) -> None:
        writer.write(ccsp.encode(ccsp.RegisterReceipt(n, receipt(n))))
        while not deframer.feed(await reader.read(4096)):
            pass

    try:
        return await timed(count, call)
    finally:
        writer.close()


async def driver_round_trips(url: str, count: int, base_seq: int = 0) -> list[float]:
    async with ControlUnitDriver(url, "KASSA-1", request_timeout=5.0) as unit:
        await unit.start()

        async def call(n: int) -> None:
            await unit.register(base_seq + n, receipt(base_seq + n))

        return await timed(count, call)


def summary(name: str, latencies: list[float]) -> tuple[str, float, float, float]:
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return name, len(ms) / (sum(ms) / 1000), p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receipts", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    instant, url = start([sys.executable, str(ROOT / "benchmarks" / "instant_unit.py")])
    try:
        rows.append(summary("raw socket, instant unit", asyncio.run(raw_round_trips(url, args.receipts))))
        rows.append(summary("driver, instant unit", asyncio.run(driver_round_trips(url, args.receipts))))
    finally:
        instant.kill()
        instant.wait()
    with tempfile.TemporaryDirectory() as data_dir:
        sim, url = start(
            [
                str(Path(sys.executable).with_name("tillgw")),
                "sim",
                "control-unit",
                "--listen",
                "tcp://127.0.0.1:0",
                "--data-dir",
                data_dir,
            ]
        )
        try:
            rows.append(
                summary("driver, simulated unit (fsync)", asyncio.run(driver_round_trips(url, args.receipts)))
            )
        finally:
            sim.terminate()
            sim.wait()

    rr = ccsp.encode(ccsp.RegisterReceipt(1, receipt(1)))
    reply = ccsp.encode(
        ccsp.RegisterReply(
            "A" * 32 + ";" + "B" * 26, "TGBENCH0000000001", ccsp.MainStatus.OK, ccsp.StorageStatus.OK
        )
    )
    line_ms = (len(rr) + len(reply)) * 10 / 9600 * 1000
    print(
        f"# control-unit round trips, {args.receipts} sequential registrations, "
        f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}"
    )
    print("| far end | round trips/s | p50 | p99 |")
    print("|---|---|---|---|")
    for name, rate, p50, p99 in rows:
        print(f"| {name} | {rate:,.0f} | {p50:.3f} ms | {p99:.3f} ms |")
    added_p50 = rows[1][2] - rows[0][2]
    added_p99 = rows[1][3] - rows[0][3]
    print(f"\ndriver adds per round trip: p50 {added_p50:.3f} ms, p99 {added_p99:.3f} ms (goal: under 2 ms)")
    print(
        f"line time of RR ({len(rr)} B) + reply ({len(reply)} B) at 9600 baud 8N1: {line_ms:.1f} ms "
        f"-> floor {1000 / line_ms:.1f} receipts/s on a serial unit"
    )


if __name__ == "__main__":
    main()
