"""The catalog on real parts: SQLite files in tmp_path, a real Mosquitto per test, a real Till
served over real HTTP.

``mosquitto`` starts ``/usr/sbin/mosquitto`` on a free loopback port (as tests/bus does;
the helper is small and kept here so that these tests stand alone). ``SyncStandIn`` plays
the sync module's catalog side: it hears the tills' requests and publishes revisions.
Nothing waits on a clock: tests wait for messages and for the catalog's revision, each
with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.api.app import make_app
from gateway.bus.catalog import (
    Article,
    CatalogRequest,
    CatalogTopics,
    CatalogUpdate,
    Customer,
    Item,
    StockLevel,
    decode_request,
    split_revision,
)
from gateway.catalog.store import Catalog
from gateway.config import ApiConfig, Config, ControlUnitConfig, MqttConfig, ShopConfig
from gateway.till import Till

ORGNR = "5561234567"
STORE = "main"
POS_ID = "KASSA1"
TOPICS = CatalogTopics(ORGNR, STORE)
DEADLINE = 15.0
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def article(number: str, name: str = "", price: int = 2500, *codes: str, **extra: Any) -> Article:
    return Article(number, name or f"Artikel {number}", price, extra.pop("vat_rate", 2500), codes, **extra)


def revision(
    number: int,
    base: int | None = None,
    *,
    full: bool = False,
    articles: tuple[Article, ...] | None = None,
    customers: tuple[Customer, ...] | None = None,
    stock: tuple[StockLevel, ...] | None = None,
    removed: dict[str, tuple[str, ...]] | None = None,
) -> list[CatalogUpdate]:
    """One revision's messages, made the way the sync module makes them."""
    removed = removed or {}
    sections: dict[str, tuple[tuple[Item, ...], tuple[str, ...]]] = {}
    for name, items in (("articles", articles), ("customers", customers), ("stock", stock)):
        if items is not None or name in removed:
            sections[name] = (tuple(items or ()), removed.get(name, ()))
    return split_revision(
        ORGNR,
        STORE,
        number,
        number - 1 if base is None else base,
        full=full,
        at="2026-05-21T10:00:00+02:00",
        sections=sections,
    )


def stock(number: str, quantity: str) -> StockLevel:
    return StockLevel(number, Decimal(quantity))


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[Catalog]:
    opened = await Catalog.open(tmp_path / "catalog.db")
    try:
        yield opened
    finally:
        await opened.close()


# -- Mosquitto ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """A real Mosquitto on 127.0.0.1:``port`` with persistence; ``await start()``, ``await stop()``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.log: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "mosquitto.conf"
        conf.write_text(
            f"user {getpass.getuser()}\nlog_dest stderr\nlog_type all\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {data}/\n",
            encoding="utf-8",
        )
        process = await asyncio.create_subprocess_exec(
            MOSQUITTO,
            "-c",
            str(conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        running = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_log(process.stderr, running))
        self._process = process
        try:
            async with asyncio.timeout(DEADLINE):
                await running
                await self._serving()
        except BaseException:
            await self.stop()
            raise

    async def _serving(self) -> None:
        """Wait for a CONNACK: only then does a SIGTERM stop it (see tests/bus/conftest.py)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(bytes.fromhex("101100044d5154540402003c000570726f6265"))
            assert (await reader.readexactly(4))[:2] == b"\x20\x02"
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _read_log(self, stream: asyncio.StreamReader, running: asyncio.Future[None]) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            if " running" in text and "mosquitto version" in text and not running.done():
                running.set_result(None)
        if not running.done():
            running.set_exception(RuntimeError("mosquitto exited:\n" + "\n".join(self.log[-20:])))

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(DEADLINE):
            await process.wait()
        if self._reader is not None:
            await self._reader
        print("--- mosquitto, the last of its log:", *self.log[-40:], sep="\n")


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def mqtt_config(broker: Mosquitto) -> MqttConfig:
    return MqttConfig(host="127.0.0.1", port=broker.port)


@dataclass
class SyncStandIn:
    """The sync module's catalog side, as far as a till sees it: requests in, revisions out."""

    client: aiomqtt.Client
    requests: asyncio.Queue[tuple[str, CatalogRequest]] = field(default_factory=asyncio.Queue)
    messages: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)  # other topics

    async def request(self) -> tuple[str, CatalogRequest]:
        """The next request a till published: (topic, request)."""
        async with asyncio.timeout(DEADLINE):
            return await self.requests.get()

    async def message(self) -> tuple[str, bytes]:
        async with asyncio.timeout(DEADLINE):
            return await self.messages.get()

    async def send(self, *parts: CatalogUpdate | bytes) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else part.to_bytes()
            await self.client.publish(TOPICS.updates, data, qos=1)


@contextlib.asynccontextmanager
async def sync_stand_in(broker: Mosquitto, *also: str) -> AsyncIterator[SyncStandIn]:
    """Subscribed to every register's catalog requests (and to the topics ``also``)."""
    # A persistent session, as the sync module's: what comes while the broker restarts is kept.
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier="test-sync-catalog", clean_session=False
    ) as client:
        side = SyncStandIn(client)

        async def read() -> None:
            with contextlib.suppress(aiomqtt.MqttError):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    topic = str(message.topic)
                    if topic.endswith("/catalog-request"):
                        side.requests.put_nowait((topic, decode_request(message.payload)))
                    else:
                        side.messages.put_nowait((topic, message.payload))

        reader = asyncio.create_task(read())
        await client.subscribe(TOPICS.requests, qos=1)
        for topic in also:
            await client.subscribe(topic, qos=1)
        try:
            yield side
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


# -- a till and its API ---------------------------------------------------------------------


@dataclass
class Api:
    url: str
    till: Till
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None, **options: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.till.token}"}
        async with self.session.request(
            method, self.url + path, json=body, headers=headers, **options
        ) as response:
            assert response.content_type == "application/json", await response.text()
            return response.status, await response.json()


ApiFactory = Callable[..., Awaitable[Api]]


def till_config(data_dir: Path, unit_url: str, mqtt: MqttConfig | None) -> Config:
    return Config(
        shop=ShopConfig("Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"), STORE),
        pos_id=POS_ID,
        data_dir=data_dir,
        control_unit=ControlUnitConfig(unit_url, request_timeout=0.3, retries=1),
        printer=None,
        scanner=None,
        api=ApiConfig("127.0.0.1", 0, 64),
        mqtt=mqtt,
    )


@pytest.fixture
async def make_api(unit: ControlUnit, tmp_path: Path) -> AsyncIterator[ApiFactory]:
    """``await make_api(mqtt=None, **app_options)``: a till (data in tmp_path/till) and its API, served.

    Called again, it opens the same till's files after closing the first (a restart).
    """
    async with contextlib.AsyncExitStack() as stack:
        unit_url = await stack.enter_async_context(serve_tcp(unit))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        running: list[contextlib.AsyncExitStack] = []

        async def make(mqtt: MqttConfig | None = None, **app_options: Any) -> Api:
            for earlier in running:
                await earlier.aclose()
            inner = contextlib.AsyncExitStack()
            running.append(inner)
            till = await Till.open(till_config(tmp_path / "till", unit_url, mqtt))
            inner.push_async_callback(till.close)
            runner = web.AppRunner(make_app(till, **app_options))
            await runner.setup()
            inner.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return Api(f"http://{host}:{port}", till, session)

        try:
            yield make
        finally:
            for inner in running:
                await inner.aclose()
