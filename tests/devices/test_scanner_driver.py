"""The serial scanner driver against the simulated scanner, over real ptys and TCP.

Framing (each terminator, prefix and suffix), rejected lines, what a scan event carries,
subscribers, and unplug/re-plug: the simulator's port is closed and served again, and
the driver must say so in words and pick scans up again by itself. Nothing waits on a
clock: every wait is for an event or a state, bounded by a timeout a passing test never
reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.scanner import Scanner, ScannerConfig
from firmware_sim.scanner.server import serve_pty, serve_tcp, wait_for_receiver
from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, Health
from gateway.devices.links.line import LineSettings
from gateway.devices.links.link import Link, open_socket_link
from gateway.devices.scanner.driver import ScannerDriver
from gateway.devices.scanner.events import (
    ScanEvent,
    ScannerEvent,
    ScanRejected,
    ScanSubscription,
    make_scan_event,
)
from gateway.devices.scanner.opener import open_scanner
from gateway.devices.scanner.serial_line import SerialScanner, SerialScannerConfig
from protocols.scanner import InStoreLayout, MeasureKind, ScanKind, Terminator, ValueRule

IO_TIMEOUT = 10.0
FAST = Backoff(initial=0.01, maximum=0.05)
EAN = "7310865004703"

DriverFactory = Callable[..., Awaitable[SerialScanner]]


async def next_event(subscription: ScanSubscription) -> ScannerEvent:
    return await asyncio.wait_for(anext(subscription), IO_TIMEOUT)


async def next_scan(subscription: ScanSubscription) -> ScanEvent:
    event = await next_event(subscription)
    assert isinstance(event, ScanEvent), event
    return event


async def next_rejection(subscription: ScanSubscription) -> ScanRejected:
    event = await next_event(subscription)
    assert isinstance(event, ScanRejected), event
    return event


async def until(driver: ScannerDriver, state: DeviceState) -> Health:
    return await asyncio.wait_for(driver.wait_for(state), IO_TIMEOUT)


@contextlib.asynccontextmanager
async def served(scanner: Scanner, transport: str, port: int = 0) -> AsyncIterator[str]:
    server = serve_pty(scanner) if transport == "pty" else serve_tcp(scanner, "127.0.0.1", port)
    async with server as url:
        yield url


async def listening(driver: ScannerDriver, scanner: Scanner) -> None:
    """The driver has the port open and the simulator has it as a receiver."""
    await until(driver, DeviceState.READY)
    await asyncio.wait_for(wait_for_receiver(scanner), IO_TIMEOUT)


@pytest.fixture(params=["pty", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_driver() -> AsyncIterator[DriverFactory]:
    """``await make_driver(url, config)``: a started driver with a fast backoff, closed after."""
    drivers: list[SerialScanner] = []

    async def make(url: str, config: SerialScannerConfig | None = None, **options: Any) -> SerialScanner:
        options.setdefault("backoff", Backoff(FAST.initial, FAST.maximum))
        driver = SerialScanner(url, config, **options)
        drivers.append(driver)
        driver.start()
        return driver

    yield make
    for driver in drivers:
        await driver.close()


# -- framing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terminator", "prefix", "suffix"),
    [
        (Terminator.CR, b"", b""),
        (Terminator.LF, b"", b""),
        (Terminator.CRLF, b"", b""),
        (Terminator.CRLF, b"\x02", b"\x03"),
        (Terminator.CR, b"]E0", b""),
    ],
    ids=["cr", "lf", "crlf", "crlf-stx-etx", "cr-aim-prefix"],
)
async def test_codes_arrive_with_each_framing(
    transport: str, make_driver: DriverFactory, terminator: Terminator, prefix: bytes, suffix: bytes
) -> None:
    scanner = Scanner(ScannerConfig(terminator, prefix, suffix))
    async with served(scanner, transport) as url:
        driver = await make_driver(url, SerialScannerConfig(terminator, prefix, suffix))
        scans = driver.subscribe()
        await listening(driver, scanner)

        for code in (EAN, "96385074", "LOT:A7-B_9"):
            scanner.scan(code)

        events = [await next_scan(scans) for _ in range(3)]
    assert [e.code for e in events] == [EAN, "96385074", "LOT:A7-B_9"]
    assert all(e.source == url and e.at.tzinfo is UTC for e in events)
    assert driver.scans == 3 and driver.rejected == 0 and driver.last_scan == events[-1]


async def test_events_carry_kind_validity_and_in_store_decoding(
    transport: str, make_driver: DriverFactory
) -> None:
    codes = {
        EAN: (ScanKind.EAN13, True),
        "96385074": (ScanKind.EAN8, True),
        "036000291452": (ScanKind.UPCA, True),
        "10073108650047": (ScanKind.GTIN14, True),
        "7310865004704": (ScanKind.OTHER, False),  # a misread: wrong check digit
        "LOT:A7-B_9": (ScanKind.OTHER, None),  # Code 128 text: no check digit to check
        "2388060103489": (ScanKind.EAN13, True),
        "2012345012349": (ScanKind.EAN13, True),
    }
    scanner = Scanner()
    async with served(scanner, transport) as url:
        driver = await make_driver(url)
        scans = driver.subscribe()
        await listening(driver, scanner)
        for code in codes:
            scanner.scan(code)
        events = {e.code: e for e in [await next_scan(scans) for _ in codes]}

    assert {code: (e.kind, e.valid) for code, e in events.items()} == codes
    weight = events["2388060103489"].in_store
    assert weight is not None
    assert (weight.kind, weight.weight_g, weight.price_ore) == (MeasureKind.WEIGHT, 348, None)
    assert weight.article_key == "2388060100006"
    price = events["2012345012349"].in_store
    assert price is not None and (price.kind, price.price_ore) == (MeasureKind.PRICE, 1234)
    assert events[EAN].in_store is None
    assert events["2388060103489"].to_json() == {
        "type": "scan",
        "code": "2388060103489",
        "kind": "ean13",
        "valid": True,
        "in_store": {
            "article_key": "2388060100006",
            "article_gtin14": "02388060100006",
            "measure": "weight",
            "price_ore": None,
            "weight_g": 348,
        },
        "source": url,
        "at": events["2388060103489"].at.isoformat(),
    }


# -- rejected lines --------------------------------------------------------------------


async def test_a_line_without_the_prefix_is_reported_not_dropped(make_driver: DriverFactory) -> None:
    scanner = Scanner(ScannerConfig(Terminator.CR))  # the scanner forgot its prefix
    async with served(scanner, "pty") as url:
        driver = await make_driver(url, SerialScannerConfig(Terminator.CR, prefix=b"\x02"))
        events = driver.subscribe()
        await listening(driver, scanner)

        scanner.scan(EAN)
        rejected = await next_rejection(events)
        scanner.config = ScannerConfig(Terminator.CR, b"\x02")  # set right again
        scanner.scan(EAN)
        scan = await next_scan(events)

    assert rejected.reason == "line does not start with the prefix b'\\x02'"
    assert rejected.head == EAN.encode() and rejected.source == url
    assert rejected.to_json()["type"] == "scan_rejected"
    assert scan.code == EAN
    assert (driver.scans, driver.rejected, driver.last_rejection) == (1, 1, rejected)


async def test_an_overlong_line_is_rejected_and_the_next_code_still_reads(
    transport: str, make_driver: DriverFactory
) -> None:
    scanner = Scanner(ScannerConfig(Terminator.CRLF, b"", b"\x03"))
    async with served(scanner, transport) as url:
        driver = await make_driver(url, SerialScannerConfig(Terminator.CRLF, suffix=b"\x03", max_length=16))
        events = driver.subscribe()
        await listening(driver, scanner)

        scanner.scan("X" * 40)
        scanner.scan(EAN)  # 13 + 1 suffix byte: fits
        rejected = await next_rejection(events)
        scan = await next_scan(events)

    assert rejected.reason.startswith("line longer than 16 bytes")
    assert rejected.head == b"X" * 17
    assert scan.code == EAN


async def test_bytes_waiting_when_the_port_opens_are_dropped_and_reported(make_driver: DriverFactory) -> None:
    """A scan made while nobody listened must not be sold minutes later."""
    far_ends: list[socket.socket] = []

    async def opener(url: str, line: LineSettings) -> Link:
        near, far = socket.socketpair()
        far.sendall(b"7310865004703\r96385")  # in the kernel's buffer before the link exists
        far_ends.append(far)
        return await open_socket_link(url, near)

    try:
        driver = await make_driver("pair://scanner", opener=opener)
        events = driver.subscribe()
        await until(driver, DeviceState.READY)
        stale = await next_rejection(events)
        far_ends[0].sendall(b"96385074\r")
        scan = await next_scan(events)
    finally:
        for far in far_ends:
            far.close()
    assert stale.reason.startswith("19 bytes were waiting when the port opened")
    assert stale.head == b"7310865004703\r96385"
    assert scan.code == "96385074"


async def test_a_line_cut_off_by_a_lost_link_is_reported(make_driver: DriverFactory) -> None:
    driver_ready = asyncio.Event()

    async def half_a_code(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await driver_ready.wait()
        writer.write(b"7310865")  # then the scanner loses power
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(half_a_code, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        driver = await make_driver(f"socket://{host}:{port}")
        events = driver.subscribe()
        await until(driver, DeviceState.READY)
        driver_ready.set()
        rejected = await next_rejection(events)
        await until(driver, DeviceState.FAILED)
    finally:
        server.close()
        await server.wait_closed()
    assert rejected.reason.startswith("the link was lost in the middle of a scan: 7 bytes")
    assert driver.scans == 0


# -- unplug and re-plug -----------------------------------------------------------------


@pytest.fixture
def stable_name(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``point(path)``: a fixed name (as udev's /dev/serial/by-id gives) aimed at ``path``."""
    link = tmp_path / "usb-Scanner_1234-if00"

    def point(target: str) -> str:
        temporary = tmp_path / "next"
        temporary.symlink_to(target)
        os.replace(temporary, link)
        return str(link)

    yield point


async def test_unplugged_pty_fails_in_words_and_scans_resume_after_replug(
    make_driver: DriverFactory, stable_name: Callable[[str], str]
) -> None:
    scanner = Scanner()
    changes: list[Health] = []
    async with served(scanner, "pty") as first:
        url = stable_name(first)
        driver = await make_driver(url)
        driver.on_change(changes.append)
        scans = driver.subscribe()
        await listening(driver, scanner)
        scanner.scan(EAN)
        assert (await next_scan(scans)).code == EAN
    # The port is gone: the simulator closed it, as pulling the USB cable does.
    failed = await until(driver, DeviceState.FAILED)
    assert failed.reason == (
        f"failed: scanner unplugged from {url} — plug it back in; scans resume by themselves"
    )

    async with served(scanner, "pty") as second:
        stable_name(second)
        await listening(driver, scanner)
        scanner.scan("2388060103489")
        after = await next_scan(scans)

    assert after.code == "2388060103489" and after.in_store is not None and after.in_store.weight_g == 348
    assert driver.opens == 2
    assert [h.state for h in changes][:2] == [DeviceState.READY, DeviceState.FAILED]
    assert changes[-1].state is DeviceState.READY


async def test_scanner_on_tcp_goes_away_and_comes_back(make_driver: DriverFactory) -> None:
    scanner = Scanner()
    async with served(scanner, "tcp") as url:
        driver = await make_driver(url)
        scans = driver.subscribe()
        await listening(driver, scanner)
        port = int(url.rsplit(":", 1)[1])
        scanner.scan(EAN)
        assert (await next_scan(scans)).code == EAN

    failed = await until(driver, DeviceState.FAILED)
    assert failed.reason == (
        f"failed: lost the connection to the scanner at {url} — check its network cable and power; "
        "scans resume by themselves"
    )
    async with served(scanner, "tcp", port) as again:
        assert again == url
        await listening(driver, scanner)
        scanner.scan("96385074")
        assert (await next_scan(scans)).code == "96385074"
    assert driver.opens == 2


async def test_a_port_that_never_existed_says_so(make_driver: DriverFactory, tmp_path: Path) -> None:
    missing = str(tmp_path / "ttyACM9")
    driver = await make_driver(missing)
    failed = await until(driver, DeviceState.FAILED)
    assert failed.reason.startswith(
        f"failed: cannot open {missing}: no such device — check that it is plugged in"
    )
    assert driver.opens == 0


# -- subscribers -----------------------------------------------------------------------


async def test_every_subscriber_and_callback_gets_every_event_in_order(make_driver: DriverFactory) -> None:
    scanner = Scanner()
    seen: list[ScannerEvent] = []

    def broken(event: ScannerEvent) -> None:
        raise RuntimeError("a listener with a bug")

    async with served(scanner, "pty") as url:
        driver = await make_driver(url, SerialScannerConfig(max_length=20))
        first, second = driver.subscribe(), driver.subscribe()
        driver.on_event(broken)
        stop = driver.on_event(seen.append)
        await listening(driver, scanner)
        for code in (EAN, "X" * 30, "96385074"):
            scanner.scan(code)
        got = [[await next_event(sub) for _ in range(3)] for sub in (first, second)]
        stop()
        scanner.scan(EAN)
        await next_event(first)

    assert got[0] == got[1] == seen
    assert [type(e) for e in seen] == [ScanEvent, ScanRejected, ScanEvent]


async def test_a_slow_subscriber_loses_its_oldest_events_and_closing_ends_iteration(
    make_driver: DriverFactory,
) -> None:
    scanner = Scanner()
    async with served(scanner, "pty") as url:
        driver = await make_driver(url)
        slow = driver.subscribe(maxsize=2)
        keeping_up = driver.subscribe()
        await listening(driver, scanner)
        codes = [EAN, "96385074", "036000291452", "10073108650047"]
        for code in codes:
            scanner.scan(code)
        assert [(await next_scan(keeping_up)).code for _ in codes] == codes
        await driver.close()

    assert slow.dropped == 2
    assert [e.code for e in [e async for e in slow] if isinstance(e, ScanEvent)] == codes[2:]
    assert [e async for e in keeping_up] == []  # closed with the scanner: iteration ends
    with pytest.raises(RuntimeError, match="closed"):
        driver.subscribe()


async def test_closing_a_subscription_stops_its_delivery(make_driver: DriverFactory) -> None:
    scanner = Scanner()
    async with served(scanner, "pty") as url:
        driver = await make_driver(url)
        other = driver.subscribe()
        async with driver.subscribe() as mine:
            await listening(driver, scanner)
        assert mine.closed
        scanner.scan(EAN)
        await next_scan(other)
    assert mine.pending() == 0


# -- construction and events without I/O ----------------------------------------------


def test_open_scanner_picks_the_driver_by_url() -> None:
    from gateway.devices.scanner.hid import HidScanner

    assert isinstance(open_scanner("/dev/ttyACM0"), SerialScanner)
    assert isinstance(open_scanner("socket://127.0.0.1:7001"), SerialScanner)
    assert isinstance(open_scanner("evdev://name=Scanner"), HidScanner)
    with pytest.raises(ValueError, match="no room for a code"):
        SerialScanner("/dev/ttyACM0", SerialScannerConfig(prefix=b"\x02", max_length=1))
    with pytest.raises(ValueError, match="not a HID scanner address"):
        open_scanner("evdev:event3")


def test_make_scan_event_validity() -> None:
    assert make_scan_event("7310865004703", "x").valid is True
    assert make_scan_event("7310865004704", "x").valid is False
    assert make_scan_event("123456789", "x").valid is None  # not GTIN-shaped
    assert make_scan_event("ABC", "x").valid is None
    event = make_scan_event("2212345001507", "x")
    assert event.in_store is not None and event.in_store.price_ore == 15000  # whole kronor
    # A layout with a price verifier digit: a code whose verifier does not match is invalid.
    layout = InStoreLayout(
        rules={"20": ValueRule(MeasureKind.PRICE, 1)}, value_start=7, value_length=5, verifier_position=6
    )
    bad = make_scan_event("2012345012349", "x", layout=layout)
    assert (bad.kind, bad.valid, bad.in_store) == (ScanKind.EAN13, False, None)
