"""The receipt pipeline against the real simulated unit: codes, numbers, refusals, doubt, copies."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit, Fault
from gateway.common.signing import Signer, Verifier
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.journal import open_readonly, verify
from gateway.fiscal.pipeline import Pipeline
from gateway.receipts.model import Receipt, ReceiptError

PipelineFactory = Callable[..., Awaitable[Pipeline]]
Sale = Callable[..., Receipt]


def journal_kinds(tmp_path: Path) -> list[str]:
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        return [row[0] for row in conn.execute("SELECT kind FROM journal ORDER BY seq")]


def verified(tmp_path: Path, signer: Signer) -> int:
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        report = verify(conn, Verifier(signer.public), all_signatures=True)
    assert report.ok, report.problem
    return report.entries


def unit_codes(unit: ControlUnit) -> list[tuple[str, str]]:
    """(receipt number, code) of every registration in the unit's journal memory."""
    return [(r.data.split("|")[3], r.code) for r in unit.memory.records()]


async def test_a_receipt_gets_the_units_code_a_number_and_a_signed_journal_entry(
    unit: ControlUnit,
    unit_url_any: str,
    make_pipeline: PipelineFactory,
    sale: Sale,
    tmp_path: Path,
    signer: Signer,
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    first = await pipeline.submit("pos-1", sale())
    second = await pipeline.submit("pos-2", sale(45_00, qty="2"))
    assert (first.receipt_no, second.receipt_no) == (1, 2)
    assert unit_codes(unit) == [("1", first.control_code), ("2", second.control_code)]
    assert first.unit_id == unit.unit_id
    assert journal_kinds(tmp_path) == ["receipt.pending", "receipt", "receipt.pending", "receipt"]
    assert verified(tmp_path, signer) == 4


async def test_a_repeated_id_returns_the_first_result_and_registers_once(
    unit: ControlUnit, unit_url_any: str, make_pipeline: PipelineFactory, sale: Sale
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    first = await pipeline.submit("pos-1", sale())
    again = await pipeline.submit("pos-1", sale())
    assert again == first
    assert len(unit.memory.records()) == 1


async def test_bad_input_is_refused_before_anything_is_written(
    unit_url_any: str, make_pipeline: PipelineFactory, sale: Sale, tmp_path: Path
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    bad = sale()
    bad = type(bad)(bad.lines, ())
    with pytest.raises(ReceiptError, match="payments"):
        await pipeline.submit("pos-1", bad)
    assert journal_kinds(tmp_path) == []


async def test_a_refusal_does_not_burn_the_number(
    unit: ControlUnit,
    unit_url_any: str,
    make_pipeline: PipelineFactory,
    sale: Sale,
    tmp_path: Path,
    signer: Signer,
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    unit.faults.set(Fault.STORAGE_FULL)
    with pytest.raises(FiscalError) as info:
        await pipeline.submit("pos-1", sale())
    assert info.value.code == "control_unit_refused" and info.value.status == 503
    assert "memory full" in info.value.message
    # The same id gets the same refusal; a new one, once the unit works, takes number 1.
    with pytest.raises(FiscalError, match="memory full"):
        await pipeline.submit("pos-1", sale())
    unit.faults.clear()
    done = await pipeline.submit("pos-2", sale())
    assert done.receipt_no == 1
    assert journal_kinds(tmp_path) == ["receipt.pending", "receipt.refused", "receipt.pending", "receipt"]
    assert verified(tmp_path, signer) == 4


async def test_no_answer_leaves_the_receipt_in_doubt_until_the_unit_answers(
    unit: ControlUnit, unit_url_any: str, make_pipeline: PipelineFactory, sale: Sale, tmp_path: Path
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    unit.faults.set(Fault.POWER_CUT, "after-store", times=1)  # stored, then dead
    unit.faults.set(Fault.NO_REPLY)  # and silent while the driver retries
    with pytest.raises(FiscalError) as info:
        await pipeline.submit("pos-1", sale())
    assert info.value.code == "control_unit_unavailable"
    assert "receipt 1 waits for the control unit" in info.value.message
    with pytest.raises(FiscalError, match="unavailable"):
        await pipeline.submit("pos-2", sale(10_00))  # no new sale while receipt 1 is in doubt
    unit.faults.clear()
    later = await pipeline.submit("pos-2", sale(10_00))
    assert later.receipt_no == 2
    first = await pipeline.submit("pos-1", sale())  # the POS asks again for its receipt
    assert first.receipt_no == 1
    # The unit held receipt 1 from before the power cut: its first code, stored once.
    assert unit_codes(unit) == [("1", first.control_code), ("2", later.control_code)]


async def test_a_restart_resolves_what_a_crash_left_in_doubt(
    unit: ControlUnit,
    unit_url_any: str,
    make_pipeline: PipelineFactory,
    sale: Sale,
    tmp_path: Path,
    signer: Signer,
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    unit.faults.set(Fault.NO_REPLY)
    with pytest.raises(FiscalError):
        await pipeline.submit("pos-1", sale())
    unit.faults.clear()
    await pipeline.unit.close()  # the crashed process let go of the port
    restarted = await make_pipeline(unit_url_any)  # start() reconciles before any new sale
    found = await restarted.find(1)
    assert found is not None and found.request_id == "pos-1"
    assert unit_codes(unit) == [("1", found.control_code)]
    assert (await restarted.submit("pos-2", sale())).receipt_no == 2
    verified(tmp_path, signer)


async def test_one_copy_per_receipt_registered_as_kopia(
    unit: ControlUnit, unit_url_any: str, make_pipeline: PipelineFactory, sale: Sale
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    original = await pipeline.submit("pos-1", sale())
    copy = await pipeline.copy(1)
    assert (copy.receipt_no, copy.kind) == (1, "kopia")
    assert copy.control_code != original.control_code
    assert [r.data.split("|")[4] for r in unit.memory.records()] == ["normal", "kopia"]
    with pytest.raises(FiscalError) as info:
        await pipeline.copy(1)
    assert (info.value.code, info.value.status) == ("copy_exists", 409)
    with pytest.raises(FiscalError) as info:
        await pipeline.copy(99)
    assert info.value.status == 404
    assert "KOPIA" in pipeline.receipt_text(copy)


async def test_cash_rounding_and_return_figures_reach_the_unit(
    unit: ControlUnit, unit_url_any: str, make_pipeline: PipelineFactory
) -> None:
    from decimal import Decimal

    from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt

    pipeline = await make_pipeline(unit_url_any)
    await pipeline.submit(
        "pos-1", Receipt((Line("Bulle", Decimal(1), 18_40, 1200),), (Payment(PaymentMethod.CASH, 20_00),))
    )
    await pipeline.submit(
        "pos-2", Receipt((Line("Bulle", Decimal(-1), 18_40, 1200),), (Payment(PaymentMethod.CARD, -18_40),))
    )
    sold, returned = (r.data.split("|") for r in unit.memory.records())
    assert sold[5:7] == ["18,00", "0,00"]  # what the customer paid: rounded cash
    assert returned[5:7] == ["-18,40", "18,40"]
    assert sold[7:] == ["12,00;1,97", "", "", ""]


async def test_tampering_is_named_by_verify(
    unit_url_any: str, make_pipeline: PipelineFactory, sale: Sale, tmp_path: Path, signer: Signer
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    for n in range(5):
        await pipeline.submit(f"pos-{n}", sale(100_00 + n))
    await pipeline.store.close()
    path = tmp_path / "till" / "till.db"
    pristine = path.read_bytes()

    def tamper(*statements: str) -> str | None:
        path.write_bytes(pristine)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        conn = sqlite3.connect(path)  # an attacker with the file: triggers off first
        try:
            conn.execute("DROP TRIGGER journal_never_changed")
            conn.execute("DROP TRIGGER journal_never_deleted")
            for sql in statements:
                conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
        with open_readonly(path) as conn:
            report = verify(conn, Verifier(signer.public))
        assert not report.ok
        return report.problem

    body = "json_set(body, '$.control_code', 'FORGED')"
    assert tamper(f"UPDATE journal SET body = {body} WHERE seq = 4") == (
        "entry 4 was changed: its content no longer matches its hash"
    )
    assert tamper("DELETE FROM journal WHERE seq = 6") == "entry 6 removed: the journal jumps to entry 7"
    assert (
        tamper(
            "UPDATE journal SET seq = -1 WHERE seq = 3",
            "UPDATE journal SET seq = 3 WHERE seq = 5",
            "UPDATE journal SET seq = 5 WHERE seq = -1",
        )
        == "entry 2 was changed, removed or reordered: entry 3 does not follow it"
    )
    problem = tamper(f"UPDATE journal SET body = {body} WHERE seq = 4")
    assert problem is not None and "entry 4" in problem
    assert json.loads(json.dumps(problem))


# Every fault of the simulated unit, and what the POS is told (docs/fiscal-path.md).
FAULT_OUTCOMES = [
    pytest.param(Fault.NO_REPLY, None, 1, "registered", id="no-reply once: retried"),
    pytest.param(Fault.CORRUPT_LRC, None, 1, "registered", id="corrupt-lrc once: retried"),
    pytest.param(Fault.NOISE, None, 1, "registered", id="noise: resynchronised"),
    pytest.param(Fault.SLOW, "0.05", None, "registered", id="slow within the deadline"),
    pytest.param(Fault.BUSY, None, 2, "registered", id="busy twice: waited"),
    pytest.param(Fault.STORAGE_HIGH, None, None, "registered", id="storage-high: registered, warned"),
    pytest.param(Fault.POWER_CUT, "after-store", 1, "registered", id="power-cut after store: same code"),
    pytest.param(Fault.POWER_CUT, "before-store", 1, "registered", id="power-cut before store: sent again"),
    pytest.param(Fault.NAK, "7", None, "control_unit_refused", id="nak 007: refused"),
    pytest.param(Fault.STORAGE_FULL, None, None, "control_unit_refused", id="storage-full: refused"),
    pytest.param(Fault.NO_REPLY, None, None, "control_unit_unavailable", id="no-reply: in doubt"),
]


@pytest.mark.parametrize(("fault", "arg", "times", "outcome"), FAULT_OUTCOMES)
async def test_every_fault_of_the_unit_has_its_documented_outcome(
    unit: ControlUnit,
    unit_url_any: str,
    make_pipeline: PipelineFactory,
    sale: Sale,
    fault: Fault,
    arg: str | None,
    times: int | None,
    outcome: str,
) -> None:
    pipeline = await make_pipeline(unit_url_any)
    unit.faults.set(fault, arg, times)
    if outcome == "registered":
        done = await pipeline.submit("pos-1", sale())
        assert unit_codes(unit) == [("1", done.control_code)]  # stored once, the code we hold
        if fault is Fault.STORAGE_HIGH:
            assert "almost full" in pipeline.unit.reason
        return
    with pytest.raises(FiscalError) as info:
        await pipeline.submit("pos-1", sale())
    assert info.value.code == outcome
    unit.faults.clear()
    done = await pipeline.submit("pos-2", sale())
    # Refused: number 1 was not burnt. In doubt: receipt 1 was resolved first, then 2 came.
    assert done.receipt_no == (1 if outcome == "control_unit_refused" else 2)
    assert sorted(no for no, _ in unit_codes(unit)) == (["1"] if done.receipt_no == 1 else ["1", "2"])
