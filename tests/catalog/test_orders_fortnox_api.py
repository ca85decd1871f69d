"""Sales orders through the till's HTTP API, over a real Mosquitto, to a real sync module that asks
a fake Fortnox (which enforces Fortnox's contract) — and back.

The sync module runs as ``tillgw sync`` does (:class:`SyncService`, continuous), configured
with ``[sync.fortnox]`` only, so Fortnox keeps the tills' orders; nothing waits on a clock:
the test waits for the parts to say they are subscribed, and for the Fortnox fake to have
answered what it looks for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.sync.config import SyncConfig
from gateway.sync.service import SyncService
from tests.sync.fakes.fortnox import FakeFortnox, running
from tests.sync.test_fortnox import config_for

from .conftest import DEADLINE, POS_ID, ApiFactory, Mosquitto, mqtt_config
from .test_orders_api import till_on_the_bus


@contextlib.asynccontextmanager
async def sync_module(fake: FakeFortnox, broker: Mosquitto, tmp_path: Path) -> AsyncIterator[SyncService]:
    """``tillgw sync`` with ``[sync.fortnox]``, running until the block ends, its order answers subscribed."""
    base = tmp_path / "sync"
    config = SyncConfig(
        inbox=base / "inbox.db",
        sie_dir=base / "sie",
        log_dir=base / "logs",
        mqtt=mqtt_config(broker),
        client_id="sync-test",
        retry_interval=0.2,
        fortnox=config_for(fake),
    )
    service = SyncService(config)
    stop = asyncio.Event()
    runs = asyncio.create_task(service.run(once=False, stop=stop))
    try:
        async with asyncio.timeout(DEADLINE):
            waiting = asyncio.create_task(service.answering_orders.wait())
            await asyncio.wait({waiting, runs}, return_when=asyncio.FIRST_COMPLETED)
            assert not runs.done(), "the sync module stopped: " + str(runs.result())
        yield service
    finally:
        stop.set()
        await runs


async def test_a_fortnox_order_is_fetched_paid_and_a_new_one_made_through_the_till(
    make_api: ApiFactory, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with running() as fake:
        fake.add_customer("20000", "Byggfirman AB")
        fake.add_article("1001", "Kaffe", "29.02", vat=12)
        fake.add_article("1002", "Mugg", "48.00", vat=25)
        order = fake.add_order("20000", ("1001", "2"), YourOrderNumber="PO-77")
        number = order["DocumentNumber"]
        async with sync_module(fake, mosquitto, tmp_path):
            api = await till_on_the_bus(make_api, mosquitto)
            status, listed = await api.call("GET", "/v1/orders?customer=20000")
            assert status == 200, listed
            (fetched,) = listed["orders"]
            assert (fetched["number"], fetched["customer_name"], fetched["reference"]) == (
                number,
                "Byggfirman AB",
                "PO-77",
            )
            # 29,02 excl. VAT at 12 %: 32,5024 -> 32,50
            assert [
                (x["article"], x["quantity"], x["unit_price"], x["vat_rate"]) for x in fetched["lines"]
            ] == [("1001", "2", "32.50", "12")]
            lines = [
                {k: line[k] for k in ("text", "quantity", "unit_price", "vat_rate", "article")}
                for line in fetched["lines"]
            ]
            lines.append(
                {"text": "Mugg", "quantity": "1", "unit_price": "60.00", "vat_rate": "25", "article": "1002"}
            )
            sale = {
                "id": "pos-order-1",
                "lines": lines,
                "payments": [{"method": "card", "amount": "125.00"}],
                "order": number,
            }
            status, receipt = await api.call("POST", "/v1/receipts", sale)
            assert status == 201, receipt
            status, made = await api.call(
                "POST",
                "/v1/orders",
                {"customer": "20000", "lines": [{"article": "1002", "quantity": "2"}], "delivery": "now"},
            )
            assert status == 201, made

            def done() -> bool:
                paid = any(p["Booked"] for p in fake.payments.values())
                return paid and any(
                    o["ExternalInvoiceReference1"] == made["reference"] for o in fake.orders.values()
                )

            async with asyncio.timeout(DEADLINE):
                await fake.wait_until(done)
            status, gone = await api.call("GET", f"/v1/orders/{number}")
            assert (status, gone["error"]["code"]) == (404, "not_found"), "invoiced: no longer open"

    (invoice,) = fake.invoices.values()
    assert invoice["OrderReference"] == number
    assert invoice["ExternalInvoiceReference1"] == f"{POS_ID}-{receipt['receipt_no']}"
    assert (invoice["Total"], invoice["Booked"], invoice["Balance"]) == (125.0, True, 0.0)
    assert [(r["ArticleNumber"], r["DeliveredQuantity"]) for r in invoice["InvoiceRows"]] == [
        ("1001", "2"),
        ("1002", "1"),
    ]
    (payment,) = fake.payments.values()
    assert (payment["ModeOfPayment"], payment["Amount"]) == ("KORT", 125.0)
    (new,) = [o for o in fake.orders.values() if o["ExternalInvoiceReference1"] == made["reference"]]
    assert made["reference"] == f"O-{POS_ID}-1"
    assert [(r["ArticleNumber"], r["OrderedQuantity"], r["DeliveredQuantity"]) for r in new["OrderRows"]] == [
        ("1002", "2", "2")
    ]
    assert new["DeliveryDate"] is not None and new["InvoiceReference"] == "0"
