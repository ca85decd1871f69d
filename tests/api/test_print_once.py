"""A receipt resolved from doubt goes to the printer once: at the start that resolves it, as an original."""

from __future__ import annotations

from pathlib import Path

from firmware_sim.control_unit import ControlUnit, Fault
from gateway.till import Till
from tests.api.conftest import ApiFactory, sale


def printed_with(output: Path, code: str) -> list[str]:
    """The printed receipts (as the simulated printer wrote them) that carry ``code``."""
    first = code.split(";")[0]  # the paper shows the code on two lines, split at its ';'
    return [p.read_text() for p in sorted(output.glob("receipt-*.txt")) if first in p.read_text()]


async def test_a_receipt_resolved_at_start_up_prints_once(
    make_api: ApiFactory, unit: ControlUnit, tmp_path: Path
) -> None:
    api = await make_api(printer=True)
    unit.faults.set(Fault.POWER_CUT, "after-store", times=1)  # stored in the unit, then dead
    unit.faults.set(Fault.NO_REPLY)  # and silent while the driver retries
    status, answer = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert (status, answer["error"]["code"]) == (503, "control_unit_unavailable")
    await api.till.close()  # the till stops with receipt 1 in doubt
    unit.faults.clear()

    restarted = await Till.open(api.till.config)  # the start resolves receipt 1 and prints it
    try:
        await restarted.pipeline.settle()
        found = await restarted.pipeline.find(1)
        assert found is not None and found.request_id == "pos-1"
        papers = printed_with(tmp_path / "printer", found.control_code)
        kinds = [kind for kind, _ in api.journal()]
    finally:
        await restarted.close()
    assert len(papers) == 1, f"receipt 1 was printed {len(papers)} times"
    assert "KOPIA" not in papers[0]
    assert kinds.count("receipt.printed") == 1
    assert [r.data.split("|")[3] for r in unit.memory.records()] == ["1"]
