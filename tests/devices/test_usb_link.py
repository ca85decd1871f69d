"""The USB link (pyusb) under the printer driver, with a fake USB device.

These machines have no USB printer, so ``usb.core.find`` is patched to return a
``usb.core.Device``-like object: the one fake in the device tests. It speaks pyusb's
calls (configuration, interfaces, endpoints, kernel driver, ``read``/``write`` with a
timeout in milliseconds, the ``_ctx`` that ``usb.util`` claims through) and loops every
byte written to an in-process simulated printer, whose answers come back on bulk IN.
The simulator runs on the test's event loop; the fake, called from the link's worker
threads, hands it the bytes there and waits for the answer.
"""

from __future__ import annotations

import array
import asyncio
import errno
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import usb.core

from firmware_sim.printer import PrinterConfig, PrinterDevice
from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState
from gateway.devices.links.link import LinkError
from gateway.devices.links.usb_link import READ_TIMEOUT_MS, WRITE_TIMEOUT_MS, UsbAddress, parse_usb_url
from gateway.devices.printer.driver import PrinterDriver
from gateway.devices.printer.job import Outcome
from protocols import escpos

IO_TIMEOUT = 10.0  # bounds a failing test; never waited out by a passing one
VID, PID = 0x04B8, 0x0202
URL = "usb://04b8:0202"
PACKET = 64

T = TypeVar("T")


async def within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, IO_TIMEOUT)


class FakeEndpoint:
    def __init__(self, address: int, attributes: int = 0x02) -> None:  # 0x02: bulk
        self.bEndpointAddress = address
        self.bmAttributes = attributes
        self.wMaxPacketSize = PACKET


class FakeInterface:
    def __init__(self, number: int, endpoints: list[FakeEndpoint]) -> None:
        self.bInterfaceNumber = number
        self._endpoints = endpoints

    def __iter__(self) -> Iterator[FakeEndpoint]:
        return iter(self._endpoints)


class FakeContext:
    """What ``usb.util.claim_interface`` / ``release_interface`` / ``dispose_resources`` call."""

    def __init__(self) -> None:
        self.claimed: list[int] = []
        self.released: list[int] = []
        self.disposed = 0

    def managed_claim_interface(self, device: Any, interface: int) -> None:
        self.claimed.append(interface)

    def managed_release_interface(self, device: Any, interface: int) -> None:
        self.released.append(interface)

    def dispose(self, device: Any) -> None:
        self.disposed += 1


class FakeUsbPrinter:
    """A USB printer: interface 0 has an interrupt IN (ignored), bulk OUT 0x01, bulk IN 0x82."""

    def __init__(
        self, printer: PrinterDevice, loop: asyncio.AbstractEventLoop, serial: str = "J8CF000042"
    ) -> None:
        self.idVendor, self.idProduct = VID, PID
        self.serial_number = serial
        self.printer = printer
        self.loop = loop
        self._ctx = FakeContext()
        self.kernel_driver_active = True  # usblp has it, as on a fresh Linux box
        self.detached: list[int] = []
        self.timeouts: list[Any] = []
        self.packets: list[int] = []
        self.unplug_after: int | None = None  # bytes written before the cable comes out
        self.written = 0
        self.gone = False
        self._replies = bytearray()
        self._cond = threading.Condition()
        self.interface = FakeInterface(0, [FakeEndpoint(0x83, 0x03), FakeEndpoint(0x01), FakeEndpoint(0x82)])

    # -- configuration ------------------------------------------------------------------

    def get_active_configuration(self) -> list[FakeInterface]:
        return [self.interface]

    def is_kernel_driver_active(self, interface: int) -> bool:
        return self.kernel_driver_active

    def detach_kernel_driver(self, interface: int) -> None:
        self.kernel_driver_active = False
        self.detached.append(interface)

    # -- transfers (called from the link's threads) ----------------------------------------

    def write(self, endpoint: int, data: Any, timeout: Any = None) -> int:
        self.timeouts.append(timeout)
        assert endpoint == 0x01
        data = bytes(data)
        if self.gone or (self.unplug_after is not None and self.written >= self.unplug_after):
            self.unplug()
            raise usb.core.USBError("No such device (it may have been disconnected)", errno=errno.ENODEV)
        self.packets.append(len(data))
        reply = asyncio.run_coroutine_threadsafe(self._to_printer(data), self.loop).result(IO_TIMEOUT)
        self.written += len(data)
        with self._cond:
            self._replies += reply
            self._cond.notify_all()
        return len(data)

    async def _to_printer(self, data: bytes) -> bytes:
        return self.printer.received(data)

    def read(self, endpoint: int, size: int, timeout: Any = None) -> array.array[int]:
        self.timeouts.append(timeout)
        assert endpoint == 0x82
        with self._cond:
            if not self._replies and not self.gone:
                self._cond.wait(timeout / 1000)  # as libusb: wait for data up to the timeout
            if self.gone:
                raise usb.core.USBError("No such device (it may have been disconnected)", errno=errno.ENODEV)
            if not self._replies:
                raise usb.core.USBTimeoutError("Operation timed out", errno=errno.ETIMEDOUT)
            data = bytes(self._replies[:size])
            del self._replies[:size]
        return array.array("B", data)

    def unplug(self) -> None:
        with self._cond:
            self.gone = True
            self._cond.notify_all()


class UsbBus:
    """What the patched ``usb.core.find`` sees: the devices plugged in right now."""

    def __init__(self) -> None:
        self.devices: list[FakeUsbPrinter] = []
        self.finds = 0

    def find(self, find_all: bool = False, custom_match: Any = None, **ids: Any) -> FakeUsbPrinter | None:
        assert not find_all
        self.finds += 1
        for device in self.devices:
            if device.gone:
                continue
            if all(getattr(device, key) == value for key, value in ids.items()) and (
                custom_match is None or custom_match(device)
            ):
                return device
        return None


@pytest.fixture
def printer(tmp_path: Path) -> PrinterDevice:
    return PrinterDevice(PrinterConfig(output=tmp_path / "receipts", png=False, drawer_close_seconds=0))


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> UsbBus:
    fake_bus = UsbBus()
    monkeypatch.setattr(usb.core, "find", fake_bus.find)
    return fake_bus


@pytest.fixture
async def make_driver() -> AsyncIterator[Callable[..., PrinterDriver]]:
    drivers: list[PrinterDriver] = []

    def make(url: str = URL, **overrides: Any) -> PrinterDriver:
        options: dict[str, Any] = {
            "status_timeout": 1.0,
            "poll_interval": 0.02,
            "backoff": Backoff(0.02, 0.1),
        }
        driver = PrinterDriver(url, **{**options, **overrides})
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        await driver.close()


def receipt() -> bytes:
    table = escpos.CodeTable.CP865
    return b"".join(
        [
            escpos.initialise(),
            escpos.select_code_table(table),
            escpos.encode_text("USB-KVITTO\n", table),
            escpos.encode_text("Räksmörgås           45,00\n", table),
            escpos.encode_text("Ål och ägg på bröd   30,50\n", table),
            escpos.encode_text("SUMMA                75,50\n", table),
            escpos.cut(),
        ]
    )


RECEIPT_TEXT = (
    "USB-KVITTO\nRäksmörgås           45,00\nÅl och ägg på bröd   30,50\nSUMMA                75,50\n"
)


def test_usb_addresses() -> None:
    assert parse_usb_url("usb://04b8:0202") == UsbAddress(0x04B8, 0x0202)
    assert parse_usb_url("usb://0x0416:5011/ABC123") == UsbAddress(0x0416, 0x5011, "ABC123")
    for bad in ("usb://04b8", "usb://04b8:zzzz", "usb://10000:1", "usb://"):
        with pytest.raises(LinkError, match="a USB address is written usb://VID:PID"):
            parse_usb_url(bad)


async def test_a_receipt_prints_over_usb_with_explicit_timeouts(
    bus: UsbBus, printer: PrinterDevice, make_driver: Callable[..., PrinterDriver]
) -> None:
    device = FakeUsbPrinter(printer, asyncio.get_running_loop())
    bus.devices.append(device)
    driver = make_driver()

    result = await within(driver.print(receipt()))

    assert (result.outcome, result.sends) == (Outcome.PRINTED, 1)
    assert [p.read_text(encoding="utf-8") for p in printer.receipts] == [RECEIPT_TEXT]
    assert device.detached == [0] and device._ctx.claimed == [0]  # usblp let go, then claimed
    assert set(device.timeouts) <= {READ_TIMEOUT_MS, WRITE_TIMEOUT_MS}  # never 0 or None (for ever)
    assert max(device.packets) <= PACKET  # a packet at a time: a NAKed one is simply retried

    await driver.close()
    assert device._ctx.released == [0] and device._ctx.disposed == 1


async def test_the_serial_number_picks_the_printer(
    bus: UsbBus, printer: PrinterDevice, make_driver: Callable[..., PrinterDriver]
) -> None:
    bus.devices.append(FakeUsbPrinter(printer, asyncio.get_running_loop(), serial="J8CF000042"))
    assert (await within(make_driver(f"{URL}/J8CF000042").start())).state is DeviceState.READY

    health = await within(make_driver(f"{URL}/OTHER").start())
    assert health.reason == (
        f"failed: cannot open {URL}/OTHER: no USB device 04b8:0202 serial OTHER — check that the printer "
        "is on and its USB cable is in, and look for it with `lsusb`"
    )


async def test_no_usb_printer_is_a_state_in_words(
    bus: UsbBus, make_driver: Callable[..., PrinterDriver]
) -> None:
    health = await within(make_driver().start())
    assert health.state is DeviceState.FAILED
    assert health.reason.startswith(f"failed: cannot open {URL}: no USB device 04b8:0202 — check that")


async def test_a_printer_unplugged_mid_job_gets_the_job_again_when_plugged_back(
    bus: UsbBus, printer: PrinterDevice, make_driver: Callable[..., PrinterDriver]
) -> None:
    loop = asyncio.get_running_loop()
    first = FakeUsbPrinter(printer, loop)
    first.unplug_after = PACKET  # one packet reaches the printer: two lines and part of a third
    bus.devices.append(first)
    driver = make_driver()
    await within(driver.start())
    first.written = 0  # count the job's bytes only

    job = driver.submit(receipt())
    await within(driver.wait_for(DeviceState.FAILED))
    assert driver.reason.startswith(f"failed: the USB printer {URL} went away")
    printer.line_reset()  # re-enumerated: the printer's USB side starts afresh
    bus.devices.append(FakeUsbPrinter(printer, loop))
    result = await within(job)

    assert (result.outcome, result.sends) == (Outcome.PRINTED, 2)
    texts = [p.read_text(encoding="utf-8") for p in printer.receipts]
    # What printed before the unplug is cut off on its own; then the whole receipt.
    assert texts == ["USB-KVITTO\nRäksmörgås           45,00\n", RECEIPT_TEXT]
