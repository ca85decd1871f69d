"""Sales orders in the Business Central fake (which keeps BC's API v2.0 contract for orders):
fetched for the tills, paid by a receipt, made from the till — each once, also after a crash
between BC's write and the inbox's commit; and which ERP keeps the tills' orders when several
are configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.config import MqttConfig
from gateway.receipts.model import Payment, Receipt
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central.adapter import BusinessCentralAdapter
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_tokens
from gateway.sync.adapters.business_central.config import BusinessCentralConfig, parse_business_central
from gateway.sync.adapters.business_central.orders import BusinessCentralOrderAdapter, BusinessCentralOrders
from gateway.sync.adapters.fortnox.config import parse_fortnox
from gateway.sync.adapters.fortnox.orders import FortnoxOrders
from gateway.sync.adapters.nav.config import parse_nav
from gateway.sync.adapters.nav.orders import NavOrders
from gateway.sync.config import SyncConfig
from gateway.sync.erp import SinceConnected, connect, orders_erp
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.references import BC_EXTERNAL_DOCUMENT_NUMBER
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import CARD, CASH, TillFactory, line, our_reference
from tests.sync.fakes.business_central import BusinessCentralFake, settings_for
from tests.sync.test_orders import OrderParts, one_message, process


class Parts(OrderParts):
    """The fake and its configuration; fresh adapters as a restarted module makes them."""

    def __init__(self, fake: BusinessCentralFake, config: BusinessCentralConfig, tokens: Path) -> None:
        self.fake, self.config, self.tokens = fake, config, tokens
        self.apis: list[BusinessCentralApi] = []

    def api(self) -> BusinessCentralApi:
        api = BusinessCentralApi(self.config, bc_tokens(self.config, self.tokens), backoff=0.001)
        self.apis.append(api)
        return api

    def adapters(self) -> list[Any]:
        api = self.api()
        booking = BusinessCentralAdapter(self.config, api)
        return [booking, BusinessCentralOrderAdapter(self.config, api, booking)]


@pytest.fixture
async def bc(tmp_path: Path) -> AsyncIterator[Parts]:
    fake = BusinessCentralFake()
    await fake.start()
    fake.add_customer("KONTANT", "Kontantkund")
    fake.add_customer("20000", "Byggfirman AB")
    fake.add_customer("30000", "Kundlös AB")
    fake.add_item("1001", "Kaffe", "29.02", 12)
    fake.add_item("1002", "Mugg", "48.00", 25)
    fake.add_journal("KASSA")
    fake.add_journal("KORT")
    config = parse_business_central(settings_for(fake, payment_journals={"cash": "KASSA", "card": "KORT"}))
    parts = Parts(fake, config, tmp_path / "tokens.db")
    yield parts
    for api in parts.apis:
        await api.close()
    await fake.stop()


def payments(fake: BusinessCentralFake) -> list[dict[str, Any]]:
    return [p for journal in fake.payments.values() for p in journal]


async def test_business_central_orders_as_the_tills_get_them(bc: Parts) -> None:
    fake = bc.fake
    order = fake.add_order("20000", ("1001", "2"), ("1002", "1"), externalDocumentNumber="PO-77")
    fake.order_lines[order["id"]].append(
        {"id": "c", "sequence": 30000, "lineType": "Comment", "lineObjectNumber": "", "description": "Fredag",
         "quantity": 0.0, "unitPrice": 0.0, "taxPercent": 0.0}
    )  # fmt: skip
    released = fake.add_order("20000", ("1002", "2"), status="Open")
    fake.add_order("20000", ("1001", "1"), status="In Review")
    other = fake.add_order("30000", ("1001", "1"))
    orders = BusinessCentralOrders(bc.config, bc.api())

    found = await orders.open_orders("20000", None)
    assert [o.number for o in found] == [order["number"], released["number"]]
    one = found[0]
    assert (one.customer, one.customer_name, one.reference) == ("20000", "Byggfirman AB", "PO-77")
    # 29,02 excl. VAT at 12 %: 32,5024 -> 32,50; 48,00 at 25 %: 60,00; the comment is left out
    fields = ("article", "text", "quantity", "unit_price", "vat_rate", "delivered", "invoiced")
    assert [tuple(getattr(x, k) for k in fields) for x in one.lines] == [
        ("1001", "Kaffe", Decimal(2), 32_50, 1200, Decimal(0), Decimal(0)),
        ("1002", "Mugg", Decimal(1), 60_00, 2500, Decimal(0), Decimal(0)),
    ]  # fmt: skip
    assert [o.customer for o in await orders.open_orders(None, other["number"])] == ["30000"]
    assert await orders.open_orders("20000", other["number"]) == []
    assert await orders.open_orders(None, "S-ORD999") == []
    rounded = BusinessCentralOrders(bc.config, bc.api(), round_up_to_krona=True)
    assert [x.unit_price for x in (await rounded.open_orders(None, order["number"]))[0].lines] == [
        33_00,
        60_00,
    ]
    fake.order_lines[order["id"]][0]["taxPercent"] = 18.0
    with pytest.raises(OrderLookupError, match=r"line 10000 has VAT 18.0 %, not 25, 12, 6 or 0"):
        await orders.open_orders("20000", None)


async def test_business_central_refuses_what_it_refuses_for_orders(bc: Parts) -> None:
    fake, api = bc.fake, bc.api()
    empty = fake.add_order("20000")
    with pytest.raises(Exception, match="There is nothing to post"):
        await api.request("POST", f"salesOrders({empty['id']})/Microsoft.NAV.shipAndInvoice")
    order = fake.add_order("20000", ("1001", "2"))
    # The sales order page binds shipAndInvoice only: there is no ship action.
    with pytest.raises(Exception, match=r"404.*Resource not found for the segment 'Microsoft.NAV.ship'"):
        await api.request("POST", f"salesOrders({order['id']})/Microsoft.NAV.ship")
    assert fake.violations == [
        f"POST /v2.0/tenant/production/api/v2.0/companies({fake.company})/salesOrders({order['id']})"
        "/Microsoft.NAV.ship: Resource not found for the segment 'Microsoft.NAV.ship'."
    ]
    fake.violations.clear()
    line_ = fake.order_lines[order["id"]][0]
    path = f"{api.company}/salesOrders({order['id']})/salesOrderLines({line_['id']})"
    with pytest.raises(Exception, match=r"412.*Another user has already changed the record"):
        await api.client.patch(path, {"quantity": 3}, 'W/"stale"')
    # Nothing to invoice: shipAndInvoice posts a shipment only, and the order stays.
    await api.client.patch(path, {"invoiceQuantity": 0}, fake.order_lines[order["id"]][0]["@odata.etag"])
    await api.request("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    assert fake.invoices == [] and fake.order_lines[order["id"]][0]["shippedQuantity"] == 2.0
    with pytest.raises(Exception, match=r"Quantity must not be less than 2.0 units"):
        await api.client.patch(path, {"quantity": 1}, fake.order_lines[order["id"]][0]["@odata.etag"])
    await api.request("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    with pytest.raises(Exception, match=r"404.*The sales order does not exist"):
        await api.request("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    released = fake.add_order("20000", ("1001", "1"), status="Open")
    with pytest.raises(Exception, match=r"Status must be equal to 'Open'.*Current value is 'Released'"):
        await api.request(
            "POST",
            f"salesOrders({released['id']})/salesOrderLines",
            json={"lineType": "Item", "lineObjectNumber": "1002", "quantity": 1},
        )


async def test_a_receipt_paying_a_business_central_order_is_invoiced_once_also_after_a_crash(
    bc: Parts, db: SqlConnection, make_till: TillFactory
) -> None:
    fake = bc.fake
    # Made in BC a week before: its own day is not the day it is paid at the till.
    order = fake.add_order(
        "20000", ("1001", "3"), ("1002", "1"), orderDate="2026-11-30", postingDate="2026-11-30"
    )
    till = await make_till()
    # The customer takes 2 of the 3 coffees and 2 mugs, one more than ordered, paying by card and cash.
    await till.pipeline.submit(
        "o1",
        Receipt(
            (line("Kaffe", 2, 32_50, 1200, article="1001"), line("Mugg", 2, 60_00, 2500, article="1002")),
            (Payment(CARD, 100_00), Payment(CASH, 85_00)),
            order=order["number"],
        ),
    )
    message = await one_message(till)
    ref = our_reference(message.payload["receipt_no"], BC_EXTERNAL_DOCUMENT_NUMBER)
    await bc.setup(db)
    (first,) = await process(db, bc.adapters(), message, crash=True)  # posted and paid; we forgot
    assert first.startswith(f"receipt {ref} paid sales order {order['number']}: invoice S-INV")
    (done,) = await process(db, bc.adapters(), message)
    assert done.endswith("(found already posted)")
    (again,) = await process(db, bc.adapters(), message)
    assert "already paid order" in again

    (invoice,) = fake.invoices
    assert (invoice["orderNumber"], invoice["externalDocumentNumber"], invoice["customerNumber"]) == (
        order["number"],
        ref,
        "20000",
    )
    assert Decimal(str(invoice["totalAmountIncludingTax"])) == Decimal("185.00")
    day = message.payload["at"][:10]
    assert invoice["postingDate"] == day and {p["postingDate"] for p in payments(fake)} == {day}
    items = [
        (x["lineObjectNumber"], x["quantity"]) for x in fake.lines[invoice["id"]] if x["lineType"] == "Item"
    ]
    assert items == [("1001", 2.0), ("1002", 2.0)]
    assert not fake.orders, "completely shipped and invoiced: BC deleted the order"
    paid = sorted(
        (p["description"], p["amount"], p["customerNumber"], p["appliesToInvoiceId"]) for p in payments(fake)
    )
    assert paid == [
        (f"{ref} card", -100.0, "20000", invoice["id"]),
        (f"{ref} cash", -85.0, "20000", invoice["id"]),
    ]  # fmt: skip


async def test_an_order_business_central_does_not_have_is_not_booked(
    bc: Parts, db: SqlConnection, make_till: TillFactory
) -> None:
    till = await make_till()
    await till.pipeline.submit(
        "o1",
        Receipt((line("Kaffe", 1, 32_50, 1200, article="1001"),), (Payment(CARD, 32_50),), order="S-ORD999"),
    )
    message = await one_message(till)
    await bc.setup(db)
    with pytest.raises(AdapterError, match="pays sales order S-ORD999, which Business Central does not have"):
        await process(db, bc.adapters(), message)
    assert not bc.fake.invoices and not payments(bc.fake)


@pytest.mark.parametrize("delivery", ["later", "now"])
async def test_a_new_order_is_made_once_in_business_central_also_after_a_crash(
    bc: Parts, db: SqlConnection, make_till: TillFactory, delivery: str
) -> None:
    fake = bc.fake
    till = await make_till()
    body = {
        "customer": "20000",
        "lines": [{"article": "1001", "quantity": "3"}, {"article": "1002", "quantity": "1", "text": "Blå"}],
        "delivery": delivery,
    }
    await till.pipeline.record("order.new", body)
    message = await one_message(till)
    ref = our_reference(1, BC_EXTERNAL_DOCUMENT_NUMBER, "order")  # the till's O-KASSA1-1, in the chain
    await bc.setup(db)
    (first,) = await process(db, bc.adapters(), message, crash=True)
    (done,) = await process(db, bc.adapters(), message)
    assert done == first and done.endswith(", shipped") == (delivery == "now")
    (again,) = await process(db, bc.adapters(), message)
    assert again.endswith("; nothing done")

    (order,) = fake.orders
    assert (order["externalDocumentNumber"], order["customerNumber"]) == (ref, "20000")
    shipped = 3.0 if delivery == "now" else 0.0
    assert [
        (x["lineObjectNumber"], x["description"], x["quantity"], x["unitPrice"], x["shippedQuantity"])
        for x in fake.order_lines[order["id"]]
    ] == [
        ("1001", "Kaffe", 3.0, 29.02, shipped),
        ("1002", "Blå", 1.0, 48.0, 1.0 if delivery == "now" else 0.0),
    ]
    assert len(fake.shipments) == (1 if delivery == "now" else 0)
    assert not fake.invoices, "an order made at the till is invoiced from BC"


async def test_the_first_configured_of_nav_business_central_and_fortnox_keeps_the_orders(
    bc: Parts, tmp_path: Path
) -> None:
    base: dict[str, Any] = {
        "inbox": tmp_path / "inbox.db", "sie_dir": tmp_path / "sie", "log_dir": tmp_path / "logs",
        "mqtt": MqttConfig(),
    }  # fmt: skip
    fortnox = parse_fortnox({"client_id": "a", "client_secret": "b"})
    nav = parse_nav({
        "base_url": "http://127.0.0.1:1/ODataV4/Company('CRONUS')", "username": "u", "password": "p",
        "customer": "KONTANT", "vat_groups": {"MOMS25": 25},
    })  # fmt: skip

    async def orders_of(config: SyncConfig) -> tuple[type | None, list[str]]:
        erp = connect(config)
        await erp.close()
        names = [a.name for a in erp.adapters if isinstance(a, SinceConnected)]
        return (type(erp.orders) if erp.orders else None), names

    only_fortnox = SyncConfig(**base, fortnox=fortnox)
    assert orders_erp(only_fortnox) == "fortnox"
    assert await orders_of(only_fortnox) == (FortnoxOrders, ["Fortnox", "Fortnox (orders)"])
    both = SyncConfig(**base, fortnox=fortnox, business_central=bc.config)
    assert await orders_of(both) == (
        BusinessCentralOrders,
        ["Fortnox", "Business Central", "Business Central (orders)"],
    )
    every = SyncConfig(**base, fortnox=fortnox, business_central=bc.config, nav=nav)
    kind, names = await orders_of(every)
    assert kind is NavOrders and names == [
        "Fortnox",
        "Business Central",
        "Dynamics NAV",
        "Dynamics NAV (orders)",
    ]
