"""A chain's sync: several ``tillgw sync`` processes on one PostgreSQL and one MQTT 5 shared
subscription, a real Mosquitto, simulated tills publishing real receipts and Z reports — and
one worker SIGKILLed in the middle of the stream.

What must hold at the end: every message stored once and booked once (each Z report one
SIE file and one ``sie_files`` row, nothing held, nothing failed), each register booked in
sequence order, the killed worker's registers taken on by the others, and the workers still
running ending cleanly (exit status 0: no ERROR logged).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.sync.chain_tills import ChainTills, register_names, till_messages
from tests.sync.conftest import ROOT, Broker

ORGNR, STORE = "5560360793", "kedjan"
REGISTERS, MESSAGES, Z_EVERY = 12, 60, 15


def worker_config(tmp_path: Path, broker: Broker, url: str, n: int, extra: str = "") -> Path:
    path = tmp_path / f"worker-{n}.toml"
    path.write_text(
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker.port}"\n\n'
        "[sync]\n"
        f'database = "{url}"\n'
        f'inbox = "{tmp_path / "sync" / "inbox.db"}"\n'  # the folder of the shared signing key
        f'sie_dir = "{tmp_path / "sie"}"\n'
        f'log_dir = "{tmp_path / f"logs-{n}"}"\n'
        f'stores = ["{ORGNR}/{STORE}"]\n'
        f'client_id = "chain-{n}-{secrets.token_hex(4)}"\n'
        "retry_interval = 1\n" + extra,
        encoding="utf-8",
    )
    return path


def log_text(tmp_path: Path, n: int) -> str:
    folder = tmp_path / f"logs-{n}"
    return (
        "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("sync-*.log")))
        if folder.exists()
        else ""
    )


async def until(condition: object, what: str, limit: float = 120.0) -> None:
    """Wait for ``condition()`` (a safety limit only: it normally holds long before)."""
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not: {what}")
        await asyncio.sleep(0.1)


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


def kill_running(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        if p.poll() is None:
            p.kill()
            p.wait()


def assert_stored_once_and_booked(url: str, total: int, per_register: int) -> None:
    assert query(url, "SELECT COUNT(*), COUNT(DISTINCT msg_id) FROM inbox") == [(total, total)]
    assert query(url, f"SELECT COUNT(*) FROM registers WHERE processed_to = {per_register}") == [(REGISTERS,)]


def booked_count(url: str) -> object:
    return query(url, "SELECT COUNT(*) FROM inbox WHERE processed_at IS NOT NULL")[0][0]


def export_key(config: Path) -> None:
    """The signing key every worker shares (beside the configured inbox), made once beforehand."""
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sync", "--export-key", "--config", str(config)],
        check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def start_worker(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sync", "--config", str(config)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.timeout(400)
@pytest.mark.parametrize("workers", [2, 3])
async def test_workers_share_the_chain_and_one_killed_mid_stream_loses_and_doubles_nothing(
    tmp_path: Path, broker: Broker, postgres_url: str, workers: int
) -> None:
    configs = [worker_config(tmp_path, broker, postgres_url, n) for n in range(workers)]
    export_key(configs[0])
    processes = [start_worker(c) for c in configs]
    try:
        for n in range(workers):
            await until(lambda n=n: "MQTT: connected to" in log_text(tmp_path, n), f"worker {n} connected")
        messages = {r: till_messages(ORGNR, STORE, r, MESSAGES, Z_EVERY) for r in register_names(REGISTERS)}
        tills = ChainTills(
            "127.0.0.1", broker.port, ORGNR, STORE, messages, resend_after=2.0, resend_cap=2.0, window=20
        )
        publishing = asyncio.create_task(tills.run())
        victim = processes[0]
        await until(
            lambda: len(tills.acked) >= tills.total // 3 and "stored " in log_text(tmp_path, 0),
            "a third acked, some of it by the first worker",
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        await asyncio.wait_for(publishing, 300)  # every message acked "stored" (the safety limit only)
        total = tills.total
        await until(lambda: booked_count(postgres_url) == total, "every message booked")
        for p in processes[1:]:
            p.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=60) for p in processes[1:]] == [0] * (workers - 1), "no ERROR in any run"
    finally:
        kill_running(processes)

    assert_stored_once_and_booked(postgres_url, total, MESSAGES)
    assert query(postgres_url, "SELECT COUNT(*) FROM inbox WHERE held_reason IS NOT NULL") == [(0,)]
    assert query(postgres_url, "SELECT COUNT(*) FROM rejected") == [(0,)]
    rows = query(postgres_url, "SELECT register, processed_at FROM inbox ORDER BY register, sequence")
    for register in register_names(REGISTERS):
        times = [str(at) for r, at in rows if r == register]
        assert times == sorted(times), f"{register} booked in sequence order"
    zs = REGISTERS * (MESSAGES // Z_EVERY)
    assert query(postgres_url, "SELECT COUNT(*), COUNT(DISTINCT (register, z_no)) FROM sie_files") == [
        (zs, zs)
    ]
    assert len(list((tmp_path / "sie").glob("*.si"))) == zs
    # The workers left running booked what the killed one had stored and not booked.
    assert all("processed " in log_text(tmp_path, n) for n in range(1, workers))


@pytest.mark.timeout(300)
async def test_a_worker_gone_has_its_queue_at_the_broker_taken_over_without_any_resend(
    tmp_path: Path, broker: Broker, postgres_url: str
) -> None:
    """The broker keeps handing the killed worker's session its share of the shared subscription;
    the tills here never resend, so only the running worker taking over that session (connecting
    as it, storing what it queued, ending it) gets those messages into the inbox."""
    configs = [worker_config(tmp_path, broker, postgres_url, n, "take_over_after = 1\n") for n in range(2)]
    export_key(configs[0])
    processes = [start_worker(c) for c in configs]
    try:
        for n in range(2):
            await until(lambda n=n: "MQTT: connected to" in log_text(tmp_path, n), f"worker {n} connected")
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait()
        messages = {r: till_messages(ORGNR, STORE, r, 30, Z_EVERY) for r in register_names(REGISTERS)}
        tills = ChainTills("127.0.0.1", broker.port, ORGNR, STORE, messages, resend_after=1e9, window=20)
        await asyncio.wait_for(tills.run(), 120)  # every message acked "stored" (the safety limit only)
        assert tills.sent == tills.total, "nothing was sent twice"
        total = tills.total
        await until(lambda: booked_count(postgres_url) == total, "every message booked")
        assert "took over its session at the broker" in log_text(tmp_path, 1)
        # The same client id twice: the second process waits for the first, and says why.
        twin = start_worker(configs[1])
        try:
            await until(
                lambda: log_text(tmp_path, 1).count("another process holds this client_id") == 1, "twin"
            )
        finally:
            twin.send_signal(signal.SIGTERM)
            assert twin.wait(timeout=60) == 0
        # The killed worker back: its lock is free again, it starts a session of its own.
        processes[0] = start_worker(configs[0])
        await until(lambda: log_text(tmp_path, 0).count("MQTT: connected to") == 2, "worker 0 back")
        for p in processes:
            p.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=60) for p in processes] == [0, 0], "no ERROR in any run"
        # The shutdown's last status goes out with what was read while the inbox was open.
        assert all("could not be read" not in log_text(tmp_path, n) for n in range(2))
    finally:
        kill_running(processes)
    assert_stored_once_and_booked(postgres_url, total, 30)
    zs = REGISTERS * (30 // Z_EVERY)
    assert len(list((tmp_path / "sie").glob("*.si"))) == zs
