"""``tillgw init``: the questions from flags or a terminal, the probes against simulated devices
on real sockets, and a commented till.toml the till's own reader loads."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp as serve_unit_tcp
from firmware_sim.printer.config import PrinterConfig as SimPrinterConfig
from firmware_sim.printer.device import PrinterDevice
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from gateway import cli
from gateway.config import load_config, read_toml
from gateway.sync.config import load_sync_config

ORGNR = "556036-0793"
SHOP: tuple[str, ...] = ("--shop-name", "Kaffebaren i Växjö AB", "--orgnr", ORGNR, "--address", "Storgatan 1")
SHOP += ("--address", "352 30 Växjö", "--register-id", "KASSA-1", "--data-dir", "var")
SAFETY = 60.0  # a net under every wait on a subprocess: never a measure of speed


@dataclass
class Devices:
    unit: str
    printer: str


@pytest.fixture
async def devices(unit: ControlUnit, tmp_path: Path) -> AsyncIterator[Devices]:
    """The simulated control unit and printer, each on a TCP port of its own."""
    printer = PrinterDevice(SimPrinterConfig(output=tmp_path / "paper", png=False))
    async with serve_unit_tcp(unit) as unit_url, serve_printer_tcp(printer) as printer_url:
        yield Devices(unit_url, printer_url)


async def init(*args: str) -> int:
    """``tillgw init`` as the command line runs it (in a thread: it runs its own event loop), in
    English: these tests read its words; the Swedish default has tests of its own below."""
    return await asyncio.to_thread(cli.main, ["--language", "en", "init", *args])


def closed_port_url(scheme: str) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}"


async def test_non_interactive_probes_the_devices_and_writes_a_file_the_loaders_read(
    devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"
    code = await init(
        "--non-interactive",
        "--config",
        str(config),
        *SHOP,
        *("--control-unit", devices.unit, "--printer", devices.printer, "--mqtt", "none"),
    )

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"wrote {config}" in out
    # Each device was asked, and said who it is.
    assert f"control unit at {devices.unit}: ready" in err
    assert f"printer at {devices.printer}: ready" in err
    loaded = load_config(config)
    assert (loaded.shop.name, loaded.shop.orgnr, loaded.shop.address) == (
        "Kaffebaren i Växjö AB",
        "5560360793",
        ("Storgatan 1", "352 30 Växjö"),
    )
    assert (loaded.pos_id, loaded.data_dir, loaded.control_unit.url) == (
        "KASSA-1",
        tmp_path / "var",
        devices.unit,
    )
    assert loaded.printer is not None and loaded.printer.url == devices.printer
    assert loaded.scanner is None and loaded.mqtt is None
    # No bus: no sync module to book in an ERP, and the file says so.
    assert "sync" not in read_toml(config)
    assert "# [sync]: none." in config.read_text(encoding="utf-8")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it may hold passwords


async def test_every_section_is_explained_in_the_file(devices: Devices, tmp_path: Path) -> None:
    config = tmp_path / "till.toml"
    code = await init(
        "--non-interactive",
        *("--config", str(config), *SHOP, "--control-unit", devices.unit, "--printer", devices.printer),
        *("--scanner", "none", "--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-username", "KASSA-1"),
        *("--mqtt-password", "hemligt", "--no-probe", "--erp", "fortnox"),
        *("--erp-setting", "client_id=abc", "--erp-setting", "client_secret=def"),
    )

    assert code == 0
    lines = config.read_text(encoding="utf-8").splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("[")]
    assert [lines[i] for i in headers] == [
        "[shop]",
        "[register]",
        "[control_unit]",
        "[printer]",
        "[api]",
        "[mqtt]",
        "[sync]",
        "[sync.fortnox]",
    ]
    for i in headers:
        assert lines[i - 1].startswith("# "), f"{lines[i]} has no explanation above it"
    for line in lines:
        if "=" in line and not line.startswith("#"):
            assert "  # " in line, f"no comment on {line!r}"
    raw = read_toml(config)
    assert raw["mqtt"] == {
        "url": "mqtt://127.0.0.1:1883",
        "username": "KASSA-1",
        "password": "hemligt",
        "embedded": "never",
    }
    assert load_sync_config(config).fortnox is not None


async def test_an_existing_file_is_kept_unless_forced(
    devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"
    config.write_text("# the shop's own\n", encoding="utf-8")
    flags: tuple[str, ...] = (
        "--non-interactive",
        "--config",
        str(config),
        *SHOP,
        "--control-unit",
        devices.unit,
    )
    flags += ("--printer", devices.printer, "--mqtt", "none")

    assert await init(*flags) == 1
    assert "exists already; give --force" in capsys.readouterr().err
    assert config.read_text(encoding="utf-8") == "# the shop's own\n"

    assert await init(*flags, "--force") == 0
    assert load_config(config).pos_id == "KASSA-1"


def test_without_a_terminal_it_asks_nothing_and_names_every_missing_flag(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "--language",
            "en",
            "init",
            "--config",
            str(tmp_path / "till.toml"),
            "--orgnr",
            ORGNR,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )

    assert done.returncode == 2
    assert "no terminal to ask on" in done.stderr
    assert (
        "error: tillgw init asks only on a terminal, and without one these answers are missing: give "
        "--shop-name, --address, --register-id, --control-unit, --printer"
    ) in done.stderr
    assert not (tmp_path / "till.toml").exists()


def test_without_a_language_it_refuses_in_swedish_and_names_the_flags_as_they_are(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "init", "--config", str(tmp_path / "till.toml")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )

    assert done.returncode == 2
    assert "tillgw init: ingen terminal att fråga i: alla svar tas från flaggorna" in done.stderr
    assert (
        "error: tillgw init frågar bara i en terminal, och utan terminal saknas de här svaren: ange "
        "--shop-name, --orgnr, --address, --register-id, --control-unit, --printer"
    ) in done.stderr
    assert not (tmp_path / "till.toml").exists()


def test_a_wrong_flag_value_is_named_in_swedish(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "init", "--config", str(tmp_path / "till.toml"), *SHOP),
            *("--orgnr", "556036-0794", "--non-interactive"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )

    assert done.returncode == 2
    assert "error: --orgnr: '556036-0794' har fel kontrollsiffra: sista siffran ska vara 3" in done.stderr


async def test_a_device_that_does_not_answer_stops_a_script(
    devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"
    silent = closed_port_url("socket")
    flags = (
        "--non-interactive",
        "--config",
        str(config),
        *SHOP,
        "--printer",
        devices.printer,
        "--mqtt",
        "none",
    )

    assert await init(*flags, "--control-unit", silent) == 1
    err = capsys.readouterr().err
    assert f"error: --control-unit: control unit at {silent}: failed: cannot open {silent}" in err
    assert "give --no-probe to write it as it is" in err
    assert not config.exists()

    assert await init(*flags, "--control-unit", silent, "--no-probe") == 0
    assert load_config(config).control_unit.url == silent


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        (
            "--orgnr",
            "556036-0794",
            "--orgnr: '556036-0794' has a wrong check digit: the last digit should be 3",
        ),
        ("--register-id", "KASSA#1", "--register-id: 'KASSA#1' must be 1 to 16 printable ASCII characters"),
        (
            "--control-unit",
            "https://unit.example.se/",
            "--control-unit: https://unit.example.se/: cannot tell",
        ),
    ],
)
async def test_a_wrong_answer_is_named_before_anything_is_asked(
    flag: str, value: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"
    # The flag given last wins (argparse), so each case replaces one good answer with a bad one.
    argv = ["--non-interactive", "--config", str(config), *SHOP, "--printer", "none"]
    argv += ["--control-unit", "socket://127.0.0.1:9", flag, value]

    assert await init(*argv) == 2
    assert words in capsys.readouterr().err
    assert not config.exists()


async def test_what_the_loader_refuses_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"
    code = await init(
        "--non-interactive",
        *("--config", str(config), *SHOP, "--control-unit", "socket://127.0.0.1:9", "--printer", "none"),
        *("--no-probe", "--erp", "business_central", "--erp-setting", "tenant=t"),
        *("--erp-setting", "environment=Production", "--erp-setting", "client_id=c"),
        *("--erp-setting", "client_secret=s", "--erp-setting", "company_id=1"),
        *("--erp-setting", "customer=KONTANT", "--erp-setting", "post=later"),
    )

    assert code == 1
    assert f"error: {config}: [sync.business_central].post: must be one of at_once, batch, got 'later'" in (
        capsys.readouterr().err
    )
    assert os.listdir(tmp_path) == []  # nor a half-written file beside it


class Terminal:
    """``tillgw init`` on a real pseudo-terminal, answered as a person would."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, words: str) -> None:
        deadline = time.monotonic() + SAFETY
        while words not in self.seen:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"never asked {words!r}; the terminal shows:\n{self.seen}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the other end closed: the program ended
                raise AssertionError(f"ended before {words!r}:\n{self.seen}") from None
            self.seen += chunk.decode("utf-8", "replace")
        self.seen = self.seen[self.seen.index(words) + len(words) :]

    def answer(self, prompt: str, text: str) -> None:
        self.expect(prompt)
        os.write(self.master, f"{text}\n".encode())

    def finish(self) -> int:
        code = self.proc.wait(timeout=SAFETY)
        os.close(self.master)
        return code


def test_on_a_terminal_it_asks_what_no_flag_says_and_asks_again_after_a_wrong_answer(
    tmp_path: Path,
) -> None:
    config = tmp_path / "till.toml"
    term = Terminal(
        [
            sys.executable,
            *("-m", "gateway.cli", "--language", "en", "init", "--config", str(config)),
            *("--control-unit", "socket://127.0.0.1:9", "--printer", "none", "--scanner", "none"),
            *("--mqtt", "none", "--erp", "none", "--no-probe"),
        ]
    )
    term.answer("The business's name", "Blomsterhandeln")
    term.answer("Organisationsnummer", "556036-0794")
    term.expect("wrong check digit: the last digit should be 3")
    term.answer("Organisationsnummer", "556036-0793")
    term.answer("  > ", "Torget 3")
    term.answer("  > ", "352 31 Växjö")
    term.answer("  > ", "")
    term.answer("The store's id on the bus [main]", "")
    term.answer("The shop's time zone [Europe/Stockholm]", "")
    term.answer("This register's id (kassabeteckning) [KASSA-1]", "KASSA-2")
    term.answer("Where it keeps its journal [/var/lib/tillgw]", "data")
    term.expect(f"wrote {config}")

    assert term.finish() == 0
    loaded = load_config(config)
    assert (loaded.shop.name, loaded.shop.address, loaded.pos_id) == (
        "Blomsterhandeln",
        ("Torget 3", "352 31 Växjö"),
        "KASSA-2",
    )
    assert loaded.data_dir == tmp_path / "data"


def test_on_a_terminal_it_asks_in_swedish_by_default(tmp_path: Path) -> None:
    config = tmp_path / "till.toml"
    term = Terminal(
        [
            sys.executable,
            *("-m", "gateway.cli", "init", "--config", str(config), "--control-unit", "socket://127.0.0.1:9"),
            *("--printer", "none", "--scanner", "none", "--erp", "none", "--no-probe"),
        ]
    )
    term.answer("Företagets namn (som på kvittot)", "")
    term.expect("ett svar behövs")
    term.answer("Företagets namn (som på kvittot)", "Blomsterhandeln")
    term.answer("Organisationsnummer (eller ägarens personnummer)", "556036-0794")
    term.expect("har fel kontrollsiffra: sista siffran ska vara 3")
    term.answer("Organisationsnummer (eller ägarens personnummer)", "556036-0793")
    term.expect("Försäljningsställets adress (en rad i taget, en tom rad avslutar):")
    term.answer("  > ", "Torget 3")
    term.answer("  > ", "")
    term.answer("Butikens id på bussen [main]", "")
    term.answer("Butikens tidszon [Europe/Stockholm]", "Europa/Växjö")
    term.expect("'Europa/Växjö' är ingen tidszon som den här datorn känner till")
    term.answer("Butikens tidszon [Europe/Stockholm]", "")
    term.answer("Den här kassans id (kassabeteckning) [KASSA-1]", "")
    term.answer("Var den sparar sin journal [/var/lib/tillgw]", "data")
    term.answer("Butikens MQTT-broker (eller none) [mqtt://127.0.0.1:1883]", "")
    term.answer("Kräver brokern användarnamn och lösenord? [j/N]", "ja")
    term.answer("Kassans användare hos brokern [KASSA-1]", "")
    term.answer("Dess lösenord", "hemligt")
    term.expect(f"skrev {config}")
    term.expect(f"nästa: tillgw diag --config {config}   (alla kontroller)")

    assert term.finish() == 0
    loaded = load_config(config)
    assert (loaded.shop.name, loaded.shop.address) == ("Blomsterhandeln", ("Torget 3",))
    assert loaded.pos_id == "KASSA-1"
    assert loaded.mqtt is not None and (loaded.mqtt.username, loaded.mqtt.password) == ("KASSA-1", "hemligt")


async def test_the_broker_is_logged_in_to_and_one_that_does_not_answer_stops_a_script(
    devices: Devices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"
    flags = ["--non-interactive", "--config", str(config), *SHOP, "--control-unit", devices.unit]
    flags += ["--printer", devices.printer, "--erp", "none"]
    silent = closed_port_url("mqtt")

    assert await init(*flags, "--mqtt", silent) == 1
    assert f"error: --mqtt: broker: no answer from the MQTT broker at {silent}" in capsys.readouterr().err
    assert not config.exists()

    # The machine's Mosquitto, as the till will reach it.
    assert await init(*flags, "--mqtt", "mqtt://127.0.0.1:1883") == 0
    assert "broker: connected to mqtt://127.0.0.1:1883 as no user name" in capsys.readouterr().err
    till = load_config(config)
    assert till.mqtt is not None and (till.mqtt.host, till.mqtt.port) == ("127.0.0.1", 1883)


async def test_a_demo_till_is_written_for_the_simulators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "till.toml"

    assert await init("--non-interactive", "--config", str(config), *SHOP, "--simulators") == 0

    out = capsys.readouterr().out
    assert "tillgw sim control-unit --listen tcp://127.0.0.1:4001" in out
    assert "tillgw sim printer --listen tcp://127.0.0.1:9100 --width 42" in out
    till = load_config(config)
    assert till.control_unit.url == "socket://127.0.0.1:4001"
    assert till.printer is not None and till.printer.url == "tcp://127.0.0.1:9100"
    assert till.mqtt is not None and till.mqtt.embedded  # a demo needs no broker of its own
    assert "# The project's simulator, for a demo:" in config.read_text(encoding="utf-8")
