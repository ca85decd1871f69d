"""Sales orders in Fortnox: open orders to the tills, orders paid at a till, new orders from one,
and account customers' receipts sent as orders (``invoices_as = "order"``).

Fetching (:class:`FortnoxOrders`): ``GET orders?customernumber=…&filter=invoicenotcreated``
page by page, each order that is not cancelled read whole (``GET orders/{n}``) for its rows;
one order by number with ``GET orders/{n}``. An order that is cancelled or has an invoice
(``InvoiceReference``) is not open. A row's ``Price`` becomes the till's price (incl. VAT, in
öre) exactly as the catalog's prices do: incl. VAT when the order says ``VATIncluded``
(when it does not say, ``prices_include_vat`` decides), its ``VAT`` the rate.

Paying (:class:`FortnoxOrderAdapter`, a receipt with ``order``): the order's rows are made
the receipt's (``PUT orders/{n}``: ordered = delivered = what the customer took, at the
till's prices incl. VAT, so nothing is left over for a back order), its
``ExternalInvoiceReference1`` the receipt's reference in the chain
(:mod:`gateway.sync.references`); then
``PUT orders/{n}/createinvoice``, which carries the reference to the invoice; then the
invoice is booked and paid exactly as an account customer's (:meth:`FortnoxAdapter.settle`).
Before anything the invoice with our reference is looked for: found (a crash after Fortnox
made it and before our commit), the order is not invoiced again; only what is missing of
the booking and the payments is done.

New orders (``order.new``): ``POST orders`` for the customer with ``ExternalInvoiceReference1``
the order's reference in the chain, made of the till's ``O-{register}-{n}`` (looked for first with
``GET orders?externalinvoicereference1=``, a search Fortnox offers on orders, and matched
exactly, since a search field may also match longer references), one row per line, priced
by Fortnox. Delivered now: ``DeliveryDate`` the day of the order and every row's
``DeliveredQuantity`` its ordered quantity — an order marked delivered, still to be invoiced
from Fortnox; later: nothing delivered.

Receipts as orders (``invoices_as = "order"``): an account customer's receipt becomes an
order (found again by its reference the same way) at the till's prices, delivered, neither
invoiced nor booked nor paid: the Z voucher carries the sale as on any day.

What the module made before references named the store (``{register}-{receipt_no}``,
``O-{register}-{n}``) is found by that form too, and taken only when it is this store's by
its own fields: an order paid at the till by the invoice Fortnox made from that very order,
a receipt sent as an order by its day, customer and total, a new order by its day and
customer.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.messages.orders import NewOrder, Order, OrderLine
from gateway.messages.receipt_payload import ReceiptPayload, ReceiptTotalsBody
from gateway.receipts.model import Receipt, ReceiptType
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.fortnox.adapter import FORTNOX_SCHEMA, FortnoxAdapter
from gateway.sync.adapters.fortnox.api import pages
from gateway.sync.adapters.fortnox.config import FortnoxConfig
from gateway.sync.adapters.fortnox.invoices import (
    ExpectedDocument,
    gross_kronor,
    invoice_rows,
    invoiced_customer,
)
from gateway.sync.http import ApiClient, ApiError, ApiUnavailable, OutcomeUnknown, TokenError
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
from gateway.sync.payloads import receipt_day, receipt_payload, sale_of
from gateway.sync.references import FORTNOX_EXTERNAL_INVOICE_REFERENCE, DocumentReference
from gateway.sync.sql import SqlConnection

__all__ = ["FORTNOX_ORDERS_SCHEMA", "FortnoxOrderAdapter", "FortnoxOrders"]

_RECORDS = OrderRecords("fortnox_orders")
FORTNOX_ORDERS_SCHEMA = _RECORDS.schema


def invoice_of(order: dict[str, Any]) -> str | None:
    """The number of the invoice made from ``order``, or None (Fortnox says 0 or nothing)."""
    ref = str(order.get("InvoiceReference") or "").strip()
    return None if ref in ("", "0") else ref


def is_open(order: dict[str, Any]) -> bool:
    return not order.get("Cancelled") and invoice_of(order) is None


async def get_order(client: ApiClient, number: str) -> dict[str, Any] | None:
    """Order ``number`` as Fortnox has it, or None when it has none by that number."""
    if not number.isdigit():
        return None  # Fortnox numbers its orders; anything else is no order of it
    try:
        answer = await client.request("GET", f"orders/{number}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    order = answer.get("Order") if isinstance(answer, dict) else None
    if not isinstance(order, dict):
        raise ApiError(200, answer, "the answer holds no Order", f"GET orders/{number}")
    return order


class FortnoxOrders:
    """The open sales orders of Fortnox, as the tills get them."""

    name = "Fortnox"

    def __init__(self, config: FortnoxConfig, client: ApiClient, *, round_up_to_krona: bool = False) -> None:
        self.config = config
        self.client = client
        self.round_up_to_krona = round_up_to_krona

    async def open_orders(self, customer: str | None, number: str | None) -> list[Order]:
        try:
            if number is not None:
                one = await get_order(self.client, number)
                if one is None or not is_open(one):
                    return []
                if customer is not None and str(one.get("CustomerNumber")) != customer:
                    return []
                return [self._order(one)]
            if customer is None:
                return []
            params: dict[str, str | int] = {"customernumber": customer, "filter": "invoicenotcreated"}
            numbers = [
                str(o["DocumentNumber"])
                async for o in pages(self.client, "orders", "Orders", params)
                if not o.get("Cancelled") and str(o.get("CustomerNumber")) == customer
            ]
            orders = []
            for n in numbers:
                whole = await get_order(self.client, n)
                if whole is not None and is_open(whole):
                    orders.append(self._order(whole))
            return orders
        except ApiError as exc:
            raise OrderLookupError(f"Fortnox refused: {exc}") from None
        except (ApiUnavailable, TokenError, OutcomeUnknown, ValueError) as exc:
            raise OrderLookupError(f"Fortnox: {exc}") from None

    def _order(self, order: dict[str, Any]) -> Order:
        number = str(order["DocumentNumber"])
        included = order.get("VATIncluded")
        includes_vat = included if isinstance(included, bool) else self.config.prices_include_vat
        lines: list[OrderLine] = []
        for i, row in enumerate(order.get("OrderRows") or []):
            article = str(row.get("ArticleNumber") or "").strip() or None
            ordered = quantity(row.get("OrderedQuantity"))
            price = ore(row.get("Price"))
            if article is None and not ordered and not price:
                continue  # a text row: nothing to charge
            where = f"order {number}: row {i + 1}"
            lines.append(
                till_line(
                    where,
                    article=article,
                    text=row.get("Description") or article,
                    quantity=ordered,
                    price=price,
                    rate=vat_rate(row.get("VAT"), where),
                    includes_vat=includes_vat,
                    round_up_to_krona=self.round_up_to_krona,
                    delivered=quantity(row.get("DeliveredQuantity")),
                )
            )
        return till_order(
            number,
            order.get("CustomerNumber", ""),
            lines,
            name=order.get("CustomerName"),
            reference=order.get("YourOrderNumber") or order.get("ExternalInvoiceReference1"),
        )


def _order_rows(sale: Receipt, totals: ReceiptTotalsBody) -> list[dict[str, Any]]:
    """The receipt's invoice rows as order rows: all of it ordered, and all of it delivered."""
    rows = []
    for row in invoice_rows(sale, totals):
        quantity = row.pop("DeliveredQuantity")
        rows.append({**row, "OrderedQuantity": quantity, "DeliveredQuantity": quantity})
    return rows


class FortnoxOrderAdapter(OrderAdapter):
    """Receipts that pay a sales order, new orders from the tills, and receipts sent as orders."""

    name = "Fortnox (orders)"
    records = _RECORDS
    field = FORTNOX_EXTERNAL_INVOICE_REFERENCE

    def __init__(
        self, config: FortnoxConfig, client: ApiClient, booking: FortnoxAdapter, *, till_orders: bool = True
    ) -> None:
        self.config = config
        self.client = client
        self.booking = booking  # the invoices' adapter: an order's invoice is booked and paid as its
        # Whether the tills' orders are Fortnox's (another ERP configured beside it may have them):
        # without, only receipts sent as orders are done here.
        self.till_orders = till_orders

    def handles(self, kind: str) -> bool:
        if kind == "order.new":
            return self.till_orders
        return kind == "receipt" and (self.till_orders or self.config.invoices_as == "order")

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(FORTNOX_SCHEMA + FORTNOX_ORDERS_SCHEMA)
        await self.booking.legacy.setup(db)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        try:
            if message.kind == "order.new":
                return await self._new(db, message) if self.till_orders else None
            if message.kind != "receipt":
                return None
            payload = receipt_payload(message)
            if payload.copy_of is not None or payload.type != ReceiptType.NORMAL:
                return None  # copies, training and pro forma receipts are not sales
            sale = sale_of(message, payload)
            if sale.order:
                return await self._pay(db, message, payload, sale.order) if self.till_orders else None
            if self.config.invoices_as == "order" and self.config.invoices != "none":
                customer = invoiced_customer(self.config, payload, sale)
                if customer is not None:
                    return await self._as_order(db, message, payload, sale, customer)
            return None
        except ApiError as exc:
            raise AdapterError(f"Fortnox refused: {exc}") from None
        except (ApiUnavailable, TokenError, OutcomeUnknown, ValueError) as exc:
            raise AdapterError(f"Fortnox: {exc}") from None

    # -- receipts -----------------------------------------------------------------------------

    def _facts(self, m: BusMessage, payload: ReceiptPayload) -> tuple[str, str]:
        """(reference, day) of a receipt message."""
        day = receipt_day(m, payload)
        return DocumentReference.of(m, "receipt", payload.receipt_no).in_field(self.field), day.isoformat()

    # -- orders found by our reference -----------------------------------------------------------

    async def _find_order(
        self, ref: str, legacy: str | None = None, expected: ExpectedDocument | None = None
    ) -> str | None:
        """The order of our reference ``ref``; else one of the ``legacy`` form whose day (OrderDate),
        customer and total are ``expected`` (the legacy form names every store's order of that number)."""
        for wanted, check in ((ref, None), (legacy, expected)):
            if wanted is None:
                continue
            params: dict[str, str | int] = {"externalinvoicereference1": wanted}
            async for o in pages(self.client, "orders", "Orders", params):
                if o.get("ExternalInvoiceReference1") != wanted or o.get("Cancelled"):
                    continue
                day, customer, total = o.get("OrderDate"), o.get("CustomerNumber"), o.get("Total")
                if check is None or check.matches(day, customer, total):
                    return str(o["DocumentNumber"])
        return None

    async def _post_order(self, body: dict[str, Any]) -> str:
        answer = await self.client.request("POST", "orders", json=body)
        return str(answer["Order"]["DocumentNumber"])

    # -- a receipt pays an order -------------------------------------------------------------

    async def _pay_order(
        self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, ref: str, order_no: str
    ) -> tuple[str, str]:
        _, day = self._facts(m, payload)
        sale, totals = sale_of(m, payload), payload.totals
        if any(line.quantity < 0 for line in sale.lines):
            raise AdapterError(f"receipt {ref} is a return: it cannot pay sales order {order_no}")
        number = await self.booking._find_invoice(ref)
        if number is None and self.booking.legacy.covers(m):
            number = await self._legacy_invoice(m, payload.receipt_no, order_no)
        found = number is not None
        if number is None:
            order = await get_order(self.client, order_no)
            if order is None:
                raise AdapterError(
                    f"receipt {ref} pays sales order {order_no}, which Fortnox does not have: nothing booked"
                )
            if order.get("Cancelled"):
                raise AdapterError(
                    f"receipt {ref} pays sales order {order_no}, which is cancelled in Fortnox: "
                    "nothing booked"
                )
            invoiced = invoice_of(order)
            if invoiced is not None:
                raise AdapterError(
                    f"receipt {ref} pays sales order {order_no}, which Fortnox has already invoiced "
                    f"(invoice {invoiced}): nothing booked"
                )
            change = {
                "ExternalInvoiceReference1": ref,
                "VATIncluded": True,  # the till's prices include VAT
                "DeliveryDate": day,
                "OrderRows": _order_rows(sale, totals),
            }
            await self.client.request("PUT", f"orders/{order_no}", json={"Order": change})
            # PUT is sent again after a lost answer; a second createinvoice is refused as invoiced
            # already, and the invoice looked for below says whether the first one was made.
            with contextlib.suppress(ApiError):
                await self.client.request("PUT", f"orders/{order_no}/createinvoice")
            number = await self.booking._find_invoice(ref)
            if number is None:
                raise AdapterError(
                    f"sales order {order_no} ({ref}) was sent to createinvoice but Fortnox shows no invoice "
                    "with that reference; tried again next pass"
                )
        day_sold = date.fromisoformat(day)
        booked = await self.booking.settle(db, m, payload.receipt_no, number, totals, day_sold, None)
        return number, (" (found already made)" if found else "") + (", booked" if booked else "")

    async def _legacy_invoice(self, m: BusMessage, receipt_no: int, order_no: str) -> str | None:
        """The invoice Fortnox made from order ``order_no`` when it carries the legacy reference of
        receipt ``receipt_no``: made by the module before, for this receipt (the order ties it to it)."""
        legacy = DocumentReference.of(m, "receipt", receipt_no).legacy
        order = await get_order(self.client, order_no)
        invoiced = None if order is None else invoice_of(order)
        if legacy is None or invoiced is None:
            return None
        live = await self.booking.invoices_by_reference(legacy)
        return invoiced if any(str(i.get("DocumentNumber")) == invoiced for i in live) else None

    # -- a receipt sent as an order --------------------------------------------------------------

    async def _as_order(
        self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, sale: Receipt, customer: str
    ) -> str:
        ref, day = self._facts(m, payload)
        totals = payload.totals
        reference = DocumentReference.of(m, "receipt", payload.receipt_no)
        earlier = await self._recorded(db, m, "receipt", reference)
        if earlier is not None:
            return f"receipt {ref} already is order {earlier}"
        body = {
            "Order": {
                "CustomerNumber": customer,
                "OrderDate": day,
                "DeliveryDate": day,
                "ExternalInvoiceReference1": ref,
                "VATIncluded": True,
                "OrderRows": _order_rows(sale, totals),
            }
        }
        legacy = reference.legacy if self.booking.legacy.covers(m) else None
        expected = ExpectedDocument(day, customer, gross_kronor(totals))
        number, found = await self.booking._make(
            lambda: self._find_order(ref, legacy, expected), lambda: self._post_order(body)
        )
        await self.records.record(db, m, "receipt", ref, number, number)
        how = " (found already made)" if found else ""
        return f"receipt {ref} ({customer}): order {number}{how}, not invoiced"

    # -- a new order from a till -------------------------------------------------------------

    async def _make_order(self, m: BusMessage, order: NewOrder, ref: str) -> tuple[str, str]:
        day = m.at[:10]
        till_reference = order.reference or ""
        legacy = till_reference if self.booking.legacy.covers(m) else None
        expected = ExpectedDocument(day, order.customer, None)
        now = order.delivery == "now"
        rows = []
        for line in order.lines:
            row: dict[str, Any] = {
                "ArticleNumber": line.article,
                "OrderedQuantity": str(line.quantity),
                "DeliveredQuantity": str(line.quantity) if now else "0",
            }
            if line.text:
                row["Description"] = line.text
            rows.append(row)
        fields: dict[str, Any] = {
            "CustomerNumber": order.customer,
            "OrderDate": day,
            "ExternalInvoiceReference1": ref,
            "OrderRows": rows,
        }
        if now:
            fields["DeliveryDate"] = day
        if order.note:
            fields["Remarks"] = order.note
        body = {"Order": fields}
        number, found = await self.booking._make(
            lambda: self._find_order(ref, legacy, expected), lambda: self._post_order(body)
        )
        return number, (" (found already made)" if found else "") + (", delivered" if now else "")
