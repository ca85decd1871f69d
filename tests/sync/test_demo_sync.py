"""The demo's sync module (gateway/demo.py): the demo till sells once it is subscribed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import aiomqtt

from gateway.config import demo_config
from gateway.demo import start_sync
from gateway.messages.envelope import decode_ack
from tests.sync.conftest import Broker


async def test_the_demo_sync_module_is_subscribed_when_started(tmp_path: Path, broker: Broker) -> None:
    """A message published as soon as start_sync returns reaches the module and is acked.

    Published before the module's first subscription, the broker would have kept it for no
    one: the till would send it again, and the demo's first lines would show that as a
    WARNING. Here nothing sends it again, so its ack proves the subscription was there."""
    config = dataclasses.replace(demo_config(), data_dir=tmp_path / "var", mqtt=broker.mqtt)
    register = f"tillgw/{config.shop.orgnr}/{config.shop.store}/{config.pos_id}"
    stop = asyncio.Event()
    sync, _ = await start_sync(config, stop)
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-demo-till") as till:
            await till.subscribe(f"{register}/acks", qos=1)
            await till.publish(f"{register}/receipts", json.dumps({"msg_id": "probe-1"}).encode(), qos=1)
            async with asyncio.timeout(30):  # a hang guard only
                async for message in till.messages:
                    ack = decode_ack(bytes(message.payload))
                    assert (ack.msg_id, ack.status) == ("probe-1", "held")
                    break
    finally:
        stop.set()
        await sync
