"""Receipts that pay a sales order, and new orders from the till, in the ERPs' fakes: real HTTP on
127.0.0.1, real SQLite, a real till's messages — and a crash between the ERP's write and the
inbox's commit, after which nothing is done twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError
from gateway.messages.envelope import BusMessage, decode_message
from gateway.receipts.model import Payment, Receipt
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter
from gateway.sync.adapters.nav.adapter import NavAdapter
from gateway.sync.adapters.nav.api import NavApi
from gateway.sync.adapters.nav.config import parse_nav
from gateway.sync.adapters.nav.orders import NavOrderAdapter, NavOrders
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.references import NAV_EXTERNAL_DOCUMENT_NO
from gateway.sync.settings import AccountsConfig
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import CARD, POS_ID, TillFactory, a_day, line, our_reference
from tests.sync.fakes.fortnox import config_for
from tests.sync.fakes.nav import NavFake, settings_for
from tests.sync.test_fortnox import fortnox


async def process(
    db: SqlConnection, adapters: list[Any], message: BusMessage, *, crash: bool = False
) -> list[str]:
    """One message through the adapters in one transaction, committed as the processor does — or,
    with ``crash``, rolled back after the ERP was written to (as a crash before the commit)."""
    await db.execute("BEGIN IMMEDIATE")
    done: list[str] = []
    try:
        for adapter in adapters:
            if adapter.handles(message.kind):
                what = await adapter.process(db, message)
                if what:
                    done.append(what)
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    await db.execute("ROLLBACK" if crash else "COMMIT")
    return done


async def one_message(till: Any) -> BusMessage:
    """The till's one message (it has sold once)."""
    (message,) = [decode_message(data) for _, data in await till.messages()]
    return message


class OrderParts:
    """An ERP's fake and configuration; ``adapters()`` a fresh pair (the receipts' and the orders'),
    as a restarted module makes them."""

    def adapters(self) -> list[Any]:
        raise NotImplementedError

    async def setup(self, db: SqlConnection) -> None:
        for adapter in self.adapters():
            await adapter.setup(db)


# -- Dynamics NAV -------------------------------------------------------------------------


@pytest.fixture
async def nav() -> AsyncIterator[NavFake]:
    fake = NavFake()
    await fake.start()
    fake.add_customer("KONTANT", "Kontantkund")
    fake.add_customer("20000", "Byggfirman AB")
    fake.add_item("1001", "Kaffe", "29.02", "MOMS12")
    fake.add_item("1002", "Mugg", "48.00", "MOMS25")
    yield fake
    await fake.stop()


class NavParts(OrderParts):
    def __init__(self, fake: NavFake) -> None:
        self.config = parse_nav(settings_for(fake))
        self.apis: list[NavApi] = []

    def adapters(self) -> list[Any]:
        """A fresh pair (the receipts' and the orders'), as a restarted module makes."""
        api = NavApi(self.config, backoff=0.001)
        self.apis.append(api)
        booking = NavAdapter(self.config, api)
        return [booking, NavOrderAdapter(self.config, api, booking)]

    async def close(self) -> None:
        for api in self.apis:
            await api.close()


@pytest.fixture
async def nav_parts(nav: NavFake) -> AsyncIterator[NavParts]:
    parts = NavParts(nav)
    yield parts
    await parts.close()


async def test_a_receipt_paying_a_nav_order_is_invoiced_once_also_after_a_crash(
    nav: NavFake, nav_parts: NavParts, db: SqlConnection, make_till: TillFactory
) -> None:
    order = nav.add_order("20000", ("1001", "3"), ("1002", "1"))
    till = await make_till()
    # The customer takes 2 of the 3 coffees, not the mug, and adds a second mug... of another kind:
    # here one more coffee line at the till's price, and a mug added at the till.
    await till.pipeline.submit(
        "o1",
        Receipt(
            (line("Kaffe", 2, 32_50, 1200, article="1001"), line("Mugg", 2, 60_00, 2500, article="1002")),
            (Payment(CARD, 185_00),),
            order=order["No"],
        ),
    )
    message = await one_message(till)
    assert message.payload["sale"]["order"] == order["No"]
    await nav_parts.setup(db)
    await process(db, nav_parts.adapters(), message, crash=True)  # NAV posted and paid; we forgot
    assert len([p for p in nav.posted if p.get("Order_No") == order["No"]]) == 1
    (done,) = await process(db, nav_parts.adapters(), message)
    assert "(found already posted)" in done
    (again,) = await process(db, nav_parts.adapters(), message)
    assert "already paid order" in again
    (invoice,) = [p for p in nav.posted if p.get("Order_No") == order["No"]]
    assert Decimal(str(invoice["Amount_Including_VAT"])) == Decimal("185.00")
    assert [(x["No"], x["Quantity"]) for x in invoice["lines"]] == [("1001", 2.0), ("1002", 2.0)]
    assert len(nav.payment_journal) == 1, "one payment line, applied to the one invoice"
    assert nav.posting_calls == 1


async def test_an_order_nav_no_longer_has_open_is_not_booked(
    nav: NavFake, nav_parts: NavParts, db: SqlConnection, make_till: TillFactory
) -> None:
    till = await make_till()
    await till.pipeline.submit(
        "o1",
        Receipt((line("Kaffe", 1, 32_50, 1200, article="1001"),), (Payment(CARD, 32_50),), order="2999"),
    )
    message = await one_message(till)
    await nav_parts.setup(db)
    with pytest.raises(AdapterError, match="pays sales order 2999, which NAV does not have open"):
        await process(db, nav_parts.adapters(), message)
    assert not nav.posted and not nav.payment_journal


async def test_nav_refuses_what_the_real_service_refuses_for_orders(nav: NavFake) -> None:
    order = nav.add_order("20000", ("1001", "2"))
    assert nav._post_order({"documentNo": order["No"], "ship": True, "invoice": False}).status == 200
    refused = nav._post_order({"documentNo": order["No"], "ship": True, "invoice": False})
    assert refused.status == 400 and "There is nothing to post." in str(refused.text)
    assert nav._post_order({"documentNo": order["No"], "ship": False, "invoice": True}).status == 200
    twice = nav._post_order({"documentNo": order["No"], "ship": True, "invoice": True})
    # the order is deleted once invoiced
    assert twice.status == 400 and "The Sales Header does not exist" in str(twice.text)
    other = nav.add_order("20000", ("1001", "2"))
    line_ = other["lines"][0]
    too_many = nav._patch_order_line(line_, {"Qty_to_Ship": 3})
    assert too_many.status == 400 and "You cannot ship more than 2 units." in str(too_many.text)
    unknown = nav._create_line(
        {"Document_Type": "Order", "Document_No": other["No"], "Type": "Item", "No": "X"}
    )
    assert unknown.status == 400 and "The Item does not exist" in str(unknown.text)
    nobody = nav._create_header({"Sell_to_Customer_No": "99999", "Posting_Date": "2026-01-01"}, "Order")
    assert nobody.status == 400 and "The Customer does not exist" in str(nobody.text)


async def test_a_new_order_is_made_once_in_nav_and_shipped_when_delivered_now(
    nav: NavFake, nav_parts: NavParts, db: SqlConnection, make_till: TillFactory
) -> None:
    till = await make_till()
    body = {"customer": "20000", "lines": [{"article": "1001", "quantity": "3"}], "delivery": "now"}
    await till.pipeline.record("order.new", body)
    message = await one_message(till)
    assert message.kind == "order.new" and message.payload["reference"] == f"O-{POS_ID}-1"
    await nav_parts.setup(db)
    await process(db, nav_parts.adapters(), message, crash=True)
    (done,) = await process(db, nav_parts.adapters(), message)
    assert done.endswith(", shipped")
    (order,) = [h for h in nav.headers if h.get("Document_Type") == "Order"]
    assert order["External_Document_No"] == our_reference(1, NAV_EXTERNAL_DOCUMENT_NO, "order")
    assert [(x["Quantity"], x["Quantity_Shipped"]) for x in order["lines"]] == [(3.0, 3.0)]
    assert len(nav.shipments) == 1 and not nav.posted


async def test_nav_orders_as_the_tills_get_them(nav: NavFake, nav_parts: NavParts) -> None:
    nav.add_order("20000", ("1001", "2"))
    api = NavApi(nav_parts.config, backoff=0.001)
    nav_parts.apis.append(api)
    (order,) = await NavOrders(nav_parts.config, api, round_up_to_krona=True).open_orders("20000", None)
    assert [(x.unit_price, x.vat_rate, x.quantity) for x in order.lines] == [(33_00, 1200, Decimal(2))]
    nav.vat_rates["MOMS99"] = Decimal(0)
    nav.add_item("1003", "Okänd moms", "10", "MOMS99")
    nav.add_order("20000", ("1003", "1"))
    with pytest.raises(OrderLookupError, match="'MOMS99', which is not in"):
        await NavOrders(nav_parts.config, api).open_orders("20000", None)


# -- Fortnox: the Z voucher's cost centre -------------------------------------------------


async def test_the_z_voucher_carries_the_cost_centre_and_fortnox_refuses_an_unknown_one(
    make_till: TillFactory, db: SqlConnection, tmp_path: Path
) -> None:
    till = await make_till()
    await a_day(till.pipeline)
    await till.pipeline.report("z")
    z_message = [decode_message(data) for _, data in await till.messages()][-1]
    assert z_message.kind == "report.z"
    async with fortnox(tmp_path, cost_center="BUTIK1") as (fake, config, client):
        fake.add_cost_center("BUTIK2", "Butiken i Ljungby")
        adapter = FortnoxAdapter(config, AccountsConfig(), client)
        await adapter.setup(db)
        with pytest.raises(AdapterError, match=r"Fortnox refused: .*Kostnadsstället BUTIK1 hittades inte\."):
            await process(db, [adapter], z_message)
        assert not fake.vouchers
        fake.add_cost_center("BUTIK1", "Butiken i Växjö")
        await process(db, [adapter], z_message)
        (voucher,) = fake.vouchers
        assert {row["CostCenter"] for row in voucher["VoucherRows"]} == {"BUTIK1"}
    with pytest.raises(ConfigError, match=r"\[sync.fortnox\].cost_center: 'BUTIK 1' must be 1-6 letters"):
        config_for(fake, cost_center="BUTIK 1")
