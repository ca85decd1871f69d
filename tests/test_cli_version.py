"""``tillgw --version``: the installed package's version, exit 0, no command loaded."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import COMMANDS, DISTRIBUTION, main

TILLGW = Path(sys.executable).with_name("tillgw")  # the script `pip install` put next to python


def test_the_script_prints_the_installed_version() -> None:
    line = [str(TILLGW)] if TILLGW.exists() else [sys.executable, "-m", "gateway.cli"]
    done = subprocess.run([*line, "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"tillgw {importlib.metadata.version('tillgateway')}\n",
        "",
    )


@pytest.mark.parametrize("argv", [["--version"], ["--version", "run"]])
def test_version_exits_0_before_any_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"tillgw {importlib.metadata.version(DISTRIBUTION)}\n"


def test_version_loads_no_command() -> None:
    """Not a command's module, nor what the commands bring (aiohttp, the simulators)."""
    code = (
        "import contextlib, sys\n"
        "from gateway.cli import main\n"
        "with contextlib.suppress(SystemExit):\n"
        "    main(['--version', 'run'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'aiohttp', 'firmware_sim', 'tools'}"
        " or m.startswith('gateway.cli.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.splitlines()[-1] == "[]"
    assert {module for module, _ in COMMANDS.values()} >= {"gateway.cli.run", "firmware_sim.cli"}


def test_help_names_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "--version" in capsys.readouterr().out
