"""Stores of one company on one broker, as real processes: the helpers of the routing,
held-message and signed-ack tests (tests/e2e/test_two_stores_e2e.py, …).

A :class:`Shop` is one store: its simulated control unit (``tillgw sim control-unit``, its
own process), its tills (``tillgw run --config``, the :class:`~tests.e2e.test_bus_chaos.Till`
of the chaos test) and its own sync module (``tillgw sync --config``, a file holding only
``[mqtt]`` and ``[sync]``), each in a folder of its own. Its tills are given the sync
module's public key as ``tillgw sync --export-key`` prints it (``[mqtt] sync_public_key``).

The broker is the machine's Mosquitto at 127.0.0.1:1883 (or a private one the test starts
for an ACL). Other tests and programs use that broker too, so every run takes store names
and client ids of its own (:func:`run_tag`) under an organisation number no other test
uses: no retained status, queued message or session of another run or program ever
reaches these tills and modules. :func:`forget` clears, at the end, what this run left
there (the sync status retained per store, the persistent sessions).

Nothing waits on a clock: :func:`until` looks at a condition (an HTTP answer, a file, a
database row) a bounded number of times, and fails saying what it waited for and with
the processes' last output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.e2e.test_bus_chaos import Service, Sync, Till, read_db
from tests.fiscal.test_crash import receipt_body, tillgw

ORGNR = "5569420002"  # this folder's company; no other test publishes under it
MACHINE_BROKER = ("127.0.0.1", 1883)
DEADLINE = 60.0  # seconds any one awaited thing may take: a hang guard, not a measurement
BETWEEN_LOOKS = 0.1  # seconds between two looks at a condition
SESSION_EXPIRY = 600  # the sync modules' sessions on a shared broker outlive a run by this much at most

T = TypeVar("T")


def run_tag() -> str:
    """A few letters of this run's own: store names and client ids no other run has."""
    return secrets.token_hex(3)


def machine_broker_url() -> str:
    """The machine's Mosquitto; the test fails saying so if it does not answer."""
    host, port = MACHINE_BROKER
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as exc:
        raise AssertionError(
            f"no MQTT broker at {host}:{port} ({exc}): these tests use the machine's Mosquitto"
        ) from None
    return f"mqtt://{host}:{port}"


async def until(what: str, check: Callable[[], Awaitable[T | None]], *services: Service) -> T:
    """``check()``'s first answer that is not None; fails after :data:`DEADLINE` seconds of looks,
    naming ``what`` and showing the last output of ``services``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    last: str = ""
    while True:
        try:
            found = await check()
        except AssertionError as exc:  # a look that could not be made yet (a file not there)
            found, last = None, str(exc)
        if found is not None:
            return found
        if loop.time() > end:
            tails = "\n".join(f"--- {s.name}, the last of its output:\n{s.tail(30)}" for s in services)
            raise AssertionError(f"{what}: still not so after {DEADLINE:.0f} s {last}\n{tails}")
        await asyncio.sleep(BETWEEN_LOOKS)  # the wait between two looks at the condition


@dataclass
class Run:
    """A one-shot ``tillgw`` command: its exit status and what it printed."""

    code: int
    out: str
    err: str


async def run_tillgw(*args: str) -> Run:
    proc = await asyncio.create_subprocess_exec(
        *tillgw(*args),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(DEADLINE):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"tillgw {' '.join(args)} did not end within {DEADLINE:.0f} s") from None
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def inbox_rows(sync: Sync, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    inbox = sync.base / "inbox.db"
    assert inbox.exists(), f"{sync.name} has no inbox yet"
    return read_db(inbox, sql, params)


def outbox_rows(till: Till) -> list[tuple[int, str, bytes, str | None]]:
    """(sequence, msg_id, message, ack_status) of every message of the till, in order."""
    return [
        (int(r[0]), str(r[1]), bytes(r[2]), r[3])
        for r in read_db(
            till.database, "SELECT sequence, msg_id, message, ack_status FROM outbox ORDER BY sequence"
        )
    ]


@dataclass
class Shop:
    """One store: a control unit, its tills and its own sync module, under ``directory``."""

    store: str
    directory: Path
    broker_url: str
    session: aiohttp.ClientSession
    sync: Sync
    unit: Service
    tills: dict[str, Till] = field(default_factory=dict)
    unit_url: str = ""
    key: Path | None = None  # the sync module's public key, as --export-key printed it
    sold: dict[str, list[str]] = field(default_factory=dict)  # register -> receipt ids answered

    @classmethod
    def make(
        cls,
        store: str,
        root: Path,
        broker_url: str,
        session: aiohttp.ClientSession,
        *,
        registers: tuple[str, ...] = (),
        serve_store: bool = True,
        sync_mqtt: str = "",
        licences: int = 1,
    ) -> Shop:
        """The store's processes, not started; its sync module serves the whole store
        (``serve_store``) and/or ``registers``."""
        directory = root / store
        directory.mkdir(parents=True)
        sync = Sync(
            directory,
            broker_url,
            registers=registers,
            orgnr=ORGNR,
            store=store,
            stores=(f"{ORGNR}/{store}",) if serve_store else (),
            client_id=f"tillgw-sync-e2e-{store}",
            retry_interval=1,
            more=f"session_expiry = {SESSION_EXPIRY}\n",
            mqtt=sync_mqtt,
            name=f"sync {store}",
        )
        unit = Service(
            f"control unit {store}",
            *("sim", "control-unit", "--listen", "tcp://127.0.0.1:0", "--data-dir", str(directory / "unit")),
            *("--licences", str(licences)),
        )
        return cls(store, directory, broker_url, session, sync, unit)

    @property
    def services(self) -> list[Service]:
        return [*self.tills.values(), self.sync, self.unit]

    async def export_key(self) -> Path:
        """``tillgw sync --export-key --config F`` into ``sync-key.pem``, as a shop owner does."""
        run = await run_tillgw("sync", "--export-key", "--config", str(self.sync.config))
        assert run.code == 0, f"--export-key ended with {run.code}:\n{run.err}"
        assert run.out.startswith("-----BEGIN PUBLIC KEY-----"), run.out
        self.key = self.directory / "sync-key.pem"
        self.key.write_text(run.out, encoding="utf-8")
        return self.key

    async def start_sync(self) -> None:
        """Start the sync module; return once it says it is connected (and so subscribed)."""
        await self.sync.start()
        try:
            async with asyncio.timeout(DEADLINE):
                await self.sync.connected.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.sync.name} never said it is connected:\n{self.sync.tail()}"
            ) from None

    async def stop_sync(self) -> int:
        try:
            async with asyncio.timeout(DEADLINE):
                return await self.sync.stop()
        except TimeoutError:
            raise AssertionError(f"{self.sync.name} did not stop on SIGTERM:\n{self.sync.tail()}") from None

    async def start_unit(self) -> None:
        proc = await self.unit.spawn()
        assert proc.stdout is not None
        async with asyncio.timeout(DEADLINE):
            line = (await proc.stdout.readline()).decode().strip()
        assert line.startswith("socket://"), f"{line!r}\n{self.unit.tail()}"
        self.unit_url = line

    async def start_till(self, register: str, mqtt: str = "") -> Till:
        """``tillgw run`` for ``register``, given the module's key (:meth:`export_key` first)."""
        assert self.key is not None, "export the sync module's key first"
        till = Till(
            register,
            self.directory,
            self.unit_url,
            self.broker_url,
            orgnr=ORGNR,
            store=self.store,
            mqtt=f'sync_public_key = "{self.key}"\n{mqtt}',
        )
        self.tills[register] = till
        async with asyncio.timeout(DEADLINE):
            await till.start()
        return till

    async def post(self, till: Till, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        async with self.session.post(f"{till.api}{path}", json=body, headers=till.headers) as response:
            answer: dict[str, Any] = await response.json()
            assert response.status in (200, 201), f"{till.name} {path}: {response.status} {answer}"
            return answer

    async def sell(self, register: str, count: int) -> None:
        """``count`` receipts at the till, each answered with its number."""
        till = self.tills[register]
        ids = self.sold.setdefault(register, [])
        for _ in range(count):
            request_id = f"{self.store}-{register}-{len(ids) + 1}"
            answer = await self.post(till, "/v1/receipts", receipt_body(request_id))
            assert int(answer["receipt_no"]) == len(ids) + 1, answer
            ids.append(request_id)

    async def close_day(self, register: str) -> int:
        """The Z report at the till; its number."""
        answer = await self.post(self.tills[register], "/v1/reports/z", None)
        return int(answer["z_no"])

    async def status(self, register: str) -> dict[str, Any]:
        """The till's ``GET /v1/status``."""
        till = self.tills[register]
        async with self.session.get(f"{till.api}/v1/status", headers=till.headers) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer

    async def bus(self, register: str) -> dict[str, Any]:
        """``bus`` of the till's ``GET /v1/status``."""
        bus: dict[str, Any] = (await self.status(register))["bus"]
        return bus

    async def wait_booked(self, register: str) -> dict[str, Any]:
        """Wait until the till's outbox is acked whole (``bus.depth`` 0, every row ``stored``) and
        the sync module has booked every message of it; the till's ``bus`` then."""
        till = self.tills[register]

        async def check() -> dict[str, Any] | None:
            bus = await self.bus(register)
            rows = outbox_rows(till)
            if bus["depth"] or any(r[3] != "stored" for r in rows):
                return None
            booked = inbox_rows(
                self.sync,
                "SELECT COUNT(*) FROM inbox WHERE orgnr = ? AND store = ? AND register = ? "
                "AND processed_at IS NOT NULL",
                (ORGNR, self.store, register),
            )
            return bus if booked == [(len(rows),)] else None

        what = f"{self.store}/{register}: every message acked stored and booked"
        return await until(what, check, *self.services)

    def sie_files(self) -> list[str]:
        return sorted(p.name for p in (self.sync.base / "sie").glob("*.si"))

    async def stop(self) -> dict[str, int]:
        """Every process of the store, SIGTERM; their exit statuses. Their output is left in
        the store's folder for a post-mortem."""
        codes: dict[str, int] = {}
        for service in self.services:
            try:
                async with asyncio.timeout(DEADLINE):
                    codes[service.name] = await service.stop()
            except TimeoutError:
                codes[service.name] = -1  # it did not stop on SIGTERM: killed, and the test fails
                with contextlib.suppress(AssertionError):
                    await service.kill()
            (self.directory / f"{service.name.replace(' ', '-')}.log").write_text(
                "\n".join(service.lines), encoding="utf-8"
            )
        return codes

    def client_ids(self) -> list[str]:
        """The persistent sessions this store's processes hold on the broker."""
        ids = [self.sync.client_id]
        for register in self.tills:
            base = f"tillgw-{ORGNR}-{self.store}-{register}"
            ids += [base, f"{base}-catalog"]
        return ids


async def forget(shops: list[Shop]) -> None:
    """Leave nothing of this run on the machine's broker: each store's retained sync status
    cleared, each persistent session ended (a clean connection with its client id)."""
    host, port = MACHINE_BROKER
    with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
        async with asyncio.timeout(DEADLINE):
            async with aiomqtt.Client(host, port, identifier=f"tillgw-e2e-forget-{run_tag()}") as client:
                for shop in shops:
                    await client.publish(f"tillgw/{ORGNR}/{shop.store}/sync/status", b"", qos=1, retain=True)
            for shop in shops:
                for client_id in shop.client_ids():
                    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                    properties.SessionExpiryInterval = 0
                    async with aiomqtt.Client(
                        host,
                        port,
                        identifier=client_id,
                        protocol=aiomqtt.ProtocolVersion.V5,
                        clean_start=True,
                        properties=properties,
                    ):
                        pass


def held_ids(bus: dict[str, Any]) -> list[str]:
    return [h["msg_id"] for h in bus["held"]]


def messages(till: Till) -> list[dict[str, Any]]:
    """The till's outbox messages, decoded, in sequence order."""
    return [json.loads(row[2]) for row in outbox_rows(till)]


def read_inbox(sync: Sync, store: str, register: str) -> list[tuple[int, str, bytes, str | None, str | None]]:
    """(sequence, msg_id, message, processed_at, held_reason) of a register's messages in the inbox."""
    return [
        (int(r[0]), str(r[1]), bytes(r[2]), r[3], r[4])
        for r in inbox_rows(
            sync,
            "SELECT sequence, msg_id, message, processed_at, held_reason FROM inbox "
            "WHERE orgnr = ? AND store = ? AND register = ? ORDER BY sequence",
            (ORGNR, store, register),
        )
    ]
