"""The bus wired into a real :class:`Till`: outbox, publisher, embedded broker, ``status()["bus"]``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.bus.broker import broker_answers
from gateway.common.health import DeviceState
from gateway.config import Config, MqttConfig
from gateway.till import Till

from .conftest import (
    ORGNR,
    POS_ID,
    STORE,
    Mosquitto,
    free_port,
    make_sale,
    sync_side,
    till_config,
    wait_state,
)


@pytest.fixture
async def unit_url(unit: ControlUnit) -> AsyncIterator[str]:
    async with serve_tcp(unit) as url:
        yield url


@contextlib.asynccontextmanager
async def opened(config: Config) -> AsyncIterator[Till]:
    till = await Till.open(config)
    try:
        yield till
    finally:
        await till.close()


async def test_a_till_publishes_its_receipts_and_shows_the_bus_in_its_status(
    tmp_path: Path, unit_url: str, mosquitto: Mosquitto
) -> None:
    mqtt = MqttConfig(host="127.0.0.1", port=mosquitto.port)
    async with sync_side(mosquitto.port) as sync, opened(till_config(tmp_path, unit_url, mqtt)) as till:
        assert till.bus is not None and till.embedded_broker is None
        await till.pipeline.submit("pos-1", make_sale())
        message = await sync.next()
        assert (message.kind, message.msg_id) == ("receipt", f"{ORGNR}/{STORE}/{POS_ID}/1")
        bus = (await till.status())["bus"]
        assert bus["broker"] == mosquitto.url
        assert (bus["depth"], bus["last_acked"]) == (1, None)
        assert bus["oldest_unacked_at"] == message.at and bus["oldest_unacked_age_s"] >= 0

        await sync.ack(message)
        await till.bus.wait_acked(1)
        await wait_state(till.bus, DeviceState.READY)
        bus = (await till.status())["bus"]
        assert (bus["depth"], bus["last_acked"], bus["state"], bus["reason"]) == (0, 1, "ready", "ready")

        await mosquitto.stop()
        await wait_state(till.bus, DeviceState.FAILED)
        await till.pipeline.submit("pos-2", make_sale())  # sales go on
        await wait_state(till.bus, DeviceState.FAILED, "no answer")
        bus = (await till.status())["bus"]
        assert (bus["depth"], bus["last_acked"], bus["state"]) == (1, 1, "failed")
        assert bus["reason"] == (
            f"failed: no answer from the MQTT broker at {mosquitto.url} — check that Mosquitto runs"
        )
    # Closed cleanly with the broker down: nothing hangs, the message waits in the outbox.


async def test_the_demo_setting_starts_an_embedded_broker_and_stops_it_with_the_till(
    tmp_path: Path, unit_url: str
) -> None:
    mqtt = MqttConfig(host="127.0.0.1", port=free_port(), embedded=True)
    async with opened(till_config(tmp_path, unit_url, mqtt)) as till:
        assert till.embedded_broker is not None and till.bus is not None
        async with sync_side(mqtt.port) as sync:
            await till.pipeline.open_drawer("Anna")
            message = await sync.next()
            assert message.kind == "drawer.open"
            await sync.ack(message)
            await till.bus.wait_acked(1)
    assert not await broker_answers(mqtt.host, mqtt.port)


async def test_a_till_with_no_bus_has_no_outbox_and_no_publisher(tmp_path: Path, unit_url: str) -> None:
    async with opened(till_config(tmp_path, unit_url, None)) as till:
        assert till.bus is None and till.embedded_broker is None
        await till.pipeline.submit("pos-1", make_sale())
        assert (await till.status())["bus"] is None
        assert await till.store.fetchone("SELECT name FROM sqlite_master WHERE name = 'outbox'") is None
