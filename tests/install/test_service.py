"""``tillgw service install|uninstall|status``: the units written into a directory (``--root``),
checked by ``systemd-analyze verify`` where this machine has it, and by their content."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import cli
from tools.install.service import own_data_dir
from tools.install.units import RESTART_SECONDS

TILLGW = Path(sys.executable).with_name("tillgw")
ORGNR = "5560360793"
TILL = f"""
[shop]
name = "Kaffebaren"
orgnr = "{ORGNR}"
address = ["Storgatan 1"]

[register]
pos_id = "KASSA-1"
data_dir = "data"

[control_unit]
url = "/dev/ttyUSB0"

[sync]
"""
SYNC_ONLY = f"""
[mqtt]
url = "mqtt://127.0.0.1:1883"

[sync]
data_dir = "sync-data"
stores = ["{ORGNR}/main"]
"""


def service(*args: str, language: str = "en") -> int:
    """``tillgw service`` in English (these tests read its words), or in ``language``."""
    return cli.main(["--language", language, "service", *args])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "till.toml"
    path.parent.mkdir()
    path.write_text(TILL, encoding="utf-8")
    return path


def install(config: Path, root: Path, *more: str) -> int:
    return service(
        "install", "--config", str(config), "--root", str(root), "--executable", str(TILLGW), *more
    )


def test_install_writes_a_unit_for_the_till_and_one_for_its_sync_module(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"

    assert install(config, root) == 0

    units = root / "etc" / "systemd" / "system"
    assert sorted(os.listdir(units)) == ["tillgw-sync.service", "tillgw.service"]
    till = (units / "tillgw.service").read_text(encoding="utf-8")
    data = config.parent / "data"
    for line in (
        f"ExecStart={TILLGW} run --config {config}",
        "User=tillgw",
        "Group=tillgw",
        "SupplementaryGroups=dialout",  # the serial ports
        "Restart=on-failure",
        f"RestartSec={RESTART_SECONDS}s",
        "RestartPreventExitStatus=2",  # a config the till cannot read: no restart mends it
        f"ReadWritePaths={data}",
        f"WorkingDirectory={data}",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "WantedBy=multi-user.target",
    ):
        assert line in till.splitlines(), line
    # Nothing that hides or fences off the devices.
    assert "PrivateDevices" not in till and "DeviceAllow" not in till and "ProtectClock" not in till
    sync = (units / "tillgw-sync.service").read_text(encoding="utf-8")
    assert f"ExecStart={TILLGW} sync --config {config}" in sync.splitlines()
    assert (
        f"ReadWritePaths={data / 'sync'} {data / 'sync' / 'sie'} {data / 'sync' / 'logs'}"
        in sync.splitlines()
    )
    assert "SupplementaryGroups" not in sync
    assert stat.S_IMODE((units / "tillgw.service").stat().st_mode) == 0o644
    # What only the machine's own install does is named, not done, under --root.
    out = capsys.readouterr().out
    assert "left to the package's own scripts (--root):" in out
    assert "  systemctl daemon-reload" in out
    assert not data.exists()


def test_log_files_kept_elsewhere_are_writable_by_their_service(config: Path, tmp_path: Path) -> None:
    logs = tmp_path / "var-log-tillgw"
    config.write_text(
        TILL + f'\n[log]\nfile = "{logs / "till.log"}"\nsync_file = "{logs / "sync" / "sync.log"}"\n',
        encoding="utf-8",
    )

    assert install(config, tmp_path / "root") == 0

    units = tmp_path / "root" / "etc" / "systemd" / "system"
    data = config.parent / "data"
    till = (units / "tillgw.service").read_text(encoding="utf-8").splitlines()
    assert f"ReadWritePaths={data} {logs}" in till
    sync = (units / "tillgw-sync.service").read_text(encoding="utf-8").splitlines()
    paths = f"{data / 'sync'} {data / 'sync' / 'sie'} {data / 'sync' / 'logs'} {logs / 'sync'}"
    assert f"ReadWritePaths={paths}" in sync


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="this machine has no systemd-analyze")
def test_systemd_analyze_verify_finds_nothing_wrong(config: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert install(config, root) == 0
    units = root / "etc" / "systemd" / "system"

    done = subprocess.run(
        ["systemd-analyze", "verify", str(units / "tillgw.service"), str(units / "tillgw-sync.service")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    # It warns of what it does not know, a missing user aside; there must be no such word.
    mentions = [line for line in done.stderr.splitlines() if "tillgw" in line and "user" not in line.lower()]
    assert mentions == []


def test_a_package_puts_its_units_under_its_prefix(config: Path, tmp_path: Path) -> None:
    root = tmp_path / "pkg"

    assert install(config, root, "--prefix", "/usr") == 0

    assert sorted(os.listdir(root / "usr" / "lib" / "systemd" / "system")) == [
        "tillgw-sync.service",
        "tillgw.service",
    ]


def test_a_sync_only_file_gets_the_sync_unit_only(tmp_path: Path) -> None:
    config = tmp_path / "sync.toml"
    config.write_text(SYNC_ONLY, encoding="utf-8")

    assert install(config, tmp_path / "root") == 0

    assert os.listdir(tmp_path / "root" / "etc" / "systemd" / "system") == ["tillgw-sync.service"]


def test_a_missing_user_is_made_a_system_user_in_dialout(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = "tillgw-none-such"  # a user no machine has

    assert install(config, tmp_path / "root", "--user", nobody, "--dry-run") == 0

    assert (
        f"would create the system user {nobody}: useradd --system --user-group --no-create-home "
        f"--home-dir /nonexistent --shell /usr/sbin/nologin --groups dialout {nobody}"
    ) in capsys.readouterr().out.splitlines()


def test_dry_run_prints_every_step_and_takes_none(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"

    assert install(config, root, "--dry-run") == 0

    out = capsys.readouterr().out
    assert f"would write {root}/etc/systemd/system/tillgw.service" in out
    assert f"    ExecStart={TILLGW} run --config {config}" in out
    assert f"would give {config.parent / 'data'} to tillgw (0700, its files 0600)" in out
    assert not root.exists()


def test_status_says_what_is_installed_and_uninstall_removes_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    assert service("status", "--root", str(root)) == 1
    assert "not installed: no tillgw unit in" in capsys.readouterr().out
    assert install(config, root) == 0
    capsys.readouterr()

    assert service("status", "--root", str(root)) == 0
    status = capsys.readouterr().out
    assert f"tillgw.service: {root}/etc/systemd/system/tillgw.service" in status
    assert f"  runs:  {TILLGW} run --config {config}" in status
    assert "  as:    tillgw (also dialout)" in status
    assert f"  data:  {config.parent / 'data'} (missing: made at install)" in status

    assert service("uninstall", "--root", str(root)) == 0
    assert os.listdir(root / "etc" / "systemd" / "system") == []
    assert "the user and the data directory stay" in capsys.readouterr().out
    assert service("uninstall", "--root", str(root)) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_the_config_s_language_is_spoken_swedish_by_default(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config says no language: install speaks the default, Swedish; the machine's words
    (the unit files, the commands) stay as they are."""
    root = tmp_path / "root"
    argv = ["service", "install", "--config", str(config), "--root", str(root), "--executable", str(TILLGW)]

    assert cli.main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"skulle skriva {root}/etc/systemd/system/tillgw.service" in out
    assert f"    ExecStart={TILLGW} run --config {config}" in out
    assert f"skulle ge {config.parent / 'data'} till tillgw (0700, dess filer 0600)" in out

    assert cli.main(["service", "status", "--root", str(root)]) == 1
    assert f"inte installerad: ingen tillgw-enhet i {root}/etc/systemd/system" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flag", "where", "words"),
    [
        ("--config", "/root/till.toml", "move it to /etc/tillgw/"),
        ("--config", "/home/kassa/till.toml", "move it to /etc/tillgw/"),
        ("--executable", "/root/.local/bin/tillgw", "pipx install --global"),
    ],
)
def test_what_the_service_cannot_see_is_refused(
    flag: str, where: str, words: str, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A home is hidden from a service (ProtectHome=) and closed to its user: the path alone
    # says so, before the file is read.
    argv = ["install", "--config", str(config), "--executable", str(TILLGW), "--root", str(tmp_path / "r")]
    code = service(*argv, flag, where)

    assert code == 2
    err = capsys.readouterr().err
    what = "configuration" if flag == "--config" else "program"
    assert f"error: the {what} {where} is under /" in err
    assert words in err
    assert not (tmp_path / "r").exists()


def test_a_config_the_till_refuses_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "till.toml"
    config.write_text(TILL.replace(ORGNR, "5560360794"), encoding="utf-8")

    assert install(config, tmp_path / "root") == 2
    assert "[shop].orgnr: '5560360794' has a wrong check digit" in capsys.readouterr().err


def test_the_data_directory_becomes_the_users_with_the_tills_modes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "signing-key.pem").write_text("key", encoding="utf-8")
    (data / "signing-key.pem").chmod(0o644)
    (data / "till.db").write_bytes(b"")
    (data / "till.db").chmod(0o666)

    own_data_dir(data, os.getuid(), os.getgid())  # the only user a test may give it to

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "signing-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "till.db").stat().st_mode) == 0o600
    assert (data / "till.db").stat().st_uid == os.getuid()
