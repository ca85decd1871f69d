"""A real Mosquitto for tests: ``/usr/sbin/mosquitto`` on a free loopback port with a temporary
configuration (persistence on), started and stopped by the test, its log kept.

Shared by tests/bus, tests/catalog and tests/e2e; the fixtures ``make_mosquitto`` and
``mosquitto`` are taken into a folder's conftest.py by importing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.config import MqttConfig

DEADLINE = 15.0  # seconds any one awaited thing may take before the test fails

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """A real Mosquitto on 127.0.0.1:``port``; ``await start()``, ``await stop()``, again."""

    def __init__(
        self, directory: Path, config: str = "", port: int | None = None, *, tls: bool = False
    ) -> None:
        self.directory = directory
        self.tls = tls  # whether ``port`` speaks TLS
        self.port = port or free_port()
        self.data = directory / "data"
        self.conf = directory / "mosquitto.conf"
        self.config = config or (
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.data}/\n"
        )
        self.log: list[str] = []
        self._logged = asyncio.Event()  # set, and replaced, on every line of the log
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None

    async def start(self) -> None:
        assert self._process is None, "already running"
        self.data.mkdir(parents=True, exist_ok=True)
        # Root would drop to the "mosquitto" user, which cannot write in tmp_path.
        self.conf.write_text(
            f"user {getpass.getuser()}\nlog_dest stderr\nlog_type all\n{self.config}", encoding="utf-8"
        )
        process = await asyncio.create_subprocess_exec(
            MOSQUITTO,
            "-c",
            str(self.conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        running = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_log(process.stderr, running))
        self._process = process
        try:
            async with asyncio.timeout(DEADLINE):
                await running
                await self._serving()
        except BaseException:
            await self.stop()
            raise

    async def _serving(self) -> None:
        """Wait for a CONNACK: Mosquitto logs "running" just before its main loop begins, and a
        SIGTERM in between is lost (it sets ``run = 1`` after it), so a test that stops it at
        once would wait for ever. A CONNACK comes from the main loop."""
        context = None
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=context)
        try:
            # CONNECT, MQTT 3.1.1, clean session, keepalive 60, client id "probe", no user.
            writer.write(bytes.fromhex("101100044d5154540402003c000570726f6265"))
            connack = await reader.readexactly(4)
            assert connack[:2] == b"\x20\x02", connack  # accepted or refused, it answered
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _read_log(self, stream: asyncio.StreamReader, running: asyncio.Future[None]) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            self._logged.set()
            self._logged = asyncio.Event()
            if " running" in text and "mosquitto version" in text and not running.done():
                running.set_result(None)
        if not running.done():
            running.set_exception(RuntimeError("mosquitto exited:\n" + "\n".join(self.log[-20:])))

    async def stop(self) -> None:
        """SIGTERM, as systemd would: Mosquitto saves its persistent state and exits."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
        try:
            async with asyncio.timeout(DEADLINE):  # a hang guard; it exits at once
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError("mosquitto did not stop on SIGTERM; killed") from None
        if self._reader is not None:
            await self._reader
            self._reader = None
        # Shown by pytest only when the test fails.
        print(f"--- mosquitto -c {self.conf}, the last of its log:", *self.log[-60:], sep="\n")

    async def wait_log(self, text: str, count: int = 1) -> list[str]:
        """Wait (with the deadline) until ``count`` lines of the log contain ``text``."""
        async with asyncio.timeout(DEADLINE):
            while True:
                logged = self._logged
                lines = [line for line in self.log if text in line]
                if len(lines) >= count:
                    return lines
                await logged.wait()


MosquittoFactory = Callable[..., Awaitable[Mosquitto]]


@pytest.fixture
async def make_mosquitto(tmp_path: Path) -> AsyncIterator[MosquittoFactory]:
    """``await make_mosquitto(config="", port=None)``: a started Mosquitto; stopped after the test."""
    brokers: list[Mosquitto] = []

    async def make(config: str = "", port: int | None = None, name: str = "mosquitto") -> Mosquitto:
        broker = Mosquitto(tmp_path / f"{name}{len(brokers)}", config, port)
        brokers.append(broker)
        await broker.start()
        return broker

    yield make
    for broker in brokers:
        await broker.stop()


@pytest.fixture
async def mosquitto(make_mosquitto: MosquittoFactory) -> Mosquitto:
    """A running Mosquitto with persistence, anonymous access, on a free port."""
    return await make_mosquitto()


def mqtt_config(broker: Mosquitto, **options: Any) -> MqttConfig:
    return MqttConfig(host="127.0.0.1", port=broker.port, **options)
