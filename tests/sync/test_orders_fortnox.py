"""Sales orders in the Fortnox fake (which keeps Fortnox's contract for orders): fetched for the
tills, paid by a receipt, made from the till — each once, also after a crash between Fortnox's
write and the inbox's commit — and account customers' receipts sent as orders.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.config import ConfigError
from gateway.messages.envelope import BusMessage, decode_message
from gateway.receipts.model import Payment, Receipt
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter
from gateway.sync.adapters.fortnox.api import fortnox_client
from gateway.sync.adapters.fortnox.config import FortnoxConfig
from gateway.sync.adapters.fortnox.orders import FortnoxOrderAdapter, FortnoxOrders
from gateway.sync.http import ApiClient, ApiError, SlidingWindowLimiter
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.references import FORTNOX_EXTERNAL_INVOICE_REFERENCE
from gateway.sync.settings import AccountsConfig
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import CARD, POS_ID, TillFactory, line, our_reference
from tests.sync.fakes.fortnox import FakeFortnox, config_for, running
from tests.sync.test_fortnox import WINDOW
from tests.sync.test_orders import OrderParts, one_message, process


class Parts(OrderParts):
    """The fake, its configuration, a client that retries at once; fresh adapters as a restart makes."""

    def __init__(self, fake: FakeFortnox, config: FortnoxConfig, client: ApiClient) -> None:
        self.fake, self.config, self.client = fake, config, client

    def adapters(self) -> list[Any]:
        booking = FortnoxAdapter(self.config, AccountsConfig(), self.client)
        return [booking, FortnoxOrderAdapter(self.config, self.client, booking)]


@contextlib.asynccontextmanager
async def fortnox(tmp_path: Path, **over: Any) -> AsyncIterator[Parts]:
    async with running(window=WINDOW) as fake:
        config = config_for(fake, **over)
        limiter = SlidingWindowLimiter(25, WINDOW * 1.1)
        async with fortnox_client(config, tmp_path / "tokens.db", limiter=limiter, backoff=0.001) as client:
            fake.add_customer("20000", "Byggfirman AB")
            fake.add_customer("30000", "Kundlös AB")
            fake.add_article("1001", "Kaffe", "29.02", vat=12)
            fake.add_article("1002", "Mugg", "48.00", vat=25)
            yield Parts(fake, config, client)


# -- fetching ---------------------------------------------------------------------------------


async def test_fortnox_orders_as_the_tills_get_them(tmp_path: Path) -> None:
    async with fortnox(tmp_path) as parts:
        fake = parts.fake
        first = fake.add_order("20000", ("1001", "2"), ("1002", "1"), YourOrderNumber="PO-77")
        fake.orders[int(first["DocumentNumber"])]["OrderRows"].append(
            {"RowId": 3, "ArticleNumber": "", "Description": "Hämtas fredag", "OrderedQuantity": "0",
             "DeliveredQuantity": "0", "Price": 0, "VAT": 25}
        )  # fmt: skip
        included = fake.add_order("20000", ("1002", "2"), VATIncluded=True)
        fake.add_order("20000", ("1001", "1"), Cancelled=True)
        fake.add_order("20000", ("1001", "1"), InvoiceReference="17")
        other = fake.add_order("30000", ("1001", "1"))
        orders = FortnoxOrders(parts.config, parts.client)

        found = await orders.open_orders("20000", None)
        assert [o.number for o in found] == [first["DocumentNumber"], included["DocumentNumber"]]
        one, two = found
        assert (one.customer, one.customer_name, one.reference) == ("20000", "Byggfirman AB", "PO-77")
        # 29,02 excl. VAT at 12 %: 32,5024 -> 32,50; 48,00 at 25 %: 60,00; the text row is left out
        assert [
            (x.article, x.text, x.quantity, x.unit_price, x.vat_rate, x.delivered) for x in one.lines
        ] == [
            ("1001", "Kaffe", Decimal(2), 32_50, 1200, Decimal(0)),
            ("1002", "Mugg", Decimal(1), 60_00, 2500, Decimal(0)),
        ]
        assert [x.unit_price for x in two.lines] == [48_00], "the order's prices include VAT"

        by_number = await orders.open_orders(None, other["DocumentNumber"])
        assert [o.customer for o in by_number] == ["30000"]
        assert await orders.open_orders("20000", other["DocumentNumber"]) == []
        assert await orders.open_orders(None, "3") == [], "cancelled"
        assert await orders.open_orders(None, "4") == [], "invoiced"
        assert await orders.open_orders(None, "999") == []
        assert await orders.open_orders(None, "PO-77") == []
        assert await orders.open_orders("99999", None) == []

        rounded = FortnoxOrders(parts.config, parts.client, round_up_to_krona=True)
        assert [x.unit_price for x in (await rounded.open_orders(None, "1"))[0].lines] == [33_00, 60_00]
        fake.orders[1]["OrderRows"][0]["VAT"] = 18
        with pytest.raises(OrderLookupError, match=r"order 1: row 1 has VAT 18 %, not 25, 12, 6 or 0"):
            await orders.open_orders("20000", None)


async def test_fortnox_refuses_what_it_refuses_for_orders(tmp_path: Path) -> None:
    async with fortnox(tmp_path) as parts:
        fake, client = parts.fake, parts.client
        order = fake.add_order("20000", ("1001", "2"))
        n = order["DocumentNumber"]
        with pytest.raises(ApiError, match="inga levererade rader"):
            await client.request("PUT", f"orders/{n}/createinvoice")
        with pytest.raises(ApiError, match="Levererat antal får inte vara större"):
            rows = [{"ArticleNumber": "1001", "OrderedQuantity": "1", "DeliveredQuantity": "2"}]
            await client.request("PUT", f"orders/{n}", json={"Order": {"OrderRows": rows}})
        assert fake.orders[int(n)]["OrderRows"][0]["OrderedQuantity"] == "2", (
            "a refused change changes nothing"
        )
        rows = [{"ArticleNumber": "1001", "OrderedQuantity": "2", "DeliveredQuantity": "2"}]
        await client.request("PUT", f"orders/{n}", json={"Order": {"OrderRows": rows}})
        made = await client.request("PUT", f"orders/{n}/createinvoice")
        assert made["Invoice"]["OrderReference"] == n
        with pytest.raises(ApiError, match=r"HTTP 400 .*är redan fakturerad"):
            await client.request("PUT", f"orders/{n}/createinvoice")
        cancelled = fake.add_order("20000", ("1001", "1"), Cancelled=True)
        with pytest.raises(ApiError, match="är makulerad"):
            await client.request("PUT", f"orders/{cancelled['DocumentNumber']}/createinvoice")
        with pytest.raises(ApiError, match="query parameter 'yourordernumber' is not defined"):
            await client.request("GET", "orders", params={"yourordernumber": "PO-1"})
        assert "yourordernumber" in fake.violations.pop(), "the contract allows it on invoices only"
        with pytest.raises(ApiError, match="Artikeln 9999 hittades inte"):
            await client.request("POST", "orders", json={"Order": {
                "CustomerNumber": "20000", "OrderRows": [{"ArticleNumber": "9999", "OrderedQuantity": "1"}]
            }})  # fmt: skip
        for i in range(3):
            fake.add_order("30000", ("1001", str(i + 1)))
        paged = await client.request(
            "GET", "orders", params={"customernumber": "30000", "limit": 2, "page": 2}
        )
        assert paged["MetaInformation"] == {"@TotalResources": 3, "@TotalPages": 2, "@CurrentPage": 2}


# -- paying an order --------------------------------------------------------------------------


async def test_a_receipt_paying_a_fortnox_order_is_invoiced_once_also_after_a_crash(
    tmp_path: Path, db: SqlConnection, make_till: TillFactory
) -> None:
    async with fortnox(tmp_path) as parts:
        fake = parts.fake
        order = fake.add_order("20000", ("1001", "3"), ("1002", "1"))
        n = order["DocumentNumber"]
        till = await make_till()
        # The customer takes 2 of the 3 coffees and 2 mugs: one more than ordered, added at the till.
        await till.pipeline.submit(
            "o1",
            Receipt(
                (line("Kaffe", 2, 32_50, 1200, article="1001"), line("Mugg", 2, 60_00, 2500, article="1002")),
                (Payment(CARD, 185_00),),
                order=n,
            ),
        )
        message = await one_message(till)
        ref = our_reference(message.payload["receipt_no"], FORTNOX_EXTERNAL_INVOICE_REFERENCE)
        await parts.setup(db)
        # Fortnox invoices the order and the answer is lost; the client asks again and is told the
        # order is invoiced already; then the process dies before the inbox commits.
        fake.drop_after_commit("PUT", f"/3/orders/{n}/createinvoice")
        (first,) = await process(db, parts.adapters(), message, crash=True)
        assert first == f"receipt {ref} paid sales order {n}: invoice 1, booked"
        (done,) = await process(db, parts.adapters(), message)
        assert done == f"receipt {ref} paid sales order {n}: invoice 1 (found already made), booked"
        (again,) = await process(db, parts.adapters(), message)
        assert "already paid order" in again

        (invoice,) = fake.invoices.values()
        assert (invoice["OrderReference"], invoice["ExternalInvoiceReference1"]) == (n, ref)
        assert [(r.get("ArticleNumber"), r["DeliveredQuantity"]) for r in invoice["InvoiceRows"]] == [
            ("1001", "2"),
            ("1002", "2"),
        ]
        assert (invoice["Total"], invoice["Booked"], invoice["Balance"]) == (185.0, True, 0.0)
        (payment,) = fake.payments.values()
        assert (payment["ModeOfPayment"], payment["Amount"], payment["Booked"]) == ("KORT", 185.0, True)
        assert fake.orders[int(n)]["InvoiceReference"] == invoice["DocumentNumber"]
        assert fake.calls("PUT", f"/3/orders/{n}/createinvoice") == 2, "the lost answer's repeat, refused"
        rows = list(await db.execute_fetchall("SELECT receipt_no FROM fortnox_invoiced"))
        assert rows == [(message.payload["receipt_no"],)], "the Z voucher leaves the invoiced sale out"


async def test_an_order_fortnox_cannot_invoice_is_not_booked(
    tmp_path: Path, db: SqlConnection, make_till: TillFactory
) -> None:
    async with fortnox(tmp_path) as parts:
        fake = parts.fake
        cancelled = fake.add_order("20000", ("1001", "1"), Cancelled=True)
        till = await make_till()
        for i, number in enumerate((cancelled["DocumentNumber"], "2999")):
            await till.pipeline.submit(
                f"o{i}",
                Receipt(
                    (line("Kaffe", 1, 32_50, 1200, article="1001"),), (Payment(CARD, 32_50),), order=number
                ),
            )
        first, second = [decode_message(data) for _, data in await till.messages()]
        await parts.setup(db)
        with pytest.raises(AdapterError, match=r"pays sales order 1, which is cancelled in Fortnox"):
            await process(db, parts.adapters(), first)
        with pytest.raises(AdapterError, match=r"pays sales order 2999, which Fortnox does not have"):
            await process(db, parts.adapters(), second)
        assert not fake.invoices and not fake.payments


# -- new orders from the till ------------------------------------------------------------------


@pytest.mark.parametrize("delivery", ["later", "now"])
async def test_a_new_order_is_made_once_in_fortnox_also_after_a_crash(
    tmp_path: Path, db: SqlConnection, make_till: TillFactory, delivery: str
) -> None:
    async with fortnox(tmp_path) as parts:
        fake = parts.fake
        # An order whose reference starts with ours: Fortnox's search finds it too; it is not ours.
        longer = our_reference(10, FORTNOX_EXTERNAL_INVOICE_REFERENCE, "order")
        fake.add_order("30000", ("1001", "1"), ExternalInvoiceReference1=longer)
        till = await make_till()
        body = {
            "customer": "20000",
            "lines": [
                {"article": "1001", "quantity": "3"},
                {"article": "1002", "quantity": "1", "text": "Blå"},
            ],
            "delivery": delivery,
            "note": "Hämtas fredag",
        }
        await till.pipeline.record("order.new", body)
        message = await one_message(till)
        assert message.payload["reference"] == f"O-{POS_ID}-1"  # the till's own, in its journal
        ref = our_reference(1, FORTNOX_EXTERNAL_INVOICE_REFERENCE, "order")
        await parts.setup(db)
        fake.drop_after_commit("POST", "/3/orders")  # made, and the answer lost: found, not sent again
        (first,) = await process(db, parts.adapters(), message, crash=True)
        assert first.startswith(f"order {ref} (20000) made sales order 2 (found already made)")
        (done,) = await process(db, parts.adapters(), message)
        assert "(found already made)" in done and done.endswith(", delivered") == (delivery == "now")
        (again,) = await process(db, parts.adapters(), message)
        assert again == f"order {ref} already is sales order 2; nothing done"

        made = [o for o in fake.orders.values() if o["ExternalInvoiceReference1"] == ref]
        assert len(made) == 1 and fake.calls("POST", "/3/orders") == 1
        (order,) = made
        assert (order["CustomerNumber"], order["Remarks"], order["InvoiceReference"]) == (
            "20000",
            "Hämtas fredag",
            "0",
        )
        delivered = "3" if delivery == "now" else "0"
        fields = ("ArticleNumber", "Description", "OrderedQuantity", "DeliveredQuantity", "Price")
        assert [tuple(r[k] for k in fields) for r in order["OrderRows"]] == [
            ("1001", "Kaffe", "3", delivered, 29.02),
            ("1002", "Blå", "1", "1" if delivery == "now" else "0", 48.0),
        ]  # fmt: skip
        assert order["DeliveryDate"] == (message.at[:10] if delivery == "now" else None)
        assert not fake.invoices, "an order made at the till is invoiced from Fortnox"


# -- account customers' receipts as orders -----------------------------------------------------


def with_customer(message: BusMessage, customer: str) -> BusMessage:
    payload = json.loads(json.dumps(message.payload))
    payload["sale"]["customer"] = customer
    return msgspec.structs.replace(message, payload=payload)


async def test_invoices_as_order_makes_account_customers_receipts_orders_once(
    tmp_path: Path, db: SqlConnection, make_till: TillFactory
) -> None:
    async with fortnox(tmp_path, mode="full", invoices="account_customers", invoices_as="order") as parts:
        fake = parts.fake
        till = await make_till()
        await till.pipeline.submit(
            "r1",
            Receipt(
                (line("Kaffe", 2, 32_50, 1200, article="1001"), line("Påse", 1, 2_00, 2500)),
                (Payment(CARD, 67_00),),
            ),
        )
        message = with_customer(await one_message(till), "20000")
        ref = our_reference(message.payload["receipt_no"], FORTNOX_EXTERNAL_INVOICE_REFERENCE)
        await parts.setup(db)
        await process(db, parts.adapters(), message, crash=True)
        (done,) = await process(db, parts.adapters(), message)
        assert done == f"receipt {ref} (20000): order 1 (found already made), not invoiced"
        (again,) = await process(db, parts.adapters(), message)
        assert again == f"receipt {ref} already is order 1"
        (order,) = fake.orders.values()
        assert (order["ExternalInvoiceReference1"], order["VATIncluded"], order["Total"]) == (ref, True, 67.0)
        assert [
            (r["ArticleNumber"], r["OrderedQuantity"], r["DeliveredQuantity"]) for r in order["OrderRows"]
        ] == [
            ("1001", "2", "2"),
            ("", "1", "1"),
        ]
        assert not fake.invoices and not fake.payments, "not invoiced, not booked, not paid"
        assert not list(await db.execute_fetchall("SELECT * FROM fortnox_invoiced")), "the Z books the sale"
    with pytest.raises(ConfigError, match=r"\[sync.fortnox\].invoices_as: must be one of invoice, order"):
        config_for(fake, invoices_as="orders")
    with pytest.raises(
        ConfigError, match=r'\[sync.fortnox\].invoices_as: "order" says how receipts are sent'
    ):
        config_for(fake, invoices_as="order")
