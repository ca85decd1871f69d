"""A consumer written from the schemas alone acks a real till's receipts, and the till counts them delivered.

``examples/bus_consumer/consumer.py`` runs as its own process (imports only the standard
library, paho-mqtt, jsonschema and cryptography — checked here) against the machine's
Mosquitto. The till (``tillgw run --config``, its own process, with its simulated control
unit) is given the consumer's public key as ``[mqtt] sync_public_key``, so it honours only
acks whose Ed25519 proof verifies for that very message. Sales and a Z report at the till's
API: every outbox row becomes ``stored``, the consumer's SQLite holds each message once,
validated, and the till ignored no ack.
"""

from __future__ import annotations

import ast
import asyncio
import json
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.e2e.stores import (
    DEADLINE,
    MACHINE_BROKER,
    ORGNR,
    Shop,
    forget,
    machine_broker_url,
    outbox_rows,
    run_tag,
    until,
)
from tests.e2e.test_bus_chaos import Service

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "examples" / "bus_consumer" / "consumer.py"
ALLOWED = {"paho", "jsonschema", "cryptography"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as session:
        yield session


def test_the_consumer_imports_nothing_of_this_project() -> None:
    tree = ast.parse(CONSUMER.read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) else []
        )
    }  # fmt: skip
    outside = imported - sys.stdlib_module_names - {"__future__"}
    assert outside == ALLOWED, outside


class Consumer(Service):
    """The example consumer as its own process; ``connected`` once it says so."""

    def __init__(self, directory: Path, store: str, tag: str) -> None:
        super().__init__("consumer")
        self.directory = directory
        self.db = directory / "consumer.db"
        self.key = directory / "consumer-key.pem"
        self.client_id = f"bus-consumer-e2e-{tag}"
        self.args_ = (
            *("--orgnr", ORGNR, "--store", store, "--db", str(self.db), "--key", str(self.key)),
            *("--host", MACHINE_BROKER[0], "--port", str(MACHINE_BROKER[1])),
            *("--client-id", self.client_id, "--group", f"consumer-{tag}"),
        )
        self.connected = asyncio.Event()
        self.out: list[str] = []

    async def command(self, *args: str) -> asyncio.subprocess.Process:
        # -I: the consumer's own folder and the environment's PYTHONPATH are not on its path.
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(CONSUMER),
            *args,
            cwd=self.directory,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def export_key(self) -> Path:
        proc = await self.command("--export-key", "--key", str(self.key))
        async with asyncio.timeout(DEADLINE):
            out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        public = self.directory / "consumer-key.pub.pem"
        public.write_bytes(out)
        assert out.startswith(b"-----BEGIN PUBLIC KEY-----"), out
        return public

    async def spawn(self) -> asyncio.subprocess.Process:
        proc = await self.command(*self.args_)
        assert proc.stderr is not None and proc.stdout is not None
        self._readers = [
            asyncio.create_task(self._read(proc.stderr)),
            asyncio.create_task(self._read(proc.stdout)),
        ]
        self.proc = proc
        return proc

    def seen(self, line: str) -> None:
        self.out.append(line)
        if line.startswith("connected to "):
            self.connected.set()

    def stored(self) -> list[tuple[str, int, str, str]]:
        with sqlite3.connect(self.db) as conn:
            return [
                (str(r[0]), int(r[1]), str(r[2]), str(r[3]))
                for r in conn.execute(
                    "SELECT msg_id, sequence, kind, message FROM messages ORDER BY sequence"
                )
            ]

    def held(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.db) as conn:
            return [(str(r[0]), str(r[1])) for r in conn.execute("SELECT msg_id, reason FROM held")]


@pytest.mark.timeout(180)  # a hang guard; the test takes a few seconds
async def test_a_consumer_written_from_the_schemas_alone_acks_a_real_tills_receipts(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    tag = run_tag()
    store = f"consumer-{tag}"
    shop = Shop.make(store, tmp_path, machine_broker_url(), session)  # its sync module is never started
    consumer = Consumer(shop.directory, store, tag)
    try:
        shop.key = await consumer.export_key()
        await consumer.spawn()
        async with asyncio.timeout(DEADLINE):
            await consumer.connected.wait()
        await shop.start_unit()
        till = await shop.start_till("KASSA1")
        await shop.sell("KASSA1", 2)
        await shop.close_day("KASSA1")

        async def all_delivered() -> list[tuple[int, str, bytes, str | None]] | None:
            rows = outbox_rows(till)
            return rows if len(rows) == 3 and all(r[3] == "stored" for r in rows) else None

        rows = await until("every message of the till acked stored", all_delivered, till, consumer)
        sent = [json.loads(r[2]) for r in rows]
        assert [(m["kind"], m["schema"]) for m in sent] == [
            ("receipt", "tillgw.bus/2"),
            ("receipt", "tillgw.bus/2"),
            ("report.z", "tillgw.bus/1"),
        ]
        # The consumer holds each once, as the till sent it, and validated every one.
        assert [(s[0], s[1], s[2]) for s in consumer.stored()] == [
            (m["msg_id"], m["sequence"], m["kind"]) for m in sent
        ]
        assert [s[3].encode() for s in consumer.stored()] == [r[2] for r in rows]
        assert consumer.held() == []
        assert [ln.split()[:2] for ln in consumer.out if ln.startswith("stored ")][:3] == [
            ["stored", m["msg_id"]] for m in sent
        ]
        # Delivered by proven acks only: the till has the consumer's key and ignored none.
        bus = await shop.bus("KASSA1")
        assert (bus["depth"], bus["acks"], bus["acks_ignored"]) == (0, "signed", {}), bus
    finally:
        await consumer.stop()
        codes = await shop.stop()
        await forget([shop])
        await forget_consumer(consumer)
    assert codes["KASSA1"] == 0, codes


async def forget_consumer(consumer: Consumer) -> None:
    """End the consumer's persistent session on the machine's broker."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    async with asyncio.timeout(DEADLINE):
        async with aiomqtt.Client(
            MACHINE_BROKER[0],
            MACHINE_BROKER[1],
            identifier=consumer.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=True,
            properties=properties,
        ):
            pass
