"""The sync module away, then back — real Mosquitto, a real till's publisher and outbox, the
real sync module (``SyncService``) and its inbox.

* Away with its session kept at the broker (the usual outage: the module stopped, its host
  rebooted): while it is away the till sends the window once and then only its oldest
  message again, under one backoff; the messages beyond the window wait in the outbox.
  Back, every message is in the inbox exactly once, in order, and the publishes are the
  messages plus the counted resends of the oldest.
* Away with no session at the broker (a module that never ran, a broker that lost its
  data): the window's first copies are lost, the resent oldest message comes through, and
  the lost ones are sent again in rounds that double — each still in the inbox once, in order.

Every wait is on a count (copies a watching subscriber saw, acks recorded), with a deadline as a safety
net; nothing is timed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

from gateway.bus.flight import PublisherSettings
from gateway.messages.envelope import decode_message
from tests.bus.conftest import DEADLINE, Mosquitto, mqtt_config
from tests.bus.test_routing_and_proofs import (
    ORGNR,
    VAXJO,
    BusTill,
    TillFactory,
    inbox,
    running,
    sync_config,
    verifier_of,
)
from tests.bus.test_routing_and_proofs import make_till as make_till

# Short waits so that an outage of a few seconds holds many stalls; a window smaller than
# the backlog, so that some of it must wait for the sync module's acks.
SETTINGS = PublisherSettings(
    ack_wait=0.2,
    resend_initial=0.1,
    resend_max=0.4,
    lost_wait=0.3,
    reconnect_initial=0.05,
    reconnect_max=0.2,
    window=20,
    batch=10,
    degraded_after=60.0,
    keepalive=5,
    timeout=5.0,
)
SOLD_WHILE_AWAY = 60


async def sends(till: BusTill) -> dict[int, int]:
    rows = await till.store.fetchall("SELECT sequence, sends FROM outbox ORDER BY sequence")
    return {int(r[0]): int(r[1]) for r in rows}


@contextlib.asynccontextmanager
async def watching(port: int) -> AsyncIterator[Watcher]:
    """A clean-session subscriber that sees every copy the till publishes, as the broker has it."""
    async with aiomqtt.Client("127.0.0.1", port, identifier="test-watcher", clean_session=True) as client:
        watcher = Watcher()
        await client.subscribe(f"tillgw/{ORGNR}/{VAXJO}/KASSA-1/receipts", qos=1)

        async def read() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                watcher.seen(decode_message(message.payload).sequence)

        reader = asyncio.create_task(read())
        try:
            yield watcher
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class Watcher:
    def __init__(self) -> None:
        self.copies: collections.Counter[int] = collections.Counter()
        self._changed = asyncio.Event()

    def seen(self, sequence: int) -> None:
        self.copies[sequence] += 1
        self._changed.set()

    async def copies_of(self, sequence: int, count: int) -> None:
        """Wait (with the deadline) until ``count`` copies of message ``sequence`` have been seen."""
        async with asyncio.timeout(DEADLINE):
            while self.copies[sequence] < count:
                self._changed.clear()
                await self._changed.wait()


async def test_back_from_an_outage_every_message_once_in_order_and_only_the_oldest_resent(
    tmp_path: Path, mosquitto: Mosquitto, make_till: TillFactory
) -> None:
    config = sync_config(tmp_path, VAXJO, mqtt_config(mosquitto))
    till = await make_till(VAXJO, "KASSA-1", mqtt_config(mosquitto), verifier_of(config), SETTINGS)
    assert till.publisher is not None
    async with running(config):  # its session at the broker is made, with its subscriptions
        await till.sell(1)
        await till.wait_all_acked()

    oldest = 2
    async with watching(mosquitto.port) as watcher:
        await till.sell(SOLD_WHILE_AWAY)  # sales go on while the sync module is away
        # Away for as long as the oldest message takes to be sent 6 times.
        await watcher.copies_of(oldest, 6)
    during = await sends(till)
    went = [s for s in range(oldest, SOLD_WHILE_AWAY + 2) if during[s] > 0]
    # A part of the backlog went out, in order from the oldest, at most a window of it: each
    # once, the oldest again and again; the rest waits in the outbox.
    assert went == list(range(oldest, oldest + len(went))) and len(went) <= SETTINGS.window
    assert [during[s] for s in went[1:]] == [1] * (len(went) - 1)

    async with running(config):
        await till.wait_all_acked()
    messages = SOLD_WHILE_AWAY + 1
    arrived = inbox(config, "SELECT msg_id FROM inbox ORDER BY id")
    assert arrived == [(f"{ORGNR}/{VAXJO}/KASSA-1/{n}",) for n in range(1, messages + 1)]
    after = await sends(till)
    # Every publish is a message's first or a resend the till counted, no more.
    assert sum(after.values()) == messages + till.publisher.resend.resends
    assert sum(after.values()) < 1.5 * messages


async def test_back_after_the_broker_lost_the_first_copies_each_is_sent_again_and_stored_once(
    tmp_path: Path, mosquitto: Mosquitto, make_till: TillFactory
) -> None:
    config = sync_config(tmp_path, VAXJO, mqtt_config(mosquitto))
    till = await make_till(VAXJO, "KASSA-1", mqtt_config(mosquitto), verifier_of(config), SETTINGS)
    assert till.publisher is not None
    sold = 30
    async with watching(mosquitto.port) as watcher:
        await till.sell(sold)  # the sync module not subscribed yet: the broker keeps no copy for it
        await watcher.copies_of(1, 4)

    async with running(config):
        await till.wait_all_acked()
    arrived = inbox(config, "SELECT msg_id FROM inbox ORDER BY id")
    assert arrived == [(f"{ORGNR}/{VAXJO}/KASSA-1/{n}",) for n in range(1, sold + 1)]
    after = await sends(till)
    assert sum(after.values()) == sold + till.publisher.resend.resends
    # The lost window is sent again about once (the oldest as often as the outage lasted),
    # the messages beyond it once.
    assert sum(after[s] for s in range(2, SETTINGS.window + 1)) <= 3 * (SETTINGS.window - 1)
    assert all(after[s] == 1 for s in range(SETTINGS.window + 1, sold + 1))
