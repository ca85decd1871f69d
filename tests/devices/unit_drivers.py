"""What the tests of the control-unit drivers share besides the fault checks
(unit_faults.py): drivers made, started and closed after the test; a hand-made HTTP
server for answers no simulator gives; and the flows both cloud drivers (TCS, srv4pos)
must pass against their simulated services.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit
from gateway.devices import ControlUnitUnavailable, DeviceState, Registration
from gateway.devices.control_units.interface import ControlUnit as Driver
from protocols.skv import ControlData
from tests.devices.unit_faults import stored, switch_on

ReceiptFactory = Callable[..., ControlData]


class _Closable(Protocol):
    async def start(self) -> object: ...

    async def close(self) -> None: ...


D = TypeVar("D", bound=_Closable)


@contextlib.asynccontextmanager
async def driver_factory(
    build: Callable[..., D], *, start: bool = True
) -> AsyncIterator[Callable[..., Awaitable[D]]]:
    """``await make(*args, start=…, **overrides)``: ``build(*args, **overrides)``, started
    unless ``start`` says not (default: ``start``); every driver made is closed after."""
    drivers: list[D] = []
    default_start = start

    async def make(*args: Any, start: bool = default_start, **overrides: Any) -> D:
        driver = build(*args, **overrides)
        drivers.append(driver)
        if start:
            await driver.start()
        return driver

    try:
        yield make
    finally:
        for driver in drivers:
            await driver.close()


@contextlib.asynccontextmanager
async def serve_handler(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]], path: str = "/xccsp"
) -> AsyncIterator[str]:
    """A hand-made server on 127.0.0.1 answering POSTs to ``path``; yields its URL."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


async def a_lost_answer_is_resolved(
    unit: ControlUnit, driver: Driver, receipt: ReceiptFactory, seq: int, key: str
) -> Registration:
    """The unit stores receipt 1 and the answer is lost: the retry gets the stored code
    back, and every try sent the same document."""
    switch_on(unit, "power-cut=after-store*1")

    done = await driver.register(seq, receipt(1))

    [record] = stored(unit, key)
    assert done.code == record.code and done.attempts >= 2 and len(unit.memory) == 1
    sent = {f.data for f in done.frames if f.direction == "tx"}
    assert len(sent) == 1
    return done


async def no_reply_then_one_registration(
    unit: ControlUnit, driver: Driver, receipt: ReceiptFactory, seq: int
) -> tuple[ControlUnitUnavailable, Registration]:
    """A silent unit makes the driver fail; once it answers, the resend of receipt 1 and
    a second resend register it once, with one code. Returns the failure and the first."""
    switch_on(unit, "no-reply")

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(seq, receipt(1))

    assert driver.state.value == "failed"  # by value: mypy would keep the narrowing below
    unit.faults.clear()
    first = await driver.register(seq, receipt(1))
    again = await driver.register(seq, receipt(1))  # a resend after a crash: same answer
    assert first.code == again.code and len(unit.memory) == 1
    assert driver.state is DeviceState.READY
    return unavailable.value, first
