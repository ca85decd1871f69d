"""Property: whatever passing faults strike, and however often the POS repeats a receipt,
journal memory holds each sequence number exactly once, in order, with the code the
driver returned — never two, never a gap."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.ccsp_server import serve_pty
from firmware_sim.control_unit.faults import parse_fault
from gateway.devices import Backoff, ControlUnitDriver, DeviceState
from protocols.skv import ControlData, ReceiptType, VatSlot

PASSING_FAULTS = [
    "no-reply*1",
    "corrupt-lrc*1",
    "noise*1",
    "power-cut=after-store*1",
    "power-cut=before-store*1",
    "nak=1*1",
    "busy*1",
]

# One step: register the next receipt, or repeat an earlier one; maybe with a fault first.
steps = st.lists(
    st.tuples(st.sampled_from(["next", "repeat"]), st.none() | st.sampled_from(PASSING_FAULTS)),
    min_size=1,
    max_size=4,
)


def data(no: int) -> ControlData:
    return ControlData(
        datetime(2026, 11, 21, 12, 0),
        "5561234567",
        "KASSA1",
        no,
        ReceiptType.NORMAL,
        100 * no,
        0,
        (VatSlot(2500, 20 * no),),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps)
async def test_memory_holds_each_seq_once_whatever_strikes(plan: list[tuple[str, str | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        unit = ControlUnit(UnitConfig(Path(tmp), reboot_seconds=0.05))
        try:
            async with (
                serve_pty(unit) as path,
                ControlUnitDriver(
                    path,
                    "KASSA1",
                    request_timeout=0.1,
                    retries=6,
                    busy_timeout=0.1,
                    busy_poll=0.02,
                    backoff=Backoff(0.01, 0.05),
                ) as driver,
            ):
                codes: dict[int, str] = {}
                for action, fault in plan:
                    seq = len(codes) + 1 if action == "next" or not codes else min(codes)
                    if fault is not None:
                        unit.faults.set(*parse_fault(fault))
                    done = await driver.register(seq, data(seq))
                    assert codes.setdefault(seq, done.code) == done.code
                    records = unit.memory.records()
                    assert [r.key for r in records] == [f"seq:{n}" for n in range(1, len(codes) + 1)]
                    assert [r.code for r in records] == [codes[n] for n in range(1, len(codes) + 1)]
                    unit.faults.clear()
                assert driver.state is DeviceState.READY
        finally:
            unit.close()
