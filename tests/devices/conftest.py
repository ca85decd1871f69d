"""Fixtures of the printer-driver and drawer tests (their helpers: printer_parts.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from firmware_sim.printer import PrinterDevice
from gateway.common.backoff import Backoff
from gateway.devices.printer.driver import PrinterDriver
from tests.devices.printer_parts import FAST, PrinterFactory, serve


@pytest.fixture
async def make_printer() -> AsyncIterator[PrinterFactory]:
    """``make_printer(url, **overrides)``: a fast driver, closed after the test."""
    drivers: list[PrinterDriver] = []

    def make(url: str, **overrides: Any) -> PrinterDriver:
        options = {**FAST, "backoff": Backoff(initial=0.02, maximum=0.1), **overrides}
        driver = PrinterDriver(url, **options)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        await driver.close()


@pytest.fixture
async def url(device: PrinterDevice, transport: str) -> AsyncIterator[str]:
    """Where the test's ``device`` is served, over the ``transport`` of the test's parameter."""
    async with serve(device, transport) as address:
        yield address
