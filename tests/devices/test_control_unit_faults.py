"""The CCSP driver against the simulated unit, for every fault it can inject, over a pty and TCP.

Each case asserts the whole outcome: the control code the driver returns is the one the
unit stored, journal memory holds exactly one record for the sequence number (never two,
never a gap), and the driver's state, reason, exception and NAK code are exactly right.
The checks the XCCSP driver must pass as well are in unit_faults.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway.devices import ControlUnitDriver, DeviceState
from protocols.ccsp import NakCode
from protocols.skv import ControlData
from tests.devices.unit_faults import (
    almost_full_memory_degrades_and_recovers,
    busy_wait_ends_when_the_unit_is_free,
    lasting_fault_fails_then_the_same_seq_registers,
    passing_fault_costs_a_retry,
    refusal_is_final,
    stored,
    switch_on,
    watched_unit_fails_and_recovers_while_idle,
)

# The fixtures' shapes (see tests/conftest.py).
UnitFactory = Callable[..., ControlUnit]
DriverFactory = Callable[..., Awaitable[ControlUnitDriver]]
ReceiptFactory = Callable[..., ControlData]
Serve = Callable[[ControlUnit, str], AbstractAsyncContextManager[str]]

POS_ID = "KASSA1"  # the conftest's receipts and drivers use this POS id

MEMORY_FULL = "failed: control unit memory full — order a new control unit or have it emptied"


# fault, how many tries it takes (None where the count depends on the clock)
RECOVERED = [
    pytest.param("no-reply*1", 2, id="no-reply"),
    pytest.param("corrupt-lrc*1", 2, id="corrupt-lrc"),
    pytest.param("slow=0.5*1", None, id="slow-beyond-deadline"),
    pytest.param("nak=1*1", 2, id="nak-001-our-lrc"),
    pytest.param("nak=6*1", 2, id="nak-006-not-operational"),
    pytest.param("busy*1", 2, id="busy-once"),
    pytest.param("busy*2", 3, id="busy-beyond-busy-timeout"),
    pytest.param("power-cut=after-store*1", None, id="power-cut-after-store"),
    pytest.param("power-cut=before-store*1", None, id="power-cut-before-store"),
    pytest.param("power-cut=after-store", None, id="power-cut-after-store-every-time"),
    pytest.param("noise*1", 1, id="noise"),
    pytest.param("noise=2000*1", 1, id="noise-long"),
]


@pytest.mark.parametrize(("fault", "tries"), RECOVERED)
async def test_a_passing_fault_costs_a_retry_never_a_receipt(
    unit: ControlUnit, driver: ControlUnitDriver, receipt: ReceiptFactory, fault: str, tries: int | None
) -> None:
    done = await passing_fault_costs_a_retry(unit, driver, receipt, fault, tries)

    notes = [f.note for f in done.frames]
    if fault.startswith("corrupt-lrc"):
        assert any("LRC mismatch" in n for n in notes)
    if fault.startswith("noise"):
        assert any(n.startswith("dropped:") for n in notes)
    if fault.startswith("slow"):
        # The late answer to the first RR was read past (skipped, or dropped as stale).
        assert any(n.startswith(("skipped", "stale")) for n in notes)


REFUSED = [
    pytest.param("nak=3", NakCode.INVALID_DATA, DeviceState.READY, "ready", id="nak-003"),
    pytest.param(
        "nak=7",
        NakCode.INVALID_POS_ID,
        DeviceState.FAILED,
        f"failed: this register's POS id {POS_ID!r} is not licensed in the control unit — "
        "use the POS id the unit was registered with, or have the supplier add this one",
        id="nak-007",
    ),
    pytest.param(
        "nak=8",
        NakCode.INTERNAL_ERROR,
        DeviceState.DEGRADED,
        "degraded: the control unit reported an internal error — restart it; if it persists, "
        "call the supplier",
        id="nak-008",
    ),
    pytest.param(
        "nak=9",
        NakCode.LICENSE_EXCEEDED,
        DeviceState.FAILED,
        f"failed: the control unit has no free licence for POS id {POS_ID!r} — "
        "buy another licence or free one from a register no longer in use",
        id="nak-009",
    ),
    pytest.param("nak=10", NakCode.STORAGE_FULL, DeviceState.FAILED, MEMORY_FULL, id="nak-010"),
    pytest.param("storage-full", NakCode.STORAGE_FULL, DeviceState.FAILED, MEMORY_FULL, id="storage-full"),
]


@pytest.mark.parametrize(("fault", "code", "state", "reason"), REFUSED)
async def test_a_refusal_is_final_and_registers_nothing(
    unit: ControlUnit,
    driver: ControlUnitDriver,
    receipt: ReceiptFactory,
    fault: str,
    code: NakCode,
    state: DeviceState,
    reason: str,
) -> None:
    await refusal_is_final(unit, driver, receipt, fault, code, state, reason)


def unavailable_reason(fault: str, url: str) -> str:
    return {
        "no-reply": f"failed: no answer from the control unit on {url} after 4 tries — "
        "check the cable and power",
        "corrupt-lrc": f"failed: every answer from the control unit on {url} arrived damaged (4 tries) — "
        "check the cable and keep it away from power leads",
        "nak=1": f"failed: the control unit on {url} received damaged frames from the register (4 tries) — "
        "check the cable and keep it away from power leads",
        "busy": f"failed: the control unit on {url} stayed busy for more than 0.3 s — "
        "wait a minute and try again; if it stays busy, restart it",
        "power-cut=before-store": f"failed: no answer from the control unit on {url} after 4 tries — "
        "check the cable and power",
    }[fault]


# fault, and whether the unit stored the receipt although no answer got through
LASTING = [
    pytest.param("no-reply", False, id="no-reply"),
    pytest.param("corrupt-lrc", True, id="corrupt-lrc"),  # stored; every answer damaged
    pytest.param("nak=1", False, id="nak-001"),
    pytest.param("busy", False, id="busy"),
    pytest.param("power-cut=before-store", False, id="power-cut-before-store"),
]


@pytest.mark.parametrize(("fault", "stored_anyway"), LASTING)
async def test_a_lasting_fault_fails_in_words_and_the_same_seq_registers_once_it_clears(
    unit: ControlUnit,
    unit_url: str,
    driver: ControlUnitDriver,
    receipt: ReceiptFactory,
    fault: str,
    stored_anyway: bool,
) -> None:
    expected = {unavailable_reason(fault, unit_url)}
    if fault.startswith("power-cut") and unit_url.startswith("socket://"):
        # Over TCP a dying unit also hangs up: the last try may end either way.
        expected.add(f"failed: the connection to {unit_url} was lost — check the cable and power")
    await lasting_fault_fails_then_the_same_seq_registers(
        unit, driver, receipt, fault, stored_anyway, expected
    )


async def test_busy_wait_ends_when_the_unit_is_free(
    unit: ControlUnit,
    unit_url: str,
    make_driver: DriverFactory,
    receipt: ReceiptFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = await make_driver(unit_url, busy_timeout=30.0)  # NAK 006, then SIQ says busy

    await busy_wait_ends_when_the_unit_is_free(unit, driver, receipt, monkeypatch)


async def test_almost_full_memory_degrades_and_recovers(
    unit: ControlUnit, driver: ControlUnitDriver, receipt: ReceiptFactory
) -> None:
    await almost_full_memory_degrades_and_recovers(unit, driver, receipt)


async def test_a_dropped_tcp_line_is_reopened(
    make_unit: UnitFactory, make_driver: DriverFactory, receipt: ReceiptFactory, serve: Serve
) -> None:
    unit = make_unit()
    async with serve(unit, "tcp") as url:
        driver = await make_driver(url)
        switch_on(unit, "power-cut=after-store*1")  # the unit hangs up as it dies

        done = await driver.register(1, receipt(1))

        assert driver.link_opens == 2
        assert [done.code] == [r.code for r in stored(unit, 1)]
        assert driver.state is DeviceState.READY


async def test_a_watched_unit_is_seen_to_fail_and_recover_while_idle(
    unit: ControlUnit, unit_url: str, make_driver: DriverFactory
) -> None:
    driver = await make_driver(unit_url, watch_interval=0.05, retries=0)

    await watched_unit_fails_and_recovers_while_idle(
        unit, driver, f"failed: no answer from the control unit on {unit_url} after 1 try"
    )
