"""A chain's sync: messages/s into the inbox and booked/s with 1, 2 and 4 ``tillgw sync``
workers on PostgreSQL, and one on the default SQLite inbox — and which part is the limit —
measured two ways: with the tills publishing live, and draining a backlog the broker queued
while the workers were away.

    .venv/bin/python benchmarks/bench_chain.py [--tills 200] [--messages 50] [--z-every 25]
        [--workers 1,2,4] [--no-sqlite] [--phases live,backlog]

**The parts.** A Mosquitto of the benchmark's own on a free port; ``--tills`` simulated tills
(tests/sync/chain_tills.py) publishing real bus messages — receipts, and a Z report after
every ``--z-every``-th message, built with the bus contract's Structs in the till's envelope —
in order over 8 MQTT connections, resending as a till does (at most 200 unacked per till;
one backoff per till, from 10 s: only the oldest unacked message is sent again); real
``tillgw sync`` processes (the SIE adapter: one file per Z report) sharing a database made
for the run on the machine's PostgreSQL (``tillgw_bench_<random>``, dropped after), with one
MQTT 5 shared subscription. Each phase of each configuration has a broker and a database
of its own.

**Live** (``--phases live``): the workers are running and the tills publish everything.
The tills run in this process and take a good part of a core, on the cores the workers
need: on a small machine this phase shows the whole chain at work, not how far the
workers go. *Stored/s*: messages acked ``stored`` by the workers (each ack is sent after
the transaction that stored the message committed) from the first publication to the
last ack. *Booked/s*: messages marked processed (the SIE files written) from the first
publication until all are. *Resent*: publications beyond one per message.

**Backlog** (``--phases backlog``): the sync module back after an outage. The workers
connect once (persistent sessions on the shared subscription) and are stopped (SIGTERM);
their sessions stay at the broker, which queues the group's messages for them — Mosquitto
hands a shared subscription's messages round-robin to the group's sessions, offline ones
included. The tills then publish everything (no resend) until the broker has PUBACKed every
message, and stay connected, as real tills do, to receive the acks later. The workers are
started again, and the clock runs from their start until the inbox holds every message
(*stored/s*) and until every one is processed (*booked/s*), the database polled every
50 ms. Meanwhile the tills only receive acks, so the cores are the workers', the broker's and
PostgreSQL's — but for the acks' reading in this process (paho and the ack's decoding, about
a sixth of a core at these rates, which real tills would spend on their own machines): this
phase shows how throughput grows with workers. *Connected*: seconds from the start until
every worker said it is connected (Python's start, the imports, the database and the
broker) — part of the drain's time — and the messages stored a second from then on (from
the last worker's connection: the others may have begun a little earlier).

**Both.** *CPU*: the CPU seconds each part used over the phase's measured time — the workers,
the broker, the PostgreSQL backends serving the workers (read after the workers' last
start), and this process (the tills; and in the backlog, also the polling) — as a share of
the wall time: a part near 100 % of one core is that core's limit, the parts together near
200 % are the machine's; and as milliseconds per message, the workers' and all parts'
together: 2 cores book at most 2000 / (all parts' ms) messages a second, however many
workers share them. *Commits/message*: transactions committed in the run's database
(``pg_stat_database``, read after the backends have reported; the workers' reads outside a
transaction and this process's polling count too) per message. *Limit*: the part the
CPU shares point at. *The tills alone*: what the simulated tills publish, each message once,
to a broker with no worker at all — the most the live phase can offer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the simulated tills and the broker live with the tests (tests/sync)

from tests.sync.chain_tills import ChainTills, register_names, till_messages  # noqa: E402
from tests.sync.conftest import Broker, free_port  # noqa: E402

ORGNR, STORE = "5560360793", "kedjan"
SERVER = "postgresql://postgres@127.0.0.1:5432"
TICKS = os.sysconf("SC_CLK_TCK")
POLL = 0.05  # seconds between two looks at the inbox
# PostgreSQL 15's backends send their statistics at most once a second (PGSTAT_MIN_INTERVAL):
# the commits are read this long after the end, so that the last second's are in.
STATS_DELAY = 1.5
THIS = "this process"
PHASES = ("live", "backlog")


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
    cpu: dict[str, float]  # part -> share of one core over the phase
    per_worker: list[float]  # each worker's share of one core
    resent: int
    commits: float  # PostgreSQL transactions committed in the run's database per message (0: SQLite)
    load: float  # the machine's 1-minute load average at the end: other work on the same cores
    connected: float | None = None  # backlog: seconds from the workers' start until all were connected
    stored_after: float | None = None  # backlog: messages stored a second once all were connected

    def cpu_ms(self, part: str | None = None) -> float:
        """CPU milliseconds per message booked: of one part, or of all of them together."""
        share = sum(self.cpu.values()) if part is None else self.cpu[part]
        return 1000 * share / self.booked_per_s

    def one_core(self, part: str) -> float:
        """Messages a second ``part`` would take at 100 % of one core, at this run's CPU per message."""
        return 1000 / self.cpu_ms(part) if self.cpu.get(part) else float("inf")

    def beyond(self) -> str:
        """Which part would stop the growth on a machine with a core for every worker: the broker is
        one thread (one core its ceiling), PostgreSQL a process per connection (it takes more
        cores, but its commits go through one WAL). A model from this run's CPU per message."""
        broker = self.one_core("broker")
        worker = self.one_core("workers")  # each message is one worker's: its share of them, at a core
        words = f"a worker {worker:,.0f}/s, the broker {broker:,.0f}/s (its one thread: a ceiling)"
        if "PostgreSQL" in self.cpu:
            postgres = self.one_core("PostgreSQL")
            cores = broker / postgres
            words += f", PostgreSQL {postgres:,.0f}/s a core ({cores:.1f} cores at the broker's ceiling)"
        return words

    def limit(self) -> str:
        """The part the CPU shares point at.

        A worker is one Python thread, the broker one thread: either near 100 % of a core
        can go no faster. The parts together near all the cores: nothing can, and the part
        after the workers says what else takes the machine. PostgreSQL has a process per
        connection, so its share is a limit only as a part of the cores, or near one core
        with a single backend doing the work.
        """
        cores = os.cpu_count() or 1
        total = sum(self.cpu.values())
        busiest = max(self.per_worker, default=0.0)
        worker = "the worker" if self.workers == 1 else "the busiest worker"
        at_core = [f"{worker} {busiest:.0%}"] if busiest >= 0.85 else []
        at_core += [
            f"{p} {self.cpu[p]:.0%}" for p in ("broker", "PostgreSQL") if self.cpu.get(p, 0.0) >= 0.85
        ]
        others = {part: share for part, share in self.cpu.items() if part != "workers"}
        second = max(others, key=lambda part: others[part])
        if total >= 0.85 * cores:
            words = (
                f"the {cores} cores: {total:.0%} of one core in all; after the workers "
                f"({self.cpu['workers']:.0%}), {second} {others[second]:.0%}"
            )
            return words + (f"; at a core: {', '.join(at_core)}" if at_core else "")
        if at_core:
            return f"{', '.join(at_core)} of a core"
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


@contextlib.contextmanager
def inbox_counter(folder: Path, database: str | None) -> Iterator[Callable[[bool], tuple[int, int]]]:
    """``count(all_stored)``: (messages stored, messages not yet processed) in the inbox, over one
    connection kept open (a connection each look would cost PostgreSQL a backend's start).

    The messages not processed are counted on the inbox's partial index of them
    (``inbox_pending``), so a look costs little once most are booked; with ``all_stored``
    the stored ones are not counted again (a scan of the whole table, 20 times a second,
    took a tenth of a core from SQLite's reader, this process)."""
    stored_sql = "SELECT COUNT(*) FROM inbox"
    pending_sql = "SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL"
    if database is not None:
        with psycopg.connect(database, autocommit=True) as pg:

            def one_pg(sql: str) -> int:
                row = pg.execute(sql).fetchone()
                return 0 if row is None else int(row[0])

            yield lambda all_stored: (-1 if all_stored else one_pg(stored_sql), one_pg(pending_sql))
        return
    conn = sqlite3.connect(f"file:{folder / 'sync' / 'inbox.db'}?mode=ro", uri=True, timeout=30)
    try:

        def one_sqlite(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        yield lambda all_stored: (-1 if all_stored else one_sqlite(stored_sql), one_sqlite(pending_sql))
    finally:
        conn.close()


def commits(database: str, name: str) -> int:
    """Transactions committed in the database so far (pg_stat_database: one fsync of the WAL each)."""
    with psycopg.connect(database) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()
    return 0 if row is None else int(row[0])


def broker_conf(folder: Path, port: int, inflight: int) -> Path:
    conf = folder / "mosquitto.conf"
    conf.write_text(  # docs/mosquitto.md's settings for queues, in-flight messages and Nagle
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
        f"max_inflight_messages {inflight}\nset_tcp_nodelay true\n",
        encoding="utf-8",
    )
    return conf


async def tills_alone(args: argparse.Namespace) -> float:
    """Messages/s the simulated tills publish (QoS 1, each PUBACKed by the broker) with no worker
    at all: what the benchmark itself can offer."""
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        port = free_port()
        broker = Broker(port, broker_conf(Path(tmp), port, args.broker_inflight))
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
            await until_published(tills, running)
            rate = tills.total / (time.perf_counter() - start)
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        finally:
            broker.stop()
    return rate


async def until_published(tills: ChainTills, running: asyncio.Task[None]) -> None:
    """Until the broker has PUBACKed every message once (the tills' run goes on)."""
    published = asyncio.create_task(tills.all_published.wait())
    await asyncio.wait({published, running}, return_when=asyncio.FIRST_COMPLETED)
    if not published.done():
        published.cancel()
        running.result()  # the tills' error, if they failed
        raise RuntimeError("the tills stopped before publishing everything")


def backend_pids(database: str, name: str) -> list[int]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'tillgw sync'",
            (name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


@dataclass
class Chain:
    """One phase's parts: its broker, its database, its workers' configurations."""

    folder: Path
    broker: Broker
    database: str | None  # None: the SQLite inbox
    name: str
    configs: list[Path]
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def store(self) -> str:
        return "SQLite" if self.database is None else "PostgreSQL"

    def connections(self) -> int:
        """How many times the workers' logs have said they are connected."""
        return sum(
            p.read_text(encoding="utf-8").count("MQTT: connected to")
            for n in range(len(self.configs))
            for p in (self.folder / f"logs-{n}").glob("*.log")
        )

    def start_workers(self) -> None:
        self.processes = [
            subprocess.Popen(  # started and left running
                [sys.executable, "-m", "gateway.cli", "sync", "--config", str(c)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for c in self.configs
        ]

    async def until_connected(self, before: int) -> None:
        """Until every worker has said it is connected since ``before`` connections were logged."""
        # Another process's log: nothing here could set an event when it changes.
        while self.connections() < before + len(self.configs):
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError("a sync worker ended before it connected")
            await asyncio.sleep(0.1)

    def stop_workers(self) -> list[int]:
        """SIGTERM, as at a shutdown: the sessions stay at the broker. Their exit statuses."""
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = [p.wait() for p in self.processes]
        self.processes = []
        return codes

    def pids(self) -> dict[str, list[int]]:
        assert self.broker.process is not None
        return {
            "workers": [p.pid for p in self.processes],
            "broker": [self.broker.process.pid],
            "PostgreSQL": backend_pids(self.database, self.name) if self.database else [],
        }


@contextlib.asynccontextmanager
async def chain(args: argparse.Namespace, workers: int, use_postgres: bool) -> AsyncIterator[Chain]:
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        folder = Path(tmp)
        mosquitto = folder / "mosquitto"
        mosquitto.mkdir()
        port = free_port()
        broker = Broker(port, broker_conf(mosquitto, port, args.broker_inflight))
        broker.start()
        name = f"tillgw_bench_{secrets.token_hex(6)}"
        database = None
        if use_postgres:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            database = f"{SERVER}/{name}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        configs = [write_config(folder, port, database, n) for n in range(workers)]
        parts = Chain(folder, broker, database, name, configs, env)
        try:
            subprocess.run(  # noqa: ASYNC221 - before anything is measured
                [sys.executable, "-m", "gateway.cli", "sync", "--export-key", "--config", str(configs[0])],
                check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            yield parts
        finally:
            parts.stop_workers()
            broker.stop()
            if database:
                with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def the_tills(args: argparse.Namespace, port: int, *, resend_after: float, window: int) -> ChainTills:
    messages = {
        r: till_messages(ORGNR, STORE, r, args.messages, args.z_every) for r in register_names(args.tills)
    }
    return ChainTills(
        "127.0.0.1",
        port,
        ORGNR,
        STORE,
        messages,
        resend_after=resend_after,
        connections=8,
        window=window,
    )


async def committed_since(parts: Chain, cpu: dict[str, float], before: int) -> int:
    """Transactions committed in the run's database since ``before``; with SQLite 0, and no
    PostgreSQL share in ``cpu``."""
    if parts.database:
        await asyncio.sleep(STATS_DELAY)
        return commits(parts.database, parts.name) - before
    del cpu["PostgreSQL"]
    return 0


def measured(
    parts: Chain, tills: ChainTills, spans: tuple[float, float, float], cpu: dict[str, float],
    per_worker: list[float], committed: int, connected: float | None = None,
) -> Result:  # fmt: skip
    """The run's :class:`Result`; ``spans``: (start, all stored, all booked) in perf_counter time,
    ``connected``: when every worker was connected (the backlog's drain)."""
    start, stored_at, booked_at = spans
    return Result(
        parts.store,
        len(per_worker),
        tills.total,
        tills.total / (stored_at - start),
        tills.total / (booked_at - start),
        cpu,
        per_worker,
        tills.sent - tills.total,
        committed / tills.total,
        os.getloadavg()[0],
        None if connected is None else connected - start,
        tills.total / (stored_at - connected) if connected is not None and stored_at > connected else None,
    )


async def live(args: argparse.Namespace, workers: int, use_postgres: bool) -> Result:
    """The workers running, the tills publishing: from the first publication until all booked."""
    async with chain(args, workers, use_postgres) as parts:
        parts.start_workers()
        await parts.until_connected(0)
        tills = the_tills(args, parts.broker.port, resend_after=10.0, window=200)
        pids = parts.pids()
        database = parts.database
        commits_before = commits(database, parts.name) if database else 0
        cpu_before = {k: [cpu_seconds(p) for p in v] for k, v in pids.items()}
        tills_before = time.process_time()
        start = time.perf_counter()
        await tills.run()
        stored_at = time.perf_counter()
        while booked(parts.folder, database) < tills.total:  # noqa: ASYNC110 - another process's database
            await asyncio.sleep(POLL)
        booked_at = time.perf_counter()
        wall = booked_at - start
        used = {
            k: [cpu_seconds(p) - b for p, b in zip(v, cpu_before[k], strict=True)] for k, v in pids.items()
        }
        cpu = {k: sum(v) / wall for k, v in used.items()}
        cpu[THIS] = (time.process_time() - tills_before) / wall
        committed = await committed_since(parts, cpu, commits_before)
        per_worker = [s / wall for s in used["workers"]]
        return measured(parts, tills, (start, stored_at, booked_at), cpu, per_worker, committed)


async def backlog(args: argparse.Namespace, workers: int, use_postgres: bool) -> Result:
    """The broker's queue for the workers' sessions drained: from their start until all booked."""
    async with chain(args, workers, use_postgres) as parts:
        parts.start_workers()
        await parts.until_connected(0)  # logged once subscribed: the sessions hold the subscription
        if any(parts.stop_workers()):
            raise RuntimeError("a sync worker did not end cleanly on SIGTERM")
        # Every message of a till at once (no window to wait on) and never again: the broker has them.
        tills = the_tills(args, parts.broker.port, resend_after=1e9, window=max(200, args.messages))
        tills.resend_cap = 1e9
        running = asyncio.create_task(tills.run())
        try:
            await until_published(tills, running)
            database = parts.database
            commits_before = commits(database, parts.name) if database else 0
            assert parts.broker.process is not None
            broker_pid = parts.broker.process.pid
            broker_before = cpu_seconds(broker_pid)
            connections = parts.connections()
            with inbox_counter(parts.folder, database) as count:
                this_before = time.process_time()
                start = time.perf_counter()
                parts.start_workers()
                connected_at: float | None = None
                stored_at: float | None = None
                while True:
                    stored, pending = count(stored_at is not None)
                    now = time.perf_counter()
                    if stored_at is None and stored >= tills.total:
                        stored_at = now
                    if stored_at is not None and pending == 0:
                        break
                    if connected_at is None and parts.connections() >= connections + workers:
                        connected_at = now
                    if any(p.poll() is not None for p in parts.processes):
                        raise RuntimeError("a sync worker ended during the drain")
                    await asyncio.sleep(POLL)
                booked_at = now
                assert stored_at is not None
                wall = booked_at - start
                # The workers and their backends were started for this drain: all their CPU is its.
                per_worker = [cpu_seconds(p.pid) / wall for p in parts.processes]
                cpu = {
                    "workers": sum(per_worker),
                    "broker": (cpu_seconds(broker_pid) - broker_before) / wall,
                    "PostgreSQL": (
                        sum(cpu_seconds(p) for p in backend_pids(database, parts.name)) / wall
                        if database
                        else 0.0
                    ),
                    THIS: (time.process_time() - this_before) / wall,
                }
            if connected_at is None:  # drained before a look at the logs saw every worker connected
                connected_at = booked_at
            committed = await committed_since(parts, cpu, commits_before)
            # The acks reach the tills, as they would reach tills back online (not measured).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(running), 30)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        spans = (start, stored_at, booked_at)
        return measured(parts, tills, spans, cpu, per_worker, committed, connected_at)


def row(r: Result, phase: str) -> str:
    cpu = ", ".join(f"{k} {v:.0%}" for k, v in r.cpu.items())
    if r.workers > 1:
        cpu += f" (each worker {'/'.join(f'{s:.0%}' for s in r.per_worker)})"
    if phase == "live":
        middle = f"{r.resent}"
    else:
        after = "—" if r.stored_after is None else f"{r.stored_after:,.0f}"
        middle = f"{r.connected:.1f}, {after}"
    commits = f"{r.commits:.2f}" if r.store == "PostgreSQL" else "—"
    return (
        f"| {r.store} | {r.workers} | {r.messages} | {r.stored_per_s:,.0f} | {r.booked_per_s:,.0f} | "
        f"{middle} | {commits} | {cpu} | {r.cpu_ms('workers'):.2f}, {r.cpu_ms():.2f} | "
        f"{r.load:.1f} | {r.limit()} |"
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
    parser.add_argument("--phases", default=",".join(PHASES), help="live, backlog or both (live,backlog)")
    parser.add_argument(
        "--broker-inflight",
        type=int,
        default=100,
        help="Mosquitto's max_inflight_messages (docs/mosquitto.md)",
    )
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or any(p not in PHASES for p in phases):
        parser.error(f"--phases: one or more of {', '.join(PHASES)}")
    runs: list[tuple[int, bool]] = [] if args.no_sqlite else [(1, False)]
    runs += [(int(n), True) for n in args.workers.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.tills} tills x {args.messages} messages (a Z report every {args.z_every})")
    if "live" in phases:
        rate = asyncio.run(tills_alone(args))
        print(f"the tills alone (no worker, every message out once): {rate:,.0f}/s")
    for phase in phases:
        middle = "resent" if phase == "live" else "connected (s), stored/s from then"
        print(f"\n{phase}:\n")
        print(
            f"| store | workers | messages | stored/s | booked/s | {middle} | commits/message "
            "| CPU (share of a core) | CPU ms/message (workers, all) | load | limit |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        measure = live if phase == "live" else backlog
        results = []
        for workers, use_postgres in runs:
            results.append(asyncio.run(measure(args, workers, use_postgres)))
            print(row(results[-1], phase), flush=True)
        print(
            "\none core's worth of each part (messages/s at 100 % of a core, at each run's CPU per message):"
        )
        for r in results:
            print(f"- {r.store}, {r.workers} worker(s): {r.beyond()}")


if __name__ == "__main__":
    main()
