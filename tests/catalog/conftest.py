"""The catalog on real parts: SQLite files in tmp_path, a real Mosquitto per test, a real Till
served over real HTTP.

``mosquitto`` starts ``/usr/sbin/mosquitto`` on a free loopback port (tests/mosquitto.py, as
for tests/bus); a till is the shop of tests/bus. ``SyncStandIn`` plays the sync module's
catalog side: it hears the tills' requests and publishes revisions. Nothing waits on a
clock: tests wait for messages and for the catalog's revision, each with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
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
from gateway.catalog.store import Catalog
from gateway.config import ApiConfig, MqttConfig
from gateway.messages.catalog import (
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
from gateway.till import Till
from tests.bus.conftest import ORGNR as ORGNR
from tests.bus.conftest import POS_ID as POS_ID
from tests.bus.conftest import STORE as STORE
from tests.bus.conftest import till_config
from tests.mosquitto import DEADLINE as DEADLINE

# The broker's helpers, as the tests here import them, and its fixtures for this folder.
from tests.mosquitto import Mosquitto as Mosquitto
from tests.mosquitto import make_mosquitto as make_mosquitto
from tests.mosquitto import mosquitto as mosquitto
from tests.mosquitto import mqtt_config as mqtt_config

TOPICS = CatalogTopics(ORGNR, STORE)


def article(number: str, name: str = "", price: int = 2500, *codes: str, **extra: Any) -> Article:
    return Article(number, name or f"Artikel {number}", price, extra.pop("vat_rate", 2500), codes, **extra)


COFFEE = article("1001", "Kaffe bryggt", 2500, "7310865004703", group="Dryck")


def coffee_json(stock: str | None) -> dict[str, Any]:
    """:data:`COFFEE` as the catalog shows it (and the API answers), ``stock`` what it has in stock."""
    return {
        "number": "1001",
        "name": "Kaffe bryggt",
        "price": "25.00",
        "vat_rate": "25",
        "unit": "st",
        "group": "Dryck",
        "kind": "item",
        "stock_goods": False,
        "barcodes": ["7310865004703"],
        "stock": stock,
    }


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
    sections: dict[str, tuple[Iterable[Item], Iterable[str]]] = {}
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


# -- the sync module's catalog side -----------------------------------------------------------


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
            till = await Till.open(
                till_config(tmp_path / "till", unit_url, mqtt, api=ApiConfig("127.0.0.1", 0, 64))
            )
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
