"""Shared fixtures: a fresh simulated control unit, served on a real pty or TCP socket.

The unit is the real simulator (``firmware_sim.control_unit``) in this process, so a
test can switch its faults and read its journal memory directly. Drivers made by
``make_driver`` use short timeouts so that fault tests are quick; nothing here waits
on a clock to synchronise anything.
"""

from __future__ import annotations

import contextlib
import os
import tty
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.ccsp_server import serve_pty, serve_tcp
from gateway.common import i18n
from gateway.common.backoff import Backoff
from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
from protocols.skv import ControlData, ReceiptType, VatSlot

POS_ID = "KASSA1"
ORGNR = "5561234567"

# Small numbers so a fault costs a fraction of a second; generous retries so that a
# simulated power cut (dark for REBOOT_SECONDS) is always outlasted.
FAST_DRIVER: dict[str, Any] = {
    "request_timeout": 0.3,
    "retries": 3,
    "busy_timeout": 0.3,
    "busy_poll": 0.05,
}
REBOOT_SECONDS = 0.2

UnitFactory = Callable[..., ControlUnit]
DriverFactory = Callable[..., Awaitable[ControlUnitDriver]]
ReceiptFactory = Callable[..., ControlData]


def make_receipt_data(
    no: int = 1,
    *,
    pos_id: str = POS_ID,
    total: int = 12500,
    receipt_type: ReceiptType = ReceiptType.NORMAL,
) -> ControlData:
    return ControlData(
        moment=datetime(2026, 11, 21, 12, 0),
        orgnr=ORGNR,
        pos_id=pos_id,
        receipt_no=no,
        receipt_type=receipt_type,
        total=total,
        return_total=0,
        vat=(VatSlot(2500, total // 5),),
    )


@pytest.fixture
def receipt() -> ReceiptFactory:
    """``receipt(no, total=…)``: control data for one receipt of register KASSA1."""
    return make_receipt_data


@pytest.fixture
def make_unit(tmp_path: Path) -> Iterator[UnitFactory]:
    """``make_unit(protocol=1, auto_register=False, …)``: a fresh unit in tmp_path."""
    units: list[ControlUnit] = []

    def make(**config: Any) -> ControlUnit:
        config.setdefault("reboot_seconds", REBOOT_SECONDS)
        unit = ControlUnit(UnitConfig(data_dir=tmp_path / f"unit{len(units)}", **config))
        units.append(unit)
        return unit

    yield make
    for unit in units:
        unit.close()


@pytest.fixture
def unit(make_unit: UnitFactory) -> ControlUnit:
    return make_unit()


@contextlib.asynccontextmanager
async def serve(unit: ControlUnit, transport: str) -> AsyncIterator[str]:
    """Serve ``unit`` over ``"pty"`` or ``"tcp"``; yields the URL a driver opens."""
    server = serve_pty(unit) if transport == "pty" else serve_tcp(unit)
    async with server as url:
        yield url


@pytest.fixture(name="serve")
def serve_fixture() -> Callable[[ControlUnit, str], contextlib.AbstractAsyncContextManager[str]]:
    """``async with serve(unit, "tcp") as url``: serve a unit made in the test."""
    return serve


@pytest.fixture
def pos_id() -> str:
    """The POS id the receipts and drivers of these fixtures use."""
    return POS_ID


@pytest.fixture(params=["pty", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    """Run the test once over a pty and once over TCP."""
    return str(request.param)


@pytest.fixture
async def unit_url(unit: ControlUnit, transport: str) -> AsyncIterator[str]:
    async with serve(unit, transport) as url:
        yield url


@pytest.fixture
async def make_driver() -> AsyncIterator[DriverFactory]:
    """``await make_driver(url, **overrides)``: a fast driver, started, closed after."""
    drivers: list[ControlUnitDriver] = []

    async def make(url: str, *, start: bool = True, **overrides: Any) -> ControlUnitDriver:
        pos_id = overrides.pop("pos_id", POS_ID)
        options = {**FAST_DRIVER, "backoff": Backoff(initial=0.02, maximum=0.2), **overrides}
        driver = ControlUnitDriver(url, pos_id, **options)
        drivers.append(driver)
        if start:
            await driver.start()
        return driver

    yield make
    for driver in drivers:
        await driver.close()


@pytest.fixture
async def driver(unit_url: str, make_driver: DriverFactory) -> ControlUnitDriver:
    """A started driver for the fresh ``unit`` over each transport."""
    return await make_driver(unit_url)


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A serial port with nothing behind it: a pty whose other end never answers."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.fixture(autouse=True)
def _language_of_the_test() -> Iterator[None]:
    """Each test starts in the language the words are written in, and leaves it so: a till
    opened by one test (``Till.open`` applies its ``[shop] language``) does not speak on
    into the next."""
    i18n.use_language(i18n.SOURCE_LANGUAGE)
    yield
    i18n.use_language(i18n.SOURCE_LANGUAGE)
