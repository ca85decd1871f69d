"""The demo's embedded broker: started when nothing answers, not when Mosquitto does."""

from __future__ import annotations

import pytest

from gateway.common.health import DeviceState
from gateway.config import MqttConfig
from gateway.mqtt.broker import broker_answers, start_embedded_broker, start_embedded_if_needed

from .conftest import Mosquitto, PublisherFactory, TillParts, free_port, sync_side, wait_state


async def test_the_embedded_broker_starts_when_the_port_is_free_and_carries_the_bus(
    till: TillParts, make_publisher: PublisherFactory
) -> None:
    config = MqttConfig(host="127.0.0.1", port=free_port(), embedded=True)
    assert not await broker_answers(config.host, config.port)
    broker = await start_embedded_if_needed(config)
    assert broker is not None
    try:
        assert broker.url == config.url
        assert broker.notice == (
            f"no MQTT broker answered at {config.url}; started an embedded one "
            "(for demos, not for production)"
        )
        assert await broker_answers(config.host, config.port)
        async with sync_side(config.port) as sync:
            publisher = await make_publisher(config)
            await till.sell(2)
            messages = await sync.collect({1, 2})
            assert list(messages) == [1, 2]
            for message in messages.values():
                await sync.ack(message)
            await publisher.wait_acked(2)
            assert (await publisher.status()).depth == 0
    finally:
        await broker.close()
    assert not await broker_answers(config.host, config.port)
    await wait_state(publisher, DeviceState.FAILED)  # the publisher tells, and tries again


async def test_no_embedded_broker_when_mosquitto_answers(mosquitto: Mosquitto) -> None:
    config = MqttConfig(host="127.0.0.1", port=mosquitto.port, embedded=True)
    assert await start_embedded_if_needed(config) is None


async def test_no_embedded_broker_unless_the_config_asks_for_one() -> None:
    port = free_port()
    assert await start_embedded_if_needed(MqttConfig(host="127.0.0.1", port=port)) is None
    tls = MqttConfig(host="127.0.0.1", port=port, embedded=True, tls=True)
    assert await start_embedded_if_needed(tls) is None  # the embedded broker speaks no TLS
    assert not await broker_answers("127.0.0.1", port)


async def test_an_address_taken_by_something_else_is_an_os_error(mosquitto: Mosquitto) -> None:
    with pytest.raises(OSError, match="could not start an embedded MQTT broker"):
        await start_embedded_broker("127.0.0.1", mosquitto.port)
