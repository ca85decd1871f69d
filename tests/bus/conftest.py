"""The bus on real parts: Mosquitto started by the test, a real pipeline, aiomqtt clients.

``mosquitto`` (from tests/mosquitto.py) starts a real Mosquitto (``/usr/sbin/mosquitto``) on
a free loopback port with a temporary configuration (persistence on) and waits until its
log says it runs; a test may stop and start it again. ``till`` is a fiscal core as in tests/fiscal: a
SQLite store in tmp_path with the outbox installed, the simulated control unit over
TCP, a started pipeline. ``SyncSide`` plays the sync module: it subscribes to the
store's topics and acks what it is told to. Nothing waits on a clock to synchronise:
tests wait for messages, acks and health changes, each with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.bus.outbox import Outbox
from gateway.bus.publisher import Publisher, PublisherSettings
from gateway.common.health import DeviceState, Health
from gateway.common.signing import Signer, load_or_create_key
from gateway.config import Config, ControlUnitConfig, MqttConfig, ShopConfig
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Store
from gateway.messages.envelope import Ack, BusMessage, Topics, decode_message
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt
from tests.mosquitto import DEADLINE as DEADLINE

# The broker's helpers, as the tests here import them, and its fixtures for this folder.
from tests.mosquitto import Mosquitto as Mosquitto
from tests.mosquitto import free_port as free_port
from tests.mosquitto import make_mosquitto as make_mosquitto
from tests.mosquitto import mosquitto as mosquitto
from tests.mosquitto import mqtt_config as mqtt_config

ORGNR = "5561234567"
STORE = "main"
POS_ID = "KASSA1"
TOPICS = Topics(ORGNR, STORE, POS_ID)
SHOP = Shop("Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"))

# Small numbers: a resend after 0.2 s without an ack, a reconnect after 0.05 s.
FAST = PublisherSettings(
    ack_wait=0.2,
    resend_initial=0.2,
    resend_max=1.0,
    reconnect_initial=0.05,
    reconnect_max=0.2,
    degraded_after=60.0,
    keepalive=5,
    timeout=5.0,
)


def till_config(data_dir: Path, unit_url: str, mqtt: MqttConfig | None, **options: Any) -> Config:
    """A till of this shop with its data in ``data_dir``, its control unit at ``unit_url``,
    on the bus ``mqtt`` (None: none); no printer, no scanner; ``options`` as for :class:`Config`."""
    return Config(
        # The bus's words in English, as these tests read them.
        shop=ShopConfig(
            "Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"), STORE, language="en"
        ),
        pos_id=POS_ID,
        data_dir=data_dir,
        control_unit=ControlUnitConfig(unit_url, request_timeout=0.3, retries=1),
        printer=None,
        scanner=None,
        mqtt=mqtt,
        **options,
    )


def make_sale(price: int = 125_00, method: PaymentMethod = PaymentMethod.CARD) -> Receipt:
    return Receipt((Line("Kaffe", Decimal("1"), price, 2500, group="Dryck"),), (Payment(method, price),))


@dataclass
class TillParts:
    store: Store
    outbox: Outbox
    pipeline: Pipeline
    sold: int = 0

    async def sell(self, count: int = 1) -> None:
        for _ in range(count):
            self.sold += 1
            await self.pipeline.submit(f"pos-{self.sold}", make_sale(100_00 + self.sold))

    async def depth(self) -> int:
        return (await self.outbox.state()).depth


@pytest.fixture
async def till(tmp_path: Path, unit: ControlUnit, make_driver: Any) -> AsyncIterator[TillParts]:
    """A till's fiscal core with the outbox installed before the pipeline starts."""
    async with serve_tcp(unit) as url:
        signer = Signer(load_or_create_key(tmp_path / "till" / "signing-key.pem"))
        store = await Store.open(tmp_path / "till" / "till.db", signer)
        outbox = Outbox(store, TOPICS)
        await outbox.install()
        driver = await make_driver(url, start=False)
        pipeline = Pipeline(store, driver, SHOP, POS_ID)
        await pipeline.start()
        try:
            yield TillParts(store, outbox, pipeline)
        finally:
            await pipeline.close()
            await store.close()


PublisherFactory = Callable[..., Awaitable[Publisher]]


@pytest.fixture
async def make_publisher(till: TillParts) -> AsyncIterator[PublisherFactory]:
    """``await make_publisher(config, settings=FAST)``: a started publisher of ``till``; closed after."""
    publishers: list[Publisher] = []

    async def make(config: MqttConfig, settings: PublisherSettings = FAST, **options: Any) -> Publisher:
        publisher = Publisher(till.outbox, TOPICS, config, settings=settings, **options)
        publishers.append(publisher)
        await publisher.start()
        return publisher

    yield make
    for publisher in publishers:
        await publisher.close()


async def wait_health(publisher: Publisher, check: Callable[[Health], bool]) -> Health:
    """Wait (with the deadline) until the publisher's health passes ``check``."""
    changed = asyncio.Event()
    stop = publisher.on_change(lambda _: changed.set())
    try:
        async with asyncio.timeout(DEADLINE):
            while not check(publisher.health):
                await changed.wait()
                changed.clear()
    except TimeoutError:
        raise AssertionError(f"health never passed the check; it is {publisher.reason!r}") from None
    finally:
        stop()
    return publisher.health


async def wait_state(publisher: Publisher, state: DeviceState, words: str = "") -> Health:
    return await wait_health(publisher, lambda h: h.state is state and words in h.reason)


@dataclass
class SyncSide:
    """The test's stand-in for the sync module: receives the store's messages, acks on demand.

    Its session is persistent (a fixed client id, clean_session off), as the real sync
    module's is: what the broker has for it while it is away is delivered when it is back.
    """

    client: aiomqtt.Client
    seen: list[int]  # the sequence of every message received, in arrival order, repeats too
    received: asyncio.Queue[BusMessage] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None

    async def next(self) -> BusMessage:
        async with asyncio.timeout(DEADLINE):
            return await self.received.get()

    async def collect(self, sequences: set[int]) -> dict[int, BusMessage]:
        """Messages until each of ``sequences`` has arrived: the first copy of each, by arrival."""
        first: dict[int, BusMessage] = {}
        while not sequences <= set(first):
            message = await self.next()
            first.setdefault(message.sequence, message)
        return first

    async def ack(self, message: BusMessage | str, status: str = "stored", reason: str | None = None) -> None:
        msg_id = message if isinstance(message, str) else message.msg_id
        register = msg_id.split("/")[2]
        await self.publish(Topics(ORGNR, STORE, register).acks, Ack(msg_id, status, reason).to_bytes())

    async def publish(self, topic: str, payload: bytes) -> None:
        await self.client.publish(topic, payload, qos=1)

    async def disconnected(self) -> None:
        """Wait until the broker has gone and every message that came before it is read."""
        assert self.reader is not None
        async with asyncio.timeout(DEADLINE):
            await asyncio.wait([self.reader])


def first_copies(seen: list[int]) -> list[int]:
    """The sequences in the order their first copy arrived."""
    return list(dict.fromkeys(seen))


@contextlib.asynccontextmanager
async def sync_side(
    broker_port: int,
    *,
    seen: list[int] | None = None,
    username: str | None = None,
    password: str | None = None,
    subscribe: str = "",
    client_id: str = "test-sync",
) -> AsyncIterator[SyncSide]:
    """A connected :class:`SyncSide`, subscribed to ``subscribe`` (default: the store's messages)."""
    async with aiomqtt.Client(
        "127.0.0.1",
        broker_port,
        username=username,
        password=password,
        identifier=client_id,
        clean_session=False,
    ) as client:
        side = SyncSide(client, [] if seen is None else seen)

        async def read() -> None:
            # On a disconnect, aiomqtt still hands out every message already received
            # (and PUBACKed) before it raises: none is lost to the test's count.
            with contextlib.suppress(aiomqtt.MqttError):
                async for message in client.messages:
                    if str(message.topic).endswith(("/acks", "/catalog-request")):
                        continue
                    assert isinstance(message.payload, bytes)
                    decoded = decode_message(message.payload)
                    where = Topics(decoded.orgnr, decoded.store, decoded.register)
                    assert str(message.topic) == where.for_kind(decoded.kind)
                    side.seen.append(decoded.sequence)
                    side.received.put_nowait(decoded)

        side.reader = asyncio.create_task(read())
        await client.subscribe(subscribe or f"tillgw/{ORGNR}/{STORE}/+/+", qos=1)
        try:
            yield side
        finally:
            side.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side.reader
