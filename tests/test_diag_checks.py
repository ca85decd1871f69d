"""``tillgw diag --all``'s checks: the journal chain, the disk outlook, USB ids, serial ports, the
registration, and the whole run with a config — real SQLite journals, the simulated control unit
over TCP, the machine's Mosquitto or a port where nothing listens."""

from __future__ import annotations

import asyncio
import functools
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import usb.core

from firmware_sim.control_unit import ControlUnit
from gateway import cli
from gateway.common.signing import Signer, load_or_create_key
from gateway.fiscal.start_checks import secure_modes
from gateway.fiscal.store import Store, Writer
from gateway.registration.record import (
    Business,
    ControlUnitEntry,
    PlaceOfSale,
    RegisterEntry,
    Registration,
    save_registration,
)
from gateway.till_files import TillFiles
from tests.test_diag_cli import diag_json
from tests.test_register import write_config as till_toml
from tools.diag.checks import Verdict
from tools.diag.checks.file_modes import check_file_modes
from tools.diag.checks.journal import MIN_FREE, check_disk, check_journal, disk_outlook
from tools.diag.checks.ports import check_serial_ports, check_usb

Serve = Callable[[ControlUnit, str], AbstractAsyncContextManager[str]]
MB = 1024 * 1024


async def make_journal(data_dir: Path, entries: int = 3) -> TillFiles:
    """A till database with its first-start entries and ``entries`` events, signed by its own key."""
    files = TillFiles(data_dir)
    store = await Store.open(files.database, Signer(load_or_create_key(files.signing_key)))
    try:
        for n in range(entries):
            login = {"cashier": f"c{n}", "pos_id": "KASSA1"}
            await store.transact(functools.partial(Writer.append, kind="cashier.login", body=login))
    finally:
        await store.close()
    return files


async def test_the_journal_check_passes_a_whole_chain_and_names_a_changed_entry(tmp_path: Path) -> None:
    files = await make_journal(tmp_path / "till")
    whole = check_journal(files)
    assert whole.verdict is Verdict.OK
    assert whole.summary.startswith("the chain holds:")
    entries = whole.details["entries"]

    with sqlite3.connect(files.database) as conn:
        conn.execute("DROP TRIGGER journal_never_changed")
        conn.execute("UPDATE journal SET body = replace(body, 'c1', 'cX') WHERE seq = ?", (entries - 1,))
    conn.close()
    tampered = check_journal(files)
    assert tampered.verdict is Verdict.PROBLEM
    assert tampered.summary == (
        f"the chain does not hold: entry {entries - 1} was changed: its content no longer matches its hash"
    )
    assert tampered.details["first_bad"] == entries - 1
    assert tampered.next_step is not None and "keep the database exactly as it is" in tampered.next_step


def test_the_journal_check_without_a_journal(tmp_path: Path) -> None:
    check = check_journal(TillFiles(tmp_path / "nothing"))
    assert check.verdict is Verdict.WARNING and check.summary.startswith("no journal at")


@pytest.mark.parametrize(
    ("free", "journal", "days", "per_day", "left", "low"),
    [
        (10_000 * MB, 10 * MB, 100.0, 0.1 * MB, 100_000, False),  # years left
        (600 * MB, 30 * MB, 1.0, 30 * MB, 20, True),  # 20 days at 30 MB a day: under 30 days
        (400 * MB, 1 * MB, 365.0, MB / 365, 400 * 365, True),  # under 500 MB, however slow
        (600 * MB, 2 * MB, 0.25, 2 * MB, 300, False),  # a journal younger than a day counts as a day
    ],
)
def test_disk_outlook_numbers(
    free: int, journal: int, days: float, per_day: float, left: float, low: bool
) -> None:
    outlook = disk_outlook(free, journal, days)
    assert outlook.bytes_per_day == pytest.approx(per_day)
    assert outlook.days_left == pytest.approx(left)
    assert outlook.low is low


async def test_disk_check_reads_the_journal_size_and_age(tmp_path: Path) -> None:
    files = await make_journal(tmp_path / "till")
    with sqlite3.connect(files.database) as conn:
        first = datetime.fromisoformat(conn.execute("SELECT at FROM journal WHERE seq = 1").fetchone()[0])
    conn.close()
    check = check_disk(files, now=first + timedelta(days=10))
    size = sum(p.stat().st_size for p in (files.database, Path(f"{files.database}-wal")) if p.exists())
    assert check.details["journal_bytes"] == size
    assert check.details["journal_days"] == 10.0
    assert check.details["bytes_per_day"] == round(size / 10)
    assert check.details["free_bytes"] > 0
    assert check.details["days_left"] == int(check.details["free_bytes"] / (size / 10))
    expected = Verdict.WARNING if check.details["free_bytes"] < MIN_FREE else Verdict.OK
    assert check.verdict is expected
    assert f"{check.details['free_bytes'] / MB:,.0f} MB free" in check.summary


class FakeUsbDevice:
    """What ``usb.core.find`` yields, as far as the check reads it (hardware.md: patch find)."""

    def __init__(self, vendor: int, product: int) -> None:
        self.idVendor, self.idProduct = vendor, product
        self.bus, self.address = 1, 4
        self.iManufacturer = self.iProduct = 0  # no strings: nothing to read


def test_usb_devices_are_named_by_their_ids() -> None:
    devices = [FakeUsbDevice(0x04B8, 0x0202), FakeUsbDevice(0x1A86, 0x7523), FakeUsbDevice(0x1234, 0x5678)]
    check = check_usb(lambda **_: iter(devices))
    assert check.verdict is Verdict.OK
    assert check.summary.startswith("3 device(s), 2 known till device(s): 04b8:0202 Seiko Epson Corp.")
    listed = {d["usb_id"]: d for d in check.details["devices"]}
    assert listed["04b8:0202"]["kind"] == "receipt printer"
    assert listed["1a86:7523"]["is"].startswith(
        "1a86:7523 QinHeng Electronics CH340 serial converter: USB serial"
    )
    assert listed["1234:5678"] == {
        "usb_id": "1234:5678",
        "bus": 1,
        "address": 4,
        "manufacturer": None,
        "product": None,
        "is": "1234:5678 not a known till device",
        "kind": None,
    }


def test_usb_without_libusb_is_a_warning_with_the_fix() -> None:
    def no_backend(**_: Any) -> Any:
        raise usb.core.NoBackendError("No backend available")

    check = check_usb(no_backend)
    assert check.verdict is Verdict.WARNING
    assert check.next_step is not None and "libusb" in check.next_step


def test_serial_ports_say_what_answered(silent_pty: str, tmp_path: Path) -> None:
    link = tmp_path / "usb-CleanCash-if00-port0"
    link.symlink_to(silent_pty)
    check = check_serial_ports([silent_pty, str(link)], {silent_pty: "control unit TGSIMSE0000000001"})
    ports = check.details["ports"]
    assert ports[0] == {"path": silent_pty, "is": "control unit TGSIMSE0000000001"}
    assert ports[1]["target"] == silent_pty and ports[1]["is"] == "control unit TGSIMSE0000000001"
    assert check_serial_ports([], {}).summary.startswith("none:")


def diag_config(directory: Path, unit_url: str, mqtt_port: int) -> Path:
    """tillgw register's till.toml with the control unit at ``unit_url`` and a broker's port."""
    mqtt = f'\n[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n'
    return till_toml(directory, unit_url, timeout=0.5, more=mqtt)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def registered(unit_id: str) -> Registration:
    return Registration(
        Business("Kaffebaren i Växjö AB", "556036-0793"),
        PlaceOfSale("Storgatan 1", "352 30", "Växjö"),
        ControlUnitEntry("Retail Innovation (CleanCash)", "CleanCash Type A", unit_id, "1.0", True),
        RegisterEntry("KASSA-1", "tillgw SE", "tillgw", "0.1.0", "TG-2025-000117", "journal memory: till.db"),
        date(2026, 1, 5),
    )


@pytest.fixture
def computer_in_the_shops_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The computer's zone set to the shop's (``TZ``), as on a till set up right."""
    import time

    monkeypatch.setenv("TZ", "Europe/Stockholm")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_diag_all_when_all_is_well(
    unit: ControlUnit,
    serve: Serve,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    computer_in_the_shops_zone: None,
) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 1883)) != 0:
            pytest.skip("no Mosquitto at 127.0.0.1:1883 on this machine")
    await make_journal(tmp_path / "data")
    save_registration(tmp_path / "data", registered(unit.unit_id))
    secure_modes(tmp_path / "data")  # as the till leaves them
    async with serve(unit, "tcp") as url:
        config = diag_config(tmp_path, url, 1883)
        code, document = await diag_json(
            capsys, "--config", str(config), "--scan-pattern", str(tmp_path / "tty*")
        )

    verdicts = {c["name"]: c["verdict"] for c in document["checks"]}
    assert set(verdicts) == {
        "serial ports",
        "usb",
        "mqtt",
        "journal",
        "disk",
        "file modes",
        "registration",
        "time zone",
    }
    assert verdicts["file modes"] == "ok"
    assert [c["name"] for c in document["checks"]][:3] == ["serial ports", "usb", "mqtt"]
    for check in document["checks"]:
        assert set(check) == {"name", "ok", "verdict", "summary", "details", "next_step"}
    [found] = document["control_units"]
    assert found["answered"] is True and found["details"]["unit_id"] == unit.unit_id
    assert verdicts["mqtt"] == "ok" and verdicts["journal"] == "ok" and verdicts["registration"] == "ok"
    all_well = all(v == "ok" for v in verdicts.values())
    assert document["ok"] is all_well and code == (0 if all_well else 1)
    if verdicts["usb"] == "ok" and verdicts["disk"] == "ok":
        assert code == 0 and document["problem"] is None


async def test_diag_all_names_each_problem_and_its_next_step(
    unit: ControlUnit, serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mqtt_port = closed_port()
    async with serve(unit, "tcp") as url:
        config = diag_config(tmp_path, url, mqtt_port)
        code, document = await diag_json(
            capsys, "--all", "--config", str(config), "--scan-pattern", "/nothing*"
        )
        checks = {c["name"]: c for c in document["checks"]}
        assert code == 1 and document["ok"] is False
        assert checks["registration"]["summary"] == "not registered yet: run tillgw register"
        assert checks["registration"]["next_step"] == "run tillgw register"
        assert checks["mqtt"]["summary"].startswith(
            f"no answer from the MQTT broker at mqtt://127.0.0.1:{mqtt_port}"
        )
        assert "registration: not registered yet" in document["problem"]
        assert checks["journal"]["verdict"] == "warning"

        # A replaced control unit: registered with another unit id.
        await make_journal(tmp_path / "data")
        save_registration(tmp_path / "data", registered("ISCCUSE0000000001"))
        code = await asyncio.to_thread(
            cli.main, ["--language", "en", "diag", "--config", str(config), "--scan-pattern", "/nothing*"]
        )
    table = capsys.readouterr().out
    assert code == 1
    report_by = (date.today() + timedelta(days=14)).isoformat()
    assert "report the change" in table and report_by in table
    assert "next step (registration):" in table
    assert "next step (mqtt):" in table


async def test_diag_all_with_a_config_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(cli.main, ["diag", "--all", "--config", str(tmp_path / "missing.toml")])
    assert code == 2
    assert "no such configuration file" in capsys.readouterr().err


async def test_the_file_modes_check_names_a_file_others_can_read_and_its_fix(tmp_path: Path) -> None:
    files = await make_journal(tmp_path / "till")
    files.data_dir.chmod(0o700)
    for path in files.data_dir.iterdir():
        path.chmod(0o600)
    assert check_file_modes(files).verdict is Verdict.OK
    files.database.chmod(0o644)
    found = check_file_modes(files)
    assert found.verdict is Verdict.PROBLEM
    assert str(files.database) in found.summary and "0644" in found.summary
    assert found.next_step is not None and f"chmod 0600 {files.database}" in found.next_step
    files.data_dir.chmod(0o755)
    assert str(files.data_dir) in check_file_modes(files).details["wrong"]


def test_the_time_zone_check_names_both_zones_when_the_computer_keeps_another_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from gateway.config import demo_config
    from tools.diag.checks.time_zone import check_time_zone

    try:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        found = check_time_zone(demo_config())
        assert found.verdict == "warning" and found.summary == (
            "The computer's clock is set to UTC, the shop's time zone is Europe/Stockholm: "
            "receipts use the shop's time."
        )
        assert found.details == {"shop": "Europe/Stockholm", "computer": "UTC"}
        monkeypatch.setenv("TZ", "Europe/Stockholm")
        time.tzset()
        assert check_time_zone(demo_config()).ok
    finally:
        monkeypatch.undo()
        time.tzset()
