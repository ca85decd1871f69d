"""A till of release 2084e15 upgraded to this one: its database taken up at schema version 1,
its journal still verifying, its receipt numbers going on, its outbox delivering.

The database is ``tests/fiscal/recordings/release-2084e15.db`` (how it was made:
tests/fiscal/test_release_journal.py), copied into a data directory. The recording keeps
only the public half of the key that signed it, so before the first start the lost key is
replaced the documented way (``tillgw journal rotate-key``, journaled as ``key.replaced``);
then a real :class:`Till` opens it on the project's simulated control unit and the
machine's Mosquitto, sells, and every message of its outbox — the 33 the release left
unacked and the new ones — reaches a stand-in for the sync module and is acked.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.cli import main
from gateway.config import MqttConfig, ShopConfig
from gateway.fiscal.schema import TILL_DATABASE_STEPS
from gateway.messages.envelope import Ack, Topics
from gateway.till import Till

from .conftest import Mosquitto, make_sale, sync_side, till_config

RECORDINGS = Path(__file__).parent.parent / "fiscal" / "recordings"
RELEASE = "release-2084e15"
ORGNR, STORE, REGISTER = "5560360793", "main", "KASSA1"  # the recording's till
RELEASE_ENTRIES, RELEASE_MESSAGES, RELEASE_LAST_RECEIPT = 69, 33, 15


@pytest.fixture
async def unit_url(unit: ControlUnit) -> AsyncIterator[str]:
    async with serve_tcp(unit) as url:
        yield url


def read(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


async def test_an_upgraded_till_verifies_numbers_on_and_delivers_its_outbox(
    tmp_path: Path, unit_url: str, mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    shutil.copyfile(RECORDINGS / f"{RELEASE}.db", data_dir / "till.db")
    assert read(data_dir / "till.db", "PRAGMA user_version") == [(0,)]
    assert (
        main(
            [
                "journal",
                "rotate-key",
                "--data-dir",
                str(data_dir),
                "--reason",
                "kept apart from the recording",
            ]
        )
        == 0
    )

    config = till_config(data_dir, unit_url, MqttConfig(host="127.0.0.1", port=mosquitto.port))
    config = dataclasses.replace(
        config, shop=ShopConfig("Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"), STORE)
    )
    topics = Topics(ORGNR, STORE, REGISTER)
    client_id = f"test-upgrade-{secrets.token_hex(4)}"
    async with sync_side(
        mosquitto.port, subscribe=f"tillgw/{ORGNR}/{STORE}/+/+", client_id=client_id
    ) as sync:
        till = await Till.open(config)
        try:
            assert till.bus is not None
            sold = await till.pipeline.submit("after-upgrade-1", make_sale())
            assert sold.receipt_no == RELEASE_LAST_RECEIPT + 1  # the series goes on
            last = int(read(data_dir / "till.db", "SELECT MAX(sequence) FROM outbox")[0][0])
            assert last > RELEASE_MESSAGES
            received = await sync.collect(set(range(1, last + 1)))
            for sequence in range(1, last + 1):
                await sync.publish(topics.acks, Ack(received[sequence].msg_id, "stored").to_bytes())
            await till.bus.wait_acked(last)
        finally:
            await till.close()
    capsys.readouterr()

    database = data_dir / "till.db"
    assert read(database, "PRAGMA user_version") == [(TILL_DATABASE_STEPS[-1].version,)]
    assert read(database, "SELECT COUNT(*) FROM outbox WHERE ack_status IS NOT 'stored'") == [(0,)]
    assert read(database, "SELECT COUNT(*) FROM journal")[0][0] > RELEASE_ENTRIES
    code = main(["journal", "verify", "--data-dir", str(data_dir), "--all-signatures", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["problem"] is None, report
    assert len(report["key_replaced"]) == 2
