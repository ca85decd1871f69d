"""A chain's sync: messages/s into the inbox and booked/s with 1, 2 and 4 ``tillgw sync``
workers on PostgreSQL, and one on the default SQLite inbox — and which part is the limit.

    .venv/bin/python benchmarks/bench_chain.py [--tills 200] [--messages 50] [--z-every 25]
        [--workers 1,2,4] [--no-sqlite]

**The parts.** A Mosquitto of the benchmark's own on a free port; ``--tills`` simulated tills
(tests/sync/chain_tills.py) publishing real bus messages — receipts, and a Z report after
every ``--z-every``-th message, built with the bus contract's Structs in the till's envelope —
in order, at most 200 unacked per till, resending what is not acked after 10 s, over 8 MQTT
connections; real ``tillgw sync`` processes (the SIE adapter: one file per Z report) sharing
a database made for the run on the machine's PostgreSQL (``tillgw_bench_<random>``, dropped
after), with one MQTT 5 shared subscription.

**What is measured.** *Stored/s*: messages acked ``stored`` by the workers (each ack is sent
after the transaction that stored the message committed) from the first publication to the
last ack. *Booked/s*: messages marked processed (the SIE files written) from the first
publication until all are. *CPU*: the CPU seconds each part used over the run — the
workers, the broker, the PostgreSQL backends serving the workers, and this process (the
tills) — as a share of the run's wall time: a part near 100 % of one core is that core's
limit, the parts together near 200 % are the machine's; and as milliseconds per message,
the workers' and all parts' together: 2 cores book at most 2000 / (all parts' ms) messages
a second, however many workers share them. *Commits/message*: transactions committed in
the run's database (``pg_stat_database``; the workers' reads outside a transaction and
this process's polling count too) per message. *The tills alone*: what the simulated
tills publish, each message once, to a broker with no worker at all — the most the
benchmark itself can offer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the simulated tills and the broker live with the tests (tests/sync)

from tests.sync.chain_tills import ChainTills, register_names, till_messages  # noqa: E402
from tests.sync.conftest import Broker, free_port  # noqa: E402

ORGNR, STORE = "5560360793", "kedjan"
SERVER = "postgresql://postgres@127.0.0.1:5432"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Result:
    store: str
    workers: int
    messages: int
    stored_per_s: float
    booked_per_s: float
    cpu: dict[str, float]  # part -> share of one core over the run
    resent: int
    commits: float  # PostgreSQL transactions committed in the run's database per message (0: SQLite)
    load: float  # the machine's 1-minute load average at the end: other work on the same cores

    def cpu_ms(self, part: str | None = None) -> float:
        """CPU milliseconds per message booked: of one part, or of all of them together."""
        share = sum(self.cpu.values()) if part is None else self.cpu[part]
        return 1000 * share / self.booked_per_s

    def limit(self) -> str:
        total = sum(self.cpu.values())
        cores = os.cpu_count() or 1
        per_worker = self.cpu["workers"] / self.workers
        if total >= 0.85 * cores:
            return f"CPU: the {cores} cores ({total:.0%} of one core in all)"
        if per_worker >= 0.85:
            return f"CPU of each worker ({per_worker:.0%} of a core)"
        if self.load >= 0.85 * cores:  # the load average counts the runnable processes, ours too
            return f"the {cores} cores: these parts {total:.0%} of a core, with others load {self.load:.1f}"
        return "waits: no part near a core, nor the cores together; each worker waits on round trips"


def write_config(folder: Path, port: int, database: str | None, n: int) -> Path:
    path = folder / f"worker-{n}.toml"
    lines = [
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n',
        "[sync]",
        f'inbox = "{folder / "sync" / "inbox.db"}"',
        f'sie_dir = "{folder / "sie"}"',
        f'log_dir = "{folder / f"logs-{n}"}"',
        f'stores = ["{ORGNR}/{STORE}"]',
        f'client_id = "bench-{n}-{secrets.token_hex(4)}"',
        "retry_interval = 1",
    ]
    if database is not None:
        lines.insert(2, f'database = "{database}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def booked(folder: Path, database: str | None) -> int:
    if database is not None:
        with psycopg.connect(database) as pg:
            row = pg.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NOT NULL").fetchone()
        return 0 if row is None else int(row[0])
    inbox = folder / "sync" / "inbox.db"
    if not inbox.exists():
        return 0
    conn = sqlite3.connect(f"file:{inbox}?mode=ro", uri=True, timeout=30)
    try:
        found = conn.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NOT NULL").fetchone()
        return int(found[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def commits(database: str, name: str) -> int:
    """Transactions committed in the database so far (pg_stat_database: one fsync of the WAL each)."""
    with psycopg.connect(database) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()
    return 0 if row is None else int(row[0])


async def tills_alone(args: argparse.Namespace) -> float:
    """Messages/s the simulated tills publish (QoS 1, each PUBACKed by the broker) with no worker
    at all: what the benchmark itself can offer."""
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        port = free_port()
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
            f"max_inflight_messages {args.broker_inflight}\nset_tcp_nodelay true\n",
            encoding="utf-8",
        )
        broker = Broker(port, conf)
        broker.start()
        try:
            messages = {
                r: till_messages(ORGNR, STORE, r, args.messages, args.z_every)
                for r in register_names(args.tills)
            }
            tills = ChainTills(
                "127.0.0.1", port, ORGNR, STORE, messages, resend_after=1e9, connections=8, window=200
            )
            running = asyncio.create_task(tills.run())  # never acked: it runs until cancelled
            start = time.perf_counter()
            while tills.sent < tills.total:  # noqa: ASYNC110 - the tills' own counter
                await asyncio.sleep(0.01)
            rate = tills.total / (time.perf_counter() - start)
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        finally:
            broker.stop()
    return rate


def backend_pids(database: str, name: str) -> list[int]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'tillgw sync'",
            (name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


async def run_one(args: argparse.Namespace, workers: int, use_postgres: bool) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        folder = Path(tmp)
        mosquitto = folder / "mosquitto"
        mosquitto.mkdir()
        port = free_port()
        conf = mosquitto / "mosquitto.conf"
        conf.write_text(  # docs/mosquitto.md's settings for queues, in-flight messages and Nagle
            f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
            f"max_inflight_messages {args.broker_inflight}\nset_tcp_nodelay true\n",
            encoding="utf-8",
        )
        broker = Broker(port, conf)
        broker.start()
        name = f"tillgw_bench_{secrets.token_hex(6)}"
        database = None
        if use_postgres:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            database = f"{SERVER}/{name}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        configs = [write_config(folder, port, database, n) for n in range(workers)]
        subprocess.run(  # noqa: ASYNC221 - before anything is measured
            [sys.executable, "-m", "gateway.cli", "sync", "--export-key", "--config", str(configs[0])],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes = [
            subprocess.Popen(  # noqa: ASYNC220 - started and left running
                [sys.executable, "-m", "gateway.cli", "sync", "--config", str(c)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for c in configs
        ]
        try:
            for n in range(workers):
                log_dir = folder / f"logs-{n}"
                # Another process's log: nothing here could set an event when it changes.
                while not any("MQTT: connected" in p.read_text() for p in log_dir.glob("*.log")):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            messages = {
                r: till_messages(ORGNR, STORE, r, args.messages, args.z_every)
                for r in register_names(args.tills)
            }
            tills = ChainTills(
                "127.0.0.1", port, ORGNR, STORE, messages, resend_after=10.0, connections=8, window=200
            )
            pids = backend_pids(database, name) if database else []
            assert broker.process is not None
            parts = {
                "workers": [p.pid for p in processes],
                "broker": [broker.process.pid],
                "PostgreSQL": pids,
            }
            commits_before = commits(database, name) if database else 0
            cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in parts.items()}
            tills_before = time.process_time()
            start = time.perf_counter()
            await tills.run()
            stored_at = time.perf_counter()
            while booked(folder, database) < tills.total:  # noqa: ASYNC110 - another process's database
                await asyncio.sleep(0.05)
            booked_at = time.perf_counter()
            wall = booked_at - start
            cpu = {k: (sum(cpu_seconds(p) for p in v) - cpu_before[k]) / wall for k, v in parts.items()}
            cpu["tills (this process)"] = (time.process_time() - tills_before) / wall
            committed = commits(database, name) - commits_before if database else 0
            if not database:
                del cpu["PostgreSQL"]
        finally:
            for p in processes:
                p.send_signal(signal.SIGTERM)
            for p in processes:
                p.wait()
            broker.stop()
            if database:
                with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return Result(
            "PostgreSQL" if use_postgres else "SQLite",
            workers,
            tills.total,
            tills.total / (stored_at - start),
            tills.total / (booked_at - start),
            cpu,
            tills.sent - tills.total,
            committed / tills.total,
            os.getloadavg()[0],
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tills", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50, help="messages per till")
    parser.add_argument("--z-every", type=int, default=25)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--broker-inflight",
        type=int,
        default=100,
        help="Mosquitto's max_inflight_messages (docs/mosquitto.md)",
    )
    args = parser.parse_args()
    runs: list[tuple[int, bool]] = [] if args.no_sqlite else [(1, False)]
    runs += [(int(n), True) for n in args.workers.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.tills} tills x {args.messages} messages (a Z report every {args.z_every})")
    print(f"the tills alone (no worker, every message out once): {asyncio.run(tills_alone(args)):,.0f}/s\n")
    print(
        "| store | workers | messages | stored/s | booked/s | resent | commits/message "
        "| CPU (share of a core) | CPU ms/message (workers, all) | load | limit |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for workers, use_postgres in runs:
        r = asyncio.run(run_one(args, workers, use_postgres))
        cpu = ", ".join(f"{k} {v:.0%}" for k, v in r.cpu.items())
        print(
            f"| {r.store} | {r.workers} | {r.messages} | {r.stored_per_s:,.0f} | {r.booked_per_s:,.0f} | "
            f"{r.resent} | {r.commits:.2f} | {cpu} | {r.cpu_ms('workers'):.2f}, {r.cpu_ms():.2f} | "
            f"{r.load:.1f} | {r.limit()} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
