"""Sales orders through the till's HTTP API, over a real Mosquitto, to a real sync module that asks
a fake Fortnox (which enforces Fortnox's contract) — and back.

The sync module runs as ``tillgw sync`` does (:class:`SyncService`, continuous), configured
with ``[sync.fortnox]`` only, so Fortnox keeps the tills' orders; nothing waits on a clock:
the test waits for the parts to say they are subscribed, and for the Fortnox fake to have
answered what it looks for.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.sync.references import FORTNOX_EXTERNAL_INVOICE_REFERENCE, DocumentReference
from tests.sync.fakes.fortnox import config_for, running

from .conftest import DEADLINE, ORGNR, POS_ID, STORE, ApiFactory, Mosquitto
from .test_orders_api import paying, sync_module, till_on_the_bus


async def test_a_fortnox_order_is_fetched_paid_and_a_new_one_made_through_the_till(
    make_api: ApiFactory, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with running(orgnr=f"{ORGNR[:6]}-{ORGNR[6:]}") as fake:  # the company of the tills' orgnr
        fake.add_customer("20000", "Byggfirman AB")
        fake.add_article("1001", "Kaffe", "29.02", vat=12)
        fake.add_article("1002", "Mugg", "48.00", vat=25)
        order = fake.add_order("20000", ("1001", "2"), YourOrderNumber="PO-77")
        number = order["DocumentNumber"]
        async with sync_module(mosquitto, tmp_path, fortnox=config_for(fake)):
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
            status, receipt = await api.call("POST", "/v1/receipts", paying(fetched, number))
            assert status == 201, receipt
            status, made = await api.call(
                "POST",
                "/v1/orders",
                {"customer": "20000", "lines": [{"article": "1002", "quantity": "2"}], "delivery": "now"},
            )
            assert status == 201, made
            in_fortnox = DocumentReference(ORGNR, STORE, POS_ID, "order", 1).in_field(
                FORTNOX_EXTERNAL_INVOICE_REFERENCE
            )

            def done() -> bool:
                paid = any(p["Booked"] for p in fake.payments.values())
                return paid and any(
                    o["ExternalInvoiceReference1"] == in_fortnox for o in fake.orders.values()
                )

            async with asyncio.timeout(DEADLINE):
                await fake.wait_until(done)
            status, gone = await api.call("GET", f"/v1/orders/{number}")
            assert (status, gone["error"]["code"]) == (404, "not_found"), "invoiced: no longer open"

    (invoice,) = fake.invoices.values()
    assert invoice["OrderReference"] == number
    # Chain-unique: orgnr, store and register (gateway/sync/references.py).
    ours = DocumentReference(ORGNR, STORE, POS_ID, "receipt", receipt["receipt_no"])
    assert invoice["ExternalInvoiceReference1"] == ours.in_field(FORTNOX_EXTERNAL_INVOICE_REFERENCE)
    assert (invoice["Total"], invoice["Booked"], invoice["Balance"]) == (125.0, True, 0.0)
    assert [(r["ArticleNumber"], r["DeliveredQuantity"]) for r in invoice["InvoiceRows"]] == [
        ("1001", "2"),
        ("1002", "1"),
    ]
    (payment,) = fake.payments.values()
    assert (payment["ModeOfPayment"], payment["Amount"]) == ("KORT", 125.0)
    (new,) = [o for o in fake.orders.values() if o["ExternalInvoiceReference1"] == in_fortnox]
    assert made["reference"] == f"O-{POS_ID}-1"
    assert [(r["ArticleNumber"], r["OrderedQuantity"], r["DeliveredQuantity"]) for r in new["OrderRows"]] == [
        ("1002", "2", "2")
    ]
    assert new["DeliveryDate"] is not None and new["InvoiceReference"] == "0"
