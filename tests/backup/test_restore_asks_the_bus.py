"""``tillgw restore`` asks the bus what the sync module has stored from the register, on real
parts: a Mosquitto of the test's own, a real till's journal and outbox, the real sync module
(``tillgw sync --once``'s service) storing its messages in a SQLite or PostgreSQL inbox and
publishing its retained status, and ``tillgw restore`` as its own process.

* The retained status names the register with the same figures the till's backup holds
  after the messages were stored: its last message sequence and receipt number.
* A backup older than those is refused, naming the receipts and messages that would be lost,
  and nothing is written; the current backup is restored.
* No broker: the restore goes on, saying in words that the bus did not answer; with
  ``--require-bus`` it is refused. A status of an earlier sync module (no ``registers``)
  is said as such; one that does not name the register means nothing stored from it.
"""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.backup.manifest import Manifest
from gateway.backup.taking import take_backup
from gateway.fiscal.pipeline import Pipeline
from gateway.messages.sync_status import SyncStatus, decode_status, status_topic
from gateway.receipts.model import Payment, PaymentMethod, Receipt
from gateway.sync.config import SyncConfig
from gateway.sync.service import SyncService
from gateway.till_files import TillFiles
from tests.sync.conftest import (
    ORGNR,
    POS_ID,
    STORE,
    Broker,
    TillBus,
    TillFactory,
    free_port,
    line,
    run_tillgw,
    with_,
)

GUARD = 30.0  # a hang guard only


def till_toml(tmp_path: Path, name: str, mqtt_port: int) -> Path:
    """A till's configuration for the restore: this store and register, its broker at ``mqtt_port``."""
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f"""\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "{ORGNR}"
store = "{STORE}"
address = ["Storgatan 1", "352 30 Växjö"]
language = "en"

[register]
pos_id = "{POS_ID}"
data_dir = "{tmp_path / name}"

[control_unit]
url = "tcp://127.0.0.1:{free_port()}"

[mqtt]
url = "mqtt://127.0.0.1:{mqtt_port}"
""",
        encoding="utf-8",
    )
    return path


async def sell(pipeline: Pipeline, first: int, count: int) -> None:
    for n in range(first, first + count):
        await pipeline.submit(
            f"sale-{n}", Receipt((line("Kaffe", 1, 32_50, 1200),), (Payment(PaymentMethod.CASH, 32_50),))
        )


def backup(tmp_path: Path, name: str) -> tuple[Path, Manifest]:
    target = tmp_path / "backups" / name
    manifest = take_backup(
        TillFiles(tmp_path / "till"),
        target,
        config=None,
        register=POS_ID,
        at=datetime.datetime.now().astimezone(),
    )
    return target, manifest


async def retained_status(broker: Broker) -> dict[str, Any]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="restore-test-reader") as client:
        await client.subscribe(status_topic(ORGNR, STORE), qos=1)
        async with asyncio.timeout(GUARD):
            async for message in client.messages:
                assert isinstance(message.payload, bytes) and message.retain
                return decode_status(message.payload).to_json()
    raise AssertionError("no status")


@pytest.mark.parametrize("inbox_store", ["sqlite", "postgresql"])
async def test_a_backup_behind_what_the_bus_shows_is_refused_and_the_current_one_restored(
    make_till: TillFactory,
    till_bus: TillBus,
    sync_config: SyncConfig,
    broker: Broker,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    inbox_store: str,
) -> None:
    if inbox_store == "postgresql":
        sync_config = with_(sync_config, database=request.getfixturevalue("postgres_url"))
    till = await make_till("till")
    assert await SyncService(sync_config).run(once=True) == 0  # its session: what the till sends waits
    await sell(till.pipeline, 1, 2)
    older, older_manifest = backup(tmp_path, "older")
    await sell(till.pipeline, 3, 3)
    for topic, data in await till.messages():
        await till_bus.publish(topic, data)
    assert await SyncService(sync_config).run(once=True) == 0  # stores them, publishes its status
    current, current_manifest = backup(tmp_path, "current")
    behind, now = older_manifest.facts, current_manifest.facts
    assert (behind.last_receipt, now.last_receipt) == (2, 5)

    # The status names the register with the figures the current backup holds.
    status = await retained_status(broker)
    assert status["registers"] == [
        {"register": POS_ID, "sequence": now.outbox_sequence, "receipt": now.last_receipt}
    ]

    config = till_toml(tmp_path, "restored", broker.port)
    code, out = await run_tillgw("restore", str(older), "--config", str(config), cwd=tmp_path)
    assert code == 1, out
    assert (
        f"the bus: the sync module has stored from {POS_ID} up to message {now.outbox_sequence}, receipt 5 "
        f"(its status of {status['at']})"
    ) in out
    source = f"the sync module's status of {status['at']} on the bus"
    assert (
        f"the backup ends at receipt 2; the sync module has stored receipts up to 5 from this register "
        f"({source}): 3 receipts would be lost"
    ) in out
    missing = now.outbox_sequence - behind.outbox_sequence
    assert (
        f"the backup's outbox ends at message {behind.outbox_sequence}; the sync module has stored up to "
        f"{now.outbox_sequence} from this register ({source}): {missing} messages it has are not in the "
        f"backup (messages {behind.outbox_sequence + 1}-{now.outbox_sequence})"
    ) in out
    assert not (tmp_path / "restored").exists()  # nothing written

    code, out = await run_tillgw("restore", str(current), "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert "restored the backup of " in out and "receipt 5" in out
    with closing(sqlite3.connect(tmp_path / "restored" / "till.db")) as restored:
        numbers = [r[0] for r in restored.execute("SELECT receipt_no FROM receipts ORDER BY 1")]
    assert numbers == [1, 2, 3, 4, 5]


async def test_without_a_broker_the_restore_goes_on_saying_so_unless_the_bus_is_required(
    make_till: TillFactory, tmp_path: Path
) -> None:
    till = await make_till("till")
    await sell(till.pipeline, 1, 2)
    current, _ = backup(tmp_path, "current")
    nothing_there = free_port()

    required = till_toml(tmp_path, "required", nothing_there)
    code, out = await run_tillgw(
        "restore", str(current), "--config", str(required), "--require-bus", cwd=tmp_path
    )
    assert code == 1, out
    assert out.startswith(f"refused: the bus at mqtt://127.0.0.1:{nothing_there} did not answer")
    assert out.rstrip().endswith("(--require-bus)")
    assert not (tmp_path / "required").exists()

    config = till_toml(tmp_path, "restored", nothing_there)
    code, out = await run_tillgw("restore", str(current), "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert out.startswith(f"warning: the bus at mqtt://127.0.0.1:{nothing_there} did not answer")
    assert "the backup is not compared with what the sync module has stored" in out
    assert "restored the backup of " in out


async def publish_retained(broker: Broker, status: SyncStatus) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="restore-test-sync") as client:
        await client.publish(status_topic(ORGNR, STORE), status.to_bytes(), qos=1, retain=True)


async def test_a_status_without_this_registers_figures_is_said_and_the_restore_goes_on(
    make_till: TillFactory, broker: Broker, tmp_path: Path
) -> None:
    till = await make_till("till")
    await sell(till.pipeline, 1, 2)
    current, _ = backup(tmp_path, "current")
    at = datetime.datetime.now().astimezone()

    # A sync module of an earlier release: its status has no registers.
    await publish_retained(broker, SyncStatus.make(ORGNR, STORE, "sync-old", at, "run ended", []))
    config = till_toml(tmp_path, "old", broker.port)
    code, out = await run_tillgw("restore", str(current), "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert out.startswith(
        f"warning: the sync module's status of {at.isoformat(timespec='seconds')} on the bus "
        "names no registers"
    )
    assert "restored the backup of " in out

    # A status naming the store's other registers: nothing stored from this one, nothing to lose.
    other = [{"register": "KASSA9", "sequence": 40, "receipt": 30}]
    await publish_retained(
        broker, SyncStatus.make(ORGNR, STORE, "sync-new", at, "run ended", [], registers=other)
    )
    config = till_toml(tmp_path, "new", broker.port)
    code, out = await run_tillgw("restore", str(current), "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert out.startswith(f"the bus: the sync module has stored nothing from {POS_ID}")
    assert "restored the backup of " in out
