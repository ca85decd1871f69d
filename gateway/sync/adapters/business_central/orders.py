"""Sales orders in Business Central (API v2.0): open orders to the tills, orders paid at a till,
new orders from one.

Fetching (:class:`BusinessCentralOrders`): ``salesOrders?$filter=customerNumber eq '…' and
status ne 'In Review'`` (or ``number eq '…'``), each order's lines from ``salesOrderLines``.
The API's status of a sales order is ``Draft`` (the order is open in BC and can be edited),
``In Review`` (pending approval: not for the till) or ``Open`` (released). BC deletes an
order once it is completely shipped and invoiced, so every order it lists is still to be
paid. A line's ``unitPrice`` becomes the till's price (incl. VAT, in öre) exactly as the
catalog's prices do, incl. VAT when the order's ``pricesIncludeTax`` says so; its
``taxPercent`` is the rate; ``shippedQuantity`` and ``invoicedQuantity`` are said as they are.

Paying (:class:`BusinessCentralOrderAdapter`, a receipt with ``order``): the order's
``externalDocumentNumber`` becomes the receipt's reference in the chain
(:mod:`gateway.sync.references`)
(PATCH with the order's etag), its lines what the receipt says — matched on item number in
order, quantity and unit price (excl. VAT) changed where they differ (PATCH with the line's
etag), the receipt's added lines appended, the lines not taken set to what is shipped — and
an Account line on ``rounding_account`` takes what BC's VAT arithmetic and the cash
rounding leave; then ``Microsoft.NAV.shipAndInvoice``. The posted invoice carries the
reference: before anything it is looked for (``salesInvoices?$filter=externalDocumentNumber
eq …``) and, found, the order is not posted again. The payments are made as for any receipt
(one customer payment journal line per means, applied to the invoice), for the order's
customer. A released order cannot have its lines changed: BC says so, and the log quotes it.

New orders (``order.new``): ``POST salesOrders`` with ``externalDocumentNumber`` the order's
reference in the chain (looked for first), one Item line per line, priced by BC.
Delivered now: the API's sales order page binds one action, ``Microsoft.NAV.shipAndInvoice``
(there is no ``ship``); it posts with ship and invoice as BC's Sales-Post does, each line's
``shipQuantity`` shipped and its ``invoiceQuantity`` invoiced. So each line's
``invoiceQuantity`` is set to 0 first (PATCH with the line's etag) and the action then posts
a shipment only: the order stays, to be invoiced from BC; later: left open.

What the module made before references named the store (``{register}-{receipt_no}``,
``O-{register}-{n}``) is found by that form too, and taken only when it is this store's by
its own fields: the posted invoice of an order paid at the till by its ``orderNumber``, a
new order by its customer and day.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.messages.orders import NewOrder, Order, OrderLine
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.receipts.money import kronor_decimal
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central.adapter import BusinessCentralAdapter, InvoiceLine, invoice_lines
from gateway.sync.adapters.business_central.api import BusinessCentralApi
from gateway.sync.adapters.business_central.config import BusinessCentralConfig
from gateway.sync.adapters.odata import odata_quote
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from gateway.sync.orders.common import (
    OrderAdapter,
    OrderRecords,
    ore,
    quantity,
    till_line,
    till_order,
    vat_rate,
)
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.payloads import sale_of
from gateway.sync.references import BC_EXTERNAL_DOCUMENT_NUMBER, DocumentReference
from gateway.sync.sql import SqlConnection

__all__ = ["BC_ORDERS_SCHEMA", "BusinessCentralOrderAdapter", "BusinessCentralOrders"]

_RECORDS = OrderRecords("bc_orders")
BC_ORDERS_SCHEMA = _RECORDS.schema

_FAILURES = (ApiError, ApiUnavailable, OutcomeUnknown, TokenError)
_CHARGED = ("Item", "Account")  # the line types that charge something (not comments)


class BusinessCentralOrders:
    """The open sales orders of Business Central, as the tills get them."""

    name = "Business Central"

    def __init__(
        self, config: BusinessCentralConfig, api: BusinessCentralApi, *, round_up_to_krona: bool = False
    ) -> None:
        self.config = config
        self.api = api
        self.round_up_to_krona = round_up_to_krona

    async def open_orders(self, customer: str | None, number: str | None) -> list[Order]:
        where = ["status ne 'In Review'"]
        if customer is not None:
            where.append(f"customerNumber eq '{odata_quote(customer)}'")
        if number is not None:
            where.append(f"number eq '{odata_quote(number)}'")
        try:
            headers = [h async for h in self.api.values("salesOrders", {"$filter": " and ".join(where)})]
            orders = []
            for header in headers:
                lines = [x async for x in self.api.values(f"salesOrders({header['id']})/salesOrderLines")]
                orders.append(self._order(header, lines))
        except _FAILURES as exc:
            raise OrderLookupError(f"Business Central: {exc}") from None
        return orders

    def _order(self, header: dict[str, Any], lines: list[dict[str, Any]]) -> Order:
        includes_vat = bool(header.get("pricesIncludeTax"))
        out: list[OrderLine] = []
        for line in lines:
            if line.get("lineType") not in _CHARGED:
                continue  # a comment: nothing to charge
            where = f"order {header['number']}: line {line.get('sequence')}"
            out.append(
                till_line(
                    where,
                    article=str(line["lineObjectNumber"]) if line.get("lineType") == "Item" else None,
                    text=line.get("description") or line.get("lineObjectNumber"),
                    quantity=quantity(line.get("quantity")),
                    price=ore(line.get("unitPrice")),
                    rate=vat_rate(line.get("taxPercent"), where),
                    includes_vat=includes_vat,
                    round_up_to_krona=self.round_up_to_krona,
                    delivered=quantity(line.get("shippedQuantity")),
                    invoiced=quantity(line.get("invoicedQuantity")),
                )
            )
        return till_order(
            header["number"],
            header.get("customerNumber", ""),
            out,
            name=header.get("customerName"),
            reference=header.get("externalDocumentNumber"),
        )


class BusinessCentralOrderAdapter(OrderAdapter):
    """Receipts that pay a sales order, and new orders from the tills, in Business Central."""

    name = "Business Central (orders)"
    erp = "Business Central"
    failures = _FAILURES
    records = _RECORDS
    field = BC_EXTERNAL_DOCUMENT_NUMBER

    def __init__(
        self, config: BusinessCentralConfig, api: BusinessCentralApi, booking: BusinessCentralAdapter
    ) -> None:
        self.config = config
        self.api = api
        self.booking = booking  # the receipts' adapter: its payments are made the same way

    async def _first(self, path: str, where: str) -> dict[str, Any] | None:
        async for entity in self.api.values(path, {"$filter": where}):
            return entity
        return None

    async def _lines(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        return [x async for x in self.api.values(f"salesOrders({order['id']})/salesOrderLines")]

    async def _patch(self, path: str, change: dict[str, Any], entity: dict[str, Any]) -> Any:
        return await self.api.client.patch(f"{self.api.company}/{path}", change, str(entity["@odata.etag"]))

    # -- a receipt pays an order ----------------------------------------------------------

    async def _pay_order(
        self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, ref: str, order_no: str
    ) -> tuple[str, str]:
        lines, to_pay = invoice_lines(sale_of(m, payload), self.config.item_without_article)
        if any(line.quantity < 0 for line in lines):
            raise AdapterError(f"receipt {ref} is a return: it cannot pay sales order {order_no}")
        invoiced = f"externalDocumentNumber eq '{odata_quote(ref)}'"
        invoice = await self._first("salesInvoices", invoiced)
        legacy = DocumentReference.of(m, "receipt", payload.receipt_no).legacy
        if invoice is None and legacy is not None and self.booking.legacy.covers(m):
            # The older module's invoice of this order: the order number ties it to this receipt.
            async for made in self.api.values(
                "salesInvoices", {"$filter": f"externalDocumentNumber eq '{odata_quote(legacy)}'"}
            ):
                if made.get("orderNumber") == order_no and made.get("status") != "Draft":
                    invoice, ref = made, legacy
                    break
        found = invoice is not None and invoice.get("status") != "Draft"
        if not found:
            order = await self._first("salesOrders", f"number eq '{odata_quote(order_no)}'")
            if order is None:
                raise AdapterError(
                    f"receipt {ref} pays sales order {order_no}, which Business Central does not have "
                    "(invoiced there, or deleted): nothing booked"
                )
            have = await self._lines(order)
            if any(quantity(x.get("invoicedQuantity")) for x in have):
                raise AdapterError(
                    f"sales order {order_no} is partly invoiced in Business Central already; the till pays "
                    "whole orders only: invoice it from Business Central"
                )
            # The order's Posting Date is what BC posts the invoice on: the day it was paid, not
            # the day the order was made (nor the day this module runs).
            day = payload.at[:10]
            change = {"externalDocumentNumber": ref, "postingDate": day}
            if any(order.get(k) != v for k, v in change.items()):
                await self._patch(f"salesOrders({order['id']})", change, order)
            await self._converge(order, lines, to_pay)
            with contextlib.suppress(OutcomeUnknown):  # the posted invoice, looked for below, says
                await self.api.request("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
            invoice = await self._first("salesInvoices", invoiced)
            if invoice is None:
                raise AdapterError(
                    f"sales order {order_no} ({ref}) was sent to shipAndInvoice but Business Central shows "
                    "no posted invoice for it yet; tried again next pass"
                )
        assert invoice is not None
        customer = str(invoice.get("customerNumber") or self.config.customer)
        await self.booking._payments(ref, invoice, payload, customer)
        return str(invoice["number"]), " (found already posted)" if found else ""

    async def _converge(self, order: dict[str, Any], lines: list[InvoiceLine], to_pay: int) -> None:
        """Make the order's lines the receipt's, then even out the öre on the rounding account."""
        path = f"salesOrders({order['id']})/salesOrderLines"
        have = await self._lines(order)
        rounding = self.config.rounding_account
        pool = [x for x in have if x.get("lineType") == "Item"]
        for want in lines:
            match = next((h for h in pool if h.get("lineObjectNumber") == want.item), None)
            if match is None:
                body = {
                    "lineType": "Item",
                    "lineObjectNumber": want.item,
                    "quantity": float(want.quantity),
                    "unitPrice": float(want.unit_price),
                }
                await self.api.request("POST", path, json=body)
                continue
            pool.remove(match)
            change: dict[str, Any] = {}
            if quantity(match.get("quantity")) != want.quantity:
                change["quantity"] = float(want.quantity)
            if Decimal(str(match.get("unitPrice", 0))) != want.unit_price:
                change["unitPrice"] = float(want.unit_price)
            if change:
                await self._patch(f"{path}({match['id']})", change, match)
        for left in pool:  # what the customer did not take: no more than BC has shipped of it
            shipped = quantity(left.get("shippedQuantity"))
            if quantity(left.get("quantity")) != shipped:
                await self._patch(f"{path}({left['id']})", {"quantity": float(shipped)}, left)
        header = await self.api.request("GET", f"salesOrders({order['id']})")
        lines_now = await self._lines(order)
        even = next(
            (
                x
                for x in lines_now
                if x.get("lineType") == "Account" and x.get("lineObjectNumber") == rounding
            ),
            None,
        )
        total = ore(header.get("totalAmountIncludingTax"))
        if even is not None:
            total -= ore(even.get("amountIncludingTax"))
        rest = kronor_decimal(to_pay - total)
        if even is not None:
            if Decimal(str(even.get("unitPrice", 0))) != rest or quantity(even.get("quantity")) != 1:
                await self._patch(f"{path}({even['id']})", {"quantity": 1, "unitPrice": float(rest)}, even)
        elif rest:
            body = {
                "lineType": "Account",
                "lineObjectNumber": rounding,
                "quantity": 1,
                "unitPrice": float(rest),
                "description": "Öresavrundning",
            }
            await self.api.request("POST", path, json=body)

    # -- a new order from a till ----------------------------------------------------------

    async def _make_order(self, m: BusMessage, order: NewOrder, ref: str) -> tuple[str, str]:
        by_reference = f"externalDocumentNumber eq '{odata_quote(ref)}'"
        header = await self._first("salesOrders", by_reference)
        if header is None and order.reference is not None and self.booking.legacy.covers(m):
            header = await self._legacy_order(order, order.reference, m.at[:10])
        if header is None:
            made = {
                "customerNumber": order.customer,
                "orderDate": m.at[:10],
                "postingDate": m.at[:10],  # a shipment delivered now is posted on the order's day
                "externalDocumentNumber": ref,
            }
            try:
                header = await self.api.request("POST", "salesOrders", json=made)
            except OutcomeUnknown:
                header = await self._first("salesOrders", by_reference)
                if header is None:
                    raise
        assert header is not None
        have = await self._lines(header)
        for line in order.lines[len(have) :]:  # lines go in order: those there are the first ones
            body: dict[str, Any] = {
                "lineType": "Item",
                "lineObjectNumber": line.article,
                "quantity": float(line.quantity),
            }
            if line.text:
                body["description"] = line.text
            await self.api.request("POST", f"salesOrders({header['id']})/salesOrderLines", json=body)
        shipped = ""
        if order.delivery == "now":
            await self._ship_only(header, ref)
            shipped = ", shipped"
        return str(header["number"]), shipped

    async def _ship_only(self, header: dict[str, Any], ref: str) -> None:
        """A posted shipment of what is not shipped: ``shipAndInvoice`` with nothing to invoice."""
        lines = await self._lines(header)
        if not any(quantity(x.get("quantity")) > quantity(x.get("shippedQuantity")) for x in lines):
            return
        path = f"salesOrders({header['id']})/salesOrderLines"
        for line in lines:
            if quantity(line.get("invoiceQuantity")) != 0:
                await self._patch(f"{path}({line['id']})", {"invoiceQuantity": 0}, line)
        with contextlib.suppress(OutcomeUnknown):  # what is shipped, read below, says
            await self.api.request("POST", f"salesOrders({header['id']})/Microsoft.NAV.shipAndInvoice")
        if await self._to_ship(header):
            raise AdapterError(
                f"sales order {header['number']} ({ref}) was sent to shipAndInvoice (ship only), but "
                "Business Central shows it not shipped yet; tried again next pass"
            )

    async def _legacy_order(self, order: NewOrder, legacy: str, day: str) -> dict[str, Any] | None:
        """The order the older module made under the till's own reference ``legacy``, when its
        customer and day are this order's (that form names every store's order of the number)."""
        where = f"externalDocumentNumber eq '{odata_quote(legacy)}'"
        async for header in self.api.values("salesOrders", {"$filter": where}):
            if (header.get("customerNumber"), header.get("orderDate")) == (order.customer, day):
                return header
        return None

    async def _to_ship(self, header: dict[str, Any]) -> bool:
        return any(
            quantity(x.get("quantity")) > quantity(x.get("shippedQuantity"))
            for x in await self._lines(header)
        )
