"""Receipts through the whole pipeline: ``POST /v1/receipts`` to ``tillgw run``, per second and p50/p99.

    .venv/bin/python benchmarks/bench_pipeline.py [--receipts 2000] [--clients 1,4,16] [--rates 200]

What one receipt costs here is everything a till does for it: HTTP and the bearer token,
JSON and validation, the ``receipt.pending`` entry committed durably (SQLite WAL,
``synchronous=FULL``: fsync), the control unit's round trip over TCP, the ``receipt``
entry with the index row and the request's result committed durably, and the answer.
No printer is configured (printing happens after the answer anyway).

The gateway is ``tillgw run --config …`` in its own process with a fresh data directory,
as in a shop; the far end is, in turn:

* *instant unit* — ``benchmarks/instant_unit.py``, which answers every frame at once
  with a canned reply (the same control code for every receipt — fine for throughput);
* *simulated unit* — ``tillgw sim control-unit`` over TCP, which fsyncs each
  registration to its journal memory before it answers, as a real unit's flash write
  would.

The POS is this process (aiohttp, one keep-alive connection per client). With one
client the receipts are posted one after the other — the real case of a till, where
the p50/p99 latency is what the cashier waits. With several clients posting at once
the pipeline's lock serialises them, so latency grows with the queue and the figure
that matters is the sustained throughput. With ``--rates`` the POS posts at a fixed rate
instead (open loop: receipt *i* is due at *i*/rate seconds, whatever the answers before
it, over up to 16 connections) and each latency counts from when the receipt was due —
so a gateway that falls behind shows its queue in the p99 instead of slowing the POS
down. That is the figure for "so many receipts a second, sustained, at this p99": several
registers' worth of sales at once. Each run starts with a warm-up of 50
receipts that is not counted. The POS client shares the machine's cores with the
gateway (and, for the simulated unit, with the simulator), as it does on a real till.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
TILLGW = str(Path(sys.executable).with_name("tillgw"))
WARM_UP = 50
OPEN_LOOP_CONNECTIONS = 16
Posting = Coroutine[Any, Any, tuple[float, list[float]]]  # a run of posts: (wall seconds, latencies)


def receipt(request_id: str, n: int) -> dict[str, Any]:
    """A typical receipt: three lines over three VAT rates, card or cash every other time."""
    lines = [
        {"text": "Kaffe", "quantity": 2, "unit_price": "32.50", "vat_rate": 12, "group": "Dryck"},
        {"text": "Tidning", "quantity": 1, "unit_price": "45.00", "vat_rate": 6, "group": "Tidningar"},
        {"text": "Paraply", "quantity": 1, "unit_price": f"{149 + n % 50}.00", "vat_rate": 25},
    ]
    total = 2 * 3250 + 4500 + (149 + n % 50) * 100
    payment = (
        {"method": "card", "amount": f"{total // 100}.{total % 100:02d}"}
        if n % 2
        else {"method": "cash", "amount": f"{total // 100 + 1}.00"}
    )
    return {"id": request_id, "cashier": "Anna", "lines": lines, "payments": [payment]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def write_config(path: Path, unit_url: str, port: int) -> None:
    path.write_text(
        f"""\
[shop]
name = "Benchmark AB"
orgnr = "556036-0793"
address = ["Storgatan 1", "352 30 Växjö"]

[register]
pos_id = "KASSA-1"
data_dir = "till"

[control_unit]
url = "{unit_url}"

[api]
listen = "127.0.0.1:{port}"

[mqtt]
enabled = false
""",
        encoding="utf-8",
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    far_end: str
    load: str  # "1" POS client, "4", … or "200/s" (open loop)
    receipts: int
    seconds: float
    latencies: list[float]
    gateway_cpu: float | None  # seconds of CPU the gateway used over the run

    @property
    def rate(self) -> float:
        return self.receipts / self.seconds

    def percentile(self, p: float) -> float:
        ms = sorted(x * 1000 for x in self.latencies)
        return ms[min(len(ms) - 1, int(len(ms) * p))]


async def post_one(
    session: aiohttp.ClientSession, api: str, headers: dict[str, str], request_id: str, n: int
) -> None:
    """One receipt posted and answered 201 (anything else stops the run with the answer)."""
    async with session.post(f"{api}/v1/receipts", json=receipt(request_id, n), headers=headers) as response:
        await response.read()
        if response.status != 201:
            raise RuntimeError(f"{response.status}: {await response.text()}")


async def post_many(api: str, token: str, prefix: str, count: int, clients: int) -> tuple[float, list[float]]:
    """``count`` receipts from ``clients`` concurrent POS clients; (wall seconds, latencies)."""
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    numbers = iter(range(count))

    async def client(session: aiohttp.ClientSession) -> None:
        for n in numbers:  # shared: each receipt is posted by exactly one client
            t0 = time.perf_counter()
            await post_one(session, api, headers, f"{prefix}-{n}", n)
            latencies.append(time.perf_counter() - t0)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        return time.perf_counter() - t0, latencies


async def post_at_rate(
    api: str, token: str, prefix: str, count: int, rate: float
) -> tuple[float, list[float]]:
    """``count`` receipts, receipt ``n`` due at ``n / rate`` seconds; latency counted from when it was due."""
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []

    async def post(session: aiohttp.ClientSession, n: int, due: float) -> None:
        await post_one(session, api, headers, f"{prefix}-{n}", n)
        latencies.append(time.perf_counter() - due)

    connector = aiohttp.TCPConnector(limit=OPEN_LOOP_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        tasks = []
        for n in range(count):
            due = t0 + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(post(session, n, due)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0, latencies


def measure(
    far_end: str, unit_url: str, receipts: int, client_counts: list[int], rates: list[float]
) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "till.toml"
        port = free_port()
        write_config(config, unit_url, port)
        gateway, first = start([TILLGW, "run", "--config", str(config)])
        try:
            if not first.startswith("tillgw: API on "):
                raise RuntimeError(f"tillgw run did not start: {first!r}")
            token = (Path(tmp) / "till" / "api-token").read_text().strip()
            api = f"http://127.0.0.1:{port}"

            def run(load: str, tag: str, warm_clients: int, post: Callable[[], Posting]) -> None:
                asyncio.run(post_many(api, token, f"warm{tag}", WARM_UP, warm_clients))
                cpu0 = cpu_seconds(gateway.pid)
                seconds, latencies = asyncio.run(post())
                cpu1 = cpu_seconds(gateway.pid)
                cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
                results.append(Result(far_end, load, receipts, seconds, latencies, cpu))

            for c in client_counts:
                run(str(c), f"c{c}", c, functools.partial(post_many, api, token, f"c{c}", receipts, c))
            for r in rates:
                run(
                    f"{r:g}/s",
                    f"r{r:g}",
                    1,
                    functools.partial(post_at_rate, api, token, f"r{r:g}", receipts, r),
                )
        finally:
            stop(gateway)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--receipts", type=int, default=2000, help="receipts per measurement")
    parser.add_argument("--clients", default="1,4,16", help="numbers of concurrent POS clients")
    parser.add_argument("--rates", default="200", help="open-loop rates, receipts/s ('' for none)")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",") if c]
    rates = [float(r) for r in args.rates.split(",") if r]

    results = []
    instant, url = start([sys.executable, str(ROOT / "benchmarks" / "instant_unit.py")])
    try:
        results += measure("instant unit", url, args.receipts, client_counts, rates)
    finally:
        stop(instant)
    with tempfile.TemporaryDirectory() as unit_dir:
        sim, url = start(
            [TILLGW, "sim", "control-unit", "--listen", "tcp://127.0.0.1:0", "--data-dir", unit_dir]
        )
        try:
            results += measure("simulated unit (fsync)", url, args.receipts, client_counts, rates)
        finally:
            stop(sim)

    command = shlex.join([".venv/bin/python", "benchmarks/bench_pipeline.py", *sys.argv[1:]])
    print(f"`{command}`")
    print()
    print(
        f"{args.receipts:,} receipts per row, after {WARM_UP} not counted; "
        f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs."
    )
    print()
    print("| far end | POS load | receipts/s | p50 | p99 | gateway CPU per receipt |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        cpu = "–" if r.gateway_cpu is None else f"{r.gateway_cpu / r.receipts * 1000:.2f} ms"
        print(
            f"| {r.far_end} | {r.load} | {r.rate:,.0f} | {statistics.median(r.latencies) * 1000:.2f} ms "
            f"| {r.percentile(0.99):.2f} ms | {cpu} |"
        )
    print()
    print("Goals (issue 4): ≥ 200 receipts/s sustained, p99 under 20 ms, on 2 cores.")


if __name__ == "__main__":
    main()
