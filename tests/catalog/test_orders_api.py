"""Sales orders through the till's HTTP API, over a real Mosquitto, to a real sync module that asks
a fake Dynamics NAV (which enforces NAV's contract) — and back.

The sync module runs as ``tillgw sync`` does (:class:`SyncService`, continuous), configured
with ``[sync.nav]``; nothing waits on a clock: tests wait for the parts to say they are
subscribed, and for the NAV fake to have answered what they look for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.sync.adapters.nav.config import parse_nav
from gateway.sync.config import SyncConfig
from gateway.sync.references import NAV_EXTERNAL_DOCUMENT_NO, NAV_YOUR_REFERENCE, DocumentReference
from gateway.sync.service import SyncService
from tests.sync.fakes.nav import NavFake, settings_for

from .conftest import DEADLINE, ORGNR, POS_ID, STORE, ApiFactory, Mosquitto, mqtt_config


@dataclass
class Erp:
    fake: NavFake
    service: SyncService


@pytest.fixture
async def nav() -> AsyncIterator[NavFake]:
    fake = NavFake()
    await fake.start()
    fake.add_customer("KONTANT", "Kontantkund")
    fake.add_customer("20000", "Byggfirman AB")
    fake.add_customer("30000", "Kundlös AB")
    fake.add_item("1001", "Kaffe", "29.02", "MOMS12")
    fake.add_item("1002", "Mugg", "48.00", "MOMS25")
    try:
        yield fake
    finally:
        await fake.stop()


@contextlib.asynccontextmanager
async def sync_module(broker: Mosquitto, tmp_path: Path, **erp: Any) -> AsyncIterator[SyncService]:
    """``tillgw sync`` with the ERP ``erp`` names (``nav=…``, ``fortnox=…``), running until the
    block ends, its order answers subscribed."""
    base = tmp_path / "sync"
    config = SyncConfig(
        inbox=base / "inbox.db",
        sie_dir=base / "sie",
        log_dir=base / "logs",
        mqtt=mqtt_config(broker),
        client_id="sync-test",
        retry_interval=0.2,
        **erp,
    )
    service = SyncService(config)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(once=False, stop=stop))
    try:
        async with asyncio.timeout(DEADLINE):
            waiting = asyncio.create_task(service.answering_orders.wait())
            await asyncio.wait({waiting, running}, return_when=asyncio.FIRST_COMPLETED)
            assert not running.done(), "the sync module stopped: " + str(running.result())
        yield service
    finally:
        stop.set()
        await running


async def till_on_the_bus(make_api: ApiFactory, broker: Mosquitto, **options: Any) -> Any:
    api = await make_api(mqtt_config(broker), **options)
    assert api.till.orders is not None
    async with asyncio.timeout(DEADLINE):
        await api.till.orders.connected.wait()
    return api


def paying(fetched: dict[str, Any], number: str) -> dict[str, Any]:
    """The sale that pays order ``number`` as the till fetched it, one mug (60,00) added, by card."""
    lines = [
        {k: line[k] for k in ("text", "quantity", "unit_price", "vat_rate", "article")}
        for line in fetched["lines"]
    ]
    mug = {"text": "Mugg", "quantity": "1", "unit_price": "60.00", "vat_rate": "25", "article": "1002"}
    lines.append(mug)
    return {
        "id": "pos-order-1",
        "lines": lines,
        "payments": [{"method": "card", "amount": "125.00"}],
        "order": number,
    }


async def test_an_open_order_is_fetched_from_nav_over_the_bus(
    make_api: ApiFactory, mosquitto: Mosquitto, nav: NavFake, tmp_path: Path
) -> None:
    order = nav.add_order("20000", ("1001", "2"), ("1002", "1"), External_Document_No="PO-77")
    nav.add_order("20000", ("1001", "1"), Status="Released")  # not open: not for the till
    async with sync_module(mosquitto, tmp_path, nav=parse_nav(settings_for(nav))):
        api = await till_on_the_bus(make_api, mosquitto)
        status, body = await api.call("GET", "/v1/orders?customer=20000")
        assert status == 200, body
        assert body == {
            "orders": [
                {
                    "number": order["No"],
                    "customer": "20000",
                    "customer_name": "Byggfirman AB",
                    "reference": "PO-77",
                    "lines": [
                        # 29,02 excl. VAT at 12 %: 32,5024 -> 32,50; 48,00 at 25 %: 60,00
                        {"article": "1001", "text": "Kaffe", "quantity": "2", "unit_price": "32.50",
                         "vat_rate": "12", "delivered": "0", "invoiced": "0"},
                        {"article": "1002", "text": "Mugg", "quantity": "1", "unit_price": "60.00",
                         "vat_rate": "25", "delivered": "0", "invoiced": "0"},
                    ],
                }
            ]
        }  # fmt: skip
        status, one = await api.call("GET", f"/v1/orders/{order['No']}")
        assert (status, one["number"], len(one["lines"])) == (200, order["No"], 2)
        status, none = await api.call("GET", "/v1/orders?customer=30000")
        assert (status, none["error"]["code"], none["error"]["field"]) == (404, "not_found", "customer")
        status, missing = await api.call("GET", "/v1/orders/9999")
        assert (status, missing["error"]["message"]) == (404, "the ERP has no open order number '9999'")


async def test_a_receipt_pays_a_fetched_order_with_an_added_line_as_one_posted_invoice(
    make_api: ApiFactory, mosquitto: Mosquitto, nav: NavFake, tmp_path: Path
) -> None:
    order = nav.add_order("20000", ("1001", "2"))
    async with sync_module(mosquitto, tmp_path, nav=parse_nav(settings_for(nav))):
        api = await till_on_the_bus(make_api, mosquitto)
        status, fetched = await api.call("GET", f"/v1/orders/{order['No']}")
        assert status == 200, fetched
        status, receipt = await api.call("POST", "/v1/receipts", paying(fetched, order["No"]))
        assert status == 201, receipt
        assert receipt["receipt"]["order"] == order["No"]
        async with asyncio.timeout(DEADLINE):
            await nav.wait_until(lambda: len(nav.payment_journal) == 1)
    invoices = [p for p in nav.posted if p.get("Order_No") == order["No"]]
    assert len(invoices) == 1
    invoice = invoices[0]
    assert Decimal(str(invoice["Amount_Including_VAT"])) == Decimal("125.00")
    # Chain-unique: orgnr, store and register (gateway/sync/references.py), in NAV's Code field form.
    ours = DocumentReference(ORGNR, STORE, POS_ID, "receipt", receipt["receipt_no"])
    assert invoice["Your_Reference"] == ours.in_field(NAV_YOUR_REFERENCE)
    assert [(x["No"], x["Quantity"]) for x in invoice["lines"]] == [("1001", 2.0), ("1002", 1.0)]
    assert not [h for h in nav.headers if h["No"] == order["No"]], (
        "completely invoiced: NAV deleted the order"
    )
    (payment,) = nav.payment_journal
    assert (payment["Account_No"], payment["Applies_to_Doc_No"], payment["Amount"]) == (
        "20000",
        invoice["No"],
        -125.0,
    )


@pytest.mark.parametrize("delivery", ["later", "now"])
async def test_a_new_order_from_the_till_becomes_a_sales_order_in_nav(
    make_api: ApiFactory, mosquitto: Mosquitto, nav: NavFake, tmp_path: Path, delivery: str
) -> None:
    async with sync_module(mosquitto, tmp_path, nav=parse_nav(settings_for(nav))):
        api = await till_on_the_bus(make_api, mosquitto)
        status, made = await api.call(
            "POST",
            "/v1/orders",
            {
                "customer": "20000",
                "lines": [{"article": "1001", "quantity": "3"}, {"article": "1002", "quantity": 1}],
                "delivery": delivery,
                "note": "Hämtas fredag",
            },
        )
        assert status == 201, made
        assert made["reference"] == f"O-{POS_ID}-1"  # the till's own number for it
        kinds = [kind for kind, _ in journal(api)]
        assert kinds.count("order.new") == 1
        in_nav = DocumentReference(ORGNR, STORE, POS_ID, "order", 1).in_field(NAV_EXTERNAL_DOCUMENT_NO)

        def made_in_nav() -> bool:
            orders = [h for h in nav.headers if h.get("External_Document_No") == in_nav]
            if not orders or len(orders[0]["lines"]) < 2:
                return False
            return delivery == "later" or bool(nav.shipments)

        async with asyncio.timeout(DEADLINE):
            await nav.wait_until(made_in_nav)
    (order,) = [h for h in nav.headers if h.get("External_Document_No") == in_nav]
    assert order["Sell_to_Customer_No"] == "20000" and order["Status"] == "Open"
    assert [(x["No"], x["Quantity"], x["Unit_Price"]) for x in order["lines"]] == [
        ("1001", 3.0, 29.02),
        ("1002", 1.0, 48.0),
    ]
    shipped = [x["Quantity_Shipped"] for x in order["lines"]]
    if delivery == "now":
        assert shipped == [3.0, 1.0] and len(nav.shipments) == 1
    else:
        assert shipped == [0.0, 0.0] and not nav.shipments
    assert not [p for p in nav.posted if p.get("Order_No") == order["No"]], "an order is never invoiced here"


def journal(api: Any) -> list[tuple[str, dict[str, Any]]]:
    import json

    from gateway.fiscal.journal import open_readonly

    with open_readonly(api.till.files.database) as conn:
        return [(row[0], json.loads(row[1])) for row in conn.execute("SELECT kind, body FROM journal")]


async def test_nobody_answering_is_a_504_that_says_why(make_api: ApiFactory, mosquitto: Mosquitto) -> None:
    api = await till_on_the_bus(make_api, mosquitto, order_wait=0.2)
    status, body = await api.call("GET", "/v1/orders?customer=20000")
    assert (status, body) == (
        504,
        {
            "error": {
                "code": "no_answer",
                "message": "the ERP sync module did not answer in 0.2 s — is tillgw sync running?",
            }
        },
    )


async def test_a_till_without_a_bus_cannot_ask(make_api: ApiFactory) -> None:
    api = await make_api()
    status, body = await api.call("GET", "/v1/orders/1001")
    assert (status, body["error"]["code"]) == (503, "no_bus")
    status, body = await api.call("GET", "/v1/orders")
    assert (status, body["error"]["field"]) == (400, "customer")


async def test_a_new_order_is_checked_and_numbered_by_the_till(make_api: ApiFactory) -> None:
    api = await make_api()
    good: dict[str, Any] = {
        "customer": "20000",
        "lines": [{"article": "1001", "quantity": "2"}],
        "delivery": "later",
    }
    for wrong, field, words in [
        ({**good, "delivery": "soon"}, "delivery", 'must be "now" or "later"'),
        ({**good, "customer": ""}, "customer", "must be the ERP's customer number"),
        ({**good, "lines": []}, "lines", "at least one line"),
        (
            {**good, "lines": [{"article": "1001", "quantity": "0"}]},
            "lines[0].quantity",
            "not more than zero",
        ),
        (
            {**good, "lines": [{"article": "1001", "quantity": "1", "price": "9"}]},
            "lines[0].price",
            "not a field",
        ),
        ({**good, "reference": "O-X-1"}, "reference", "given by the till"),
        ({**good, "colour": "red"}, "colour", "not a field of an order"),
    ]:
        status, body = await api.call("POST", "/v1/orders", wrong)
        assert (status, body["error"]["field"]) == (422, field), body
        assert words in body["error"]["message"]
    references = []
    for _ in range(2):
        status, made = await api.call("POST", "/v1/orders", good)
        assert status == 201, made
        references.append(made["reference"])
    assert references == [f"O-{POS_ID}-1", f"O-{POS_ID}-2"]
    entries = [body for kind, body in journal(api) if kind == "order.new"]
    assert [e["reference"] for e in entries] == references
    assert entries[0]["lines"] == [{"article": "1001", "quantity": "2", "text": None}]
