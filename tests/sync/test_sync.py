"""The sync module end to end: a real till's messages through a real Mosquitto into the inbox,
acked, processed in order, and each Z report booked as one SIE file.

A ``--once`` run takes what the broker queued for the module's persistent session, so
each test first runs once to make that session, then publishes as a till does (QoS 1:
the broker has each message when ``publish`` returns), then runs again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import replace
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from gateway.messages.envelope import BusMessage, Topics
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt
from gateway.sync.adapters import Adapter
from gateway.sync.adapters.sie.adapter import SieAdapter
from gateway.sync.config import SyncConfig
from gateway.sync.service import SyncService, default_adapters
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import (
    ORGNR,
    POS_ID,
    ROOT,
    STORE,
    TOPICS,
    Broker,
    Collect,
    Till,
    TillBus,
    TillFactory,
    a_day,
    blocker,
    free_port,
    inbox_rows,
    mail_config,
    run_tillgw,
    text_of,
    with_,
)
from tests.sync.payloads import z_payload
from tests.sync.sie_reader import read_sie

Z1_FILE = f"{ORGNR}-{STORE}-{POS_ID}-Z000001.si"


def coffee(price: int = 125_00, method: PaymentMethod = PaymentMethod.CARD) -> Receipt:
    return Receipt((Line("Kaffe", Decimal(1), price, 2500),), (Payment(method, price),))


async def run_once(config: SyncConfig, adapters: list[Adapter] | None = None) -> int:
    return await SyncService(config, adapters).run(once=True)


def log_text(config: SyncConfig) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(config.log_dir.glob("sync-*.log")))


def error_lines(config: SyncConfig) -> list[str]:
    return [ln for ln in log_text(config).splitlines() if ln.startswith("ERROR")]


async def publish_all(bus: TillBus, messages: list[tuple[str, bytes]]) -> None:
    for topic, data in messages:
        await bus.publish(topic, data)


async def acks(bus: TillBus, n: int) -> list[tuple[str, dict[str, Any]]]:
    return [await bus.ack() for _ in range(n)]


def message(
    sequence: int, kind: str, payload: dict[str, Any], register: str = POS_ID, **over: Any
) -> BusMessage:
    fields: dict[str, Any] = {
        "msg_id": f"{ORGNR}/{STORE}/{register}/{sequence}",
        "kind": kind,
        "orgnr": ORGNR,
        "store": STORE,
        "register": register,
        "sequence": sequence,
        "journal_entry": 1000 + sequence,
        "entry_hash": f"{sequence:064x}",
        "at": "2026-11-21T18:00:00+01:00",
        "payload": payload,
    }
    fields.update(over)
    return BusMessage(**fields)


async def a_day_with_z(till: Till) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    """The day's messages (receipts, then the Z report) and the Z report's body."""
    await a_day(till.pipeline)
    report = await till.pipeline.report("z")
    return await till.messages(), report.body()


# -- storing and acking ------------------------------------------------------------------


async def test_messages_are_stored_once_and_acked_only_after_they_are_on_disk(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    assert await run_once(sync_config) == 0  # the persistent session: the broker queues from now on
    for i in range(3):
        await till.pipeline.submit(f"r{i}", coffee())
    sent = await till.messages()
    await publish_all(till_bus, sent)

    running = asyncio.create_task(run_once(sync_config))
    for _ in sent:
        topic, ack = await till_bus.ack()
        # The ack says "on disk here": another connection sees the row the moment it arrives.
        assert inbox_rows(sync_config, "SELECT COUNT(*) FROM inbox WHERE msg_id = ?", (ack["msg_id"],)) == [
            (1,)
        ]
        assert (topic, ack["status"]) == (TOPICS.acks, "stored")
    assert await running == 0
    rows = inbox_rows(
        sync_config, "SELECT msg_id, sequence, kind, processed_at IS NOT NULL FROM inbox ORDER BY id"
    )
    assert rows == [(f"{ORGNR}/{STORE}/{POS_ID}/{n}", n, "receipt", 1) for n in (1, 2, 3)]
    assert inbox_rows(sync_config, "PRAGMA journal_mode") == [("wal",)]


async def test_a_replayed_message_is_acked_again_and_stored_once(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    await till.pipeline.submit("r1", coffee())
    [(topic, data)] = await till.messages()
    await till_bus.publish(topic, data)
    await till_bus.publish(topic, data)  # the till resends: it had not seen the ack yet
    assert await run_once(sync_config) == 0
    assert [a["status"] for _, a in await acks(till_bus, 2)] == ["stored", "stored"]
    first = inbox_rows(sync_config, "SELECT id, processed_at FROM inbox")
    assert len(first) == 1 and first[0][1] is not None

    await till_bus.publish(topic, data)  # and again, long after it was processed
    assert await run_once(sync_config) == 0
    assert (await till_bus.ack())[1] == {
        "msg_id": f"{ORGNR}/{STORE}/{POS_ID}/1",
        "status": "stored",
        "reason": None,
    }
    assert (
        inbox_rows(sync_config, "SELECT id, processed_at FROM inbox") == first
    )  # not stored, not processed again
    assert "already stored, acked again" in log_text(sync_config)


async def test_bad_messages_are_held_acked_as_held_and_the_consumer_goes_on(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    await till.pipeline.submit("r1", coffee())
    [(topic, good)] = await till.messages()
    receipt = json.loads(good)
    stranger = Topics(ORGNR, STORE, "KASSA9")
    bad: list[tuple[str, bytes]] = [
        (topic, b"\x00not json at all"),
        (
            topic,
            json.dumps(
                {**receipt, "schema": "tillgw.bus/3", "msg_id": f"{ORGNR}/{STORE}/{POS_ID}/7"}
            ).encode(),
        ),
        (
            stranger.for_kind("receipt"),
            message(1, "receipt", receipt["payload"], register="KASSA9").to_bytes(),
        ),
        (topic, json.dumps({**receipt, "msg_id": f"{ORGNR}/{STORE}/{POS_ID}/99"}).encode()),
        (TOPICS.for_kind("report.z"), message(5, "receipt", receipt["payload"]).to_bytes()),  # wrong topic
    ]
    await publish_all(till_bus, [*bad, (topic, good), bad[0]])
    assert await run_once(sync_config) == 0  # holding is not a failure of the module

    got = {(t, a["msg_id"], a["status"]): a.get("reason") for t, a in await acks(till_bus, 5)}
    assert sorted(got) == sorted(
        [
            (TOPICS.acks, f"{ORGNR}/{STORE}/{POS_ID}/7", "held"),
            (stranger.acks, f"{ORGNR}/{STORE}/KASSA9/1", "held"),
            (TOPICS.acks, f"{ORGNR}/{STORE}/{POS_ID}/99", "held"),
            (TOPICS.acks, f"{ORGNR}/{STORE}/{POS_ID}/5", "held"),
            (TOPICS.acks, f"{ORGNR}/{STORE}/{POS_ID}/1", "stored"),
        ]
    )
    reasons = [got[(TOPICS.acks, f"{ORGNR}/{STORE}/{POS_ID}/{n}", "held")] or "" for n in (7, 99, 5)]
    assert "schema 'tillgw.bus/3' is not 'tillgw.bus/1' or 'tillgw.bus/2'" in reasons[0]
    assert "is not '5560360793/vaxjo/KASSA1/1'" in reasons[1]
    assert "does not belong on topic 'tillgw/5560360793/vaxjo/KASSA1/reports'" in reasons[2]
    assert 'add "5560360793/vaxjo/KASSA9" to [sync].registers' in (
        got[(stranger.acks, f"{ORGNR}/{STORE}/KASSA9/1", "held")] or ""
    )
    rejected = inbox_rows(sync_config, "SELECT msg_id, reason, times FROM rejected ORDER BY id")
    assert len(rejected) == 4  # the unknown register's message is held in the inbox itself
    assert rejected[0][0] is None and rejected[0][1].startswith("not JSON") and rejected[0][2] == 2
    # Only the good message reached the adapters; the unknown register's waits, held.
    assert inbox_rows(
        sync_config, "SELECT msg_id, processed_at IS NOT NULL, held_by FROM inbox ORDER BY register"
    ) == [(f"{ORGNR}/{STORE}/{POS_ID}/1", 1, None), (f"{ORGNR}/{STORE}/KASSA9/1", 0, "intake")]
    log = log_text(sync_config)
    assert log.count("WARNING") >= 5 and "held a message on" in log and "not JSON" in log


# -- processing ---------------------------------------------------------------------------


class Recorder:
    """An adapter that needs every message and notes the order it gets them in."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handles(self, kind: str) -> bool:
        return True

    async def setup(self, db: SqlConnection) -> None:
        return None

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        self.seen.append(message.sequence)
        return None


async def test_messages_are_processed_in_sequence_order_and_a_gap_waits_to_be_filled(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    await till.pipeline.submit("r1", coffee())
    await till.pipeline.submit("r2", coffee(45_00, PaymentMethod.CASH))
    await till.pipeline.submit("r3", coffee())
    await till.pipeline.report("z")
    sent = await till.messages()
    assert len(sent) == 4
    await publish_all(till_bus, [sent[0], sent[2], sent[3]])  # 2 is late

    recorder = Recorder()
    assert await run_once(sync_config, [recorder, *default_adapters(sync_config)]) == 0
    assert recorder.seen == [1]
    assert "waiting for message 2 (the next one here is 3)" in log_text(sync_config)
    assert not (sync_config.sie_dir / Z1_FILE).exists()

    await till_bus.publish(*sent[1])
    assert await run_once(sync_config, [recorder, *default_adapters(sync_config)]) == 0
    assert recorder.seen == [1, 2, 3, 4]
    assert (sync_config.sie_dir / Z1_FILE).exists()
    assert inbox_rows(sync_config, "SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL") == [(0,)]
    assert len(await acks(till_bus, 4)) == 4


# -- the SIE file -------------------------------------------------------------------------


async def test_a_real_z_report_becomes_one_balanced_sie_voucher(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    sent, z = await a_day_with_z(till)
    await publish_all(till_bus, sent)
    assert await run_once(sync_config) == 0
    assert len(await acks(till_bus, len(sent))) == len(sent)

    assert sorted(p.name for p in sync_config.sie_dir.iterdir()) == [Z1_FILE]
    data = (sync_config.sie_dir / Z1_FILE).read_bytes()
    doc = read_sie(data)  # every line, CP437, #KSUMMA and the balance checked
    assert b'#FNAMN "Kaffebaren i V\x84xj\x94 AB"' in data  # ä and ö in code page 437
    assert doc.orgnr == "556036-0793" and doc.company == "Kaffebaren i Växjö AB"
    assert doc.program[0] == "tillgateway"
    day = z["at"][:10].replace("-", "")
    assert doc.generated == day
    [voucher] = doc.vouchers
    assert (voucher.series, voucher.number, voucher.date) == ("K", "", day)
    assert voucher.text == f"Z-dagrapport 1 kassa {POS_ID}"
    booked = {account: amount for account, amount, _ in voucher.rows}
    # Worked out by hand from the day's receipts (see a_day): debit +, credit −, öre.
    assert booked == {
        "1910": 105_00,  # cash 93,00 + 12,00
        "1580": 195_00,  # card 374,00 − 179,00
        "2421": 100_00,  # gift card redeemed
        "1930": 100_00,  # Swish
        "1689": 50_00,  # other
        "3001": -200_34,  # 25 %: 250,42 incl. VAT − 50,08 VAT
        "2611": -50_08,
        "3002": -216_94,  # 12 %: 242,98 − 26,04
        "2621": -26_04,
        "3003": -42_45,  # 6 %: 45,00 − 2,55
        "2631": -2_55,
        "3004": -12_00,  # 0 %
        "3740": 40,  # cash rounded down by 0,40: a debit
    }
    # … and it is what the Z report itself says.
    assert z["net_sales"] == 550_40 and z["rounding"] == -40
    assert sum(v["gross"] for v in z["vat"]) == z["net_sales"]
    assert [booked["1910"], booked["1580"], booked["2421"], booked["1930"], booked["1689"]] == [
        z["payments"][m] for m in ("cash", "card", "gift_card", "swish", "other")
    ]
    assert doc.accounts["3740"] == "Öres- och kronutjämning" and doc.accounts["1910"] == "Kassa"
    assert [text for account, _, text in voucher.rows if account == "3740"] == ["Öresavrundning"]
    recorded = inbox_rows(sync_config, "SELECT z_no, file, msg_id FROM sie_files")
    assert recorded == [(1, Z1_FILE, f"{ORGNR}/{STORE}/{POS_ID}/{len(sent)}")]
    assert f"wrote {sync_config.sie_dir / Z1_FILE}" in log_text(sync_config)


async def test_a_z_report_of_a_day_without_sales_books_nothing_and_says_so(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    report = await till.pipeline.report("z")  # the till opened and closed, nothing sold
    sent = await till.messages()
    await publish_all(till_bus, sent)
    assert await run_once(sync_config) == 0
    assert len(await acks(till_bus, len(sent))) == len(sent)

    assert report.body()["net_sales"] == 0
    # no file: SIE has no #VER without its #TRANS rows
    assert not sync_config.sie_dir.exists() or list(sync_config.sie_dir.iterdir()) == []
    assert inbox_rows(sync_config, "SELECT kind FROM inbox WHERE processed_at IS NULL") == []
    assert "Z 1 of " in log_text(sync_config)
    assert "no sales, so no voucher and no SIE file" in log_text(sync_config)
    assert error_lines(sync_config) == []


async def test_the_same_z_report_delivered_twice_gives_one_file(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    sent, z = await a_day_with_z(till)
    await publish_all(till_bus, [*sent, sent[-1]])
    assert await run_once(sync_config) == 0
    first = (sync_config.sie_dir / Z1_FILE).read_bytes()
    stat = (sync_config.sie_dir / Z1_FILE).stat()

    # Again in a later run, and the same Z under a message id of its own (a till restored
    # from a backup sending its Z again): still the one file, untouched.
    again = message(len(sent) + 1, "report.z", z)
    await publish_all(till_bus, [sent[-1], (TOPICS.for_kind("report.z"), again.to_bytes())])
    assert await run_once(sync_config) == 0
    assert sorted(p.name for p in sync_config.sie_dir.iterdir()) == [Z1_FILE]
    assert (sync_config.sie_dir / Z1_FILE).read_bytes() == first
    assert (sync_config.sie_dir / Z1_FILE).stat().st_mtime_ns == stat.st_mtime_ns
    assert inbox_rows(sync_config, "SELECT COUNT(*) FROM sie_files") == [(1,)]
    assert f"{again.msg_id} writes no second file" in log_text(sync_config)
    assert inbox_rows(sync_config, "SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL") == [(0,)]


class SimulatedCrash(BaseException):
    """The process dies here: nothing after it runs, the open transaction never commits."""


async def test_a_crash_between_the_file_and_the_commit_rewrites_the_same_file_once(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    till = await make_till()
    await run_once(sync_config)
    sent, _ = await a_day_with_z(till)
    await publish_all(till_bus, sent)
    written: list[bytes] = []

    def crash(path: Path) -> None:
        written.append(path.read_bytes())
        raise SimulatedCrash

    crashing = SieAdapter(sync_config.sie_dir, sync_config.accounts, sync_config.sie, after_write=crash)
    with pytest.raises(SimulatedCrash):
        await run_once(sync_config, [crashing])
    # The file is there, but nothing says so: the Z is not recorded, its message not processed.
    assert (sync_config.sie_dir / Z1_FILE).read_bytes() == written[0]
    assert inbox_rows(sync_config, "SELECT COUNT(*) FROM sie_files") == [(0,)]
    assert inbox_rows(sync_config, "SELECT kind FROM inbox WHERE processed_at IS NULL") == [("report.z",)]

    assert await run_once(sync_config) == 0  # the restart
    assert sorted(p.name for p in sync_config.sie_dir.iterdir()) == [Z1_FILE]  # no temporary file left
    assert (sync_config.sie_dir / Z1_FILE).read_bytes() == written[0]
    assert inbox_rows(sync_config, "SELECT z_no, file FROM sie_files") == [(1, Z1_FILE)]
    assert inbox_rows(sync_config, "SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL") == [(0,)]


async def test_an_sie_error_is_logged_quoting_the_os_and_mailed_with_the_days_log(
    make_till: TillFactory,
    till_bus: TillBus,
    sync_config: SyncConfig,
    smtp: tuple[Any, Collect],
    tmp_path: Path,
) -> None:
    controller, mailbox = smtp
    blocked = blocker(tmp_path)
    config = with_(sync_config, sie_dir=blocked / "sie", mail=mail_config(int(controller.port)))
    till = await make_till()
    await run_once(config)
    sent, _ = await a_day_with_z(till)
    await publish_all(till_bus, sent)

    assert await run_once(config) == 1
    [error] = error_lines(config)
    assert error.startswith("ERROR ")
    assert f"SIE: {ORGNR}/{STORE}/{POS_ID}/{len(sent)} (report.z) not processed" in error
    assert f"[Errno 20] Not a directory: '{blocked / 'sie'}'" in error  # the OS's own words
    assert len(await acks(till_bus, len(sent))) == len(sent)  # stored and acked all the same

    [envelope] = mailbox.messages
    assert envelope.rcpt_tos == ["ekonomi@kaffebaren.example"]
    mail = message_from_bytes(envelope.content)
    assert "1 error" in mail["Subject"]
    parts = {str(part.get_filename()): part for part in mail.walk() if part.get_filename()}
    [name] = parts
    assert name.startswith("sync-") and name.endswith(".log")
    attached = text_of(parts[name])
    assert error in attached and "=== run started" in attached
    assert (config.log_dir / name).exists()

    # The folder is fixed: the next run writes the file; nothing more to mail.
    blocked.unlink()
    assert await run_once(config) == 0
    assert (blocked / "sie" / Z1_FILE).exists()
    assert len(mailbox.messages) == 1


async def test_a_mail_that_cannot_be_sent_is_logged_and_the_run_ends_normally(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path
) -> None:
    blocked = blocker(tmp_path)
    nobody = mail_config(free_port())  # nothing listens there
    config = with_(sync_config, sie_dir=blocked / "sie", mail=nobody)
    till = await make_till()
    await run_once(config)
    sent, _ = await a_day_with_z(till)
    await publish_all(till_bus, sent)
    assert await run_once(config) == 1
    errors = error_lines(config)
    assert len(errors) == 2
    assert "SIE:" in errors[0]
    assert "mail: the error mail to ekonomi@kaffebaren.example via 127.0.0.1" in errors[1]
    assert "was not sent" in errors[1]
    assert "=== run ended" in log_text(config).splitlines()[-1]


async def test_a_z_report_whose_figures_do_not_balance_is_refused_with_an_error(
    till_bus: TillBus, sync_config: SyncConfig
) -> None:
    config = with_(sync_config, registers=None)
    await run_once(config)
    z = z_payload(  # 125,00 sold at 25 %, but 126,00 paid by card
        z_no=4,
        at="2026-11-21T18:00:00+01:00",
        company={"name": "Kaffebaren i Växjö AB", "orgnr": ORGNR},
        pos_id="KASSA2",
        net_sales=125_00,
        vat=[
            {"rate": "25", "gross": 125_00, "vat": 25_00, "net": 100_00},
            {"rate": "12", "gross": 0, "vat": 0, "net": 0},
            {"rate": "6", "gross": 0, "vat": 0, "net": 0},
            {"rate": "0", "gross": 0, "vat": 0, "net": 0},
        ],
        payments={"cash": 0, "card": 126_00, "gift_card": 0, "swish": 0, "other": 0},
        rounding=0,
    )
    bad = message(1, "report.z", z, register="KASSA2")
    await till_bus.publish(Topics(ORGNR, STORE, "KASSA2").for_kind("report.z"), bad.to_bytes())
    assert await run_once(config) == 1
    [error] = error_lines(config)
    assert "refused to write the voucher" in error
    assert "payments (126.00) are not the sales incl. VAT (125.00) plus the rounding (0.00)" in error
    assert not config.sie_dir.exists() or not any(config.sie_dir.iterdir())
    assert inbox_rows(config, "SELECT processed_at FROM inbox") == [(None,)]


# -- the command ----------------------------------------------------------------------------


def write_config(path: Path, broker: Broker, base: Path) -> Path:
    path.write_text(
        f"""
[mqtt]
url = "mqtt://127.0.0.1:{broker.port}"

[sync]
inbox = "{base}/inbox.db"
sie_dir = "{base}/sie"
log_dir = "{base}/logs"
registers = ["556036-0793/{STORE}/{POS_ID}"]
client_id = "sync-cli-test"
""",
        encoding="utf-8",
    )
    return path


async def test_tillgw_sync_once_takes_what_the_broker_queued_and_exits(
    make_till: TillFactory, till_bus: TillBus, broker: Broker, tmp_path: Path
) -> None:
    base = tmp_path / "cli"
    config = write_config(tmp_path / "sync.toml", broker, base)
    code, out = await run_tillgw("sync", "--once", "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    till = await make_till()
    sent, _ = await a_day_with_z(till)
    await publish_all(till_bus, sent)  # the module is not running: the broker queues them

    code, out = await run_tillgw("sync", "--once", "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert "shared subscriptions" in out
    assert {a["status"] for _, a in await acks(till_bus, len(sent))} == {"stored"}
    read_sie((base / "sie" / Z1_FILE).read_bytes())
    logs = list((base / "logs").glob("sync-*.log"))
    assert len(logs) == 1 and logs[0].read_text().count("=== run started") == 2


async def test_tillgw_sync_runs_until_sigterm_and_processes_what_came(
    make_till: TillFactory, till_bus: TillBus, broker: Broker, tmp_path: Path
) -> None:
    base = tmp_path / "cli"
    config = write_config(tmp_path / "sync.toml", broker, base)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "sync",
        "--config",
        str(config),
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stderr is not None
    while b"MQTT: connected to" not in (line := await process.stderr.readline()):
        assert line, "tillgw sync ended before it connected"
    till = await make_till()
    sent, _ = await a_day_with_z(till)
    await publish_all(till_bus, sent)
    assert len(await acks(till_bus, len(sent))) == len(sent)  # stored, live
    process.send_signal(signal.SIGTERM)
    rest = await process.stderr.read()
    assert await process.wait() == 0, rest.decode()
    read_sie((base / "sie" / Z1_FILE).read_bytes())
    log = next((base / "logs").glob("sync-*.log")).read_text()
    assert "=== run ended" in log and "0 errors" in log


class Connected(logging.Handler):
    """Sets an event when the sync module logs that it is connected (and so subscribed)."""

    def __init__(self) -> None:
        super().__init__()
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "connected to" in record.getMessage():
            self.event.set()


async def test_a_broker_without_mqtt_5_gets_plain_subscriptions_and_says_so(
    make_till: TillFactory, sync_config: SyncConfig
) -> None:
    import aiomqtt
    from amqtt.broker import Broker as Amqtt  # type: ignore[import-untyped]  # amqtt ships no type information

    port = free_port()
    amqtt = Amqtt(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await amqtt.start()
    connected = Connected()
    logging.getLogger("tillgw.sync").addHandler(connected)
    try:
        config = with_(sync_config, mqtt=replace(sync_config.mqtt, port=port))
        till = await make_till()
        await till.pipeline.submit("r1", coffee())
        [(topic, data)] = await till.messages()
        async with aiomqtt.Client("127.0.0.1", port, identifier="amqtt-till") as client:
            await client.subscribe("tillgw/+/+/+/acks", qos=1)
            stop = asyncio.Event()
            running = asyncio.create_task(SyncService(config).run(once=False, stop=stop))
            await asyncio.wait_for(connected.event.wait(), 30)
            await client.publish(topic, data, qos=1)
            async with asyncio.timeout(30):  # a hang guard
                async for m in client.messages:
                    assert json.loads(bytes(m.payload))["status"] == "stored"
                    break
            stop.set()
            assert await running == 0
    finally:
        logging.getLogger("tillgw.sync").removeHandler(connected)
        await amqtt.shutdown()
    log = log_text(config)
    assert "does not speak MQTT 5" in log and "MQTT 3.1.1 and plain subscriptions" in log
    assert inbox_rows(config, "SELECT sequence, processed_at IS NOT NULL FROM inbox") == [(1, 1)]


async def test_two_workers_with_one_inbox_share_the_load_and_process_everything_once(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path
) -> None:
    workers = [
        with_(sync_config, client_id=f"sync-worker-{n}", log_dir=tmp_path / f"logs-{n}") for n in (1, 2)
    ]
    for worker in workers:
        assert await run_once(worker) == 0  # both sessions join the share group
    till = await make_till()
    for i in range(40):
        await till.pipeline.submit(f"r{i}", coffee())
    await till.pipeline.report("z")
    sent = await till.messages()
    await publish_all(till_bus, sent)

    services = [SyncService(worker) for worker in workers]
    assert await asyncio.gather(*(s.run(once=True) for s in services)) == [0, 0]
    stored = [s.subscriber.stats.stored for s in services if s.subscriber is not None]
    assert sum(stored) == len(sent) and all(n > 0 for n in stored)  # split between the two
    assert len(await acks(till_bus, len(sent))) == len(sent)
    assert inbox_rows(sync_config, "SELECT COUNT(*), COUNT(processed_at) FROM inbox") == [
        (len(sent), len(sent))
    ]
    assert sorted(p.name for p in sync_config.sie_dir.iterdir()) == [Z1_FILE]
    assert inbox_rows(sync_config, "SELECT COUNT(*) FROM sie_files") == [(1,)]


async def test_a_log_folder_that_cannot_be_written_is_reported_and_the_run_goes_on(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path, capsys: Any
) -> None:
    blocked = blocker(tmp_path)
    config = with_(sync_config, log_dir=blocked / "logs")
    till = await make_till()
    await till.pipeline.submit("r1", coffee())
    assert await run_once(config) == 1  # the log is a failure of its own …
    [(topic, data)] = await till.messages()
    await till_bus.publish(topic, data)
    assert await run_once(config) == 1
    assert (await till_bus.ack())[1]["status"] == "stored"  # … but the messages still flow
    assert "log: cannot write" in capsys.readouterr().err
    assert inbox_rows(config, "SELECT processed_at IS NOT NULL FROM inbox") == [(1,)]


class LogEvents(logging.Handler):
    """An event per phrase, set when the sync module logs a line containing it."""

    def __init__(self, *phrases: str) -> None:
        super().__init__()
        self.events = {phrase: asyncio.Event() for phrase in phrases}

    def emit(self, record: logging.LogRecord) -> None:
        for phrase, event in self.events.items():
            if phrase in record.getMessage():
                event.set()

    async def wait(self, phrase: str) -> None:
        await asyncio.wait_for(self.events[phrase].wait(), 60)  # a hang guard


async def test_a_running_module_rides_out_a_broker_restart(
    make_till: TillFactory, broker: Broker, sync_config: SyncConfig
) -> None:
    import aiomqtt

    events = LogEvents("MQTT: connected to", "MQTT: no connection", "MQTT: connected again")
    logging.getLogger("tillgw.sync").addHandler(events)
    try:
        till = await make_till()
        await till.pipeline.submit("r1", coffee())
        stop = asyncio.Event()
        running = asyncio.create_task(SyncService(sync_config).run(once=False, stop=stop))
        await events.wait("MQTT: connected to")

        async def deliver(topic: str, data: bytes) -> dict[str, Any]:
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-till-2") as client:
                await client.subscribe(TOPICS.acks, qos=1)
                await client.publish(topic, data, qos=1)
                async with asyncio.timeout(30):  # a hang guard
                    async for m in client.messages:
                        return dict(json.loads(bytes(m.payload)))
            raise AssertionError("no ack")

        [first] = await till.messages()
        assert (await deliver(*first))["status"] == "stored"
        broker.stop()
        await events.wait("MQTT: no connection")
        broker.start()
        await events.wait("MQTT: connected again")
        await till.pipeline.report("z")
        second = (await till.messages())[1]
        assert (await deliver(*second))["status"] == "stored"
        stop.set()
        assert await running == 1  # the outage was an ERROR
    finally:
        logging.getLogger("tillgw.sync").removeHandler(events)
    assert inbox_rows(
        sync_config, "SELECT sequence, processed_at IS NOT NULL FROM inbox ORDER BY sequence"
    ) == [
        (1, 1),
        (2, 1),
    ]
    assert (sync_config.sie_dir / Z1_FILE).exists()
    [error] = error_lines(sync_config)
    assert "MQTT: no connection to" in error and "trying again" in error
