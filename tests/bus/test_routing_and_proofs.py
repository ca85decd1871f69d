"""Two stores on one broker, held messages and authentic acks — real Mosquitto, real tills'
publishers, the real sync module (``SyncService``), each store with its own inbox and key.

* Two stores of one organisation number whose registers are both called KASSA-1, each
  with its own sync module (own client id, the default share group): every message is
  booked once, by its own store's module — with an anonymous broker and with an ACL.
* A till added to a store before ``[sync].registers`` knows it: its messages are held
  (acked ``held``, shown on the till), then ``--reprocess`` books them in order and the
  till clears them.
* Forged, replayed and foreign acks are ignored; the message is still delivered by the
  real ack afterwards.
* Two workers of one store sharing an MQTT 5 subscription and one inbox book each
  message once.

Nothing waits on a clock: each step waits for an ack recorded, an ignored ack counted or
a service's end, each with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.bus.outbox import Outbox
from gateway.bus.publisher import Publisher, PublisherSettings
from gateway.common.health import DeviceState
from gateway.common.signing import Signer, load_or_create_key
from gateway.config import MqttConfig
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Store
from gateway.messages.ack_proof import AckSigner, AckVerifier
from gateway.messages.envelope import Ack, Topics
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt
from gateway.sync.config import SyncConfig
from gateway.sync.reprocess import HeldFilter
from gateway.sync.service import SyncService
from tests.bus.conftest import DEADLINE, FAST, Mosquitto, free_port, mqtt_config
from tests.bus.test_mosquitto_acl import make_passwd

ORGNR = "5560360793"
VAXJO, LUND = "vaxjo", "lund"


@dataclass
class BusTill:
    topics: Topics
    store: Store
    outbox: Outbox
    pipeline: Pipeline
    publisher: Publisher | None = None
    sold: int = 0

    async def sell(self, count: int) -> None:
        for _ in range(count):
            self.sold += 1
            price = 100_00 + self.sold
            receipt = Receipt(
                (Line("Kaffe", Decimal("1"), price, 2500, group="Dryck"),),
                (Payment(PaymentMethod.CARD, price),),
            )
            await self.pipeline.submit(f"{self.topics.store}-{self.sold}", receipt)

    async def last_sequence(self) -> int:
        row = await self.store.fetchone("SELECT MAX(sequence) FROM outbox")
        assert row is not None
        return int(row[0])

    async def wait_all_acked(self) -> None:
        assert self.publisher is not None
        async with asyncio.timeout(DEADLINE):
            for sequence in range(1, await self.last_sequence() + 1):
                await self.publisher.wait_acked(sequence)

    async def acks(self) -> list[tuple[int, str | None]]:
        rows = await self.store.fetchall("SELECT sequence, ack_status FROM outbox ORDER BY sequence")
        return [(int(r[0]), r[1]) for r in rows]


TillFactory = Callable[..., Awaitable[BusTill]]


@pytest.fixture
async def make_till(tmp_path: Path, make_unit: Any, make_driver: Any) -> AsyncIterator[TillFactory]:
    """``await make_till(store, register, mqtt, verifier, settings=FAST)``: a till's fiscal core with
    its publisher, its own simulated control unit."""
    tills: list[BusTill] = []
    async with contextlib.AsyncExitStack() as servers:

        async def make(
            store_name: str,
            register: str,
            mqtt: MqttConfig,
            verifier: AckVerifier | None,
            settings: PublisherSettings = FAST,
        ) -> BusTill:
            topics = Topics(ORGNR, store_name, register)
            folder = tmp_path / f"till-{store_name}-{register}"
            store = await Store.open(folder / "till.db", Signer(load_or_create_key(folder / "key.pem")))
            outbox = Outbox(store, topics)
            await outbox.install()
            url = await servers.enter_async_context(serve_tcp(make_unit()))
            driver = await make_driver(url, start=False, pos_id=register)
            shop = Shop("Kaffebaren AB", ORGNR, ("Storgatan 1", "352 30 Växjö"))
            pipeline = Pipeline(store, driver, shop, register)
            await pipeline.start()
            till = BusTill(topics, store, outbox, pipeline)
            till.publisher = Publisher(
                outbox,
                topics,
                mqtt,
                settings=settings,
                client_id=f"t-{store_name}-{register}",
                verifier=verifier,
            )
            await till.publisher.start()
            tills.append(till)
            return till

        yield make
        for till in tills:
            if till.publisher is not None:
                await till.publisher.close()
            await till.pipeline.close()
            await till.store.close()


def sync_config(root: Path, name: str, mqtt: MqttConfig, **options: Any) -> SyncConfig:
    base = root / name
    return SyncConfig(
        inbox=base / "inbox.db",
        sie_dir=base / "sie",
        log_dir=base / "logs",
        mqtt=mqtt,
        client_id=f"sync-{name}",
        retry_interval=0.5,
        **options,
    )


@contextlib.asynccontextmanager
async def running(config: SyncConfig) -> AsyncIterator[SyncService]:
    """The sync module running until the block ends (then its last pass, and its exit)."""
    service = SyncService(config)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(once=False, stop=stop))
    try:
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE):
            await task


def verifier_of(config: SyncConfig) -> AckVerifier:
    return AckSigner.of_inbox(config.inbox).verifier()


def inbox(config: SyncConfig, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{config.inbox}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def acl_broker_config(port: int, root: Path) -> str:
    """Two stores' ACL: each sync user reads its own store's messages and writes its acks."""
    lines = []
    for store in (VAXJO, LUND):
        base = f"tillgw/{ORGNR}/{store}"
        lines += [f"user sync-{store}"]
        lines += [f"topic read {base}/+/{leaf}" for leaf in ("receipts", "reports", "events")]
        lines += [
            f"topic write {base}/+/acks",
            f"topic write {base}/sync/status",
            "topic readwrite tillgw-sync/#",
        ]
        lines += [f"user till-{store}", f"topic write {base}/KASSA-1/#", f"topic read {base}/KASSA-1/acks"]
    (root / "acl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return (
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {root}/passwd\n"
        f"acl_file {root}/acl\npersistence true\npersistence_location {root}/data/\n"
    )


@pytest.mark.parametrize("acl", [False, True], ids=["anonymous", "acl"])
async def test_two_stores_with_their_own_sync_modules_each_book_only_their_own(
    tmp_path: Path, make_mosquitto: Callable[..., Awaitable[Mosquitto]], make_till: TillFactory, acl: bool
) -> None:
    users: dict[str, dict[str, str]] = {}
    if acl:
        root = tmp_path / "acl-broker"
        (root / "data").mkdir(parents=True)
        passwords = {f"{who}-{s}": f"pw-{who}-{s}" for s in (VAXJO, LUND) for who in ("sync", "till")}
        await make_passwd(root / "passwd", passwords)
        port = free_port()
        broker = await make_mosquitto(acl_broker_config(port, root), port)
        users = {u: {"username": u, "password": p} for u, p in passwords.items()}
    else:
        broker = await make_mosquitto()
    configs = {
        s: sync_config(
            tmp_path, s, mqtt_config(broker, **users.get(f"sync-{s}", {})), stores=frozenset({f"{ORGNR}/{s}"})
        )
        for s in (VAXJO, LUND)
    }
    tills = {
        s: await make_till(
            s, "KASSA-1", mqtt_config(broker, **users.get(f"till-{s}", {})), verifier_of(configs[s])
        )
        for s in (VAXJO, LUND)
    }
    async with running(configs[VAXJO]), running(configs[LUND]):
        await tills[VAXJO].sell(4)
        await tills[LUND].sell(3)
        for till in tills.values():
            await till.wait_all_acked()
    for s, till in tills.items():
        assert await till.acks() == [(n, "stored") for n in range(1, till.sold + 1)]
        assert till.publisher is not None and till.publisher.acks_ignored == {}
        rows = inbox(configs[s], "SELECT msg_id, processed_at IS NOT NULL FROM inbox ORDER BY sequence")
        # Store B's receipt 1 is not store A's receipt 1: each module has exactly its own store's.
        assert rows == [(f"{ORGNR}/{s}/KASSA-1/{n}", 1) for n in range(1, till.sold + 1)]
        assert inbox(configs[s], "SELECT COUNT(*) FROM rejected") == [(0,)]


async def test_a_till_added_before_the_config_knows_it_is_held_then_reprocessed_in_order(
    tmp_path: Path, mosquitto: Mosquitto, make_till: TillFactory
) -> None:
    first = sync_config(
        tmp_path, VAXJO, mqtt_config(mosquitto), registers=frozenset({f"{ORGNR}/{VAXJO}/KASSA-1"})
    )
    known = await make_till(VAXJO, "KASSA-1", mqtt_config(mosquitto), verifier_of(first))
    added = await make_till(VAXJO, "KASSA-2", mqtt_config(mosquitto), verifier_of(first))
    async with running(first):
        await known.sell(2)
        await added.sell(3)
        await known.wait_all_acked()
        await added.wait_all_acked()
    assert await added.acks() == [(1, "held"), (2, "held"), (3, "held")]
    assert added.publisher is not None
    status = (await added.publisher.status()).to_json()
    assert status["depth"] == 0 and status["held_count"] == 3  # not resent, shown as something to act on
    assert [h["sequence"] for h in status["held"]] == [1, 2, 3]
    assert 'add "5560360793/vaxjo/KASSA-2" to [sync].registers' in status["held"][0]["reason"]
    assert "holds 3 messages" in added.publisher.reason

    # The configuration now knows the till; --reprocess while the service is stopped.
    fixed = sync_config(
        tmp_path,
        VAXJO,
        mqtt_config(mosquitto),
        registers=frozenset({f"{ORGNR}/{VAXJO}/KASSA-1", f"{ORGNR}/{VAXJO}/KASSA-2"}),
    )
    service = SyncService(fixed)
    assert await service.run(once=True, reprocess=HeldFilter()) == 0
    async with asyncio.timeout(DEADLINE):
        for sequence in (1, 2, 3):
            await added.publisher.wait_ack_status(sequence, "stored")
    rows = inbox(
        fixed,
        "SELECT sequence, processed_at, held_reason FROM inbox WHERE register = 'KASSA-2' ORDER BY sequence",
    )
    assert [r[0] for r in rows] == [1, 2, 3] and all(r[2] is None for r in rows)
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # booked in order
    assert (await added.publisher.status()).held_count == 0
    # Later messages go straight through.
    async with running(fixed):
        await added.sell(1)
        await added.wait_all_acked()
    assert await added.acks() == [(n, "stored") for n in range(1, 5)]


async def test_forged_replayed_and_foreign_acks_are_ignored_and_the_real_ack_still_delivers(
    tmp_path: Path, mosquitto: Mosquitto, make_till: TillFactory
) -> None:
    ours = sync_config(tmp_path, VAXJO, mqtt_config(mosquitto), stores=frozenset({f"{ORGNR}/{VAXJO}"}))
    signer = AckSigner.of_inbox(ours.inbox)
    stranger = AckSigner.of_inbox(tmp_path / "stranger" / "inbox.db")  # another store's sync module
    till = await make_till(VAXJO, "KASSA-1", mqtt_config(mosquitto), signer.verifier())
    await till.sell(1)
    msg_id = f"{ORGNR}/{VAXJO}/KASSA-1/1"
    row = await till.store.fetchone("SELECT entry_hash FROM outbox WHERE sequence = 1")
    assert row is not None
    entry_hash = str(row[0])
    forged = [
        Ack(msg_id, "stored"),  # no proof at all
        stranger.ack(msg_id, "stored", None, entry_hash),  # another module's key
        signer.ack(msg_id, "stored", None, "00" * 32),  # replayed from another incarnation of the till
        Ack(msg_id, "stored", None, signer.ack(msg_id, "held", None, entry_hash).proof),  # status changed
    ]
    assert till.publisher is not None
    async with asyncio.timeout(DEADLINE):
        # Subscribed to its acks first (ready, or degraded by the ack it waits for): the forged
        # ones are sent once, and a broker with no subscriber (nor the till's session yet, on
        # its first connection) keeps them for no one.
        await till.publisher.wait_for(DeviceState.READY, DeviceState.DEGRADED)
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="intruder") as intruder:
        for ack in forged:
            await intruder.publish(till.topics.acks, ack.to_bytes(), qos=1)
        foreign = signer.ack(f"{ORGNR}/{VAXJO}/KASSA-9/1", "stored", None, entry_hash)
        await intruder.publish(till.topics.acks, foreign.to_bytes(), qos=1)
        async with asyncio.timeout(DEADLINE):
            await till.publisher.wait_ignored("unproven", 4)
            await till.publisher.wait_ignored("foreign", 1)
    assert await till.acks() == [(1, None)]
    assert (await till.publisher.status()).depth == 1
    async with running(ours):
        await till.wait_all_acked()
    assert await till.acks() == [(1, "stored")]


async def test_two_workers_of_one_store_share_the_subscription_and_book_each_message_once(
    tmp_path: Path, mosquitto: Mosquitto, make_till: TillFactory
) -> None:
    one = sync_config(tmp_path, "shared", mqtt_config(mosquitto), stores=frozenset({f"{ORGNR}/{VAXJO}"}))
    two = replace(one, client_id="sync-shared-2")
    till = await make_till(VAXJO, "KASSA-1", mqtt_config(mosquitto), verifier_of(one))
    async with running(one) as first, running(two) as second:
        await till.sell(20)
        await till.wait_all_acked()
    assert first.subscriber is not None and second.subscriber is not None
    assert first.subscriber.shared and second.subscriber.shared
    rows = inbox(one, "SELECT sequence, COUNT(*), processed_at IS NOT NULL FROM inbox GROUP BY sequence")
    assert rows == [(n, 1, 1) for n in range(1, 21)]
