"""The publisher against a real Mosquitto: order, acks, resends, the broker down and back."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import replace

import pytest

from gateway.bus.outbox import Outbox
from gateway.bus.publisher import Publisher
from gateway.common.health import DeviceState
from gateway.config import MqttConfig
from gateway.fiscal.store import Store, Writer
from gateway.messages.envelope import Ack, decode_message

from .conftest import (
    DEADLINE,
    FAST,
    ORGNR,
    POS_ID,
    STORE,
    TOPICS,
    Mosquitto,
    PublisherFactory,
    TillParts,
    first_copies,
    free_port,
    mqtt_config,
    sync_side,
    wait_state,
)


async def acked_rows(till: TillParts) -> list[tuple[int, str | None, int]]:
    rows = await till.store.fetchall("SELECT sequence, ack_status, sends FROM outbox ORDER BY sequence")
    return [(int(r[0]), r[1], int(r[2])) for r in rows]


async def test_messages_flow_in_order_and_stay_until_acked(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto))
        await till.sell(3)
        await till.pipeline.open_drawer("Anna")
        await till.pipeline.report("z")

        messages = list((await sync.collect({1, 2, 3, 4, 5})).values())
        assert [m.sequence for m in messages] == [1, 2, 3, 4, 5]
        assert [m.kind for m in messages] == ["receipt", "receipt", "receipt", "drawer.open", "report.z"]
        assert [m.payload["receipt_no"] for m in messages[:3]] == [1, 2, 3]
        assert messages[0].msg_id == f"{ORGNR}/{STORE}/{POS_ID}/1"
        assert messages[0].payload["totals"]["to_pay"] == 100_01
        # The journal entries they come from, in the same order.
        assert [m.journal_entry for m in messages] == sorted(m.journal_entry for m in messages)

        # Delivered, but nobody has acked: the outbox keeps all of them.
        status = await publisher.status()
        assert (status.depth, status.last_acked, status.state) == (5, None, "ready")
        assert status.oldest_at is not None and status.oldest_age_s is not None

        for message in messages:
            await sync.ack(message)
        await publisher.wait_acked(5)
        status = await publisher.status()
        assert (status.depth, status.last_acked, status.oldest_at) == (0, 5, None)
        assert [(s, a) for s, a, _ in await acked_rows(till)] == [(n, "stored") for n in range(1, 6)]
        assert all(sends >= 1 for _, _, sends in await acked_rows(till))


async def test_new_rows_are_sent_as_they_are_written(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """Sale after sale, each message arrives before the next sale (the wake-up, not a poll)."""
    slow = replace(FAST, ack_wait=60.0)  # no resend can deliver it instead
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto), slow)
        await wait_state(publisher, DeviceState.READY)
        for n in range(1, 6):
            await till.sell()
            message = await sync.next()
            assert message.sequence == n
            await sync.ack(message)
        await publisher.wait_acked(5)


async def test_a_message_just_written_is_sent_from_hand_not_read_back(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """The row a sale's commit wrote is handed to the publisher: no read of the outbox before it
    is published (SQLite's own trace of the statements run says so)."""
    slow = replace(FAST, ack_wait=60.0)  # no resend, and no ack: nothing else wakes it
    async with sync_side(mosquitto.port) as sync:
        await make_publisher(mqtt_config(mosquitto), slow)
        await till.sell()
        assert (await sync.next()).sequence == 1  # the connection's first read of the outbox is behind us
        statements: list[str] = []
        await till.store.run(lambda: till.store.conn.set_trace_callback(statements.append))
        try:
            for n in range(2, 5):
                await till.sell()
                assert (await sync.next()).sequence == n
        finally:
            await till.store.run(lambda: till.store.conn.set_trace_callback(None))
        assert sum("INSERT INTO outbox" in s for s in statements) == 3
        assert [s for s in statements if "FROM outbox WHERE acked_at IS NULL AND sequence >" in s] == []


async def test_a_message_another_process_wrote_is_read_from_the_outbox_in_its_place(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """A row the publisher was not handed (``tillgw report`` from a shell writes through its own
    connection) is read from the outbox, in order before the rows in hand that follow it."""
    slow = replace(FAST, ack_wait=60.0)  # what arrives is no resend
    async with sync_side(mosquitto.port) as sync:
        await make_publisher(mqtt_config(mosquitto), slow)
        await till.sell()
        assert (await sync.next()).sequence == 1
        shell = await Store.open(till.store.path, till.store.signer)  # another connection, another writer
        try:
            await Outbox(shell, TOPICS).install()
            await shell.transact(lambda w: w.append("cashier.login", {"cashier": "shell", "pos_id": POS_ID}))
        finally:
            await shell.close()
        await till.sell()  # row 3 is in hand; row 2 is not
        arrived = [await sync.next(), await sync.next()]
        assert [(m.sequence, m.kind) for m in arrived] == [(2, "cashier.login"), (3, "receipt")]


async def test_unacked_is_sent_again_after_backoff_and_a_repeated_ack_is_harmless(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(
            mqtt_config(mosquitto), replace(FAST, ack_wait=0.05, resend_initial=0.05)
        )
        await till.sell()
        first = await sync.next()
        again = await sync.next()  # nobody acked: the same message, sent again
        assert again == first
        third = await sync.next()  # and again, after a longer wait
        assert third == first
        assert (await acked_rows(till))[0][2] >= 2  # the third copy left after the second was recorded

        await sync.ack(first)
        await sync.ack(first)  # a repeat, as a sync module that restarted might send
        await till.sell()
        await sync.ack((await sync.collect({2}))[2])
        await publisher.wait_acked(2)  # acks are handled in order: the repeat was handled before
        assert [(s, a) for s, a, _ in await acked_rows(till)] == [(1, "stored"), (2, "stored")]
        assert publisher.state is DeviceState.READY


async def test_bad_and_unknown_acks_are_logged_and_ignored(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tillgw.bus.publisher")
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto))
        await till.sell(2)
        first, second = (await sync.collect({1, 2})).values()
        for payload in (
            b"not json",
            b'{"schema": "tillgw.bus-ack/9", "msg_id": "x", "status": "stored"}',
            b'{"schema": "tillgw.bus-ack/1", "msg_id": "' + first.msg_id.encode() + b'", "status": "maybe"}',
            Ack(f"{ORGNR}/{STORE}/{POS_ID}/999", "stored").to_bytes(),  # no such message
            Ack(f"{ORGNR}/{STORE}/KASSA9/1", "stored").to_bytes(),  # another register's
            Ack(f"{ORGNR}/{STORE}/{POS_ID}/one", "stored").to_bytes(),
        ):
            await sync.publish(TOPICS.acks, payload)
        # An older sync module's "rejected" is read as held: kept, shown, never final.
        await sync.ack(second, "rejected", "unknown article 123")
        await publisher.wait_acked(2)

        assert [(s, a) for s, a, _ in await acked_rows(till)] == [(1, None), (2, "held")]
        await publisher.wait_for(DeviceState.DEGRADED)
        assert "holds 1 message — receipt 2: unknown article 123" in publisher.reason
        assert publisher.connected
        status = (await publisher.status()).to_json()
        assert status["depth"] == 1 and status["held_count"] == 1
        assert status["held"][0]["msg_id"] == second.msg_id and status["acks"] == "unauthenticated"
        assert status["acks_ignored"] == {"unreadable": 3, "unknown": 1, "foreign": 2}
        warnings = "\n".join(r.getMessage() for r in caplog.records)
        assert "not JSON" in warnings
        assert "not an ack of schema" in warnings
        assert "ack status 'maybe'" in warnings
        assert f"{POS_ID}/999': no such message in the outbox" in warnings
        assert "KASSA9/1': not a message of tillgw/" in warnings
        assert "the sync module holds message 5561234567/main/KASSA1/2: unknown article 123" in warnings
        await sync.ack(first)
        await publisher.wait_acked(1)


async def test_broker_down_sales_go_on_and_the_outbox_drains_in_order_when_it_is_back(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    publisher = await make_publisher(mqtt_config(mosquitto))
    seen: list[int] = []
    async with sync_side(mosquitto.port, seen=seen) as sync:
        await till.sell(3)
        before = await sync.collect({1, 2, 3})
        await sync.ack(before[1])
        await sync.ack(before[2])
        await publisher.wait_acked(2)  # 3 was delivered, but is not acked yet

    await mosquitto.stop()
    await wait_state(publisher, DeviceState.FAILED)
    await till.sell(4)  # sales go on
    health = await wait_state(publisher, DeviceState.FAILED, "no answer from the MQTT broker")
    assert health.reason == (
        f"failed: no answer from the MQTT broker at {mosquitto.url} — check that Mosquitto runs"
    )
    status = await publisher.status()
    assert (status.depth, status.last_acked, status.state) == (5, 2, "failed")
    assert status.oldest_at is not None and status.oldest_at == before[3].at

    await mosquitto.start()
    async with sync_side(mosquitto.port, seen=seen) as sync:
        after = await sync.collect({3, 4, 5, 6, 7})
        for message in after.values():
            await sync.ack(message)
        await publisher.wait_acked(7)
    await wait_state(publisher, DeviceState.READY)
    status = await publisher.status()
    assert (status.depth, status.last_acked, status.state) == (0, 7, "ready")
    assert first_copies(seen) == [1, 2, 3, 4, 5, 6, 7]
    assert [after[n].payload["receipt_no"] for n in range(3, 8)] == [3, 4, 5, 6, 7]


async def test_broker_stopped_mid_stream(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """Stopped while messages are in flight, sales going on: every one arrives, first copies in order."""
    publisher = await make_publisher(mqtt_config(mosquitto))
    seen: list[int] = []
    async with sync_side(mosquitto.port, seen=seen) as sync:
        await till.sell(5)
        await mosquitto.stop()  # whatever had not reached the sync side is still in the outbox
        await sync.disconnected()
    await till.sell(5)
    await wait_state(publisher, DeviceState.FAILED, "no answer")
    assert await till.depth() == 10

    await mosquitto.start()
    async with sync_side(mosquitto.port, seen=seen) as sync:
        for message in (await sync.collect(set(range(1, 11)))).values():
            await sync.ack(message)
        await publisher.wait_acked(10)
    assert first_copies(seen) == list(range(1, 11))
    assert await till.depth() == 0


async def test_a_backlog_drains_in_order_through_a_small_window(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """More messages than the window: sent in order, at most ``window`` awaiting their ack."""

    def logins(w: Writer) -> None:
        for n in range(120):
            w.append("cashier.login", {"cashier": f"c{n}", "pos_id": POS_ID})

    await till.store.transact(logins)
    settings = replace(FAST, window=25, batch=10)
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto), settings)
        order: list[int] = []
        while len(order) < 120:
            message = await sync.next()
            if message.sequence not in order:
                assert message.sequence == len(order) + 1
                order.append(message.sequence)
                # Nothing beyond the window was sent before the oldest was acked.
                assert message.sequence <= (len(order) - 1) + settings.window
                await sync.ack(message)
        await publisher.wait_acked(120)
    assert await till.depth() == 0


async def test_unacked_messages_survive_a_restart_of_the_publisher(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto))
        await till.sell(2)
        await sync.collect({1, 2})
        await publisher.close()  # a till switched off before the acks came
        await till.sell()  # (written while no publisher runs)
        publisher = await make_publisher(mqtt_config(mosquitto))
        for message in (await sync.collect({1, 2, 3})).values():
            await sync.ack(message)
        await publisher.wait_acked(3)
    assert [(s, a) for s, a, _ in await acked_rows(till)] == [(1, "stored"), (2, "stored"), (3, "stored")]


async def test_degraded_when_the_sync_module_does_not_ack(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    settings = replace(FAST, degraded_after=0.3, health_refresh=0.1)
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto), settings)
        await till.sell(2)
        first = await sync.collect({1, 2})
        health = await wait_state(publisher, DeviceState.DEGRADED)
        oldest = (await publisher.status()).oldest_at
        assert oldest is not None
        assert health.reason == (
            f"degraded: 2 messages waiting, oldest {oldest[11:16]} — the ERP sync module has not "
            "acknowledged them; check that tillgw sync runs"
        )
        for message in first.values():  # the acks come late
            await sync.ack(message)
        await publisher.wait_acked(1)
        await publisher.wait_acked(2)
        await wait_state(publisher, DeviceState.READY)
        assert await till.depth() == 0


async def test_a_message_rolled_back_with_its_entry_is_never_published(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """The outbox row is written inside the entry's transaction; a rollback takes both."""
    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto))
        await wait_state(publisher, DeviceState.READY)

        class Abandon(Exception):
            pass

        def ghost(w: Writer) -> None:
            w.append("cashier.login", {"cashier": "ghost", "pos_id": POS_ID})
            raise Abandon  # after the outbox's hook wrote its row

        with pytest.raises(Abandon):
            await till.store.transact(ghost)
        await till.pipeline.record("cashier.login", {"cashier": "real"})
        message = await sync.next()
        assert (message.sequence, message.payload["cashier"]) == (1, "real")
        await sync.ack(message)
        await publisher.wait_acked(1)


async def test_health_words_when_no_broker_answers(till: TillParts, make_publisher: PublisherFactory) -> None:
    port = free_port()
    publisher: Publisher = await make_publisher(MqttConfig(host="127.0.0.1", port=port))
    health = await wait_state(publisher, DeviceState.FAILED)
    assert health.reason == (
        f"failed: no answer from the MQTT broker at mqtt://127.0.0.1:{port} — check that Mosquitto runs"
    )
    await till.sell()  # sales go on
    status = await publisher.status()
    assert (status.depth, status.state) == (1, "failed")
    assert decode_message((await till.outbox.unacked())[0].message).kind == "receipt"


async def test_a_cancelled_write_ends_whole_and_still_wakes_the_publisher(
    till: TillParts, mosquitto: Mosquitto, make_publisher: PublisherFactory
) -> None:
    """The publisher is cancelled when its connection drops or the till stops, a POS request when
    its client goes away. A transaction cancelled before the database thread took it up never
    runs; one cancelled while it runs ends whole — committed, never left open — and the
    publisher still hears of what it committed."""
    release = threading.Event()
    running = threading.Event()

    def login(w: Writer, cashier: str) -> None:
        running.set()
        release.wait()
        w.append("cashier.login", {"cashier": cashier, "pos_id": POS_ID})

    async with sync_side(mosquitto.port) as sync:
        publisher = await make_publisher(mqtt_config(mosquitto))
        await wait_state(publisher, DeviceState.READY)

        # Cancelled while queued behind other work: it never runs.
        busy = asyncio.ensure_future(till.store.run(release.wait))
        queued = asyncio.create_task(till.store.transact(lambda w: login(w, "never")))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued  # by now the cancellation has reached the database thread's queue
        release.set()
        await busy

        # Cancelled while it runs: it commits, and the publisher sends its message.
        release.clear()
        started = asyncio.create_task(till.store.transact(lambda w: login(w, "anna")))
        await asyncio.to_thread(running.wait)
        started.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await started
        assert not await till.store.run(lambda: till.store.conn.in_transaction)
        message = await sync.next()
        assert (message.sequence, message.payload["cashier"]) == (1, "anna")
        await sync.ack(message)
        await publisher.wait_acked(1)
    rows = await till.store.fetchall("SELECT body FROM journal WHERE kind = 'cashier.login'")
    assert [json.loads(r[0])["cashier"] for r in rows] == ["anna"]
    await till.sell()  # and the next sale goes through


async def test_closing_at_any_moment_never_hangs(till: TillParts, mosquitto: Mosquitto) -> None:
    """Closed while connecting, subscribing or serving: close returns, and leaves nothing running."""
    for n in range(40):
        publisher = Publisher(till.outbox, TOPICS, mqtt_config(mosquitto), settings=FAST)
        await publisher.start()
        for _ in range(n % 8):
            await asyncio.sleep(0)  # stop it at another step each time (a yield, not a wait)
        if n % 8 == 7:
            await wait_state(publisher, DeviceState.READY)
        async with asyncio.timeout(DEADLINE):
            await publisher.close()
        assert not publisher.connected
    assert till.store.commit_listeners == []  # no publisher left listening
