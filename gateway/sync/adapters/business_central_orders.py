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
``externalDocumentNumber`` becomes the receipt's reference ``{register}-{receipt_no}``
(PATCH with the order's etag), its lines what the receipt says — matched on item number in
order, quantity and unit price (excl. VAT) changed where they differ (PATCH with the line's
etag), the receipt's added lines appended, the lines not taken set to what is shipped — and
an Account line on ``rounding_account`` takes what BC's VAT arithmetic and the cash
rounding leave; then ``Microsoft.NAV.shipAndInvoice``. The posted invoice carries the
reference: before anything it is looked for (``salesInvoices?$filter=externalDocumentNumber
eq …``) and, found, the order is not posted again. The payments are made as for any receipt
(one customer payment journal line per means, applied to the invoice), for the order's
customer. A released order cannot have its lines changed: BC says so, and the log quotes it.

New orders (``order.new``): ``POST salesOrders`` with ``externalDocumentNumber`` the till's
reference ``O-{register}-{n}`` (looked for first), one Item line per line, priced by BC.
Delivered now: ``Microsoft.NAV.ship`` (a posted shipment; the order stays to be invoiced
from BC); later: left open.
"""

from __future__ import annotations

import contextlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import aiosqlite

from gateway.bus.messages import BusMessage
from gateway.bus.orders import NewOrder, Order, OrderFieldError, OrderLine
from gateway.model import ReceiptError
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central import (
    BusinessCentralAdapter,
    BusinessCentralApi,
    BusinessCentralConfig,
    _Line,
)
from gateway.sync.adapters.business_central import _lines as receipt_lines
from gateway.sync.adapters.odata import odata_quote
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from gateway.sync.inbox import now_text
from gateway.sync.masterdata.pricing import price_incl_vat
from gateway.sync.orders.source import OrderLookupError

__all__ = ["BC_ORDERS_SCHEMA", "BusinessCentralOrderAdapter", "BusinessCentralOrders"]

BC_ORDERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bc_orders (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    reference TEXT NOT NULL,          -- the receipt's "{register}-{receipt_no}", or the till's "O-…"
    action TEXT NOT NULL,             -- 'paid' (a receipt paid the order) | 'new' (made from order.new)
    order_no TEXT NOT NULL,
    document_no TEXT NOT NULL,        -- the posted invoice's number ('paid'); the order's ('new')
    msg_id TEXT NOT NULL,
    made_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, action, reference)
);
"""

_FAILURES = (ApiError, ApiUnavailable, OutcomeUnknown, TokenError)
_RATES = (2500, 1200, 600, 0)
_CHARGED = ("Item", "Account")  # the line types that charge something (not comments)


def _quantity(value: Any) -> Decimal:
    """A quantity BC sent as a JSON number, as the decimal it means (``2.0`` -> ``2``)."""
    d = Decimal(str(value or 0))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def _ore(kronor: Any) -> int:
    return int((Decimal(str(kronor or 0)) * 100).quantize(Decimal(1), ROUND_HALF_UP))


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
            rate = int(Decimal(str(line.get("taxPercent") or 0)) * 100)
            if rate not in _RATES:
                raise OrderLookupError(
                    f"order {header['number']}: line {line.get('sequence')} has VAT "
                    f"{line.get('taxPercent')} %, not 25, 12, 6 or 0"
                )
            price = _ore(line.get("unitPrice"))
            if price < 0:
                raise OrderLookupError(
                    f"order {header['number']}: line {line.get('sequence')} has a negative unit price; "
                    "the till charges no such line"
                )
            out.append(
                OrderLine(
                    article=str(line["lineObjectNumber"]) if line.get("lineType") == "Item" else None,
                    text=str(line.get("description") or line.get("lineObjectNumber") or "")[:50] or "-",
                    quantity=_quantity(line.get("quantity")),
                    unit_price=price_incl_vat(
                        price, rate, includes_vat=includes_vat, round_up_to_krona=self.round_up_to_krona
                    ),
                    vat_rate=rate,
                    delivered=_quantity(line.get("shippedQuantity")),
                    invoiced=_quantity(line.get("invoicedQuantity")),
                )
            )
        name, reference = header.get("customerName"), header.get("externalDocumentNumber")
        return Order(
            number=str(header["number"]),
            customer=str(header.get("customerNumber", "")),
            lines=tuple(out),
            customer_name=str(name) if name else None,
            reference=str(reference) if reference else None,
        )


class BusinessCentralOrderAdapter:
    """Receipts that pay a sales order, and new orders from the tills, in Business Central."""

    name = "Business Central (orders)"

    def __init__(
        self, config: BusinessCentralConfig, api: BusinessCentralApi, booking: BusinessCentralAdapter
    ) -> None:
        self.config = config
        self.api = api
        self.booking = booking  # the receipts' adapter: its payments are made the same way

    def handles(self, kind: str) -> bool:
        return kind in ("receipt", "order.new")

    async def setup(self, db: aiosqlite.Connection) -> None:
        await db.executescript(BC_ORDERS_SCHEMA)

    async def process(self, db: aiosqlite.Connection, message: BusMessage) -> str | None:
        try:
            if message.kind == "order.new":
                return await self._new(db, message)
            receipt = message.payload.get("receipt") or {}
            if message.payload.get("type") != "normal" or not receipt.get("order"):
                return None
            return await self._pay(db, message, str(receipt["order"]))
        except _FAILURES as exc:
            raise AdapterError(f"Business Central: {exc}") from None

    async def _recorded(self, db: aiosqlite.Connection, m: BusMessage, action: str, ref: str) -> str | None:
        async with db.execute(
            "SELECT document_no FROM bc_orders "
            "WHERE orgnr = ? AND store = ? AND action = ? AND reference = ?",
            (m.orgnr, m.store, action, ref),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def _record(
        self, db: aiosqlite.Connection, m: BusMessage, action: str, ref: str, order_no: str, document: str
    ) -> None:
        await db.execute(
            "INSERT INTO bc_orders (orgnr, store, reference, action, order_no, document_no, msg_id, made_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (m.orgnr, m.store, ref, action, order_no, document, m.msg_id, now_text()),
        )

    async def _first(self, path: str, where: str) -> dict[str, Any] | None:
        async for entity in self.api.values(path, {"$filter": where}):
            return entity
        return None

    async def _lines(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        return [x async for x in self.api.values(f"salesOrders({order['id']})/salesOrderLines")]

    async def _patch(self, path: str, change: dict[str, Any], entity: dict[str, Any]) -> Any:
        return await self.api.client.patch(f"{self.api.company}/{path}", change, str(entity["@odata.etag"]))

    # -- a receipt pays an order ----------------------------------------------------------

    async def _pay(self, db: aiosqlite.Connection, m: BusMessage, order_no: str) -> str:
        payload = m.payload
        ref = f"{m.register}-{int(payload['receipt_no'])}"
        earlier = await self._recorded(db, m, "paid", ref)
        if earlier is not None:
            return f"receipt {ref} already paid order {order_no} (invoice {earlier}); nothing done"
        try:
            lines, to_pay = receipt_lines(payload, self.config.item_without_article)
        except (ReceiptError, KeyError, TypeError) as exc:
            raise AdapterError(f"receipt {ref} cannot be read: {exc}") from None
        if any(line.quantity < 0 for line in lines):
            raise AdapterError(f"receipt {ref} is a return: it cannot pay sales order {order_no}")
        invoiced = f"externalDocumentNumber eq '{odata_quote(ref)}'"
        invoice = await self._first("salesInvoices", invoiced)
        found = invoice is not None and invoice.get("status") != "Draft"
        if not found:
            order = await self._first("salesOrders", f"number eq '{odata_quote(order_no)}'")
            if order is None:
                raise AdapterError(
                    f"receipt {ref} pays sales order {order_no}, which Business Central does not have "
                    "(invoiced there, or deleted): nothing booked"
                )
            have = await self._lines(order)
            if any(_quantity(x.get("invoicedQuantity")) for x in have):
                raise AdapterError(
                    f"sales order {order_no} is partly invoiced in Business Central already; the till pays "
                    "whole orders only: invoice it from Business Central"
                )
            if order.get("externalDocumentNumber") != ref:
                await self._patch(f"salesOrders({order['id']})", {"externalDocumentNumber": ref}, order)
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
        await self._record(db, m, "paid", ref, order_no, str(invoice["number"]))
        how = " (found already posted)" if found else ""
        return f"receipt {ref} paid sales order {order_no}: invoice {invoice['number']}{how}"

    async def _converge(self, order: dict[str, Any], lines: list[_Line], to_pay: int) -> None:
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
            if _quantity(match.get("quantity")) != want.quantity:
                change["quantity"] = float(want.quantity)
            if Decimal(str(match.get("unitPrice", 0))) != want.unit_price:
                change["unitPrice"] = float(want.unit_price)
            if change:
                await self._patch(f"{path}({match['id']})", change, match)
        for left in pool:  # what the customer did not take: no more than BC has shipped of it
            shipped = _quantity(left.get("shippedQuantity"))
            if _quantity(left.get("quantity")) != shipped:
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
        total = _ore(header.get("totalAmountIncludingTax"))
        if even is not None:
            total -= _ore(even.get("amountIncludingTax"))
        rest = Decimal(to_pay - total) / 100
        if even is not None:
            if Decimal(str(even.get("unitPrice", 0))) != rest or _quantity(even.get("quantity")) != 1:
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

    async def _new(self, db: aiosqlite.Connection, m: BusMessage) -> str:
        try:
            order = NewOrder.from_json(m.payload)
        except OrderFieldError as exc:
            raise AdapterError(f"{m.msg_id}: the order cannot be read: {exc}") from None
        ref = order.reference
        if ref is None:
            raise AdapterError(f"{m.msg_id}: the order has no reference")
        earlier = await self._recorded(db, m, "new", ref)
        if earlier is not None:
            return f"order {ref} already is sales order {earlier}; nothing done"
        by_reference = f"externalDocumentNumber eq '{odata_quote(ref)}'"
        header = await self._first("salesOrders", by_reference)
        if header is None:
            made = {"customerNumber": order.customer, "orderDate": m.at[:10], "externalDocumentNumber": ref}
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
            if await self._to_ship(header):
                with contextlib.suppress(OutcomeUnknown):  # what is shipped, read below, says
                    await self.api.request("POST", f"salesOrders({header['id']})/Microsoft.NAV.ship")
                if await self._to_ship(header):
                    raise AdapterError(
                        f"sales order {header['number']} ({ref}) was sent to ship, but Business Central "
                        "shows it not shipped yet; tried again next pass"
                    )
            shipped = ", shipped"
        await self._record(db, m, "new", ref, str(header["number"]), str(header["number"]))
        return f"order {ref} ({order.customer}) made sales order {header['number']}{shipped}"

    async def _to_ship(self, header: dict[str, Any]) -> bool:
        return any(
            _quantity(x.get("quantity")) > _quantity(x.get("shippedQuantity"))
            for x in await self._lines(header)
        )
