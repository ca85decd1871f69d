"""``tillgw diag``'s MQTT check against real brokers: the machine's Mosquitto at 127.0.0.1:1883,
a port where nothing listens, and a Mosquitto with a password file started here."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.config import MqttConfig
from tools.diag.checks import Verdict
from tools.diag.checks.mqtt import check_mqtt

from .conftest import Mosquitto, free_port
from .test_mosquitto_acl import make_pki

USER, PASSWORD = "KASSA1", "till-secret"


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_the_machines_broker_answers() -> None:
    if not listening(1883):
        pytest.skip("no Mosquitto at 127.0.0.1:1883 on this machine")
    check = await check_mqtt(MqttConfig())
    assert check.verdict is Verdict.OK
    assert check.summary == "connected to mqtt://127.0.0.1:1883 as no user name"


async def test_a_closed_port_is_no_answer() -> None:
    port = free_port()
    check = await check_mqtt(MqttConfig(port=port), connect_seconds=2.0)
    assert check.verdict is Verdict.PROBLEM
    assert check.summary.startswith(f"no answer from the MQTT broker at mqtt://127.0.0.1:{port}")
    assert check.next_step is not None and "check that Mosquitto runs" in check.next_step


async def test_no_bus_is_no_problem() -> None:
    assert (await check_mqtt(None)).verdict is Verdict.OK


@pytest.fixture
async def broker_with_passwords(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    passwd = tmp_path / "passwd"
    made = await asyncio.create_subprocess_exec("mosquitto_passwd", "-c", "-b", str(passwd), USER, PASSWORD)
    assert await made.wait() == 0
    port = free_port()
    broker = Mosquitto(
        tmp_path,
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\npersistence false\n",
        port,
    )
    await broker.start()
    yield broker
    await broker.stop()


async def test_a_wrong_password_is_refused_as_not_authorised(broker_with_passwords: Mosquitto) -> None:
    port = broker_with_passwords.port
    wrong = await check_mqtt(MqttConfig(port=port, username=USER, password="wrong"))
    assert wrong.verdict is Verdict.PROBLEM
    assert wrong.summary == f"refused: not authorised (user '{USER}') at mqtt://127.0.0.1:{port}"
    assert wrong.next_step is not None and "[mqtt] username and password" in wrong.next_step

    right = await check_mqtt(MqttConfig(port=port, username=USER, password=PASSWORD))
    assert right.verdict is Verdict.OK
    assert right.summary == f"connected to mqtt://127.0.0.1:{port} as user '{USER}'"


async def test_tls_with_a_certificate_the_till_does_not_trust(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "certs")
    port = free_port()
    broker = Mosquitto(
        tmp_path,
        f"listener {port} 127.0.0.1\ncertfile {tmp_path}/certs/broker.crt\n"
        f"keyfile {tmp_path}/certs/broker.key\nallow_anonymous true\npersistence false\n",
        port,
        tls=True,
    )
    await broker.start()
    try:
        untrusted = await check_mqtt(MqttConfig(port=port, tls=True, ca_file=pki.other_ca))
        trusted = await check_mqtt(MqttConfig(port=port, tls=True, ca_file=pki.ca))
        plain = await check_mqtt(MqttConfig(port=port), connect_seconds=2.0)
    finally:
        await broker.stop()
    assert untrusted.verdict is Verdict.PROBLEM
    assert untrusted.summary.startswith(f"TLS: certificate not trusted at mqtts://127.0.0.1:{port}")
    assert untrusted.next_step is not None and "[mqtt].ca_file" in untrusted.next_step
    assert trusted.verdict is Verdict.OK
    assert plain.verdict is Verdict.PROBLEM  # plain MQTT to a TLS port: the broker never answers CONNECT
