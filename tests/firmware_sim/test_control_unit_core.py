"""The simulated unit's own rules: identity, licences, journal memory, control codes, faults."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit, Fault, FaultError, NoReply, Refused, UnitConfig
from firmware_sim.control_unit.faults import parse_fault
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData, ReceiptType, VatSlot

CODE_SHAPE = re.compile(r"^[A-Z2-7]{32};[A-Z2-7]{26}$")


def receipt(no: int = 1, pos_id: str = "KASSA1", total: int = 12500) -> ControlData:
    return ControlData(
        datetime(2026, 11, 21, 12, 0),
        "5561234567",
        pos_id,
        no,
        ReceiptType.NORMAL,
        total,
        0,
        (VatSlot(2500, total // 5),),
    )


async def test_identity_is_seventeen_characters_and_kept_across_restarts(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    first = await unit.identity()
    assert len(first.unit_id) == 17
    unit.close()
    again = ControlUnit(UnitConfig(tmp_path))
    assert (await again.identity()).unit_id == first.unit_id
    assert (tmp_path / "unit.json").stat().st_mode & 0o777 == 0o600


async def test_control_code_has_the_real_shape_and_is_deterministic(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    done = await unit.register("seq:1", receipt())
    assert CODE_SHAPE.match(done.code)
    assert done.unit_id == unit.unit_id and done.main is MainStatus.OK and done.storage is StorageStatus.OK
    other = await unit.register("seq:2", receipt(no=2))
    assert other.code != done.code


async def test_journal_memory_survives_restart_and_a_repeat_is_stored_once(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    done = await unit.register("seq:7", receipt())
    unit.close()
    unit = ControlUnit(UnitConfig(tmp_path))
    again = await unit.register("seq:7", receipt())
    assert again.code == done.code and again.repeat
    assert len(unit.memory.records()) == 1


async def test_same_sequence_number_with_other_data_is_refused(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    await unit.register("seq:7", receipt())
    with pytest.raises(Refused) as info:
        await unit.register("seq:7", receipt(total=999))
    assert info.value.code is NakCode.INVALID_SEQUENCE_NUMBER
    assert len(unit.memory) == 1


async def test_torn_last_record_is_ignored_on_load(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    await unit.register("seq:1", receipt())
    unit.close()
    memory = tmp_path / "journal-memory.jsonl"
    memory.write_bytes(memory.read_bytes() + b'{"pos_id":"KASSA1","key":"seq:2"')
    unit = ControlUnit(UnitConfig(tmp_path))
    assert [r.key for r in unit.memory.records()] == ["seq:1"]


async def test_licences(tmp_path: Path) -> None:
    strict = ControlUnit(UnitConfig(tmp_path / "a", licences=2, pos_ids=("KASSA1",), auto_register=False))
    await strict.register("seq:1", receipt())
    with pytest.raises(Refused) as info:
        await strict.register("seq:1", receipt(pos_id="KASSA2"))
    assert info.value.code is NakCode.INVALID_POS_ID

    auto = ControlUnit(UnitConfig(tmp_path / "b", licences=1))
    await auto.register("seq:1", receipt(pos_id="KASSA1"))
    with pytest.raises(Refused) as info:
        await auto.register("seq:1", receipt(pos_id="KASSA2"))
    assert info.value.code is NakCode.LICENSE_EXCEEDED
    assert (await auto.identity()).pos_ids == ("KASSA1",)

    with pytest.raises(ValueError, match="only 1 licence"):
        ControlUnit(UnitConfig(tmp_path / "c", licences=1, pos_ids=("A", "B")))


async def test_storage_levels_follow_capacity(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path, capacity=10))
    for n in range(1, 9):
        await unit.register(f"seq:{n}", receipt(no=n))
    high = await unit.register("seq:9", receipt(no=9))
    assert high.storage is StorageStatus.HIGH_LEVEL_WARNING and high.main is MainStatus.WARNING
    await unit.register("seq:10", receipt(no=10))
    with pytest.raises(Refused) as info:
        await unit.register("seq:11", receipt(no=11))
    assert info.value.code is NakCode.STORAGE_FULL
    assert (await unit.status()).storage is StorageStatus.FULL


async def test_power_cut_after_store_keeps_the_receipt_before_store_does_not(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path, reboot_seconds=0))
    unit.faults.set(Fault.POWER_CUT, "after-store", times=1)
    with pytest.raises(NoReply):
        await unit.register("seq:1", receipt())
    assert len(unit.memory) == 1
    unit.faults.set(Fault.POWER_CUT, "before-store", times=1)
    with pytest.raises(NoReply):
        await unit.register("seq:2", receipt(no=2))
    assert len(unit.memory) == 1


async def test_counted_fault_strikes_only_that_often(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    unit.faults.set(Fault.NAK, 8, times=2)
    for _ in range(2):
        with pytest.raises(Refused):
            await unit.register("seq:1", receipt())
    assert (await unit.register("seq:1", receipt())).code


def test_fault_text() -> None:
    assert parse_fault("slow=1.5") == (Fault.SLOW, "1.5", None)
    assert parse_fault("no-reply*2") == (Fault.NO_REPLY, None, 2)
    with pytest.raises(FaultError, match="unknown fault 'smoke'"):
        parse_fault("smoke")
    assert parse_fault("nak=42") == (Fault.NAK, "42", None)  # a code no driver knows, on purpose
    with pytest.raises(FaultError, match=r"an error code 1\.\.999"):
        parse_fault("nak=1000")
    with pytest.raises(FaultError, match="after-store or before-store"):
        parse_fault("power-cut=sometimes")
