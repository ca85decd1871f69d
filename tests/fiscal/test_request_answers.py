"""The answers kept for POS request ids: the text for ``keep_request_answers_days``, the id and
its receipt for ever — a real till database (SQLite in tmp_path), the simulated control unit
over TCP, a clock set by the test.

* Answers older than the limit lose their text; newer ones and refusals keep theirs.
* A retry after that is answered with the receipt its id got (never a second sale), the
  same as a retry the day after; a different receipt under the old id is still told apart.
* The keeper drops old answers when the till starts.
* A till.db at schema version 1 is brought to version 2: the new columns, read from its answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.faults import Fault
from gateway.common.clock import SetClock
from gateway.common.signing import Signer
from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.request_answers import AnswerKeeper, drop_old_answers
from gateway.fiscal.store import RequestState, Store

from .conftest import SHOP, make_sale

START = datetime(2026, 3, 2, 10, 0)  # local time in Stockholm; the month holds the change to summer time


def requests(path: Path) -> dict[str, tuple[str, int | None, int | None]]:
    """request id -> (state, the receipt's journal entry, the length of the answer kept)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT request_id, state, entry_seq, length(result) FROM requests").fetchall()
    return {str(r[0]): (str(r[1]), r[2], r[3]) for r in rows}


def journal_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])


class Till:
    def __init__(self, store: Store, pipeline: Pipeline, clock: SetClock) -> None:
        self.store, self.pipeline, self.clock = store, pipeline, clock


TillFactory = Callable[[], Awaitable[Till]]


@pytest.fixture
async def make_till(
    tmp_path: Path,
    signer: Signer,
    unit_tcp: str,
    make_driver: Callable[..., Awaitable[ControlUnitDriver]],
    pos_id: str,
) -> AsyncIterator[TillFactory]:
    """``await make_till()``: the till database in tmp_path opened (again) with a set clock."""
    opened: list[Till] = []
    clock = SetClock(START)

    async def make() -> Till:
        store = await Store.open(tmp_path / "till.db", signer, clock)
        pipeline = Pipeline(store, await make_driver(unit_tcp, start=False), SHOP, pos_id)
        await pipeline.start()
        opened.append(Till(store, pipeline, clock))
        return opened[-1]

    yield make
    for till in opened:
        await till.pipeline.close()
        await till.store.close()


async def test_old_answers_lose_their_text_and_a_late_retry_gets_its_receipt_not_a_new_sale(
    make_till: TillFactory, unit: ControlUnit, tmp_path: Path
) -> None:
    till = await make_till()
    first = await till.pipeline.submit("pos-1", make_sale(10_00))
    till.clock.advance(timedelta(days=20))
    unit.faults.set(Fault.STORAGE_FULL)
    with pytest.raises(FiscalError):
        await till.pipeline.submit("pos-refused", make_sale(15_00))
    unit.faults.clear()
    second = await till.pipeline.submit("pos-2", make_sale(20_00))
    till.clock.advance(timedelta(days=15))  # pos-1: 35 days old; pos-2 and the refusal: 15

    assert await drop_old_answers(till.store, 30) == 1
    kept = requests(tmp_path / "till.db")
    assert kept["pos-1"][:2] == ("done", first.entry_seq) and kept["pos-1"][2] is None
    assert kept["pos-2"][:2] == ("done", second.entry_seq) and (kept["pos-2"][2] or 0) > 500
    assert kept["pos-refused"][0] == "refused" and kept["pos-refused"][2] is not None
    assert await drop_old_answers(till.store, 30) == 0  # nothing more is old

    entries = journal_count(tmp_path / "till.db")
    late = await till.pipeline.sell("pos-1", make_sale(10_00))
    assert late.earlier is RequestState.DONE
    assert late.registered == first  # number, control code, totals: the receipt it got
    recent = await till.pipeline.sell("pos-2", make_sale(20_00))
    assert recent.registered == second
    # Another sale under the old id gets the id's receipt back, which is not it (the API's 409).
    other = await till.pipeline.sell("pos-1", make_sale(99_00))
    assert other.registered.receipt_no == first.receipt_no and other.registered.receipt != make_sale(99_00)
    with pytest.raises(FiscalError, match="memory full"):  # the refusal is still told as it was
        await till.pipeline.submit("pos-refused", make_sale(15_00))
    assert journal_count(tmp_path / "till.db") == entries  # nothing sold twice, nothing written


async def test_the_keeper_drops_old_answers_when_the_till_starts(
    make_till: TillFactory, tmp_path: Path
) -> None:
    till = await make_till()
    await till.pipeline.submit("pos-1", make_sale())
    await till.pipeline.submit("pos-2", make_sale())
    till.clock.advance(timedelta(days=8))
    keeper = AnswerKeeper(till.store, keep_days=7)
    await keeper.start()
    try:
        assert keeper.dropped == 2
    finally:
        await keeper.close()
    assert [text for _, _, text in requests(tmp_path / "till.db").values()] == [None, None]


async def test_a_till_db_at_version_1_gets_the_receipt_of_each_answer(
    make_till: TillFactory, tmp_path: Path
) -> None:
    till = await make_till()
    first = await till.pipeline.submit("pos-1", make_sale())
    await till.pipeline.close()
    await till.store.close()
    with sqlite3.connect(tmp_path / "till.db") as db:  # the file as schema version 1 made it
        db.executescript(
            "DROP INDEX requests_answers;"
            "ALTER TABLE requests DROP COLUMN entry_seq;"
            "ALTER TABLE requests DROP COLUMN answered_at;"
            "PRAGMA user_version = 1;"
        )

    till = await make_till()
    assert requests(tmp_path / "till.db")["pos-1"][:2] == ("done", first.entry_seq)
    with sqlite3.connect(tmp_path / "till.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert (tmp_path / "till.db.v1.bak").exists()  # the copy taken before the step
    till.clock.advance(timedelta(days=31))
    assert await drop_old_answers(till.store, 30) == 1
    assert (await till.pipeline.sell("pos-1", make_sale())).registered == first
