"""A real :class:`Till`: the bus wired in (outbox, publisher, embedded broker, ``status()["bus"]``),
and the demo's till on the project's simulated devices."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.common.health import DeviceState
from gateway.config import Config, MqttConfig, demo_config
from gateway.mqtt.broker import broker_answers
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
        # The table is in the till database's schema (gateway/fiscal/schema.py); nothing goes in it.
        assert await till.store.fetchone("SELECT COUNT(*) FROM outbox") == (0,)


async def test_the_demo_till_sells_on_the_simulated_unit_and_printer(tmp_path: Path) -> None:
    config = dataclasses.replace(demo_config(), data_dir=tmp_path / "var", mqtt=None)
    async with opened(config) as till:
        assert till.unit.state is DeviceState.READY
        assert till.printer is not None and till.printer.driver.state is DeviceState.READY
        registered = await till.pipeline.submit("pos-1", make_sale())
        await till.pipeline.settle()
        printed = sorted(till.files.demo_printer.glob("receipt-*.txt"))
        assert len(printed) == 1
        paper = printed[0].read_text(encoding="utf-8").split()
        assert registered.unit_id in paper and registered.control_code.split(";")[0] in paper
    # The simulated unit keeps its memory in the data directory: the same unit after a restart.
    async with opened(config) as till:
        identity = till.unit.unit_identity
        assert identity is not None and identity.unit_id == registered.unit_id


def test_a_configured_till_loads_no_simulator_and_no_embedded_broker() -> None:
    """Only the demo starts a simulator (gateway/demo.py), and only a till with no broker to
    talk to starts amqtt: a till in a shop holds neither in memory."""
    code = (
        "import sys, gateway.cli.run, gateway.till, gateway.api.app\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'firmware_sim', 'amqtt'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
