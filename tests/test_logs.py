"""The processes' logs: ``[log]`` read and checked, a real ``tillgw run`` writing its own
file, the real logging setup rotating by size, and every device failure logged at WARNING
or above (a recovery at INFO).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import signal
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.logs import StderrHandler, configure_logging
from gateway.common.health import DeviceState, HealthTracker
from gateway.config import ConfigError, LogConfig, load_config
from gateway.devices.control_units.interface import ControlUnitError
from gateway.devices.control_units.kinds import UnitSettings, open_unit
from gateway.devices.printer.driver import PrinterDriver
from gateway.devices.printer.status import PrinterUnavailable
from gateway.sync.config import load_sync_config
from tests.fiscal.test_crash import Gateway, free_port, standalone_till_toml, start_gateway

TILL = """\
[shop]
name = "Kaffebaren"
orgnr = "556036-0793"
address = ["Storgatan 1"]

[register]
pos_id = "KASSA1"
data_dir = "data"

[control_unit]
url = "socket://127.0.0.1:9"
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "till.toml"
    path.write_text(TILL + extra, encoding="utf-8")
    return path


def test_each_process_has_its_own_log_file_in_the_data_dir_by_default(tmp_path: Path) -> None:
    path = write(tmp_path)
    config = load_config(path)
    assert config.log_file == tmp_path / "data" / "till.log"
    assert config.log.level == "info" and config.log.backups >= 1
    assert load_sync_config(path).log_file == tmp_path / "data" / "sync" / "sync.log"
    moved = config.with_overrides(data_dir=tmp_path / "elsewhere")
    assert moved.log_file == tmp_path / "elsewhere" / "till.log"  # --data-dir takes the log along


def test_the_log_section_is_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[log]\nfile = "logs/kassa.log"\nsync_file = "/var/log/tillgw-sync.log"\n'
        'level = "WARNING"\nmax_bytes = 1048576\nbackups = 3\n',
    )
    config = load_config(path)
    assert config.log_file == tmp_path / "logs" / "kassa.log"
    assert config.log == LogConfig(
        tmp_path / "logs" / "kassa.log", Path("/var/log/tillgw-sync.log"), "warning", 1048576, 3
    )
    assert load_sync_config(path).log_file == Path("/var/log/tillgw-sync.log")


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        ('level = "loud"', "[log].level"),
        ("max_bytes = 100", "[log].max_bytes"),
        ("backups = 0", "[log].backups"),
        ('file = "x.log"\nsync_file = "x.log"', "[log].sync_file"),
        ('rotate = "daily"', "[log].rotate"),
    ],
)
def test_a_wrong_log_setting_is_named(tmp_path: Path, lines: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(write(tmp_path, f"[log]\n{lines}\n"))


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger as it was, after the test added its handlers."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_the_log_file_is_rotated_by_size_and_keeps_the_backups_asked_for(
    tmp_path: Path, root_logging: None
) -> None:
    file = tmp_path / "data" / "till.log"
    config = LogConfig(level="info", max_bytes=4096, backups=2)
    stderr_lines = logging.StreamHandler(open(tmp_path / "stderr.txt", "w", encoding="utf-8"))  # noqa: SIM115
    assert configure_logging(config, file, console=stderr_lines) is not None
    log = logging.getLogger("tillgw.test.rotation")
    for n in range(200):
        log.info("line %03d %s", n, "x" * 60)
    log.debug("not at info")
    stderr_lines.flush()
    assert file.exists() and (tmp_path / "data" / "till.log.1").exists()
    assert (tmp_path / "data" / "till.log.2").exists() and not (tmp_path / "data" / "till.log.3").exists()
    for name in ("till.log", "till.log.1", "till.log.2"):
        made = tmp_path / "data" / name
        assert made.stat().st_size <= 4096
        assert stat.S_IMODE(made.stat().st_mode) == 0o600, name
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700  # as the till makes its data directory
    assert "line 199" in file.read_text(encoding="utf-8")
    assert "line 199" in (tmp_path / "stderr.txt").read_text(encoding="utf-8")  # and still on stderr
    assert "not at info" not in "".join(p.read_text(encoding="utf-8") for p in file.parent.iterdir())


def test_a_log_file_that_cannot_be_opened_leaves_stderr(
    tmp_path: Path, root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert configure_logging(LogConfig(), blocked / "till.log") is None
    assert "cannot write the log file" in capsys.readouterr().err


async def test_a_running_till_writes_its_own_log_file_with_the_failed_unit_as_an_error(
    tmp_path: Path,
) -> None:
    # A control unit nobody answers for: the till starts, serves, and logs the failure.
    port = free_port()
    till = Gateway(tmp_path / "till.toml", tmp_path / "till", f"socket://127.0.0.1:{port}")
    till.port = free_port()
    till.config.write_text(
        standalone_till_toml(till.data_dir, till.unit_url, till.port).replace(
            "[control_unit]\n", "[control_unit]\nrequest_timeout = 0.2\nretries = 0\n"
        )
        + '\n[log]\nlevel = "info"\nmax_bytes = 65536\nbackups = 2\n',
        encoding="utf-8",
    )
    proc = await start_gateway(till.config)
    assert proc.stdout is not None and proc.stderr is not None
    drain = asyncio.create_task(proc.stderr.read())
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert first.startswith(b"tillgw: API on "), first
        log_file = till.data_dir / "till.log"
        found = ""
        async with asyncio.timeout(60):  # a safety net: the line comes within the unit's deadline
            while " ERROR tillgw.devices" not in found:
                await asyncio.sleep(0.05)
                found = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
        failed = [line for line in found.splitlines() if " ERROR tillgw.devices" in line]
        assert any("failed" in line and f"127.0.0.1:{port}" in line for line in failed), found
        assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
        stderr = (await drain).decode()
    assert " ERROR tillgw.devices" in stderr  # the same lines on stderr, for the terminal or systemd


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_device_that_fails_is_an_error_one_that_needs_attention_a_warning_a_recovery_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tillgw.devices.health")
    tracker = HealthTracker("printer")
    tracker.set(DeviceState.FAILED, "out of paper — put in a new roll")
    tracker.set(DeviceState.READY)
    tracker.set(DeviceState.DEGRADED, "paper low — have a roll ready")
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (logging.ERROR, "printer: failed: out of paper — put in a new roll"),
        (logging.INFO, "printer: ready"),
        (logging.WARNING, "printer: degraded: paper low — have a roll ready"),
    ]


async def test_a_control_unit_that_does_not_answer_is_logged_at_warning_or_above(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tillgw")
    settings = UnitSettings(url=f"socket://127.0.0.1:{closed_port()}", request_timeout=0.2, retries=1)
    driver = open_unit(settings, "KASSA1", orgnr="5560360793", address="Storgatan 1")
    with pytest.raises(ControlUnitError):
        await driver.start()
    await driver.close()
    device_records = [r for r in caplog.records if r.name.startswith("tillgw.devices")]
    failures = [r for r in device_records if r.levelno >= logging.WARNING]
    assert any("failed" in r.getMessage() for r in failures), [r.getMessage() for r in device_records]
    # Each try that failed, and the link that would not open, are warnings too, never INFO lines.
    quiet = [r.getMessage() for r in device_records if r.levelno == logging.INFO]
    assert not [m for m in quiet if "failed" in m or "cannot" in m], quiet


async def test_a_printer_that_does_not_answer_is_logged_at_warning_or_above(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tillgw")
    driver = PrinterDriver(
        f"tcp://127.0.0.1:{closed_port()}", status_timeout=0.2, poll_interval=0.05, resend_limit=1
    )
    try:
        with pytest.raises(PrinterUnavailable):
            await driver.status()
    finally:
        await driver.close()
    device_records = [r for r in caplog.records if r.name.startswith("tillgw.devices")]
    assert any(r.levelno >= logging.WARNING and "failed" in r.getMessage() for r in device_records), [
        (r.levelname, r.getMessage()) for r in device_records
    ]
    quiet = [r.getMessage() for r in device_records if r.levelno == logging.INFO]
    assert not [m for m in quiet if "failed" in m or "cannot" in m], quiet


def test_the_console_lines_go_to_stderr_as_it_is_at_each_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # A progress bar replaces sys.stderr while it is drawn; the log's lines must follow it.
    handler = StderrHandler()
    logger = logging.getLogger("tillgw.test.console")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        replaced = io.StringIO()
        monkeypatch.setattr(sys, "stderr", replaced)
        logger.warning("printer: failed")
        assert replaced.getvalue() == "printer: failed\n"
    finally:
        logger.removeHandler(handler)
