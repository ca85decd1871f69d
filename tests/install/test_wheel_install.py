"""A shop's install, without git: the wheel built from this tree, installed into a fresh
virtual environment with pipx (a test dependency), as docs/operations.md tells a shop, and
then ``tillgw --version``, ``tillgw init --non-interactive`` against the simulators (run
from the installed package too) and ``tillgw run`` up to a first sale over the API.

A real install: pip fetches the dependencies from the registry the machine uses (its
cache keeps it quick on a second run). Marked ``install``; CI runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

pytestmark = [pytest.mark.install, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "protocols", "firmware_sim", "tools")
SAFETY = 120.0  # a net under every wait on a process: never a measure of speed
SALE = {
    "id": "sale-1",
    "lines": [
        {"text": "Kaffe", "quantity": 1, "unit_price": "32.00", "vat_rate": 12},
        {"text": "Kanelbulle", "quantity": 1, "unit_price": "28.50", "vat_rate": 12},
    ],
    "payments": [{"method": "cash", "amount": "100.00"}],
}


@dataclass(frozen=True)
class Installed:
    bin: Path  # the folder of the installed `tillgw` and its python

    @property
    def tillgw(self) -> str:
        return str(self.bin / "tillgw")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, (
        f"{' '.join(argv)} ended with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, built as a packager builds it (in an isolated build environment)."""
    out = tmp_path_factory.mktemp("dist")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        out,
    )
    [built] = out.glob("tillgateway-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh environment of its own, away from this checkout."""
    home = tmp_path_factory.mktemp("install")
    # pipx as a shop installs with it: the test dependencies bring it beside this interpreter.
    pipx = Path(sys.executable).with_name("pipx")
    env = {
        **os.environ,
        "PIPX_HOME": str(home / "pipx"),
        "PIPX_BIN_DIR": str(home / "bin"),
        "PIPX_DEFAULT_PYTHON": sys.executable,
    }
    run([str(pipx), "install", str(wheel)], home, env=env)
    return Installed(home / "pipx" / "venvs" / "tillgateway" / "bin")


def test_the_wheel_holds_every_file_of_the_packages(wheel: Path) -> None:
    """Code and what the code reads at run time (the status page's HTML and script, …): every
    file under the packages' folders, whatever its kind, so nothing added later is left out."""
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert [name for name in wanted if name not in names] == []
    assert "gateway/api/static/status.html" in names


def test_version(installed: Installed, tmp_path: Path) -> None:
    done = run([installed.tillgw, "--version"], tmp_path)
    assert done.stdout.startswith("tillgw 0.")
    # The package runs from the environment, not from this checkout.
    where = run([str(installed.bin / "python"), "-c", "import gateway; print(gateway.__file__)"], tmp_path)
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def process(*argv: str, cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``argv`` running in ``cwd``, its stderr merged into its stdout; stopped with SIGTERM after."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        drained = _DRAINS.pop(proc.pid, None)
        async with asyncio.timeout(SAFETY):
            if drained is None:
                await proc.communicate()
            else:
                await drained
            await proc.wait()


# What each process says after the line a test waited for is read on, so that a full pipe
# never stops it mid-write (a simulated printer blocked on its log would file no receipt).
_DRAINS: dict[int, asyncio.Task[bytes]] = {}


async def first_line(proc: asyncio.subprocess.Process, starts: str) -> str:
    """The first line of ``proc``'s output that begins with ``starts``; the rest is drained."""
    assert proc.stdout is not None
    stdout = proc.stdout
    seen: list[str] = []
    async with asyncio.timeout(SAFETY):
        while True:
            line = (await stdout.readline()).decode()
            if not line:
                raise AssertionError(f"ended before a line starting {starts!r}:\n{''.join(seen)}")
            seen.append(line)
            if line.startswith(starts):
                _DRAINS[proc.pid] = asyncio.create_task(stdout.read())
                return line.strip()


async def test_init_with_the_simulators_then_run_to_a_first_sale(
    installed: Installed, tmp_path: Path
) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    tillgw = installed.tillgw
    async with (
        process(
            tillgw, "sim", "control-unit", "--listen", "tcp://127.0.0.1:0", "--data-dir", "unit", cwd=shop
        ) as unit,
        process(
            tillgw,
            "sim",
            "printer",
            "--listen",
            "tcp://127.0.0.1:0",
            "--output",
            "paper",
            "--width",
            "42",
            cwd=shop,
        ) as printer,
    ):
        unit_url = await first_line(unit, "socket://")
        printer_url = await first_line(printer, "socket://")
        done = await asyncio.to_thread(
            run,
            [
                tillgw,
                *("init", "--non-interactive", "--config", "till.toml", "--shop-name", "Kaffebaren AB"),
                *("--orgnr", "556036-0793", "--address", "Storgatan 1", "--address", "352 30 Växjö"),
                *("--register-id", "KASSA-1", "--data-dir", "data", "--control-unit", unit_url),
                *("--printer", printer_url, "--mqtt", "none"),
            ],
            shop,
        )
        # Probed by the installed diag, told in the default language from the installed catalog.
        assert f"kontrollenhet på {unit_url}: klar" in done.stderr
        api = f"127.0.0.1:{free_port()}"
        async with process(tillgw, "run", "--config", "till.toml", "--http", api, cwd=shop) as till:
            await first_line(till, "tillgw: API on ")
            token = (shop / "data" / "api-token").read_text(encoding="utf-8").strip()
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SAFETY)) as session,
                session.post(
                    f"http://{api}/v1/receipts", json=SALE, headers={"Authorization": f"Bearer {token}"}
                ) as response,
            ):
                answer = await response.json()
            assert response.status == 201, answer
            assert answer["receipt_no"] == 1
            assert answer["control_code"]
            # The till prints after its answer, and the simulated printer files the receipt once
            # it has the cut (and has drawn the paper's picture): wait for it with the till still
            # running (stopped before it printed, the till would print at its next start).
            receipt = shop / "paper" / "receipt-0001.txt"
            deadline = asyncio.get_running_loop().time() + SAFETY  # a hang guard, not a measurement
            while not receipt.exists():
                assert asyncio.get_running_loop().time() < deadline, f"the printer never filed {receipt}"
                await asyncio.sleep(0.05)
    assert sorted(os.listdir(shop / "paper")) == ["receipt-0001.png", "receipt-0001.txt"]
