"""publish_in_order: many QoS 1 messages, only the last awaited, against a real Mosquitto. When it
returns the broker has acknowledged every one, and a subscriber gets them all in order."""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt
import pytest

from gateway.mqtt.client import publish_in_order
from tests.mqtt.conftest import DEADLINE, Mosquitto

COUNT = 300  # far past paho's 20 in flight: most wait in paho's queue for a PUBACK


def _client(broker: Mosquitto, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"tillgw-test-in-order-{name}",
        protocol=aiomqtt.ProtocolVersion.V5,
    )


async def test_returns_once_the_broker_has_every_message_and_they_arrive_in_order(
    mosquitto: Mosquitto,
) -> None:
    async with _client(mosquitto, "sub") as subscriber, _client(mosquitto, "pub") as publisher:
        await subscriber.subscribe("tillgw-test/acks/#", qos=1)
        messages = [(f"tillgw-test/acks/KASSA-{n % 7}", f"{n}".encode()) for n in range(COUNT)]
        await asyncio.wait_for(publish_in_order(publisher, messages), DEADLINE)
        assert publisher._client._out_messages == {}  # no publication waits for its PUBACK

        got: list[bytes] = []

        async def receive() -> None:
            async for m in subscriber.messages:
                assert isinstance(m.payload, bytes)
                got.append(m.payload)
                if len(got) == COUNT:
                    return

        await asyncio.wait_for(receive(), DEADLINE)
    assert got == [payload for _, payload in messages]


async def test_nothing_to_publish_returns_at_once(mosquitto: Mosquitto) -> None:
    async with _client(mosquitto, "empty") as publisher:
        await publish_in_order(publisher, [])


async def test_a_lost_connection_is_an_error_not_a_silent_loss(mosquitto: Mosquitto) -> None:
    client = _client(mosquitto, "lost")
    with contextlib.suppress(aiomqtt.MqttError):  # leaving a lost connection may say so too
        async with client:
            await mosquitto.stop()
            await asyncio.wait_for(asyncio.shield(client._disconnected), DEADLINE)  # paho has seen it go
            with pytest.raises(aiomqtt.MqttError):
                await publish_in_order(client, [("tillgw-test/x", b"1"), ("tillgw-test/x", b"2")])
