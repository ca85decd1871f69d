"""A sync module reads both versions of a receipt: ``tillgw.bus/1`` (an old message in its inbox,
a till not yet upgraded) and ``tillgw.bus/2`` (what a till writes now).

The old messages are made as the release before ``tillgw.bus/2`` made them, from the same
journal entries of a real till (``as_bus_v1``); the recorded database of an older release
proves the same for messages that release really wrote (tests/fiscal/test_release_journal.py).
"""

from __future__ import annotations

import json

import msgspec
import pytest

from gateway.messages.envelope import SCHEMA, SCHEMA_V2, BusMessage, decode_message
from gateway.sync.adapters import AdapterError
from gateway.sync.config import SyncConfig
from gateway.sync.payloads import receipt_payload, sale_of
from gateway.sync.service import SyncService
from tests.sync.conftest import TOPICS, TillBus, TillFactory, a_day, inbox_rows
from tests.sync.payloads import as_bus_v1


async def test_a_receipt_of_either_version_is_read_as_the_same_payload(make_till: TillFactory) -> None:
    till = await make_till()
    await a_day(till.pipeline)
    receipts = [m for m in (decode_message(data) for _, data in await till.messages()) if m.kind == "receipt"]
    assert len(receipts) == 7 and {m.schema for m in receipts} == {SCHEMA_V2}
    for new in receipts:
        old = await as_bus_v1(till.store, new)
        again = decode_message(old.to_bytes())
        assert again.schema == SCHEMA and "receipt" in again.payload and "sale" not in again.payload
        assert receipt_payload(again) == receipt_payload(new)
        assert sale_of(again, receipt_payload(again)) == sale_of(new, receipt_payload(new))
    # Money is öre everywhere in the new one; the old one carried the sale's money as text.
    first = receipts[0].payload
    assert (
        first["sale"]["lines"][0]["unit_price"] == 32_50 and first["sale"]["payments"][0]["amount"] == 100_00
    )
    assert first["totals"]["vat"] == [{"rate": "12", "gross": 93_40, "vat": 10_01, "net": 83_39}]
    assert (await as_bus_v1(till.store, receipts[0])).payload["receipt"]["lines"][0]["unit_price"] == "32.50"


async def test_an_old_receipt_whose_sale_cannot_be_read_is_named_by_its_field(make_till: TillFactory) -> None:
    till = await make_till()
    await a_day(till.pipeline)
    new = decode_message((await till.messages())[0][1])
    old = await as_bus_v1(till.store, new)
    payload = json.loads(json.dumps(old.payload))
    payload["receipt"]["lines"][0]["quantity"] = "two"
    with pytest.raises(
        AdapterError, match=r"payload\.receipt\.lines\[0\]\.quantity: 'two' is not a quantity"
    ):
        receipt_payload(msgspec.structs.replace(old, payload=payload))
    payload = json.loads(json.dumps(new.payload))
    payload["sale"]["lines"][0]["quantity"] = "two"
    with pytest.raises(AdapterError, match=r"payload\.sale\.lines\[0\]\.quantity: expected str matching"):
        receipt_payload(msgspec.structs.replace(new, payload=payload))


async def test_the_sync_module_takes_old_and_new_receipts_of_one_register_in_order(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    """An upgraded sync module with a till that is not: the first receipts come as ``tillgw.bus/1``,
    the rest as ``tillgw.bus/2``; every one is stored, acked and processed in sequence."""
    till = await make_till()
    assert await SyncService(sync_config).run(once=True) == 0  # the persistent session
    await a_day(till.pipeline)
    report = await till.pipeline.report("z")
    messages: list[BusMessage] = [decode_message(data) for _, data in await till.messages()]
    sent = [
        await as_bus_v1(till.store, m) if m.kind == "receipt" and m.sequence <= 3 else m for m in messages
    ]
    assert [m.schema for m in sent][:5] == [SCHEMA, SCHEMA, SCHEMA, SCHEMA_V2, SCHEMA_V2]
    for m in sent:
        await till_bus.publish(TOPICS.for_kind(m.kind), m.to_bytes())
    assert await SyncService(sync_config).run(once=True) == 0
    acks = [await till_bus.ack() for _ in sent]
    assert sorted(a["msg_id"] for _, a in acks) == sorted(m.msg_id for m in sent)
    assert {a["status"] for _, a in acks} == {"stored"}
    assert inbox_rows(
        sync_config, "SELECT sequence, processed_at IS NOT NULL, held_by FROM inbox ORDER BY sequence"
    ) == [(m.sequence, 1, None) for m in sent]
    assert report.body()["report"] == "z"


async def test_a_message_whose_payload_is_not_as_the_files_say_is_held_at_intake_naming_the_field(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig
) -> None:
    """Money as kronor text where öre belong: held (acked ``held`` with the field), never stored
    as taken; the register's next message waits behind it."""
    till = await make_till()
    assert await SyncService(sync_config).run(once=True) == 0  # the persistent session
    await a_day(till.pipeline)
    (topic, first), (_, second) = (await till.messages())[:2]
    bad = json.loads(first)
    bad["payload"]["totals"]["to_pay"] = "93.00"
    await till_bus.publish(topic, json.dumps(bad).encode())
    await till_bus.publish(topic, second)
    assert await SyncService(sync_config).run(once=True) == 0
    acks = {a["msg_id"]: a for _, a in [await till_bus.ack(), await till_bus.ack()]}
    held = acks[bad["msg_id"]]
    assert held["status"] == "held"
    assert "payload.totals.to_pay: expected int, got str" in (held["reason"] or "")
    assert acks[json.loads(second)["msg_id"]]["status"] == "stored"
    assert inbox_rows(sync_config, "SELECT sequence, processed_at IS NOT NULL FROM inbox") == [(2, 0)]
