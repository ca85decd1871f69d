"""``tillgw diag`` against simulated control units, and against ports with nothing behind them.

The command runs in a worker thread (it starts its own event loop, as from a shell)
while the simulator serves from the test's loop; its output is captured by capsys.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tty
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway import cli

Serve = Callable[[ControlUnit, str], AbstractAsyncContextManager[str]]
UnitFactory = Callable[..., ControlUnit]


async def tillgw(*args: str) -> int:
    return await asyncio.to_thread(cli.main, list(args))


async def diag_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = await tillgw("diag", "--json", *args)
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A serial port with nothing behind it: a pty whose other end never answers."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.fixture
def closed_tcp_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"socket://127.0.0.1:{port}"


async def test_diag_reports_identity_and_status(
    unit: ControlUnit, unit_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = await diag_json(capsys, "--control-unit", unit_url, "--timeout", "0.5")

    assert code == 0
    assert document["ok"] is True and document["problem"] is None
    [found] = document["control_units"]
    assert found == {
        "device": "control unit",
        "url": unit_url,
        "answered": True,
        "state": "ready",
        "reason": "ready",
        "details": {
            "unit_id": unit.unit_id,
            "protocol": "CCSP v2",
            "protocol_version": 2,
            "firmware": "tillgw-sim 1.0",
            "main_status": 0,
            "main_status_words": "OK",
            "storage_status": 0,
            "storage_status_words": "OK",
        },
        "next_step": None,
    }
    assert len(unit.memory) == 0  # a probe never registers anything


async def test_diag_says_when_memory_is_almost_full(
    unit: ControlUnit, unit_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unit.faults.set("storage-high")

    code, document = await diag_json(capsys, "--control-unit", unit_url)

    assert code == 0  # it still registers receipts
    [found] = document["control_units"]
    assert found["state"] == "degraded"
    assert (
        found["reason"]
        == "degraded: journal memory almost full — order a new control unit or have it emptied"
    )
    assert found["next_step"] == "order a new control unit or have it emptied"
    assert (found["details"]["main_status_words"], found["details"]["storage_status_words"]) == (
        "warning",
        "almost full",
    )


async def test_diag_fails_when_memory_is_full(
    unit: ControlUnit, unit_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unit.faults.set("storage-full")

    code, document = await diag_json(capsys, "--control-unit", unit_url)

    assert code == 1
    assert document["problem"] == (
        f"{unit_url}: cannot register receipts "
        "(failed: control unit memory full — order a new control unit or have it emptied)"
    )


async def test_diag_with_nothing_behind_a_serial_port(
    silent_pty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = await diag_json(capsys, "--control-unit", silent_pty, "--timeout", "0.1")

    assert code == 1
    [found] = document["control_units"]
    assert found["answered"] is False and found["state"] == "failed"
    assert found["reason"] == (
        f"failed: no answer from the control unit on {silent_pty} after 2 tries — check the cable and power"
    )
    assert found["next_step"] == "check the cable and power"


async def test_diag_with_nothing_listening_prints_the_next_step(
    closed_tcp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await tillgw("diag", "--control-unit", closed_tcp_url)

    out = capsys.readouterr().out
    assert code == 1
    assert f"{closed_tcp_url}: nothing answered" in out
    assert "next step: check that the device is on and listens on that port" in out


async def test_diag_table_for_a_unit_that_answers(
    unit: ControlUnit, unit_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await tillgw("diag", "--control-unit", unit_url)

    out = capsys.readouterr().out
    assert code == 0
    assert unit.unit_id in out and "CCSP v2" in out and "tillgw-sim 1.0" in out
    assert "OK: every device answered" in out


async def test_diag_scan_finds_the_unit_among_silent_ports(
    make_unit: UnitFactory, serve: Serve, silent_pty: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = make_unit()
    ports = tmp_path / "dev"
    ports.mkdir()
    async with serve(unit, "pty") as path:
        # Stable names for the scan to find: ttyS0 is silent, ttyS1 is the unit.
        (ports / "ttyS0").symlink_to(silent_pty)
        (ports / "ttyS1").symlink_to(path)

        code, document = await diag_json(capsys, "--scan-pattern", str(ports / "tty*"), "--timeout", "0.3")

    assert code == 0
    assert document["scanned"] == [str(ports / "ttyS0"), str(ports / "ttyS1")]
    [found] = document["control_units"]
    assert (found["url"], found["details"]["unit_id"], found["state"]) == (
        str(ports / "ttyS1"),
        unit.unit_id,
        "ready",
    )


async def test_diag_scan_that_finds_nothing(
    silent_pty: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ttyS0").symlink_to(silent_pty)

    code, document = await diag_json(capsys, "--scan-pattern", str(tmp_path / "tty*"), "--timeout", "0.1")

    assert code == 1
    assert document["control_units"] == []
    assert document["problem"].startswith(f"no control unit answered on 1 port(s) ({tmp_path / 'ttyS0'})")

    code, document = await diag_json(capsys, "--scan-pattern", str(tmp_path / "nothing*"))
    assert code == 1
    assert document["problem"].startswith("no serial ports found")


async def test_diag_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert await tillgw("diag", "--control-unit", "socket://127.0.0.1:9", "--pos-id", "KASSA#1") == 2
    assert "error: --pos-id: 'KASSA#1' must be" in capsys.readouterr().err
    assert await tillgw("diag", "--timeout", "0") == 2


async def test_diag_reaches_an_xccsp_unit_over_http(
    unit: ControlUnit, capsys: pytest.CaptureFixture[str]
) -> None:
    from firmware_sim.control_unit.xccsp_server import serve_http

    async with serve_http(unit, "127.0.0.1", 0) as url:
        code, document = await diag_json(capsys, "--control-unit", url, "--orgnr", "556036-0793")
    assert code == 0
    [found] = document["control_units"]
    assert found["details"]["unit_id"] == unit.unit_id
    assert found["details"]["protocol"] == "XCCSP v1"
    assert found["details"]["storage_status_words"] == "OK"


async def test_diag_of_an_xccsp_unit_needs_the_orgnr(capsys: pytest.CaptureFixture[str]) -> None:
    code = await tillgw("diag", "--control-unit", "http://127.0.0.1:9/xccsp")
    assert code == 2
    assert "needs --orgnr" in capsys.readouterr().err
    code = await tillgw("diag", "--control-unit", "http://127.0.0.1:9/xccsp", "--orgnr", "12-34")
    assert code == 2
    assert "--orgnr:" in capsys.readouterr().err
