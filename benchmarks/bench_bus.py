"""The bus: messages per second outbox → Mosquitto → sync inbox → ack, and the latency of one.

    .venv/bin/python benchmarks/bench_bus.py [--messages 5000] [--batch 1] [--rate 100] [--rounds 3]
                                             [--tcp-nodelay]

Goal (issue 5): ≥ 1,000 receipts/s on 2 cores.

**The parts, all real.** A Mosquitto (``/usr/sbin/mosquitto``) started here on a free port
with a temporary configuration (persistence in a temporary folder, anonymous,
``max_queued_messages 1000000``). The sync module is ``tillgw sync --config …`` in its own
process, as in a store: subscriber, inbox (SQLite WAL, ``synchronous=FULL``), acks after
the commit, processing, the day's log. The till side is this process: a till database
(``Store.open``) with the outbox installed (``Outbox.install``) and the real
``Publisher`` with its default settings, connected to the broker as a till is.

**The receipts** are written with the till's own parts — ``Store.transact`` and
``Writer.append`` — not through the pipeline: a ``receipt.pending`` entry and a
``receipt`` entry per receipt with the pipeline's own bodies
(``benchmarks/sample_journal.py``), signed and chained as the pipeline appends them. The
outbox's append hook makes the ``receipt`` entry's message in the same transaction,
exactly as on a till. The pipeline itself makes 200–300 receipts/s on these cores (see
the fiscal core in docs/PERFORMANCE.md), so it could not drive the bus to its limit.

**Measured**, each run with a fresh till database, broker and inbox:

* *backlog*: ``--messages`` receipts are written while the publisher is not running (a
  till whose broker was away), then the publisher starts; messages/s is the backlog over
  the time from the publisher's start to the last ack recorded in the outbox. This is
  the bus's own rate: nothing else runs. ``--rounds`` times; the median is in the table,
  every round below it (the machine's other work moves it by a fifth).
* *flat out*: the publisher runs while this process writes ``--messages`` receipts as
  fast as it can, ``--batch`` per write transaction; messages/s is from the first write
  to the last ack. The till's own writing shares this process's one core with the publisher.
* *steady*: the same, one receipt per transaction, at ``--rate`` receipts/s.

The latency of a message is from its creation (inside the receipt's write transaction, so
it includes the commit's fsync) to its ack being recorded in the outbox (``acked_at``):
the publisher's read and publish, the broker, the sync module's intake transaction
(fsync), the ack back through the broker and the till's ack transaction (fsync).
Meaningless for the backlog, so not shown there. CPU per message is read from
``/proc/<pid>/stat`` for each of the three processes over each run. After each run the
inbox is checked to hold every message once.

``--tcp-nodelay`` also turns TCP_NODELAY on for the broker's side of each connection. The
gateway's and the sync module's MQTT clients set it themselves now (``gateway.mqtt.client
.NO_DELAY``); the flag was the experiment that measured the difference (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import platform
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sample_journal import POS_ID, append_receipt  # beside this script

from gateway.bus.outbox import Outbox
from gateway.bus.publisher import Publisher
from gateway.common.clock import Clock
from gateway.common.health import DeviceState
from gateway.common.signing import Signer, load_or_create_key
from gateway.config import MqttConfig
from gateway.fiscal.journal import Entry
from gateway.fiscal.store import Store, Writer
from gateway.messages.envelope import Topics

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TILLGW = str(Path(sys.executable).with_name("tillgw"))
ORGNR = "5560360793"
STORE = "bench"
TOPICS = Topics(ORGNR, STORE, POS_ID)
DEADLINE = 600.0  # seconds for the last ack: a hang guard

# --tcp-nodelay: Nagle's algorithm off on every MQTT connection. The MQTT clients of the
# gateway set TCP_NODELAY themselves now (it was measured with this flag first); Mosquitto sets it only with
# `set_tcp_nodelay true`; without it each small packet sent while another is unacknowledged
# waits for the peer's delayed ACK (up to 40 ms on Linux). This process's sockets:
# :func:`nodelay_everywhere`; the sync module's: this wrapper of ``tillgw``.
NODELAY_SYNC = """\
import socket, sys
_connect = socket.create_connection
def create_connection(*args, **kwargs):
    sock = _connect(*args, **kwargs)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
socket.create_connection = create_connection
from gateway.cli import main
sys.exit(main())
"""


def nodelay_everywhere() -> None:
    """TCP_NODELAY on every connection this process makes (paho uses ``socket.create_connection``)."""
    connect = socket.create_connection

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        sock = connect(*args, **kwargs)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    socket.create_connection = create_connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    """A child process whose stderr is read (and kept) by a thread; ``started`` waits for a line."""

    def __init__(self, command: list[str], ready: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(ready,), daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"{command[0]} did not start:\n" + "\n".join(self.lines[-20:]))

    def _read(self, ready: str) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if ready in line:
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._thread.join()


def start_mosquitto(folder: Path, nodelay: bool) -> tuple[Process, int]:
    port = free_port()
    (folder / "data").mkdir()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"user {getpass.getuser()}\nlog_dest stderr\n"
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {folder / 'data'}/\nmax_queued_messages 1000000\n"
        + ("set_tcp_nodelay true\n" if nodelay else ""),
        encoding="utf-8",
    )
    return Process([MOSQUITTO, "-c", str(conf)], " running"), port


def start_sync(folder: Path, port: int, nodelay: bool) -> Process:
    config = folder / "sync.toml"
    config.write_text(
        f"""\
[mqtt]
url = "mqtt://127.0.0.1:{port}"

[sync]
inbox = "{folder / "inbox.db"}"
sie_dir = "{folder / "sie"}"
log_dir = "{folder / "logs"}"
registers = ["{ORGNR}/{STORE}/{POS_ID}"]
client_id = "tillgw-sync-bench"
""",
        encoding="utf-8",
    )
    command = [sys.executable, "-c", NODELAY_SYNC] if nodelay else [TILLGW]
    return Process([*command, "sync", "--config", str(config)], "MQTT: connected to")


# -- the till side --------------------------------------------------------------------------


class Till:
    """A till database with the outbox; records when each message is made (by journal entry)."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox
        self.made: dict[int, float] = {}  # journal entry -> wall time its message was made
        self.number = 0
        self.base = 0

    @classmethod
    async def open(cls, folder: Path) -> Till:
        store = await Store.open(folder / "till.db", Signer(load_or_create_key(folder / "signing-key.pem")))
        outbox = Outbox(store, TOPICS)
        await outbox.install()  # its hook first: ours runs after the row is made
        till = cls(store, outbox)
        store.append_hooks.append(till._made)
        till.base = int(await store.meta("seq_base") or 0)
        return till

    def _made(self, w: Writer, entry: Entry) -> None:
        if entry.kind == "receipt":
            self.made[entry.seq] = time.time()

    async def write(self, count: int) -> None:
        """``count`` receipts in one write transaction."""

        def write(w: Writer) -> None:
            for _ in range(count):
                self.number += 1
                append_receipt(w, self.number, self.base + 2 * self.number, f"bench-{self.number}")

        await self.store.transact(write)

    async def latencies(self) -> list[float]:
        """Seconds from each message's making to its ack being recorded."""
        rows = await self.store.fetchall("SELECT journal_entry, acked_at FROM outbox ORDER BY sequence")
        return [datetime.fromisoformat(r[1]).timestamp() - self.made[int(r[0])] for r in rows]

    async def last_ack(self) -> float:
        row = await self.store.fetchone("SELECT MAX(acked_at) FROM outbox")
        assert row is not None and row[0] is not None
        return datetime.fromisoformat(row[0]).timestamp()


def stored_once(folder: Path, messages: int) -> None:
    """The sync module's inbox in ``folder`` holds each of the ``messages`` once: a run that
    lost or doubled one measured nothing."""
    with contextlib.closing(sqlite3.connect(folder / "inbox.db")) as db:
        stored = db.execute("SELECT COUNT(*), COUNT(DISTINCT msg_id) FROM inbox").fetchone()
    assert stored == (messages, messages), f"the inbox holds {stored}, not {messages} messages"


async def all_acked(publisher: Publisher, count: int) -> None:
    """Return once messages 1..count are all acked (the ack recorded in the outbox)."""
    async with asyncio.timeout(DEADLINE):
        await publisher.wait_acked(count)
        while rows := await publisher.outbox.unacked(0, 1):
            await publisher.wait_acked(rows[0].sequence)


# -- the runs -------------------------------------------------------------------------------


@dataclass
class Result:
    mode: str
    messages: int
    seconds: float
    latencies: list[float] | None
    cpu: dict[str, float]  # process -> CPU seconds over the run
    sends: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, p: float) -> float:
        assert self.latencies is not None
        ms = sorted(x * 1000 for x in self.latencies)
        return ms[min(len(ms) - 1, int(len(ms) * p))]


async def run(mode: str, messages: int, batch: int, rate: float | None, nodelay: bool) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "mosquitto").mkdir()
        broker, port = start_mosquitto(folder / "mosquitto", nodelay)
        sync = start_sync(folder, port, nodelay)
        till = await Till.open(folder)
        publisher = Publisher(till.outbox, TOPICS, MqttConfig(host="127.0.0.1", port=port))
        pids = {"till": os.getpid(), "sync": sync.proc.pid, "mosquitto": broker.proc.pid}
        try:
            if mode == "backlog":
                while till.number < messages:
                    await till.write(min(batch, messages - till.number))
                cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
                t0 = time.time()
                await publisher.start()
            else:
                await publisher.start()
                async with asyncio.timeout(30):  # connected and subscribed before the clock starts
                    await publisher.wait_for(DeviceState.READY)
                cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
                t0 = time.time()
                while till.number < messages:
                    await till.write(min(batch, messages - till.number))
                    if rate is not None:  # paced: the next batch when its time has come
                        await asyncio.sleep(max(0.0, t0 + till.number / rate - time.time()))
            await all_acked(publisher, messages)
            seconds = await till.last_ack() - t0
            cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
            latencies = None if mode == "backlog" else await till.latencies()
            row = await till.store.fetchone("SELECT SUM(sends) FROM outbox")
            sends = int(row[0]) if row is not None else 0
        finally:
            await publisher.close()
            await till.store.close()
            sync.stop()
            broker.stop()
        stored_once(folder, messages)
    return Result(mode, messages, seconds, latencies, cpu, sends)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="receipts (messages) per run")
    parser.add_argument("--batch", type=int, default=1, help="receipts per write transaction, flat out")
    parser.add_argument("--rate", type=float, default=100.0, help="receipts/s of the steady run")
    parser.add_argument("--rounds", type=int, default=3, help="backlog runs; the median is shown")
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="experiment: Nagle's algorithm off on all MQTT connections",
    )
    args = parser.parse_args()
    if args.tcp_nodelay:
        nodelay_everywhere()

    n, nodelay = args.messages, args.tcp_nodelay
    backlogs = sorted(
        (asyncio.run(run("backlog", n, 100, None, nodelay)) for _ in range(args.rounds)), key=lambda r: r.rate
    )
    results = [
        backlogs[len(backlogs) // 2],
        asyncio.run(run(f"flat out, {args.batch} per transaction", n, args.batch, None, nodelay)),
        asyncio.run(run(f"steady {args.rate:,.0f}/s", n, 1, args.rate, nodelay)),
    ]

    command = shlex.join([".venv/bin/python", "benchmarks/bench_bus.py", *sys.argv[1:]])
    print(f"`{command}`")
    print()
    print(
        f"{n:,} receipts per run{', TCP_NODELAY on every connection' if nodelay else ''}; "
        f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {Clock().today()}."
    )
    print()
    names = list(results[0].cpu)
    print(
        "| run | messages/s | p50 | p99 | sends per message | "
        + " | ".join(f"CPU/msg {name}" for name in names)
        + " |"
    )
    print("|---|---:|---:|---:|---:|" + "---:|" * len(names))
    for r in results:
        lat = ("–", "–")
        if r.latencies is not None:
            lat = (f"{r.percentile(0.5):.1f} ms", f"{r.percentile(0.99):.1f} ms")
        cpu = " | ".join(f"{r.cpu[name] / r.messages * 1000:.2f} ms" for name in names)
        print(f"| {r.mode} | {r.rate:,.0f} | {lat[0]} | {lat[1]} | {r.sends / r.messages:.2f} | {cpu} |")
    print()
    print(f"Backlog, {args.rounds} runs: " + ", ".join(f"{r.rate:,.0f}" for r in backlogs) + " messages/s.")
    print()
    print("Goal (issue 5): ≥ 1,000 receipts/s on 2 cores.")


if __name__ == "__main__":
    main()
