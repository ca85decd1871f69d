"""The subscriber against a real Mosquitto: requests at start and on a gap, answers applied,
bad messages skipped with their reason, the broker's loss survived."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.catalog.store import Catalog
from gateway.catalog.subscriber import CatalogSubscriber, SubscriberSettings
from gateway.common.health import DeviceState
from gateway.messages.catalog import CatalogSection, CatalogUpdate, Customer

from .conftest import DEADLINE, POS_ID, TOPICS, Mosquitto, article, mqtt_config, revision, sync_stand_in

FAST = SubscriberSettings(reconnect_initial=0.05, reconnect_max=0.2, keepalive=5, timeout=5.0)


@pytest.fixture
async def subscriber(catalog: Catalog, mosquitto: Mosquitto) -> AsyncIterator[CatalogSubscriber]:
    made = CatalogSubscriber(catalog, TOPICS, POS_ID, mqtt_config(mosquitto), settings=FAST)
    try:
        yield made
    finally:
        await made.close()


async def until(subscriber: CatalogSubscriber, check: object) -> None:
    assert callable(check)
    async with asyncio.timeout(DEADLINE):
        await subscriber.wait_until(check)


async def test_start_request_gap_request_and_the_answers_applied(
    catalog: Catalog, mosquitto: Mosquitto, subscriber: CatalogSubscriber
) -> None:
    assert subscriber.client_id == f"tillgw-5561234567-main-{POS_ID}-catalog"
    async with sync_stand_in(mosquitto) as sync:
        await subscriber.start()
        topic, request = await sync.request()
        assert topic == f"tillgw/5561234567/main/{POS_ID}/catalog-request"
        assert (request.register, request.holds, request.reason) == (POS_ID, 0, "start")
        await subscriber.wait_for(DeviceState.READY)

        # The answer to "I hold nothing": a full revision, in two parts.
        await sync.send(
            *revision(
                1,
                0,
                full=True,
                articles=(article("1001", "Kaffe", 2500, "7310865004703"),),
                customers=(Customer("K1", "Anna AB"),),
            )
        )
        await until(subscriber, lambda: catalog.revision == 1)
        assert catalog.article_by_barcode("7310865004703") is not None

        # Revision 3 without 2: held back, and the till asks for what follows 1 — once.
        third = revision(3, articles=(article("1001", "Kaffe", 3000, "7310865004703"),))
        await sync.send(*third, *third)
        _, gap = await sync.request()
        assert (gap.holds, gap.reason) == (1, "gap")
        await sync.send(*revision(2, articles=(article("2001", "Bulle", 3200),)), *third)
        await until(subscriber, lambda: catalog.revision == 3)
        found = catalog.article("1001")
        assert found is not None and found.article.price == 3000
        assert catalog.article("2001") is not None
        assert [r.reason for r in subscriber.requests] == ["start", "gap"]
        assert sync.requests.empty()


async def test_bad_messages_are_skipped_with_their_reason(
    catalog: Catalog, mosquitto: Mosquitto, subscriber: CatalogSubscriber
) -> None:
    async with sync_stand_in(mosquitto) as sync:
        await subscriber.start()
        await sync.request()
        good = revision(1, 0, full=True, articles=(article("A"),))[0]
        other_store = CatalogUpdate(
            "5569999999", "main", 1, 0, True, 1, 1, CatalogSection.ARTICLES, (article("X"),)
        )
        await sync.send(b"not json", good.to_bytes().replace(b'"price":2500', b'"price":-1'), other_store)
        await until(subscriber, lambda: subscriber.rejected == 3)
        assert subscriber.last_rejected == (
            f"{TOPICS.updates}: for 5569999999/main, not this till's 5561234567/main"
        )
        status = subscriber.status()
        assert (status["state"], status["rejected"]) == ("ready", 3)
        await sync.send(good)  # the till goes on
        await until(subscriber, lambda: catalog.revision == 1)
        assert catalog.article("X") is None


async def test_the_broker_lost_and_back_the_till_asks_again_and_catches_up(
    catalog: Catalog, mosquitto: Mosquitto, subscriber: CatalogSubscriber
) -> None:
    async with sync_stand_in(mosquitto) as sync:
        await subscriber.start()
        await sync.request()
        await sync.send(*revision(1, 0, full=True, articles=(article("A"),)))
        await until(subscriber, lambda: catalog.revision == 1)
    await mosquitto.stop()
    await subscriber.wait_for(DeviceState.FAILED)
    assert "no answer from the MQTT broker" in subscriber.reason or "lost the connection" in subscriber.reason
    assert catalog.article("A") is not None  # the catalog answers from what it holds
    await mosquitto.start()
    async with sync_stand_in(mosquitto) as sync:
        _, request = await sync.request()
        assert (request.holds, request.reason) == (1, "start")
        await sync.send(*revision(2, articles=(article("B"),)))
        await until(subscriber, lambda: catalog.revision == 2)
