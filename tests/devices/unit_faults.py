"""The fault-to-outcome checks the CCSP and XCCSP drivers must both pass.

Both drivers promise the same thing whatever strikes: the code they return is the one
the simulated unit stored, journal memory holds exactly one record for the sequence
number, and state, reason, exception and NAK code are exactly right. The test modules
(test_control_unit_faults.py, test_xccsp_unit.py) keep their own fault lists and the
words their protocol uses, and call these for what they share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.faults import parse_fault
from firmware_sim.control_unit.memory import Record
from firmware_sim.control_unit.unit import Status
from gateway.devices import ControlUnitRefused, ControlUnitUnavailable, DeviceState, Health, Registration
from gateway.devices.control_units.interface import ControlUnit as Driver
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData

ReceiptFactory = Callable[..., ControlData]

ALMOST_FULL = "degraded: journal memory almost full — order a new control unit or have it emptied"


def switch_on(unit: ControlUnit, text: str) -> None:
    """A fault as the simulator's stdin takes it: ``no-reply*1``, ``nak=8``, …"""
    unit.faults.set(*parse_fault(text))


def stored(unit: ControlUnit, seq: int | str) -> list[Record]:
    """The records journal memory holds for sequence number ``seq``, or under the key ``seq``."""
    key = seq if isinstance(seq, str) else f"seq:{seq}"
    return [r for r in unit.memory.records() if r.key == key]


async def passing_fault_costs_a_retry(
    unit: ControlUnit, driver: Driver, receipt: ReceiptFactory, fault: str, tries: int | None
) -> Registration:
    """Receipt 2 under ``fault`` registers once, in ``tries`` tries (None: two or more)."""
    first = await driver.register(1, receipt(1))
    switch_on(unit, fault)

    done = await driver.register(2, receipt(2))

    [record] = stored(unit, 2)
    assert done.code == record.code and done.code != first.code
    assert done.unit_id == unit.unit_id
    assert [r.key for r in unit.memory.records()] == ["seq:1", "seq:2"]
    assert (done.main, done.storage) == (MainStatus.OK, StorageStatus.OK)
    assert (driver.state, driver.reason) == (DeviceState.READY, "ready")
    if tries is not None:
        assert done.attempts == tries
    else:
        assert done.attempts >= 2
    return done


async def refusal_is_final(
    unit: ControlUnit,
    driver: Driver,
    receipt: ReceiptFactory,
    fault: str,
    code: NakCode,
    state: DeviceState,
    reason: str,
) -> ControlUnitRefused:
    """Receipt 1 under ``fault`` is refused with ``code``, stores nothing, leaves ``reason``."""
    switch_on(unit, fault)

    with pytest.raises(ControlUnitRefused) as refused:
        await driver.register(1, receipt(1))

    assert refused.value.code == code
    # What the unit said, with its number ("NAK 007 …", "Fault 7 …"), then what to do.
    assert str(int(code)) in refused.value.said
    assert str(refused.value) == f"the control unit refused it: {refused.value.said} — {refused.value.words}"
    assert stored(unit, 1) == []
    assert (driver.state, driver.reason) == (state, reason)
    return refused.value


async def lasting_fault_fails_then_the_same_seq_registers(
    unit: ControlUnit,
    driver: Driver,
    receipt: ReceiptFactory,
    fault: str,
    stored_anyway: bool,
    reasons: set[str],
) -> None:
    """Receipt 1 under ``fault`` fails with one of ``reasons``; once it clears, the same
    receipt registers once (the one stored blind, if the unit stored it)."""
    switch_on(unit, fault)

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(1, receipt(1))

    assert driver.state is DeviceState.FAILED and driver.reason in reasons
    assert str(unavailable.value) == "control unit unavailable: " + driver.reason.removeprefix("failed: ")
    before = stored(unit, 1)
    assert len(before) == (1 if stored_anyway else 0)

    unit.faults.clear()
    status = await driver.status()  # retries outlast a unit still dark from a power cut
    # CCSP's SIR does not carry the storage status: nothing registered yet, nothing known.
    assert status.main is MainStatus.OK and status.storage in (StorageStatus.OK, None)
    assert (driver.state, driver.reason) == (DeviceState.READY, "ready")

    done = await driver.register(1, receipt(1))  # the POS tries the same receipt again
    [record] = stored(unit, 1)
    assert done.code == record.code
    assert before in ([], [record])  # a receipt stored blind is the one now answered
    assert len(unit.memory) == 1


async def busy_wait_ends_when_the_unit_is_free(
    unit: ControlUnit, driver: Driver, receipt: ReceiptFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit busy at once: the driver waits for it, and the wait costs no try of its own."""
    saw_busy = asyncio.Event()
    real_status = unit.current_status

    def watched_status() -> Status:
        status = real_status()
        if status.main is MainStatus.BUSY:
            saw_busy.set()
        return status

    monkeypatch.setattr(unit, "current_status", watched_status)
    switch_on(unit, "busy")
    registering = asyncio.create_task(driver.register(1, receipt(1)))
    await saw_busy.wait()  # the driver was told "not operational" and asked the status: it waits now
    unit.faults.clear()

    done = await registering

    assert done.attempts == 2  # the wait for "not busy" cost no try of its own
    assert [done.code] == [r.code for r in stored(unit, 1)]
    assert driver.state is DeviceState.READY


async def almost_full_memory_degrades_and_recovers(
    unit: ControlUnit, driver: Driver, receipt: ReceiptFactory
) -> None:
    changes: list[Health] = []
    driver.on_change(changes.append)
    switch_on(unit, "storage-high")

    warned = await driver.register(1, receipt(1))

    assert (warned.main, warned.storage) == (MainStatus.WARNING, StorageStatus.HIGH_LEVEL_WARNING)
    assert warned.code == stored(unit, 1)[0].code
    assert driver.state is DeviceState.DEGRADED
    assert driver.reason == ALMOST_FULL

    unit.faults.clear()
    ok = await driver.register(2, receipt(2))

    assert ok.storage is StorageStatus.OK
    assert (driver.state, driver.reason) == (DeviceState.READY, "ready")
    assert [h.state for h in changes] == [DeviceState.DEGRADED, DeviceState.READY]


async def watched_unit_fails_and_recovers_while_idle(
    unit: ControlUnit, driver: Driver, failed_as: str
) -> None:
    """A driver watching with no retries sees a silent unit fail (reason ``failed_as``…) and come back."""
    switch_on(unit, "no-reply")

    failed = await driver.wait_for(DeviceState.FAILED)
    assert failed.reason.startswith(failed_as)

    unit.faults.clear()
    ready = await driver.wait_for(DeviceState.READY)
    assert ready.reason == "ready"
