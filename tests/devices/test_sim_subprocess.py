"""The driver against ``tillgw sim control-unit --pty`` run as its own process.

This is how a technician tests a till without hardware: the simulator in one terminal,
the gateway in another, faults typed into the simulator's standard input.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from gateway.devices import ControlUnitDriver, DeviceState
from protocols.skv import ControlData

DriverFactory = Callable[..., Awaitable[ControlUnitDriver]]
ReceiptFactory = Callable[..., ControlData]

REPO = Path(__file__).resolve().parents[2]
STARTUP = 30.0  # a guard against a hung child, never an expectation of speed


def tillgw() -> list[str]:
    """The installed console script, or the same entry point through the interpreter."""
    script = shutil.which("tillgw")
    return [script] if script else [sys.executable, "-m", "gateway.cli"]


class Simulator:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(STARTUP):
            raw = await self.process.stdout.readline()
        if not raw:
            raise AssertionError(f"the simulator exited ({await self.process.wait()})")
        return raw.decode().rstrip("\n")

    async def command(self, text: str) -> str:
        """Type a command; return the simulator's 'ok:' or 'error:' answer to it."""
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()
        while True:
            line = await self.line()
            if line.startswith(("ok:", "error:")):
                return line


@pytest.fixture
def sim_log(tmp_path: Path) -> Iterator[BinaryIO]:
    """The simulator's stderr (its frame log), kept in tmp_path to read after a failure."""
    with open(tmp_path / "sim.log", "wb") as log:
        yield log


@pytest.fixture
async def simulator(tmp_path: Path, sim_log: BinaryIO) -> AsyncIterator[tuple[Simulator, str, Path]]:
    data_dir = tmp_path / "cu"
    process = await asyncio.create_subprocess_exec(
        *tillgw(),
        "sim",
        "control-unit",
        "--pty",
        "--data-dir",
        str(data_dir),
        "--reboot-seconds",
        "0.2",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=sim_log,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    sim = Simulator(process)
    try:
        path = await sim.line()  # the first line is the address it serves
        yield sim, path, data_dir
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_driver_against_the_simulator_process(
    simulator: tuple[Simulator, str, Path], make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    sim, path, data_dir = simulator
    assert path.startswith("/dev/pts/")
    driver = await make_driver(path)
    assert driver.state is DeviceState.READY

    first = await driver.register(1, receipt(1))
    assert first.attempts == 1

    assert await sim.command("fault no-reply*1") == "ok: no-reply (x1)"
    second = await driver.register(2, receipt(2))
    assert second.attempts == 2  # the first RR was swallowed; the same seq went again

    sim.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(STARTUP):
        assert await sim.process.wait() == 0

    memory = [json.loads(line) for line in (data_dir / "journal-memory.jsonl").read_text().splitlines()]
    assert [(r["key"], r["code"]) for r in memory] == [("seq:1", first.code), ("seq:2", second.code)]
