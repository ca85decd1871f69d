"""The Business Central adapter against a fake that enforces BC's API v2.0 contract: real HTTP
on 127.0.0.1, real SQLite, a real till's receipts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
import pytest

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central.adapter import BusinessCentralAdapter
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_tokens
from gateway.sync.adapters.business_central.config import parse_business_central
from gateway.sync.references import BC_EXTERNAL_DOCUMENT_NUMBER
from gateway.sync.sql import SqliteConnection
from tests.sync.conftest import TillFactory, our_reference, process_one, two_receipts
from tests.sync.fakes.business_central import BusinessCentralFake, settings_for


@pytest.fixture
async def bc(tmp_path: Path) -> AsyncIterator[tuple[BusinessCentralFake, Any]]:
    fake = BusinessCentralFake()
    await fake.start()
    fake.add_customer("KONTANT", "Kontantkund")
    fake.add_item("1001", "Kaffe", "26.00", 12)
    fake.add_item("1002", "Mugg", "48.00", 25)
    kassa, kort = fake.add_journal("KASSA"), fake.add_journal("KORT")
    config = parse_business_central(settings_for(fake, payment_journals={"cash": "KASSA", "card": "KORT"}))
    apis: list[BusinessCentralApi] = []

    def adapter() -> BusinessCentralAdapter:
        api = BusinessCentralApi(config, bc_tokens(config, tmp_path / "tokens.db"), backoff=0.001)
        apis.append(api)
        return BusinessCentralAdapter(config, api)

    yield fake, (adapter, kassa, kort)
    for api in apis:
        await api.close()
    await fake.stop()


async def test_receipts_become_posted_paid_invoices_once_through_faults(
    make_till: TillFactory, bc: tuple[BusinessCentralFake, Any], tmp_path: Path
) -> None:
    fake, (make_adapter, kassa, kort) = bc
    messages = await two_receipts(make_till)
    db = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    try:
        adapter = make_adapter()
        await adapter.setup(db)
        fake.faults.storm = 3
        fake.faults.expire_tokens_after = 4
        fake.faults.drop_after_commit.append(
            lambda r: r.path.endswith("salesInvoiceLines") and r.method == "POST"
        )
        with pytest.raises(AdapterError, match="may or may not have been carried out"):
            await process_one(db, adapter, messages[0])  # the line's answer is lost: tried again next pass
        done = await process_one(db, make_adapter(), messages[0])  # a restart: resumes where BC is
        assert done is not None and "(Open)" in done
        done = await process_one(db, adapter, messages[1])
        assert done is not None and "(Open)" in done
        for m in messages:
            await process_one(db, adapter, m)  # again: nothing more
    finally:
        await db.close()
    assert fake.token_requests == 2
    assert [i["externalDocumentNumber"] for i in fake.invoices] == [
        our_reference(n, BC_EXTERNAL_DOCUMENT_NUMBER) for n in (1, 2)
    ]
    assert [i["status"] for i in fake.invoices] == ["Open", "Open"]
    assert fake.invoices[0]["salesperson"] == "ANNA"
    lines = [
        [(x["lineType"], x["lineObjectNumber"], x["quantity"]) for x in fake.lines[i["id"]]]
        for i in fake.invoices
    ]
    assert lines[1] == [("Item", "1002", 1.0), ("Item", "1001", 1.0)]
    # Each invoice, with its rounding line, comes to what was paid; paid once, applied.
    for invoice, journal, paid in (
        (fake.invoices[0], kassa, Decimal("65.00")),
        (fake.invoices[1], kort, Decimal("92.50")),
    ):
        assert Decimal(str(invoice["totalAmountIncludingTax"])) == paid
        [payment] = fake.payments[journal["id"]][-1:]
        assert Decimal(str(payment["amount"])) == -paid and payment["appliesToInvoiceId"] == invoice["id"]
    assert len(fake.payments[kassa["id"]]) == 1 and len(fake.payments[kort["id"]]) == 1


async def test_an_unknown_item_is_refused_quoting_business_central(
    make_till: TillFactory, bc: tuple[BusinessCentralFake, Any], tmp_path: Path
) -> None:
    fake, (make_adapter, _, _) = bc
    fake.items = [i for i in fake.items if i["number"] != "1002"]
    messages = await two_receipts(make_till)
    db = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    try:
        adapter = make_adapter()
        await adapter.setup(db)
        with pytest.raises(
            AdapterError,
            match=r"The Item does not exist\. Identification fields and values: "
            r"No\.='1002' \(Internal_RecordNotFound\)",
        ):
            await process_one(db, adapter, messages[1])
    finally:
        await db.close()
    assert fake.invoices[0]["status"] == "Draft"  # stays unposted until the item exists


async def test_a_receipt_booked_days_later_is_posted_and_paid_on_its_own_day(
    make_till: TillFactory, bc: tuple[BusinessCentralFake, Any], tmp_path: Path
) -> None:
    """invoiceDate is only the Document Date on the API page: the Posting Date must be sent."""
    fake, (make_adapter, kassa, _) = bc
    message = (await two_receipts(make_till))[0]
    message = msgspec.structs.replace(
        message,
        at="2026-11-30T18:02:00+01:00",
        payload={**message.payload, "at": "2026-11-30T18:02:00+01:00"},
    )
    db = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    try:
        adapter = make_adapter()
        await adapter.setup(db)
        await process_one(db, adapter, message)
    finally:
        await db.close()
    (invoice,) = fake.invoices
    assert (invoice["invoiceDate"], invoice["postingDate"], invoice["status"]) == (
        "2026-11-30",
        "2026-11-30",
        "Open",
    )
    assert [p["postingDate"] for p in fake.payments[kassa["id"]]] == ["2026-11-30"]


async def test_batch_leaves_drafts_paid_unapplied_and_books_nothing_twice(
    make_till: TillFactory, bc: tuple[BusinessCentralFake, Any], tmp_path: Path
) -> None:
    fake, (make_adapter, kassa, kort) = bc
    messages = await two_receipts(make_till)
    db = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    try:
        adapter = make_adapter()
        adapter.config = dataclasses.replace(adapter.config, post="batch")
        await adapter.setup(db)
        done = [await process_one(db, adapter, m) for m in messages]
        assert all(d is not None and d.endswith("(Draft)") for d in done), done
        await db.execute("DELETE FROM bc_invoices")  # our record lost: BC is read again, nothing made
        for m in messages:
            await process_one(db, adapter, m)
    finally:
        await db.close()
    assert [i["status"] for i in fake.invoices] == ["Draft", "Draft"]
    # Sent for approval in BC meanwhile: the module changes nothing of it and says so.
    fake.invoices[0]["status"] = "In Review"
    db = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    try:
        await db.execute("DELETE FROM bc_invoices")
        with pytest.raises(AdapterError, match=r"is awaiting approval in Business Central \(In Review\)"):
            await process_one(db, adapter, messages[0])
    finally:
        await db.close()
    paid = [p for j in (kassa, kort) for p in fake.payments[j["id"]]]
    assert len(paid) == 2 and all("appliesToInvoiceId" not in p for p in paid)
    assert [len(fake.lines[i["id"]]) for i in fake.invoices] == [1, 2]
