"""Sales orders in Dynamics NAV: open orders to the tills, orders paid at a till, new orders from one.

Fetching (:class:`NavOrders`): the ``SalesOrder`` page (page 42) filtered on
``Status eq 'Open'`` and the customer or the order's No., with each order's lines from
``SalesOrderSalesLines``. Unit prices become the till's (incl. VAT, in öre) exactly as the
catalog's do; a line's VAT Prod. Posting Group gives its rate through ``vat_groups``.

Paying (:class:`NavOrderAdapter`, a receipt with ``order``): the order's lines are made
what the receipt says — a line per receipt line, matched on item No. in order, its
quantity and amounts changed where they differ, the receipt's added lines appended, the
lines the customer did not take set to what is already shipped, and the öre of the cash
rounding on the rounding account — ``Your_Reference`` is set to the receipt's reference in
the chain (:mod:`gateway.sync.references`, Text[35]), the order is posted "Ship and Invoice" through
``order_posting_service``, and the payments go to the cash receipt journal applied to the
posted invoice, as for an ordinary receipt. Before anything, the posted invoice with
``Order_No`` and our ``Your_Reference`` is looked for: found, the order is not posted again
(a crash after NAV posted it and before our commit), only the payments not there yet are made.

New orders (``order.new``): a sales order for the customer with ``External_Document_No`` the
order's reference in the chain (looked for first, so it is made once), one Item
line per line, priced by NAV. Delivered now: posted "Ship" (a posted shipment; the order
stays open to be invoiced from NAV); later: left open.

What the module made before references named the store (``{register}-{receipt_no}``,
``O-{register}-{n}``) is found by that form too, and taken only when it is this store's by
its own fields: the posted invoice of an order paid at the till by its ``Order_No``, a new
order by its customer and day.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.messages.orders import NewOrder, Order, OrderLine
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.nav.adapter import NavAdapter
from gateway.sync.adapters.nav.api import NavApi
from gateway.sync.adapters.nav.config import NavConfig
from gateway.sync.adapters.nav.documents import CREDIT_MEMO, INVOICE, DocumentKind, NavLine, nav_lines
from gateway.sync.adapters.odata import odata_quote
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.orders.common import OrderAdapter, OrderRecords, ore, quantity, till_line, till_order
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.payloads import sale_of
from gateway.sync.references import NAV_DOCUMENT_NO, NAV_YOUR_REFERENCE, DocumentReference
from gateway.sync.sql import SqlConnection

__all__ = ["NAV_ORDERS_SCHEMA", "ORDER", "NavOrderAdapter", "NavOrders"]

ORDER = DocumentKind("Order", "sales_order", "order_lines", "posted_invoice", "Payment")

_RECORDS = OrderRecords("nav_orders")
NAV_ORDERS_SCHEMA = _RECORDS.schema


def _order_filter(number: str) -> str:
    return f"Document_Type eq 'Order' and Document_No eq '{odata_quote(number)}'"


class NavOrders:
    """The open sales orders of NAV, as the tills get them."""

    name = "Dynamics NAV"

    def __init__(self, config: NavConfig, api: NavApi, *, round_up_to_krona: bool = False) -> None:
        self.config = config
        self.api = api
        self.round_up_to_krona = round_up_to_krona
        self.rates = dict(config.vat_groups)

    async def open_orders(self, customer: str | None, number: str | None) -> list[Order]:
        where = ["Document_Type eq 'Order'", "Status eq 'Open'"]
        if customer is not None:
            where.append(f"Sell_to_Customer_No eq '{odata_quote(customer)}'")
        if number is not None:
            where.append(f"No eq '{odata_quote(number)}'")
        client = self.api.client
        try:
            headers = [
                h async for h in client.values(self.api.path("sales_order"), {"$filter": " and ".join(where)})
            ]
            orders = []
            for header in headers:
                lines = client.values(
                    self.api.path("order_lines"), {"$filter": _order_filter(str(header["No"]))}
                )
                orders.append(self._order(header, [line async for line in lines]))
        except (ApiError, ApiUnavailable, OutcomeUnknown) as exc:
            raise OrderLookupError(f"NAV: {exc}") from None
        return orders

    def _order(self, header: dict[str, Any], lines: list[dict[str, Any]]) -> Order:
        includes_vat = bool(header.get("Price_Includes_VAT"))
        out: list[OrderLine] = []
        for line in lines:
            if line.get("Type") not in ("Item", "G/L Account"):
                continue  # a text line: nothing to charge
            where = f"order {header['No']}: line {line.get('Line_No')}"
            group = str(line.get("VAT_Prod_Posting_Group") or "")
            rate = self.rates.get(group)
            if rate is None:
                raise OrderLookupError(
                    f"{where} has VAT Prod. Posting Group {group!r}, which is not in [sync.nav].vat_groups"
                )
            out.append(
                till_line(
                    where,
                    article=str(line["No"]) if line.get("Type") == "Item" else None,
                    text=line.get("Description") or line.get("No"),
                    quantity=quantity(line.get("Quantity")),
                    price=ore(line.get("Unit_Price")),
                    rate=rate,
                    includes_vat=includes_vat,
                    round_up_to_krona=self.round_up_to_krona,
                    delivered=quantity(line.get("Quantity_Shipped")),
                    invoiced=quantity(line.get("Quantity_Invoiced")),
                )
            )
        return till_order(
            header["No"],
            header.get("Sell_to_Customer_No", ""),
            out,
            name=header.get("Sell_to_Customer_Name"),
            reference=header.get("External_Document_No"),
        )


class NavOrderAdapter(OrderAdapter):
    """Receipts that pay a sales order, and new orders from the tills, in Dynamics NAV."""

    name = "Dynamics NAV (orders)"
    erp = "NAV"
    failures = (ApiError, ApiUnavailable, OutcomeUnknown)
    records = _RECORDS
    field = NAV_YOUR_REFERENCE  # the same string as the 35 characters of External_Document_No

    def __init__(self, config: NavConfig, api: NavApi, booking: NavAdapter, *, tries: int = 3) -> None:
        self.config = config
        self.api = api
        self.booking = booking  # the receipts' adapter: its payment lines are made the same way
        self.tries = tries

    # -- a receipt pays an order ----------------------------------------------------------

    async def _pay_order(
        self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, ref: str, order_no: str
    ) -> tuple[str, str]:
        day = payload.at[:10]
        kind, lines = nav_lines(sale_of(m, payload), self.config)
        if kind is CREDIT_MEMO:
            raise AdapterError(f"receipt {ref} is a return: it cannot pay sales order {order_no}")
        ours = DocumentReference.of(m, "receipt", payload.receipt_no)
        document_no = ours.in_field(NAV_DOCUMENT_NO)
        invoiced = f"Order_No eq '{odata_quote(order_no)}' and Your_Reference eq '{odata_quote(ref)}'"
        posted = await self.api.first(INVOICE.posted, invoiced)
        if posted is None and ours.legacy is not None and self.booking.legacy.covers(m):
            # The older module's invoice of this very order: Order_No ties it to this receipt.
            older = (
                f"Order_No eq '{odata_quote(order_no)}' and Your_Reference eq '{odata_quote(ours.legacy)}'"
            )
            posted = await self.api.first(INVOICE.posted, older)
            if posted is not None:
                ref = document_no = ours.legacy
        found = posted is not None
        if posted is None:
            header = await self.api.first(
                ORDER.header, f"Document_Type eq 'Order' and No eq '{odata_quote(order_no)}'"
            )
            if header is None:
                raise AdapterError(
                    f"receipt {ref} pays sales order {order_no}, which NAV does not have open "
                    "(invoiced from NAV, or deleted): nothing booked"
                )
            await self._reference(header, ref)
            await self._converge(order_no, lines)
            with contextlib.suppress(OutcomeUnknown):  # the posted invoice, looked for below, says
                await self._post_order(order_no, ship=True, invoice=True)
            posted = await self.api.first(INVOICE.posted, invoiced)
            if posted is None:
                raise AdapterError(
                    f"sales order {order_no} ({ref}) was sent to {self.config.order_posting_service} but NAV "
                    "shows no posted invoice for it yet; tried again next pass"
                )
        customer = str(posted.get("Sell_to_Customer_No") or self.config.customer)
        await self.booking._payments(INVOICE, ref, day, payload, posted, customer, document_no=document_no)
        return str(posted["No"]), " (found already posted)" if found else ""

    async def _reference(self, header: dict[str, Any], ref: str) -> None:
        """Our receipt's reference in the order's Your_Reference: the posted invoice carries it."""
        if header.get("Your_Reference") == ref:
            return
        lines = [x async for x in self.api.client.values(self.api.path(ORDER.lines), {
            "$filter": _order_filter(str(header["No"]))
        })]  # fmt: skip
        if any(quantity(x.get("Quantity_Invoiced")) for x in lines):
            raise AdapterError(
                f"sales order {header['No']} is partly invoiced in NAV already; the till pays whole "
                "orders only: invoice it from NAV"
            )
        key = f"Document_Type='Order',No='{odata_quote(str(header['No']))}'"
        await self.api.client.patch(
            self.api.path(ORDER.header, key), {"Your_Reference": ref}, str(header["@odata.etag"])
        )

    async def _converge(self, order_no: str, lines: list[NavLine]) -> None:
        """Make the order's lines what the receipt says; read again after an unclear answer."""
        unclear = ""
        for _ in range(self.tries):
            try:
                await self._converge_once(order_no, lines)
            except OutcomeUnknown as exc:
                unclear = str(exc)
                continue
            return
        raise AdapterError(f"{unclear}; the lines of sales order {order_no} are tried again next pass")

    async def _converge_once(self, order_no: str, lines: list[NavLine]) -> None:
        client = self.api.client
        have = [
            x async for x in client.values(self.api.path(ORDER.lines), {"$filter": _order_filter(order_no)})
        ]
        pool = [x for x in have if x.get("Type") in ("Item", "G/L Account")]
        for want in lines:
            match = next((h for h in pool if h.get("Type") == want.type and h.get("No") == want.no), None)
            if match is None:
                await client.request("POST", self.api.path(ORDER.lines), json=want.body(ORDER, order_no))
                continue
            pool.remove(match)
            change: dict[str, Any] = {}
            if quantity(match.get("Quantity")) != want.quantity:
                change["Quantity"] = float(want.quantity)
            if Decimal(str(match.get("Unit_Price", 0))) != want.unit_price:
                change["Unit_Price"] = float(want.unit_price)
            if Decimal(str(match.get("Line_Amount", 0))) != want.line_amount:
                change["Line_Amount"] = float(want.line_amount)
            if change:
                await self._patch_line(order_no, match, change)
        for left in pool:  # what the customer did not take: no more than NAV has shipped of it
            shipped = quantity(left.get("Quantity_Shipped"))
            if quantity(left.get("Quantity")) != shipped:
                await self._patch_line(order_no, left, {"Quantity": float(shipped)})

    async def _patch_line(self, order_no: str, line: dict[str, Any], change: dict[str, Any]) -> None:
        key = f"Document_Type='Order',Document_No='{odata_quote(order_no)}',Line_No={int(line['Line_No'])}"
        await self.api.client.patch(self.api.path(ORDER.lines, key), change, str(line["@odata.etag"]))

    async def _post_order(self, order_no: str, *, ship: bool, invoice: bool) -> None:
        await self.api.client.request(
            "POST",
            self.config.order_posting_service,
            params={"company": self.config.company},
            json={"documentNo": order_no, "ship": ship, "invoice": invoice},
        )

    # -- a new order from a till ----------------------------------------------------------

    async def _make_order(self, m: BusMessage, order: NewOrder, ref: str) -> tuple[str, str]:
        day = m.at[:10]
        by_reference = f"Document_Type eq 'Order' and External_Document_No eq '{odata_quote(ref)}'"
        header = await self.api.first(ORDER.header, by_reference)
        if header is None and order.reference is not None and self.booking.legacy.covers(m):
            header = await self._legacy_order(order, order.reference, day)
        if header is None:
            header = await self._create(order, ref, day, by_reference)
        number = str(header["No"])
        await self._new_lines(order, number)
        shipped = ""
        if order.delivery == "now" and await self._to_ship(number):
            with contextlib.suppress(OutcomeUnknown):  # what is shipped, read below, says
                await self._post_order(number, ship=True, invoice=False)
            if await self._to_ship(number):
                raise AdapterError(
                    f"sales order {number} ({ref}) was sent to {self.config.order_posting_service} to ship, "
                    "but NAV shows it not shipped yet; tried again next pass"
                )
        if order.delivery == "now":
            shipped = ", shipped"
        return number, shipped

    async def _create(self, order: NewOrder, ref: str, day: str, by_reference: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Sell_to_Customer_No": order.customer,
            "External_Document_No": ref,
            "Order_Date": day,
            "Posting_Date": day,
            "Document_Date": day,
        }
        if order.note:
            body["Your_Reference"] = order.note[:35]  # the header's free text the customer sees
        unclear = ""
        for _ in range(self.tries):
            try:
                created = await self.api.client.request("POST", self.api.path(ORDER.header), json=body)
            except OutcomeUnknown as exc:
                unclear = str(exc)
                found = await self.api.first(ORDER.header, by_reference)
                if found is not None:
                    return found
                continue
            if not isinstance(created, dict) or "No" not in created:
                raise AdapterError(
                    f"POST {self.api.path(ORDER.header)} answered no order: {str(created)[:200]}"
                )
            return created
        raise AdapterError(f"{unclear}; {ref} is not in NAV yet, tried again next pass")

    async def _legacy_order(self, order: NewOrder, legacy: str, day: str) -> dict[str, Any] | None:
        """The order the older module made under the till's own reference ``legacy``, when its
        customer and day are this order's (that form names every store's order of the number)."""
        where = f"Document_Type eq 'Order' and External_Document_No eq '{odata_quote(legacy)}'"
        async for header in self.api.client.values(self.api.path(ORDER.header), {"$filter": where}):
            if (header.get("Sell_to_Customer_No"), header.get("Order_Date")) == (order.customer, day):
                return header
        return None

    async def _new_lines(self, order: NewOrder, number: str) -> None:
        """The order's lines, in order; those NAV has are the first ones (read again when unclear)."""
        unclear = ""
        for _ in range(self.tries):
            have = [
                x
                async for x in self.api.client.values(
                    self.api.path(ORDER.lines), {"$filter": _order_filter(number)}
                )
            ]
            try:
                for line in order.lines[len(have) :]:
                    body: dict[str, Any] = {
                        "Document_Type": "Order",
                        "Document_No": number,
                        "Type": "Item",
                        "No": line.article,
                        "Quantity": float(line.quantity),
                    }
                    if line.text:
                        body["Description"] = line.text
                    await self.api.client.request("POST", self.api.path(ORDER.lines), json=body)
            except OutcomeUnknown as exc:
                unclear = str(exc)
                continue
            return
        raise AdapterError(f"{unclear}; the lines of sales order {number} are tried again next pass")

    async def _to_ship(self, number: str) -> bool:
        lines = self.api.client.values(self.api.path(ORDER.lines), {"$filter": _order_filter(number)})
        return any([quantity(x.get("Quantity")) > quantity(x.get("Quantity_Shipped")) async for x in lines])
