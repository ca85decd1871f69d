"""The cash drawer, through the printer driver, against the simulated printer's drawer.

Over real ptys and TCP. The drawer is closed by hand through the simulator's core API
(``close_drawer``); the simulator's drawer stays open until then. Kick expiry runs on a
fake clock that the test moves forward while the port is provably busy, so nothing
depends on how long anything takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from firmware_sim.printer import Fault, PrinterDevice
from gateway.devices.printer.drawer import Drawer, KickOutcome, KickResult, OpenLevel
from gateway.devices.printer.job import Outcome
from gateway.devices.printer.status import PrinterUnavailable
from protocols import escpos
from protocols.escpos import DrawerPin
from tests.devices.printer_parts import PrinterFactory, make_device, serve

IO_TIMEOUT = 10.0  # bounds a failing test; never waited out by a passing one

T = TypeVar("T")


async def within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, IO_TIMEOUT)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def device(tmp_path: Path) -> PrinterDevice:
    return make_device(tmp_path)


async def test_a_kick_opens_the_drawer_and_the_sensor_follows_a_close_by_hand(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    drawer = Drawer(make_printer(url))
    assert await within(drawer.drawer_open()) is False

    result = await within(drawer.open_drawer())

    assert (result.outcome, result.reason, result.drawer_open) == (KickOutcome.SENT, "sent", True)
    assert device.drawer_kicks == 1
    assert await within(drawer.drawer_open()) is True
    device.close_drawer()
    assert await within(drawer.drawer_open()) is False


async def test_wait_until_closed_returns_when_the_drawer_is_pushed_shut(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    printer = make_printer(url)
    drawer = Drawer(printer, sensor_poll=0.01)
    assert (await within(drawer.open_drawer())).drawer_open is True
    assert await drawer.wait_until_closed(within=0.05) is False  # it stays open until pushed

    asked = asyncio.Event()
    device.subscribe(asked.set)  # the simulator notifies as it answers a status request
    waiting = asyncio.create_task(drawer.wait_until_closed(within=IO_TIMEOUT))
    await within(asked.wait())  # the wait has read "open" at least once
    device.close_drawer()
    assert await within(waiting) is True


@pytest.mark.parametrize(
    ("open_high", "open_level", "reads_open"),
    [
        (True, OpenLevel.HIGH, True),
        (False, OpenLevel.LOW, True),
        (True, OpenLevel.LOW, False),  # set the wrong way round, an open drawer reads closed
        (False, OpenLevel.HIGH, False),
    ],
)
async def test_sensor_polarity_is_configurable(
    tmp_path: Path, make_printer: PrinterFactory, open_high: bool, open_level: OpenLevel, reads_open: bool
) -> None:
    device = make_device(tmp_path, drawer_open_high=open_high)
    async with serve(device, "tcp") as url:
        drawer = Drawer(make_printer(url), open_level=open_level.value)
        assert await within(drawer.drawer_open()) is not reads_open
        assert (await within(drawer.open_drawer())).drawer_open is reads_open
        assert device.drawer_open
        device.close_drawer()
        assert await within(drawer.drawer_open()) is not reads_open


async def test_the_pulse_goes_to_the_pin_asked_for(tmp_path: Path, make_printer: PrinterFactory) -> None:
    device = make_device(tmp_path, drawer_pin=DrawerPin.PIN5)
    async with serve(device, "pty") as url:
        drawer = Drawer(make_printer(url), on_ms=100, off_ms=200)
        wrong = await within(drawer.open_drawer())
        right = await within(drawer.open_drawer(pin=DrawerPin.PIN5, on_ms=60))

    assert (wrong.outcome, wrong.drawer_open) == (KickOutcome.SENT, False)  # no drawer on pin 2
    assert (right.outcome, right.drawer_open) == (KickOutcome.SENT, True)
    with pytest.raises(escpos.EscPosError, match="on_ms"):
        await drawer.open_drawer(on_ms=600)  # refused before anything is sent
    with pytest.raises(escpos.EscPosError, match="off_ms"):
        Drawer(drawer.printer, off_ms=-1)


async def test_a_kick_that_waited_past_its_expiry_is_never_sent(
    device: PrinterDevice, make_printer: PrinterFactory
) -> None:
    clock = FakeClock()
    kicks: list[asyncio.Task[KickResult]] = []
    async with serve(device, "tcp") as url:
        printer = make_printer(url, clock=clock)
        drawer = Drawer(printer, expiry=3.0)

        def while_the_job_holds_the_port() -> None:
            # The receipt is on the paper and the driver holds the port until the status
            # after it comes back: ask for the drawer now, then let 10 s pass. (call_soon
            # runs in order, so the kick takes its start time before the clock moves.)
            if device.receipts and not kicks:
                loop = asyncio.get_running_loop()
                kicks.append(loop.create_task(drawer.open_drawer()))
                loop.call_soon(clock.advance, 10.0)

        device.subscribe(while_the_job_holds_the_port)
        printed = await within(printer.print(b"KVITTO\n" + escpos.cut()))
        kick = await within(kicks[0])
        await within(printer.status())  # nothing else is on its way to the printer

    assert printed.outcome is Outcome.PRINTED
    assert kick.outcome is KickOutcome.EXPIRED and kick.drawer_open is None
    assert kick.waited == 10.0
    assert kick.reason == (
        "drawer not opened: the kick waited 10.0 s for the printer, longer than the 3 s allowed — it is "
        "dropped so that the drawer never opens late; open it again"
    )
    assert device.drawer_kicks == 0 and not device.drawer_open


async def test_a_kick_in_time_after_waiting_is_sent(
    device: PrinterDevice, make_printer: PrinterFactory
) -> None:
    clock = FakeClock()
    kicks: list[asyncio.Task[KickResult]] = []
    async with serve(device, "pty") as url:
        printer = make_printer(url, clock=clock)
        drawer = Drawer(printer, expiry=3.0)

        def while_the_job_holds_the_port() -> None:
            if device.receipts and not kicks:
                loop = asyncio.get_running_loop()
                kicks.append(loop.create_task(drawer.open_drawer()))
                loop.call_soon(clock.advance, 2.5)

        device.subscribe(while_the_job_holds_the_port)
        await within(printer.print(b"KVITTO\n" + escpos.cut()))
        kick = await within(kicks[0])

    assert (kick.outcome, kick.waited, kick.drawer_open) == (KickOutcome.SENT, 2.5, True)
    assert device.drawer_kicks == 1


@pytest.mark.parametrize("fault", [Fault.PAPER_OUT, Fault.COVER_OPEN])
async def test_a_kick_is_not_sent_to_an_offline_printer_that_would_hold_it(
    device: PrinterDevice, url: str, make_printer: PrinterFactory, fault: Fault
) -> None:
    printer = make_printer(url)
    drawer = Drawer(printer)
    device.set_fault(fault)

    result = await within(drawer.open_drawer())

    assert result.outcome is KickOutcome.REFUSED and result.drawer_open is None
    assert result.reason.startswith(f"drawer not opened: {printer.reason.removeprefix('failed: ')}")
    device.clear_fault()
    await within(printer.status())  # whatever the printer held has been carried out now
    assert device.drawer_kicks == 0 and not device.drawer_open


async def test_without_a_printer_the_drawer_cannot_be_opened_or_read(make_printer: PrinterFactory) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"socket://127.0.0.1:{probe.getsockname()[1]}"
    drawer = Drawer(make_printer(url))

    result = await within(drawer.open_drawer())

    assert result.outcome is KickOutcome.FAILED
    assert result.reason.startswith(f"drawer not opened: cannot open {url}: connection refused")
    with pytest.raises(PrinterUnavailable):
        await within(drawer.drawer_open())
