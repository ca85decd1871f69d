"""The simulated serial barcode scanner: framing, pty and TCP delivery, the command line.

Real ptys (pyserial on the slave), real TCP sockets and a real subprocess fed on its
standard input; every read is bounded by a timeout that a passing test never waits out.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import serial

from firmware_sim.scanner import ScanError, Scanner, ScannerConfig, unescape
from firmware_sim.scanner.server import read_codes, scan_all, serve_pty, serve_tcp, wait_for_receiver
from protocols.scanner import LineDeframer, Terminator

IO_TIMEOUT = 10.0
EAN = "7310865004703"


async def serial_read_until(port: serial.Serial, terminator: bytes) -> bytes:
    return await asyncio.to_thread(port.read_until, terminator)


@pytest.mark.parametrize(
    ("terminator", "prefix", "suffix", "frame"),
    [
        (Terminator.CR, b"", b"", EAN.encode() + b"\r"),
        (Terminator.LF, b"", b"", EAN.encode() + b"\n"),
        (Terminator.CRLF, b"\x02", b"\x03", b"\x02" + EAN.encode() + b"\x03\r\n"),
        (Terminator.CR, b"]E0", b"", b"]E0" + EAN.encode() + b"\r"),
    ],
)
def test_frames(terminator: Terminator, prefix: bytes, suffix: bytes, frame: bytes) -> None:
    scanner = Scanner(ScannerConfig(terminator, prefix, suffix))
    assert scanner.frame(EAN) == frame
    deframer = LineDeframer(terminator, prefix=prefix, suffix=suffix)
    assert deframer.feed(frame) == [EAN]


def test_codes_that_cannot_be_one_scan_are_refused() -> None:
    scanner = Scanner()
    for bad in ("", "73108\r65004703", "abc\n"):
        with pytest.raises(ScanError):
            scanner.frame(bad)
    assert scanner.frame("Blåbär-1") == "Blåbär-1\r".encode()  # UTF-8


def test_unescape_prefix_and_suffix_text() -> None:
    assert unescape(r"\x02") == b"\x02"
    assert unescape(r"A\tB\\C\r") == b"A\tB\\C\r"
    assert unescape("å") == "å".encode()


def test_a_scan_with_nobody_connected_is_lost() -> None:
    assert Scanner().scan(EAN) == 0


def test_read_codes_skips_blanks_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    path.write_text(f"# morning delivery\n{EAN}\n\n  96385074  \n# end\n", encoding="utf-8")
    assert read_codes(path) == [EAN, "96385074"]


@pytest.fixture
async def pty_scanner() -> AsyncIterator[tuple[Scanner, serial.Serial]]:
    scanner = Scanner(ScannerConfig(Terminator.CRLF, b"\x02"))
    async with serve_pty(scanner) as path:
        port = serial.Serial(path, timeout=IO_TIMEOUT)
        try:
            yield scanner, port
        finally:
            port.close()


async def test_scans_over_a_pty_are_framed(pty_scanner: tuple[Scanner, serial.Serial]) -> None:
    scanner, port = pty_scanner
    assert scanner.scan(EAN) == 1
    assert scanner.scan("2012345012344") == 1
    assert await serial_read_until(port, b"\r\n") == b"\x02" + EAN.encode() + b"\r\n"
    assert await serial_read_until(port, b"\r\n") == b"\x022012345012344\r\n"


async def test_bytes_from_the_host_are_ignored(pty_scanner: tuple[Scanner, serial.Serial]) -> None:
    scanner, port = pty_scanner
    port.write(b"\x16M\rDEFALT.\r")  # a configuration command some scanners take
    scanner.scan(EAN)
    assert await serial_read_until(port, b"\r\n") == b"\x02" + EAN.encode() + b"\r\n"


async def test_scan_all_paces_a_list_of_codes(pty_scanner: tuple[Scanner, serial.Serial]) -> None:
    scanner, port = pty_scanner
    assert await scan_all(scanner, [EAN, "", "96385074"], interval=0) == 2  # "" is skipped
    data = await asyncio.to_thread(port.read, 2 * 3 + len(EAN) + 8)
    assert LineDeframer(Terminator.CRLF, prefix=b"\x02").feed(data) == [EAN, "96385074"]


async def test_every_tcp_client_receives_every_scan() -> None:
    scanner = Scanner(ScannerConfig(Terminator.CR))
    async with serve_tcp(scanner, "127.0.0.1", 0) as url:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        assert int(port) > 0
        clients = [await asyncio.open_connection(host, int(port)) for _ in range(2)]
        await _until_receivers_are(scanner, 2)
        assert scanner.scan(EAN) == 2
        for reader, _ in clients:
            assert await asyncio.wait_for(reader.readuntil(b"\r"), IO_TIMEOUT) == EAN.encode() + b"\r"

        _, first_writer = clients[0]
        first_writer.close()
        await first_writer.wait_closed()
        await _until_receivers_are(scanner, 1)
        assert scanner.scan("96385074") == 1
        reader, writer = clients[1]
        assert await asyncio.wait_for(reader.readuntil(b"\r"), IO_TIMEOUT) == b"96385074\r"
        writer.close()


async def _until_receivers_are(scanner: Scanner, count: int) -> None:
    reached = asyncio.Event()
    unsubscribe = scanner.subscribe(lambda: reached.set() if scanner.receivers == count else None)
    try:
        if scanner.receivers != count:
            await asyncio.wait_for(reached.wait(), IO_TIMEOUT)
    finally:
        unsubscribe()


async def test_wait_for_receiver_returns_when_a_client_connects() -> None:
    scanner = Scanner()
    async with serve_tcp(scanner) as url:
        waiting = asyncio.create_task(wait_for_receiver(scanner))
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        _, writer = await asyncio.open_connection(host, int(port))
        await asyncio.wait_for(waiting, IO_TIMEOUT)
        writer.close()


# ---------------------------------------------------------------------------------------
# tillgw sim scanner
# ---------------------------------------------------------------------------------------


def _sim_module() -> str:
    """``tillgw`` itself once the gateway's CLI imports, else the simulators' own entry point."""
    try:
        found = importlib.util.find_spec("tools.diag.command") is not None
    except ImportError:
        found = False
    return "gateway.cli" if found else "firmware_sim.cli"


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        _sim_module(),
        "sim",
        "scanner",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _address(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    return (await asyncio.wait_for(proc.stdout.readline(), IO_TIMEOUT)).decode().strip()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), IO_TIMEOUT) == 0


async def _type(proc: asyncio.subprocess.Process, lines: Sequence[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("".join(line + "\n" for line in lines).encode())
    await proc.stdin.drain()


async def test_tillgw_sim_scanner_on_a_pty_scans_what_is_typed() -> None:
    proc = await _start("--pty", "--suffix", "crlf", "--prefix", r"\x02")
    try:
        path = await _address(proc)
        assert path.startswith("/dev/")
        port = serial.Serial(path, timeout=IO_TIMEOUT)
        try:
            await _type(proc, [EAN, "", "  2312345006003  "])
            assert await serial_read_until(port, b"\r\n") == b"\x02" + EAN.encode() + b"\r\n"
            assert await serial_read_until(port, b"\r\n") == b"\x022312345006003\r\n"
        finally:
            port.close()
    finally:
        await _stop(proc)


async def test_tillgw_sim_scanner_on_tcp_sends_a_file_once_a_client_connects(tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text(f"# two codes\n{EAN}\n96385074\n", encoding="utf-8")
    proc = await _start(
        "--listen", "tcp://127.0.0.1:0", "--suffix", "lf", "--file", str(codes), "--interval", "0"
    )
    try:
        url = await _address(proc)
        assert url.startswith("socket://127.0.0.1:") and not url.endswith(":0")
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        assert await asyncio.wait_for(reader.readuntil(b"\n"), IO_TIMEOUT) == EAN.encode() + b"\n"
        assert await asyncio.wait_for(reader.readuntil(b"\n"), IO_TIMEOUT) == b"96385074\n"
        await _type(proc, ["7350053850019"])  # still running: stdin scans go out too
        assert await asyncio.wait_for(reader.readuntil(b"\n"), IO_TIMEOUT) == b"7350053850019\n"
        writer.close()
    finally:
        await _stop(proc)
