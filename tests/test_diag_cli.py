"""``tillgw diag`` against simulated control units, and against ports with nothing behind them.

The command runs in a worker thread (it starts its own event loop, as from a shell)
while the simulator serves from the test's loop; its output is captured by capsys.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.printer import Fault, PrinterConfig, PrinterDevice
from firmware_sim.printer.server import serve_pty as serve_printer_pty
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from firmware_sim.scanner import Scanner, ScannerConfig
from firmware_sim.scanner.server import serve_pty as serve_scanner_pty
from gateway import cli
from protocols.escpos import DrawerPin
from protocols.scanner import Terminator
from tools.diag import printer_probe

Serve = Callable[[ControlUnit, str], AbstractAsyncContextManager[str]]
UnitFactory = Callable[..., ControlUnit]


async def tillgw(*args: str) -> int:
    """``tillgw ARGS`` in English, the words these tests read (tests/test_languages_cli.py: Swedish)."""
    return await asyncio.to_thread(cli.main, ["--language", "en", *args])


async def diag_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = await tillgw("diag", "--json", *args)
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


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
            **({"line": "9600 8N1"} if unit_url.startswith("/dev/") else {}),  # the speed it answered at
            "main_status": 0,
            "main_status_words": "OK",
            # SIR carries a status detail, not the storage status (that comes with a registration)
            "storage_status": None,
            "storage_status_words": "not reported yet",
            "status_detail": "00000",
        },
        "next_step": None,
    }
    assert len(unit.memory) == 0  # a probe never registers anything


async def test_diag_shows_a_warning_with_the_units_own_status_detail(
    unit: ControlUnit, unit_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unit.faults.set("storage-high")  # the simulator says warning, severity 1, in SIR

    code, document = await diag_json(capsys, "--control-unit", unit_url)

    assert code == 0  # it still registers receipts
    [found] = document["control_units"]
    assert found["state"] == "degraded"
    assert found["reason"] == "degraded: the control unit reports a warning — see its display or manual"
    assert found["details"]["main_status_words"] == "warning"
    assert found["details"]["status_detail"] == "01100"  # as the unit sent it


async def test_diag_says_when_memory_is_almost_full_or_full_where_the_status_tells_it(
    unit: ControlUnit, capsys: pytest.CaptureFixture[str]
) -> None:
    from firmware_sim.control_unit.xccsp_server import serve_http

    unit.faults.set("storage-high")
    async with serve_http(unit, "127.0.0.1", 0) as url:
        code, document = await diag_json(capsys, "--control-unit", url, "--orgnr", "556036-0793")
        assert code == 0  # it still registers receipts
        [found] = document["control_units"]
        assert found["reason"] == (
            "degraded: journal memory almost full — order a new control unit or have it emptied"
        )
        assert found["next_step"] == "order a new control unit or have it emptied"
        assert (found["details"]["main_status_words"], found["details"]["storage_status_words"]) == (
            "warning",
            "almost full",
        )
        unit.faults.clear()
        unit.faults.set("storage-full")
        code, document = await diag_json(capsys, "--control-unit", url, "--orgnr", "556036-0793")
    assert code == 1
    assert document["problem"] == (
        f"{url}: cannot register receipts "
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
    assert (
        f"next step (control unit {closed_tcp_url}): check that the device is on and listens on that port"
        in out
    )


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


# -- tillgw diag --scanner ---------------------------------------------------------------
# The command runs as a subprocess that opens the simulator's pty; the test scans only
# once the command says on stderr that it is listening, so no scan is sent too early.

SCANNER_IO_TIMEOUT = 10.0


async def diag_scanner_subprocess(
    scanner: Scanner, path: str, codes: list[str], *args: str
) -> tuple[int, str]:
    """Run ``tillgw diag --scanner PATH ARGS``, scan ``codes`` once it listens; (exit code, stdout)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "--language",
        "en",
        "diag",
        "--scanner",
        path,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), SCANNER_IO_TIMEOUT)
        assert line.decode().startswith(f"listening to the scanner at {path}"), line
        for code in codes:
            scanner.scan(code)
        out, _ = await asyncio.wait_for(proc.communicate(), SCANNER_IO_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_diag_scanner_reports_each_scan_as_json() -> None:
    scanner = Scanner()
    async with serve_scanner_pty(scanner) as path:
        code, out = await diag_scanner_subprocess(
            scanner, path, ["2388060103489", "7310865004704"], "--read", "60", "--count", "2", "--json"
        )
    assert code == 0
    document = json.loads(out)
    assert document["ok"] is True and document["control_units"] == []
    [found] = document["scanners"]
    assert (found["device"], found["url"], found["answered"], found["state"]) == (
        "scanner",
        path,
        True,
        "ready",
    )
    scans = [{k: v for k, v in scan.items() if k != "at"} for scan in found["details"]["scans"]]
    assert scans == [
        {
            "code": "2388060103489",
            "kind": "ean13",
            "valid": True,
            "in_store": {
                "article_key": "2388060100006",
                "article_gtin14": "02388060100006",
                "measure": "weight",
                "price_ore": None,
                "weight_g": 348,
            },
        },
        {"code": "7310865004704", "kind": "other", "valid": False, "in_store": None},
    ]
    assert found["details"]["rejected"] == []


async def test_diag_scanner_table_shows_code_kind_and_check_digit() -> None:
    scanner = Scanner(ScannerConfig(Terminator.CRLF))
    async with serve_scanner_pty(scanner) as path:
        code, out = await diag_scanner_subprocess(
            scanner, path, ["96385074", "LOT42\x1d17261231"], "--read", "60", "--count", "2"
        )
    assert code == 0
    assert f"Scanner at {path}" in out
    rows = [line for line in out.splitlines() if "96385074" in line or "LOT42" in line]
    assert "ean8" in rows[0] and "ok" in rows[0]
    assert "<GS>" in rows[1] and "other" in rows[1]
    assert "OK: every device answered" in out


async def test_diag_scanner_that_cannot_be_opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "ttyACM0")
    code, document = await diag_json(capsys, "--scanner", missing, "--read", "30")

    assert code == 1
    [found] = document["scanners"]
    assert (found["answered"], found["state"]) == (False, "failed")
    assert found["reason"].startswith(f"failed: cannot open {missing}: no such device")
    assert found["next_step"].startswith("check that it is plugged in and powered")
    assert document["problem"].startswith(f"{missing}: cannot read the scanner (failed: cannot open")


async def test_diag_scanner_with_nothing_scanned(silent_pty: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await tillgw("diag", "--scanner", silent_pty, "--read", "0.2")

    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith(f"listening to the scanner at {silent_pty} for 0.2 s")
    assert f"problem: {silent_pty}: nothing was scanned within 0.2 s" in captured.out
    assert f"next step (scanner {silent_pty}): scan a barcode while diag listens" in captured.out


async def test_diag_scanner_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert await tillgw("diag", "--scanner", "evdev://serial=42") == 2
    assert "error: --scanner: 'evdev://serial=42' is not a HID scanner address" in capsys.readouterr().err
    assert await tillgw("diag", "--scanner", "/dev/ttyACM0", "--read", "0") == 2
    assert "--read must be more than 0 seconds" in capsys.readouterr().err
    assert await tillgw("diag", "--read", "5") == 2
    assert "--read and --count go with --scanner URL" in capsys.readouterr().err


# -- printers ----------------------------------------------------------------------------


def make_printer(tmp_path: Path, **config: Any) -> PrinterDevice:
    """A simulated printer whose drawer stays open until closed, so a kick can be seen."""
    settings: dict[str, Any] = {"png": False, "drawer_close_seconds": 0}
    settings.update(config)
    return PrinterDevice(PrinterConfig(output=tmp_path / "receipts", **settings))


async def test_diag_printer_prints_a_test_page_and_opens_the_drawer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printer = make_printer(tmp_path)
    async with serve_printer_tcp(printer) as url:
        code, document = await diag_json(capsys, "--printer", url, "--test-print", "--kick")

    assert code == 0 and document["ok"] is True
    [found] = document["printers"]
    assert (found["device"], found["url"], found["answered"], found["state"], found["reason"]) == (
        "printer",
        url,
        True,
        "ready",
        "ready",
    )
    details = found["details"]
    assert (details["online"], details["paper"], details["cover"], details["drawer"]) == (
        True,
        "ok",
        "closed",
        "closed",
    )
    assert details["flags"]["paper"] == {"near_end": False, "paper_end": False}
    assert details["test_print"] == {"outcome": "printed", "reason": "printed", "sends": 1}
    assert details["kick"] == {
        "outcome": "sent",
        "reason": "sent",
        "drawer_before": "closed",
        "drawer_after": "open",
        "sensor_changed": True,
    }
    assert printer.drawer_kicks == 1
    [page] = [path.read_text(encoding="utf-8") for path in printer.receipts]
    lines = page.splitlines()
    assert lines[:2] == [" " * 16 + "TILLGW TESTSIDA", "Svenska tecken: ÅÄÖ åäö"]
    assert re.fullmatch(r"Datum: \d{4}-\d\d-\d\d \d\d:\d\d", lines[2])
    assert lines[3:] == [f"Skrivare: {url}", " " * 13 + "[CODE128 TILLGW-TEST]"]


async def test_diag_printer_table_over_a_serial_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printer = make_printer(tmp_path)
    printer.set_fault(Fault.PAPER_NEAR_END)
    async with serve_printer_pty(printer) as path:
        code = await tillgw("diag", "--printer", path, "--kick")

    out = capsys.readouterr().out
    assert code == 0  # it still prints
    assert f"Printer at {path}" in out
    assert "degraded: paper nearly out — change the roll soon" in out
    assert "sent: closed -> open (sensor changed)" in out
    assert "OK: every device answered" in out


async def test_diag_printer_out_of_paper_says_what_to_do_and_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printer = make_printer(tmp_path)
    printer.set_fault(Fault.PAPER_OUT)
    async with serve_printer_tcp(printer) as url:
        code, document = await diag_json(capsys, "--printer", url, "--test-print", "--kick")

    assert code == 1
    [found] = document["printers"]
    assert (found["answered"], found["reason"], found["next_step"]) == (
        True,
        "failed: out of paper — put in a new roll",
        "put in a new roll",
    )
    assert found["details"]["paper"] == "out" and "test_print" not in found["details"]
    assert document["problem"] == f"{url}: not ready (failed: out of paper — put in a new roll)"
    printer.clear_fault()  # nothing was held back to come out later
    assert printer.receipts == [] and printer.drawer_kicks == 0


async def test_diag_printer_kick_the_sensor_does_not_follow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(printer_probe, "KICK_SETTLE", 0.1)  # how long diag watches for a late sensor
    printer = make_printer(tmp_path, drawer_pin=DrawerPin.PIN5)  # the kick goes to pin 2
    async with serve_printer_tcp(printer) as url:
        code, document = await diag_json(capsys, "--printer", url, "--kick")

    assert code == 1
    [found] = document["printers"]
    assert found["details"]["kick"]["sensor_changed"] is False
    assert found["reason"].startswith("failed: the drawer sensor did not change after the kick — ")
    assert found["next_step"].endswith("check the drawer's cable in the printer's drawer port")


async def test_diag_printer_with_nothing_listening(
    closed_tcp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await tillgw("diag", "--printer", closed_tcp_url, "--test-print")

    out = capsys.readouterr().out
    assert code == 1
    assert f"{closed_tcp_url}: nothing answered" in out
    assert (
        f"next step (printer {closed_tcp_url}): check that the device is on and listens on that port" in out
    )


async def test_diag_printer_silent_serial_port(silent_pty: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = await diag_json(capsys, "--printer", silent_pty, "--timeout", "0.1")

    assert code == 1
    [found] = document["printers"]
    assert (found["answered"], found["reason"], found["next_step"]) == (
        False,
        f"failed: no answer from the printer at {silent_pty} — check the cable and power",
        "check the cable and power",
    )


async def test_diag_printer_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert await tillgw("diag", "--kick") == 2
    assert "--test-print and --kick go with --printer URL" in capsys.readouterr().err


async def test_every_problem_is_listed_with_its_own_next_step(
    closed_tcp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        printer_url = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    code = await tillgw(
        "diag", "--control-unit", closed_tcp_url, "--printer", printer_url, "--timeout", "0.2"
    )

    out = capsys.readouterr().out
    assert code == 1
    steps = [line for line in out.splitlines() if line.startswith("next step (")]
    assert steps == [
        f"next step (control unit {closed_tcp_url}): check that the device is on and listens on that port",
        f"next step (printer {printer_url}): check that the device is on and listens on that port",
    ], out
