"""``tillgw diag --config`` beside a real running till: it asks the till's API for the devices
and never opens their ports; with no till running it probes them itself, within the
config's timeouts; a till that holds its data directory but does not answer is a problem of
its own, with its next step.

The control unit is the simulator behind a TCP forwarder that counts the connections made
to it: the till's is the only one while the till runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway import cli
from gateway.config import ControlUnitConfig
from tests.api.conftest import ORGNR, POS_ID, ApiFactory


class CountingForwarder:
    """A TCP port that forwards every connection to ``target`` and counts them."""

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("socket://").rpartition(":")
        self.target = (host, int(port))
        self.connections = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()[:2]
        try:
            yield f"socket://{host}:{port}"
        finally:
            server.close()


@pytest.fixture
async def forwarder(unit: ControlUnit) -> AsyncIterator[tuple[CountingForwarder, str]]:
    async with serve_tcp(unit) as simulator:
        counting = CountingForwarder(simulator)
        async with counting.serving() as url:
            yield counting, url


def diag_config(path: Path, data_dir: Path, unit_url: str, api_port: int, *, retries: int = 1) -> Path:
    path.write_text(
        f"""\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "{ORGNR}"
address = ["Storgatan 1", "352 30 Växjö"]

[register]
pos_id = "{POS_ID}"
data_dir = "{data_dir}"

[control_unit]
url = "{unit_url}"
request_timeout = 0.3
retries = {retries}

[api]
listen = "127.0.0.1:{api_port}"

[mqtt]
enabled = false
""",
        encoding="utf-8",
    )
    return path


async def diag(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    # In English, the words these tests read (tests/test_languages_cli.py reads the Swedish).
    code = await asyncio.to_thread(cli.main, ["--language", "en", "diag", "--json", *args])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


def check_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in document["checks"] if c["name"] == name)


async def test_diag_reports_the_devices_of_the_running_till_without_opening_their_ports(
    make_api: ApiFactory,
    forwarder: tuple[CountingForwarder, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    counting, unit_url = forwarder
    api = await make_api(control_unit=ControlUnitConfig(unit_url, request_timeout=0.3, retries=1))
    assert api.till.unit.reason == "ready" and counting.connections == 1
    port = int(api.url.rpartition(":")[2])
    config = diag_config(tmp_path / "diag.toml", api.till.files.data_dir, unit_url, port)

    _, document = await diag(capsys, "--config", str(config))

    assert counting.connections == 1  # the till's own connection, and no other
    (unit,) = document["control_units"]
    assert (unit["url"], unit["state"], unit["reason"]) == (unit_url, "ready", "ready")
    assert unit["details"]["reported_by"] == f"the running till at {api.url}"
    _, status = await api.call("GET", "/v1/status")
    assert unit["details"]["unit_id"] == status["devices"]["control_unit"]["unit_id"] is not None
    running = check_named(document, "running till")
    assert running["verdict"] == "ok" and running["details"]["pid"] is not None
    assert "their ports were left to it" in running["summary"]


async def test_diag_names_a_till_that_holds_its_data_directory_but_does_not_answer(
    make_api: ApiFactory,
    forwarder: tuple[CountingForwarder, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    counting, unit_url = forwarder
    api = await make_api(control_unit=ControlUnitConfig(unit_url, request_timeout=0.3, retries=1))
    # The config says the API listens where nothing does: the till runs, but cannot be asked.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        silent = int(probe.getsockname()[1])
    config = diag_config(tmp_path / "diag.toml", api.till.files.data_dir, unit_url, silent)

    code, document = await diag(capsys, "--config", str(config))

    assert code == 1 and counting.connections == 1  # its ports are still left to it
    running = check_named(document, "running till")
    assert running["verdict"] == "problem"
    assert (
        f"runs on {api.till.files.data_dir} but its API at http://127.0.0.1:{silent} does not answer"
        in (running["summary"])
    )
    assert running["next_step"].startswith("check [api] listen in its config")
    assert {"about": "running till", "next_step": running["next_step"]} in document["next_steps"]
    assert document["control_units"] == []


async def test_with_no_till_running_diag_probes_the_unit_itself_with_the_configs_timeouts(
    forwarder: tuple[CountingForwarder, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counting, unit_url = forwarder
    data_dir = tmp_path / "till"
    data_dir.mkdir()
    config = diag_config(tmp_path / "diag.toml", data_dir, unit_url, 9, retries=2)

    _, document = await diag(capsys, "--config", str(config))

    assert counting.connections >= 1  # diag opened the unit's port itself
    (unit,) = document["control_units"]
    assert unit["state"] == "ready" and "reported_by" not in unit["details"]
    assert all(c["name"] != "running till" for c in document["checks"])


async def test_a_silent_unit_is_tried_as_often_as_the_config_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connections: list[int] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read()  # hears the questions, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    data_dir = tmp_path / "till"
    data_dir.mkdir()
    try:
        config = diag_config(tmp_path / "diag.toml", data_dir, f"socket://{host}:{port}", 9, retries=2)
        code, document = await diag(capsys, "--config", str(config))
    finally:
        server.close()
    assert code == 1
    (unit,) = document["control_units"]
    # retries = 2 in the config: three tries (diag's own default would have made two).
    assert "after 3 tries — check the cable and power" in unit["reason"], unit["reason"]
    assert {"about": f"control unit {unit['url']}", "next_step": "check the cable and power"} in document[
        "next_steps"
    ]
