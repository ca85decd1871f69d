"""Links addressed by URL, and the port owner: deadlines, stale input, reconnects, backoff.

Links are real: ptys from ``os.openpty``, TCP sockets, socketpairs. Where a test needs
the bytes to be waiting before a request (stale input), a socketpair puts them in the
kernel's buffer synchronously, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import re
import socket
import termios
import tty
from collections.abc import AsyncIterator, Iterator

import pytest
import serial

from gateway.common.backoff import Backoff
from gateway.devices.links.line import CCSP_LEGACY_PROTOCOL, CCSP_PROTOCOL, LineSettings
from gateway.devices.links.link import (
    Link,
    LinkError,
    LinkLost,
    describe_open_error,
    open_link,
    open_socket_link,
)
from gateway.devices.links.port import DeviceTimeout, Exchange, PortClosed, PortOwner


class LineReader:
    """A reply reader for tests: the first complete line."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> bytes | None:
        self.buffer += data
        line, newline, _ = self.buffer.partition(b"\n")
        return line if newline else None


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A raw pty: (master fd, slave path). Nobody answers unless the test does."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


class SocketPairs:
    """An opener that hands out socketpair links and keeps the far ends for the test."""

    def __init__(self) -> None:
        self.far: list[socket.socket] = []
        self._opened: asyncio.Queue[socket.socket] = asyncio.Queue()

    async def __call__(self, url: str, line: LineSettings) -> Link:
        near, far = socket.socketpair()
        far.setblocking(False)
        self.far.append(far)
        self._opened.put_nowait(far)
        return await open_socket_link(url, near)

    async def next_opened(self) -> socket.socket:
        """The far end of the next link the owner opens."""
        return await self._opened.get()

    def close(self) -> None:
        for sock in self.far:
            sock.close()


@pytest.fixture
def pairs() -> Iterator[SocketPairs]:
    opener = SocketPairs()
    yield opener
    opener.close()


@pytest.fixture
async def owner(pairs: SocketPairs) -> AsyncIterator[PortOwner]:
    async with PortOwner(
        "pair://test", CCSP_PROTOCOL.line, opener=pairs, backoff=Backoff(0.01, 0.05)
    ) as port:
        yield port


async def answer_when_asked(far: socket.socket, reply: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    request = await loop.sock_recv(far, 4096)
    await loop.sock_sendall(far, reply)
    return request


# -- line settings ---------------------------------------------------------------------


def test_line_settings_are_ccsp_by_default_and_overridable() -> None:
    assert CCSP_PROTOCOL.line.describe() == "9600 8N1"
    assert CCSP_LEGACY_PROTOCOL.line.describe() == "19200 8N1 (DTR on)"
    assert CCSP_PROTOCOL.with_line(parity="E").line.serial_kwargs()["parity"] == "E"
    with pytest.raises(ValueError, match="stopbits"):
        LineSettings(stopbits=3)


async def test_a_serial_link_applies_the_line_settings(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    link = await open_link(path, CCSP_LEGACY_PROTOCOL.line)
    try:
        speed = termios.tcgetattr(master)[4]  # ispeed of the line, as the driver set it
        assert speed == termios.B19200
    finally:
        await link.close()


# -- links -----------------------------------------------------------------------------


async def test_a_pty_link_reads_writes_and_is_held_exclusively(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    link = await open_link(path, CCSP_PROTOCOL.line)
    try:
        await link.write(b"ping\r")
        loop = asyncio.get_running_loop()
        got = b""
        while got != b"ping\r":
            readable = asyncio.Event()
            loop.add_reader(master, readable.set)
            await readable.wait()
            loop.remove_reader(master)
            got += os.read(master, 100)
        os.write(master, b"pong")
        assert await link.read(loop.time() + 5) == b"pong"
        assert await link.read(loop.time()) == b""  # nothing more: the deadline returns empty

        with pytest.raises(LinkError, match=f"cannot open {path}: the port is in use by another program"):
            await open_link(path, CCSP_PROTOCOL.line)
    finally:
        await link.close()
    assert not link.is_open


async def test_a_tcp_link_that_is_hung_up_says_so() -> None:
    hung_up = asyncio.Event()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        hung_up.set()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        link = await open_link(f"tcp://127.0.0.1:{port}", CCSP_PROTOCOL.line)
        await hung_up.wait()
        with pytest.raises(LinkLost, match=f"the connection to tcp://127.0.0.1:{port} was lost"):
            await link.read(asyncio.get_running_loop().time() + 5)
        await link.close()


async def test_open_errors_name_the_url_and_the_next_step() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LinkError) as refused:
        await open_link(f"socket://127.0.0.1:{port}", CCSP_PROTOCOL.line)
    assert str(refused.value) == (
        f"cannot open socket://127.0.0.1:{port}: connection refused — "
        "check that the device is on and listens on that port"
    )
    with pytest.raises(LinkError, match="no such device — check that it is plugged in"):
        await open_link("/dev/ttyNOSUCH0", CCSP_PROTOCOL.line)
    with pytest.raises(LinkError, match="loop:// does not work with asyncio"):
        await open_link("loop://", CCSP_PROTOCOL.line)
    with pytest.raises(LinkError, match="must be written tcp://HOST:PORT"):
        await open_link("tcp://nowhere", CCSP_PROTOCOL.line)


def test_permission_denied_says_to_join_dialout() -> None:
    # Tests run as root here, so a real EACCES cannot be provoked; this is pyserial's
    # own exception as it raises it.
    exc = serial.SerialException(
        errno.EACCES, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied"
    )
    assert describe_open_error("/dev/ttyUSB0", exc) == (
        "cannot open /dev/ttyUSB0: permission denied — add the user to the dialout group "
        "(sudo usermod -aG dialout $USER, then log in again)"
    )


# -- the port owner --------------------------------------------------------------------


async def test_an_exchange_returns_what_the_reader_made_of_the_answer(
    owner: PortOwner, pairs: SocketPairs
) -> None:
    asking = asyncio.create_task(owner.exchange(Exchange(b"hello\n", LineReader(), 5.0)))
    far = await pairs.next_opened()  # the owner opens its link lazily, on this first exchange
    request = await answer_when_asked(far, b"wor")
    await asyncio.get_running_loop().sock_sendall(far, b"ld\n")

    assert await asking == b"world"
    assert request == b"hello\n"
    assert owner.opens == 1


async def test_an_unanswered_exchange_ends_at_its_deadline(owner: PortOwner, pairs: SocketPairs) -> None:
    with pytest.raises(DeviceTimeout) as timeout:
        await owner.exchange(Exchange(b"anyone?\n", LineReader(), 0.05))
    assert str(timeout.value) == "no answer from pair://test within 0.05 s"


async def test_a_partial_answer_is_reported_with_the_timeout(owner: PortOwner, pairs: SocketPairs) -> None:
    asking = asyncio.create_task(owner.exchange(Exchange(b"q\n", LineReader(), 0.2)))
    await answer_when_asked(await pairs.next_opened(), b"half an ans")
    with pytest.raises(DeviceTimeout) as timeout:
        await asking
    assert timeout.value.received == b"half an ans"


async def test_stale_input_is_dropped_before_the_next_request(owner: PortOwner, pairs: SocketPairs) -> None:
    with pytest.raises(DeviceTimeout):
        await owner.exchange(Exchange(b"first\n", LineReader(), 0.05))
    far = pairs.far[0]
    far.send(b"late answer to first\n")  # in the kernel's buffer before the next request
    stale: list[bytes] = []

    asking = asyncio.create_task(
        owner.exchange(Exchange(b"second\n", LineReader(), 5.0, on_stale=stale.append))
    )
    loop = asyncio.get_running_loop()
    assert await loop.sock_recv(far, 4096) == b"first\n"
    assert await loop.sock_recv(far, 4096) == b"second\n"
    await loop.sock_sendall(far, b"answer to second\n")

    assert await asking == b"answer to second"
    assert stale == [b"late answer to first\n"]


async def test_a_lost_link_is_reopened_on_the_next_exchange(owner: PortOwner, pairs: SocketPairs) -> None:
    with pytest.raises(DeviceTimeout):
        await owner.exchange(Exchange(b"1\n", LineReader(), 0.05))
    pairs.far[0].close()  # the device goes away

    with pytest.raises(LinkError):
        await owner.exchange(Exchange(b"2\n", LineReader(), 1.0))
    first = await pairs.next_opened()
    asking = asyncio.create_task(owner.exchange(Exchange(b"3\n", LineReader(), 5.0)))
    assert first is pairs.far[0]
    assert await answer_when_asked(await pairs.next_opened(), b"back\n") == b"3\n"

    assert await asking == b"back"
    assert owner.opens == 2


async def test_a_failing_open_waits_out_its_backoff() -> None:
    calls: list[str] = []

    async def refuse(url: str, line: LineSettings) -> Link:
        calls.append(url)
        raise LinkError(url, f"cannot open {url}: no such device — plug it in")

    # Seeded: the wait drawn after the first failure is 8.06 s of the 60 s ceiling.
    backoff = Backoff(60, 60, rng=random.Random(1))
    async with PortOwner("/dev/ttyGONE", CCSP_PROTOCOL.line, opener=refuse, backoff=backoff) as port:
        for _ in range(3):
            with pytest.raises(LinkError, match="cannot open /dev/ttyGONE: no such device — plug it in"):
                await port.exchange(Exchange(b"x", LineReader(), 0.05))
    assert calls == ["/dev/ttyGONE"]  # the wait (8 s) outlasts each request: no new try


async def test_an_open_that_hangs_is_cut_by_the_deadline() -> None:
    async def hang(url: str, line: LineSettings) -> Link:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with PortOwner("/dev/ttyHANG", CCSP_PROTOCOL.line, opener=hang) as port:
        with pytest.raises(
            LinkError, match=re.escape("cannot open /dev/ttyHANG: it took longer than 0.05 s")
        ):
            await port.exchange(Exchange(b"x", LineReader(), 0.05))


async def test_a_closed_owner_refuses_work(pairs: SocketPairs) -> None:
    port = PortOwner("pair://closed", CCSP_PROTOCOL.line, opener=pairs)
    await port.close()
    with pytest.raises(PortClosed):
        await port.exchange(Exchange(b"x", LineReader(), 1.0))
