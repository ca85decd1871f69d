"""A shop's till from wheels, as README.md and docs/operations.md tell it, through an upgrade.

The previous build (commit ``06ed548``, before the databases carried schema versions) is
built into a wheel from the repository's history and installed with pipx; it sells three
receipts against the simulators (run from the installed package too). Then the steps of
docs/operations.md's "Upgrading", in their order: the till stopped, the new wheel installed
over the old (``pipx install --force``), the backup before the first start (the previous
build has no ``tillgw backup``), the first start — which brings ``till.db`` to schema
version 2 and keeps the file as it was beside it. Its "Going back" before a sale (the
backup restored with ``--replace``, the previous wheel again, which starts on it), and the
upgrade once more, after which the receipts are numbered on (4, 5) and the journal
verifies. Then a backup of the running till; the till's disk replaced: ``tillgw init``
writes its configuration again, the backup is restored into the new data directory and a
sale made on it (6); ``tillgw service install --root`` naming the pipx-installed program;
and the till's default language, Swedish, on the status page and in ``tillgw diag``.

One test of a minute or two: two wheels built, four installs with pipx (pip's cache keeps
the dependencies from the registry after the first). Marked ``install``; CI runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.install.test_wheel_install import SAFETY, first_line, free_port, process, run

pytestmark = [pytest.mark.install, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = "06ed548"  # the tree before today's schema versions: till.db without a user_version
CONFIG = """\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "556036-0793"
address = ["Storgatan 1", "352 30 Växjö"]

[register]
pos_id = "KASSA-1"
data_dir = "data"

[control_unit]
url = "{unit}"

[printer]
url = "{printer}"

[api]
listen = "{api}"

[mqtt]
enabled = false
"""


def sale(number: int) -> dict[str, Any]:
    return {
        "id": f"sale-{number}",
        "lines": [{"text": "Kaffe", "quantity": 1, "unit_price": "32.00", "vat_rate": 12}],
        "payments": [{"method": "cash", "amount": "40.00"}],
    }


def previous_tree(into: Path) -> Path:
    """The previous build's files, from the repository's history (no work tree of it kept)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the previous build is built from the repository's history")
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{PREVIOUS}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(f"this checkout has no git history with commit {PREVIOUS}, the previous build")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def build_wheel(tree: Path, out: Path) -> Path:
    out.mkdir()
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(tree)],
        out,
    )
    [built] = out.glob("tillgateway-*.whl")
    return built


def read_token(data_dir: Path) -> str:
    return (data_dir / "api-token").read_text(encoding="utf-8").strip()


def user_version(database: Path) -> int:
    with closing(sqlite3.connect(database)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


class Shop:
    """The till's computer: pipx's folders, the configuration's folder and the till's commands."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.etc = home / "etc"
        self.etc.mkdir()
        self.config = self.etc / "till.toml"
        self.env = {
            **os.environ,
            "PIPX_HOME": str(home / "pipx"),
            "PIPX_BIN_DIR": str(home / "bin"),
            "PIPX_DEFAULT_PYTHON": sys.executable,
        }
        self.venv_bin = home / "pipx" / "venvs" / "tillgateway" / "bin"
        self.tillgw = str(home / "bin" / "tillgw")  # where pipx puts the command, as on PATH
        self.api = f"127.0.0.1:{free_port()}"

    def pipx(self, *args: str) -> None:
        # pipx as a shop installs with it: the test dependencies bring it beside this interpreter.
        run([str(Path(sys.executable).with_name("pipx")), *args], self.home, env=self.env)

    async def command(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """``tillgw ARGS`` to its end (ok: asserted to exit 0), the simulators serving meanwhile."""
        if ok:
            return await asyncio.to_thread(run, [self.tillgw, *args], self.etc)
        return await asyncio.to_thread(
            subprocess.run, [self.tillgw, *args], cwd=self.etc, capture_output=True, text=True, check=False
        )

    def till(
        self, config: Path | None = None
    ) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
        return process(self.tillgw, "run", "--config", str(config or self.config), cwd=self.etc)

    async def sell(self, data_dir: Path, number: int) -> int:
        token = read_token(data_dir)
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SAFETY)) as session,
            session.post(
                f"http://{self.api}/v1/receipts",
                json=sale(number),
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            answer = await response.json()
        assert response.status == 201, answer
        assert answer["control_code"]
        receipt_no: int = answer["receipt_no"]
        return receipt_no


async def upgrade(shop: Shop, wheel: Path, backup: Path) -> None:
    """Steps 2 and 3 of docs/operations.md's "Upgrading" from a build without tillgw backup:
    the new wheel over the old, then the backup, before the new build's first start."""
    await asyncio.to_thread(shop.pipx, "install", "--force", str(wheel))
    done = await shop.command("backup", "--config", str(shop.config), str(backup))
    assert done.stdout.startswith("OK: ") and "kvitto 3" in done.stdout, done.stdout
    assert user_version(shop.etc / "data" / "till.db") == 0  # the backup changes nothing there
    await shop.command("restore", str(backup), "--check")


@contextlib.asynccontextmanager
async def devices(shop: Shop, unit_port: int, printer_port: int) -> AsyncIterator[tuple[str, str]]:
    """The simulated control unit and printer, from the installed package, on fixed addresses:
    the shop's devices keep theirs (and the unit its memory, in ``unit``) over the upgrade."""
    async with (
        process(
            shop.tillgw,
            *("sim", "control-unit", "--listen", f"tcp://127.0.0.1:{unit_port}", "--data-dir", "unit"),
            cwd=shop.home,
        ) as unit,
        process(
            shop.tillgw,
            *("sim", "printer", "--listen", f"tcp://127.0.0.1:{printer_port}", "--output", "paper"),
            cwd=shop.home,
        ) as printer,
    ):
        yield await first_line(unit, "socket://"), await first_line(printer, "socket://")


async def test_a_till_from_the_previous_wheel_upgraded_backed_up_and_restored(tmp_path: Path) -> None:
    old_wheel = build_wheel(previous_tree(tmp_path / "previous"), tmp_path / "dist-previous")
    new_wheel = build_wheel(ROOT, tmp_path / "dist")
    home = tmp_path / "till"
    home.mkdir()
    shop = Shop(home)
    data = shop.etc / "data"
    unit_port, printer_port = free_port(), free_port()

    # The previous build, configured as its docs/configuration.md tells (it has no tillgw init).
    await asyncio.to_thread(shop.pipx, "install", str(old_wheel))
    assert (await shop.command("init", "--help", ok=False)).returncode != 0  # the previous build indeed
    async with devices(shop, unit_port, printer_port) as (unit_url, printer_url):
        printer_tcp = printer_url.replace("socket://", "tcp://")
        shop.config.write_text(
            CONFIG.format(unit=unit_url, printer=printer_tcp, api=shop.api), encoding="utf-8"
        )
        async with shop.till() as till:
            await first_line(till, "tillgw: API on ")
            assert [await shop.sell(data, n) for n in (1, 2, 3)] == [1, 2, 3]
        assert till.returncode == 0
    assert user_version(data / "till.db") == 0  # a file of the release before versions

    # Upgrading, in docs/operations.md's order: the till is stopped (above), the new wheel
    # installed over the old and backed up before its first start (the previous build has no
    # tillgw backup), the first start.
    before = home / "before-upgrade.tar"
    await upgrade(shop, new_wheel, before)
    async with devices(shop, unit_port, printer_port):
        async with shop.till() as till:
            await first_line(till, "tillgw: API on ")
            assert (user_version(data / "till.db"), user_version(data / "catalog.db")) == (2, 1)
            # The file as the previous build left it, kept beside it by the first start.
            assert user_version(data / "till.db.v0.bak") == user_version(data / "catalog.db.v0.bak") == 0
        assert till.returncode == 0

        # Going back before the new build has sold, as the docs tell: the backup restored over
        # the upgraded files by the new build's restore, the previous wheel installed again.
        await shop.command("restore", str(before), "--config", str(shop.config), "--replace")
        assert user_version(data / "till.db") == 0 and not (data / "till.db.v0.bak").exists()
    await asyncio.to_thread(shop.pipx, "install", "--force", str(old_wheel))
    async with devices(shop, unit_port, printer_port):
        async with shop.till() as till:
            await first_line(till, "tillgw: API on ")  # the previous build takes its files back
        assert till.returncode == 0

    # And forward again, for good.
    await upgrade(shop, new_wheel, home / "before-upgrade-again.tar")
    async with devices(shop, unit_port, printer_port):
        async with shop.till() as till:
            await first_line(till, "tillgw: API on ")
            assert user_version(data / "till.db") == 2
            assert [await shop.sell(data, n) for n in (4, 5)] == [4, 5]
            verified = await shop.command("journal", "verify", "--config", str(shop.config))
            assert verified.stdout.startswith("OK: ") and "kvittoindexet stämmer" in verified.stdout

            # The status page, in the till's default language: its login form.
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SAFETY)) as session,
                session.get(f"http://{shop.api}/") as response,
            ):
                page = await response.text()
            assert response.status == 200 and "Logga in" in page

            # A backup of the till while it runs.
            backup = home / "till-backup.tar"
            done = await shop.command("backup", "--config", str(shop.config), str(backup))
            assert done.stdout.startswith("OK: ") and "kvitto 5" in done.stdout, done.stdout
        assert till.returncode == 0

        # diag of the configured devices, in Swedish (the till stopped: each device asked).
        diag = await shop.command("diag", "--config", str(shop.config), ok=False)
        assert f"Kontrollenhet på {unit_url}" in diag.stdout, diag.stdout
        assert f"Skrivare på {printer_tcp}" in diag.stdout, diag.stdout
        assert "stängd" in diag.stdout and "closed" not in diag.stdout  # the printer's cover
        checks = json.loads(
            (await shop.command("diag", "--config", str(shop.config), "--json", ok=False)).stdout
        )
        said = {check["name"]: check["summary"] for check in checks["checks"]}
        assert "MB ledigt" in said["disk"] and said["registration"].startswith("inte registrerad"), said
        assert "registrering: inte registrerad ännu" in checks["problem"], checks["problem"]

        # The till's disk replaced: its configuration written again by tillgw init, with the
        # data directory on the new disk, the backup restored there (the last paper receipt: 5).
        config = shop.etc / "till-new-disk.toml"
        restored = shop.etc / "restored"
        await shop.command(
            *("init", "--non-interactive", "--config", str(config), "--shop-name", "Kaffebaren i Växjö AB"),
            *("--orgnr", "556036-0793", "--address", "Storgatan 1", "--address", "352 30 Växjö"),
            *("--register-id", "KASSA-1", "--data-dir", str(restored), "--control-unit", unit_url),
            *("--printer", printer_tcp, "--mqtt", "none", "--api-listen", shop.api),
        )
        await shop.command("restore", str(backup), "--config", str(config), "--last-receipt", "5")
        await shop.command("journal", "verify", "--config", str(config))
        async with shop.till(config=config) as till:
            await first_line(till, "tillgw: API on ")
            assert await shop.sell(restored, 6) == 6
        assert till.returncode == 0
    verified = await shop.command("journal", "verify", "--config", str(config))
    assert verified.stdout.startswith("OK: ") and "kvittoindexet stämmer" in verified.stdout

    # The service, installed under a root of its own, runs the pipx-installed program.
    root = home / "root"
    await shop.command("service", "install", "--config", str(config), "--root", str(root))
    units = root / "etc" / "systemd" / "system"
    unit = (units / "tillgw.service").read_text(encoding="utf-8").splitlines()
    assert f"ExecStart={shop.venv_bin / 'tillgw'} run --config {config}" in unit
    assert f"ReadWritePaths={restored}" in unit
    if shutil.which("systemd-analyze") is not None:  # as tests/install/test_service.py checks it
        await asyncio.to_thread(run, ["systemd-analyze", "verify", str(units / "tillgw.service")], home)
