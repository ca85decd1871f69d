"""The sync module on real parts: a Mosquitto started for the test on a free port with a
temporary configuration, real SQLite, a real till (the fiscal pipeline with its outbox and
the simulated control unit over TCP) to make the messages, and a real SMTP server
(aiosmtpd) in this process for the mail.

Nothing here waits on a clock to synchronise: the broker is ready when it says so on its
log, acks are awaited as they arrive, and a ``--once`` run returns when it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import aiosqlite
import pytest
from aiosmtpd.controller import Controller

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.bus.outbox import Outbox
from gateway.common.signing import Signer, load_or_create_key
from gateway.config import MqttConfig
from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Store
from gateway.messages.envelope import BusMessage, Topics, decode_ack, decode_message
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, ReceiptKind
from gateway.sync.config import MailConfig, SyncConfig
from gateway.sync.references import DocumentReference, ReferenceField
from gateway.sync.sql import SqlConnection, SqliteConnection
from tests.sync.postgres import postgres_database, postgres_url  # noqa: F401  (fixtures)

MOSQUITTO = "/usr/sbin/mosquitto"
ORGNR = "5560360793"
STORE = "vaxjo"
POS_ID = "KASSA1"
SHOP = Shop("Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"))
TOPICS = Topics(ORGNR, STORE, POS_ID)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ROOT = Path(__file__).resolve().parents[2]


# -- the broker -------------------------------------------------------------------------


@dataclass
class Broker:
    port: int
    conf: Path
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Start Mosquitto and return once it says it is running (listening)."""
        process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        assert process.stderr is not None
        for line in process.stderr:
            self.lines.append(line)
            if " running" in line:
                break
        else:
            raise RuntimeError("mosquitto did not start:\n" + "".join(self.lines))
        self.process = process
        stderr = process.stderr

        def drain() -> None:  # keep reading so a full pipe never blocks the broker
            for line in stderr:
                self.lines.append(line)

        threading.Thread(target=drain, daemon=True).start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            # A hang guard only: Mosquitto writes its persistence file as it stops, which on a
            # loaded machine took more than 10 s.
            self.process.wait(timeout=60)
            self.process = None

    @property
    def mqtt(self) -> MqttConfig:
        return MqttConfig(host="127.0.0.1", port=self.port)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto of this test's own: ``listener PORT 127.0.0.1``, anonymous, persistent."""
    data = tmp_path / "mosquitto"
    data.mkdir()
    port = free_port()
    conf = data / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {data}/\n"
        "max_queued_messages 10000\n",
        encoding="utf-8",
    )
    b = Broker(port, conf)
    b.start()
    yield b
    b.stop()


# -- the till side ----------------------------------------------------------------------


class TillBus:
    """The till's end of the bus, for tests: publishes as a till does, collects the acks."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.acks: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.subscribe("tillgw/+/+/+/acks", qos=1)

        async def read() -> None:
            async for m in self.client.messages:
                ack = decode_ack(bytes(m.payload))
                await self.acks.put(
                    (str(m.topic), {"msg_id": ack.msg_id, "status": ack.status, "reason": ack.reason})
                )

        self._reader = asyncio.create_task(read())

    async def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1: returns once the broker has the message."""
        await self.client.publish(topic, payload, qos=1)

    async def ack(self) -> tuple[str, dict[str, Any]]:
        """The next ack (a hang guard only: a test that gets none fails instead of hanging)."""
        return await asyncio.wait_for(self.acks.get(), 30)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


@pytest.fixture
async def till_bus(broker: Broker) -> AsyncIterator[TillBus]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-till") as client:
        bus = TillBus(client)
        await bus.start()
        yield bus
        await bus.close()


@dataclass
class Till:
    """A real till: pipeline, journal and outbox in tmp_path, the simulated unit over TCP."""

    pipeline: Pipeline
    outbox: Outbox
    store: Store

    async def messages(self) -> list[tuple[str, bytes]]:
        """(topic, bytes) of every outbox message, in order, as the publisher would send them."""
        return [(row.topic, row.message) for row in await self.outbox.unacked()]


TillFactory = Callable[..., Awaitable[Till]]


@pytest.fixture
async def make_till(
    tmp_path: Path, unit: ControlUnit, make_driver: Callable[..., Awaitable[ControlUnitDriver]]
) -> AsyncIterator[TillFactory]:
    opened: list[Till] = []
    async with serve_tcp(unit) as url:

        async def make(name: str = "till") -> Till:
            signer = Signer(load_or_create_key(tmp_path / name / "signing-key.pem"))
            store = await Store.open(tmp_path / name / "till.db", signer)
            outbox = Outbox(store, TOPICS)
            await outbox.install()
            driver = await make_driver(url, start=False, pos_id=POS_ID)
            pipeline = Pipeline(store, driver, SHOP, POS_ID)
            await pipeline.start()
            till = Till(pipeline, outbox, store)
            opened.append(till)
            return till

        yield make
        for till in opened:
            await till.pipeline.close()
            await till.store.close()


def our_reference(number: int, field: ReferenceField, kind: str = "receipt", store: str = STORE) -> str:
    """Our reference of document ``number`` of this till (ORGNR/STORE/POS_ID) as ``field`` carries it."""
    return DocumentReference(ORGNR, store, POS_ID, kind, number).in_field(field)


def line(text: str, qty: int, price: int, rate: int, **more: Any) -> Line:
    return Line(text, Decimal(qty), price, rate, **more)


CASH, CARD, GIFT, SWISH, OTHER = (
    PaymentMethod.CASH,
    PaymentMethod.CARD,
    PaymentMethod.GIFT_CARD,
    PaymentMethod.SWISH,
    PaymentMethod.OTHER,
)


async def a_day(pipeline: Pipeline) -> None:
    """Sales at every VAT rate and by every means, a return, cash rounding, a training receipt.

    Worked out by hand (kronor):
    1. cash: 2 × 32,50 + 28,40 = 93,40 at 12 % (VAT 10,01), paid 100 in cash: rounded to
       93,00, öresavrundning −0,40.
    2. card: T-shirt 199,00 − 20,00 = 179,00 and fitting 150,00 at 25 %, newspaper 45,00 at
       6 % = 374,00 (VAT 25 %: 329,00 × 0,2 = 65,80; 6 %: 45 × 6/106 = 2,547 → 2,55).
    3. gift card 100 + Swish 100 = 200,00: coffee beans 178,00 at 12 % and a mug 60,00 at
       25 % less a receipt discount of 38,00 (→ 149,58 and 50,42; VAT 16,03 and 10,08).
    4. a return of the T-shirt: −179,00 at 25 % (VAT −35,80), refunded to the card.
    5. a stamp 12,00 at 0 %, cash (already whole kronor: no rounding).
    6. a voucher of the house ("other") 50,00 at 25 % (VAT 10,00).
    7. a training receipt 32,50 (not sales: not booked).
    Net sales 550,40; paid 550,00 = cash 105,00 + card 195,00 + gift card 100,00 + Swish
    100,00 + other 50,00; rounding −0,40.
    """
    await pipeline.submit(
        "r1",
        Receipt(
            (line("Kaffe", 2, 32_50, 1200), line("Kanelbulle", 1, 28_40, 1200)), (Payment(CASH, 100_00),)
        ),
    )
    await pipeline.submit(
        "r2",
        Receipt(
            (
                line("T-shirt", 1, 199_00, 2500, discount=20_00),
                line("Tidning", 1, 45_00, 600),
                line("Montering", 1, 150_00, 2500),
            ),
            (Payment(CARD, 374_00),),
        ),
    )
    await pipeline.submit(
        "r3",
        Receipt(
            (line("Kaffebönor", 2, 89_00, 1200), line("Mugg", 1, 60_00, 2500)),
            (Payment(GIFT, 100_00), Payment(SWISH, 100_00)),
            discount=38_00,
        ),
    )
    await pipeline.submit(
        "r4", Receipt((line("T-shirt", -1, 199_00, 2500, discount=20_00),), (Payment(CARD, -179_00),))
    )
    await pipeline.submit("r5", Receipt((line("Frimärke", 1, 12_00, 0),), (Payment(CASH, 12_00),)))
    await pipeline.submit("r6", Receipt((line("Tygkasse", 1, 50_00, 2500),), (Payment(OTHER, 50_00),)))
    await pipeline.submit(
        "r7",
        Receipt((line("Kaffe", 1, 32_50, 1200),), (Payment(CASH, 40_00),), kind=ReceiptKind.TRAINING),
    )


# -- an adapter's inbox ---------------------------------------------------------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqlConnection]:
    """The inbox database an adapter is given, in autocommit: the test begins and commits."""
    conn = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    yield conn
    await conn.close()


async def process_one(db: SqlConnection, adapter: Any, message: BusMessage) -> str | None:
    """One message in its own transaction, committed as the processor does."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        done: str | None = await adapter.process(db, message)
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")
    return done


async def two_receipts(make_till: TillFactory) -> list[BusMessage]:
    """A till's first two receipts: coffee paid in cash by ANNA, then a mug and a coffee by card."""
    till = await make_till()
    await till.pipeline.submit(
        "r1",
        Receipt((line("Kaffe", 2, 32_50, 1200, article="1001"),), (Payment(CASH, 70_00),), cashier="ANNA"),
    )
    await till.pipeline.submit(
        "r2",
        Receipt((line("Mugg", 1, 60_00, 2500, article="1002"), line("Kaffe", 1, 32_50, 1200, article="1001")),
                (Payment(CARD, 92_50),)),
    )  # fmt: skip
    return [decode_message(data) for _, data in await till.messages()]


# -- mail -------------------------------------------------------------------------------


class Collect:
    """An SMTP handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Collect]]:
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def text_of(part: Any) -> str:
    """The decoded text of one part of a mail."""
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data.decode()


def mail_config(port: int) -> MailConfig:
    return MailConfig(
        host="127.0.0.1",
        port=port,
        security="none",
        username=None,
        password=None,
        sender="kassan@kaffebaren.example",
        to=("ekonomi@kaffebaren.example",),
        timeout=10,
    )


# -- the sync module --------------------------------------------------------------------


@pytest.fixture
def sync_config(tmp_path: Path, broker: Broker) -> SyncConfig:
    base = tmp_path / "sync"
    return SyncConfig(
        inbox=base / "inbox.db",
        sie_dir=base / "sie",
        log_dir=base / "logs",
        mqtt=broker.mqtt,
        registers=frozenset({f"{ORGNR}/{STORE}/{POS_ID}"}),
        client_id="sync-test",
        once_timeout=30,
    )


def with_(config: SyncConfig, **changes: Any) -> SyncConfig:
    return replace(config, **changes)


def blocker(tmp_path: Path) -> Path:
    """A file where a folder's parent should be: nothing can be written below it."""
    path = tmp_path / "blocker"
    path.write_text("a file where a folder's parent should be\n")
    return path


def inbox_rows(config: SyncConfig, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the inbox database as another process would."""
    conn = sqlite3.connect(f"file:{config.inbox}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


async def run_tillgw(*args: str, cwd: Path) -> tuple[int, str]:
    """``tillgw ARGS`` as its own process in ``cwd``: (exit code, stdout and stderr together)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()
