"""The sync module's status on the bus (``tillgw/{orgnr}/{store}/sync/status``), on real parts:
a Mosquitto of the test's own, the real sync module, a real till's messages, and the till's
real catalog subscriber hearing the retained status.

Nothing waits on a clock: a retained message is delivered at subscription, and a running
module's statuses are read as they arrive (each with a hang guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.catalog.store import Catalog
from gateway.catalog.subscriber import CatalogSubscriber, SubscriberSettings
from gateway.messages.catalog import CatalogTopics
from gateway.messages.envelope import MessageError
from gateway.messages.sync_status import MAX_ERROR_CHARS, SCHEMA, SyncStatus, decode_status, status_topic
from gateway.sync.config import SyncConfig
from gateway.sync.service import SyncService
from tests.sync.conftest import ORGNR, POS_ID, STORE, Broker, TillBus, TillFactory, a_day, blocker, with_

TOPIC = status_topic(ORGNR, STORE)
GUARD = 30.0  # a hang guard only


@contextlib.asynccontextmanager
async def statuses(broker: Broker) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Every status published on the store's topic (the retained one first), decoded."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="status-reader") as client:
        await client.subscribe(TOPIC, qos=1)

        async def read() -> None:
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                queue.put_nowait({**decode_status(m.payload).to_json(), "retained": m.retain})

        reader = asyncio.create_task(read())
        try:
            yield queue
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def run_once(config: SyncConfig) -> int:
    return await SyncService(config).run(once=True)


def error_lines(config: SyncConfig) -> list[str]:
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(config.log_dir.glob("sync-*.log")))
    return [line for line in text.splitlines() if line.startswith("ERROR")]


async def next_status(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(queue.get(), GUARD)


async def test_a_run_publishes_a_retained_status_with_its_errors_and_the_next_good_run_clears_them(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, broker: Broker, tmp_path: Path
) -> None:
    blocked = blocker(tmp_path)
    config = with_(sync_config, sie_dir=blocked / "sie")
    till = await make_till()
    await run_once(config)  # the module's session at the broker: what the till sends waits for it
    await a_day(till.pipeline)
    await till.pipeline.report("z")
    sent = await till.messages()
    for topic, data in sent:
        await till_bus.publish(topic, data)
    assert await run_once(config) == 1
    assert len([await till_bus.ack() for _ in sent]) == len(sent)

    async with statuses(broker) as queue:  # subscribed after the run: the broker kept it
        status = await next_status(queue)
    [error] = error_lines(config)
    assert status["retained"] is True
    assert status["schema"] == SCHEMA
    assert (status["orgnr"], status["store"], status["worker"]) == (ORGNR, STORE, "sync-test")
    assert status["state"] == "error"
    assert status["summary"].startswith("run ended: stored")
    assert status["errors"] == [
        error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"
    ]

    blocked.unlink()
    assert await run_once(config) == 0
    async with statuses(broker) as queue:
        status = await next_status(queue)
    assert (status["state"], status["errors"]) == ("ok", [])


async def test_a_running_module_publishes_after_its_passes_and_at_its_end(
    sync_config: SyncConfig, broker: Broker
) -> None:
    stop = asyncio.Event()
    async with statuses(broker) as queue:
        running = asyncio.create_task(SyncService(sync_config).run(once=False, stop=stop))
        first = await next_status(queue)
        assert first["summary"].startswith("pass: processed 0")
        assert first["state"] == "ok"
        stop.set()
        assert await asyncio.wait_for(running, GUARD) == 0
        last = await next_status(queue)
        assert last["summary"].startswith("run ended: ")


def _status(**changes: Any) -> bytes:
    body = SyncStatus.make(ORGNR, STORE, "w1", datetime.datetime.now().astimezone(), "s", [])
    return json.dumps({**body.to_json(), **changes}).encode()


def test_a_status_is_checked_and_cut_to_its_limits() -> None:
    now = datetime.datetime.now().astimezone()
    status = SyncStatus.make(
        ORGNR, STORE, "w1", now, "x" * 900, [f"ERROR {n} " + "e" * 400 for n in range(15)]
    )
    assert status.state == "error"
    assert len(status.errors) == 10 and status.errors[0].startswith("ERROR 5 ")
    assert all(len(e) == MAX_ERROR_CHARS for e in status.errors)
    assert decode_status(status.to_bytes()) == status
    for bad, words in (
        (_status(schema="tillgw.sync-status/2"), "schema"),
        (_status(state="fine"), "state"),
        (_status(at="yesterday"), "ISO 8601"),
        (_status(errors=["x"] * 11), "more than 10"),
        (b"[]", "not a JSON object"),
    ):
        with pytest.raises(MessageError, match=words):
            decode_status(bad)


async def test_the_till_hears_the_retained_status_and_skips_another_stores(
    broker: Broker, tmp_path: Path
) -> None:
    catalog = await Catalog.open(tmp_path / "catalog.db")
    subscriber = CatalogSubscriber(
        catalog,
        CatalogTopics(ORGNR, STORE),
        POS_ID,
        broker.mqtt,
        settings=SubscriberSettings(reconnect_initial=0.05, reconnect_max=0.2),
    )
    heard: list[SyncStatus] = []
    subscriber.on_sync_status = heard.append
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="sync-side") as sync:
        other = _status(store="other")
        await sync.publish(TOPIC, _status(summary="first"), qos=1, retain=True)
        try:
            await subscriber.start()
            await asyncio.wait_for(subscriber.wait_until(lambda: subscriber.sync_status is not None), GUARD)
            assert subscriber.sync_status is not None and subscriber.sync_status.summary == "first"
            await sync.publish(TOPIC, other, qos=1, retain=True)
            await sync.publish(TOPIC, _status(summary="second", state="error", errors=["ERROR x"]), qos=1)
            await asyncio.wait_for(
                subscriber.wait_until(lambda: subscriber.sync_status.summary == "second"),  # type: ignore[union-attr]
                GUARD,
            )
        finally:
            await subscriber.close()
            await catalog.close()
    assert [s.summary for s in heard] == ["first", "second"]
    assert subscriber.rejected == 1
    assert subscriber.last_rejected is not None and "not this till's" in subscriber.last_rejected


def test_the_registers_are_optional_and_a_reader_finds_its_own() -> None:
    old = decode_status(_status())  # a status of a sync module from before them
    assert old.registers == () and "registers" not in old.to_json()
    assert old.register(POS_ID) is None
    marks = [{"register": POS_ID, "sequence": 812, "receipt": 640}, {"register": "KASSA9", "sequence": 1}]
    status = decode_status(_status(registers=marks, a_field_of_a_later_release=True))
    assert status.register(POS_ID) == {"register": POS_ID, "sequence": 812, "receipt": 640}
    assert status.register("KASSA9") == {"register": "KASSA9", "sequence": 1, "receipt": None}
    for wrong in ([{"register": POS_ID, "sequence": -1}], [{"sequence": 1}], {"KASSA1": 1}):
        with pytest.raises(MessageError, match="'registers' must be a list"):
            decode_status(_status(registers=wrong))
