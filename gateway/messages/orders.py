"""Sales orders on the bus: a till asks the ERP for open orders, and sends new ones to it.

Topics, beside the register's own (see :mod:`gateway.messages.envelope`)::

    tillgw/{orgnr}/{store}/{register}/order-request  "which orders are open for …"  till -> sync
    tillgw/{orgnr}/{store}/{register}/order-answer   the orders, or why there are none  sync -> till
    tillgw/{orgnr}/{store}/{register}/orders         new orders (journaled ``order.new``)  till -> sync

A request (schema ``tillgw.order-request/1``) is a question, not a fiscal event: it is not
journaled, and nobody resends it. It carries a ``request_id`` of the till's choosing and a
customer number, an order number, or both. The sync module asks the ERP and publishes one
:class:`OrderAnswer` (schema ``tillgw.order-answer/1``) with the same ``request_id``: the
open orders found (perhaps none), or ``error``, the ERP's own words for why it could not say.

An order's lines carry the price the till charges for one unit, incl. VAT, in öre (as
the catalog's articles do), the VAT rate in hundredths of a percent and quantities as
decimal text; ``delivered`` and ``invoiced`` are what the ERP says is already shipped or
invoiced of the line, when it says.

A new order made at the till (:class:`NewOrder`) is journaled as an ``order.new`` event
and travels through the outbox like every event; the journal entry adds the till's
reference ``O-{register}-{n}``, which the ERP's order carries so it is never made twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.messages.envelope import StoreTopics
from gateway.messages.fields import NUMBER_RE, FieldError, FieldReader, of_schema

__all__ = [
    "ANSWER_SCHEMA",
    "DELIVERIES",
    "REQUEST_SCHEMA",
    "NewOrder",
    "NewOrderLine",
    "Order",
    "OrderAnswer",
    "OrderFieldError",
    "OrderLine",
    "OrderRequest",
    "OrderTopics",
    "decode_answer",
    "decode_request",
    "order_reference",
]

REQUEST_SCHEMA = "tillgw.order-request/1"
ANSWER_SCHEMA = "tillgw.order-answer/1"
DELIVERIES = ("now", "later")
MAX_LINES = 500  # lines of one order, as a receipt's
MAX_NOTE = 250

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_QUANTITY_RE = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,5})?")  # ASCII digits only; fullmatch


class OrderFieldError(FieldError):
    """A field of an order that is wrong: ``field`` names it (``lines[1].quantity``)."""


_FIELDS = FieldReader(OrderFieldError)


def order_reference(register: str, n: int) -> str:
    """The till's reference of its ``n``-th new order: ``O-{register}-{n}``."""
    return f"O-{register}-{n}"


@dataclass(frozen=True, slots=True)
class OrderTopics(StoreTopics):
    """The order topics of one store."""

    def request(self, register: str) -> str:
        return self.of_register(register, "order-request")

    def answer(self, register: str) -> str:
        return self.of_register(register, "order-answer")

    @staticmethod
    def every_request() -> str:
        """The subscription that hears every register's requests, in every store."""
        return "tillgw/+/+/+/order-request"


# -- fetching orders -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A till asks for the open orders of a customer, or for one order (or both: that order of
    that customer)."""

    request_id: str
    customer: str | None = None
    number: str | None = None

    def __post_init__(self) -> None:
        if not _REQUEST_ID_RE.match(self.request_id):
            raise OrderFieldError("request_id", f"{self.request_id!r} is not 1-64 of A-Z a-z 0-9 . _ : -")
        if self.customer is None and self.number is None:
            raise OrderFieldError("customer", "give a customer number, an order number, or both")
        for key, value in (("customer", self.customer), ("number", self.number)):
            if value is not None and not NUMBER_RE.match(value):
                raise OrderFieldError(key, f"{value!r} is not 1-50 characters without control characters")

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {"schema": REQUEST_SCHEMA, "request_id": self.request_id}
        if self.customer is not None:
            body["customer"] = self.customer
        if self.number is not None:
            body["number"] = self.number
        return json.dumps(body, ensure_ascii=False).encode()


def decode_request(data: bytes) -> OrderRequest:
    """A till's request; :class:`MessageError` names what is wrong with one that is not ours."""
    obj = of_schema(data, REQUEST_SCHEMA)
    return OrderRequest(
        _FIELDS.text(obj, "request_id", ""),
        _FIELDS.optional_text(obj, "customer", ""),
        _FIELDS.optional_text(obj, "number", ""),
    )


@dataclass(frozen=True, slots=True)
class OrderLine:
    article: str | None  # the ERP's article number; None for a text or account line
    text: str
    quantity: Decimal
    unit_price: int  # öre incl. VAT for one unit: what the till charges
    vat_rate: int  # 2500, 1200, 600 or 0
    delivered: Decimal | None = None  # already shipped, when the ERP says
    invoiced: Decimal | None = None  # already invoiced, when the ERP says

    def to_json(self) -> dict[str, Any]:
        return {
            "article": self.article,
            "text": self.text,
            "quantity": str(self.quantity),
            "unit_price": self.unit_price,
            "vat_rate": self.vat_rate,
            "delivered": None if self.delivered is None else str(self.delivered),
            "invoiced": None if self.invoiced is None else str(self.invoiced),
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> OrderLine:
        obj = _FIELDS.object(obj, where)
        vat_rate = _FIELDS.vat_rate(obj, where)
        unit_price = _FIELDS.amount(obj, "unit_price", where)
        return cls(
            article=_FIELDS.optional_text(obj, "article", where),
            text=_FIELDS.text(obj, "text", where),
            quantity=_quantity(obj.get("quantity"), f"{where}.quantity"),
            unit_price=unit_price,
            vat_rate=vat_rate,
            delivered=_optional_quantity(obj.get("delivered"), f"{where}.delivered"),
            invoiced=_optional_quantity(obj.get("invoiced"), f"{where}.invoiced"),
        )


@dataclass(frozen=True, slots=True)
class Order:
    number: str  # the ERP's order number
    customer: str  # the ERP's customer number
    lines: tuple[OrderLine, ...]
    customer_name: str | None = None
    reference: str | None = None  # the customer's or the till's reference on the order

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "customer": self.customer,
            "customer_name": self.customer_name,
            "reference": self.reference,
            "lines": [line.to_json() for line in self.lines],
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Order:
        obj = _FIELDS.object(obj, where)
        lines = obj.get("lines")
        if not isinstance(lines, list):
            raise OrderFieldError(f"{where}.lines", "not a list")
        return cls(
            number=_FIELDS.number(obj, "number", where),
            customer=_FIELDS.number(obj, "customer", where),
            lines=tuple(OrderLine.from_json(x, f"{where}.lines[{i}]") for i, x in enumerate(lines)),
            customer_name=_FIELDS.optional_text(obj, "customer_name", where),
            reference=_FIELDS.optional_text(obj, "reference", where),
        )


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    """The sync module's answer to one :class:`OrderRequest`: the orders, or an error in words."""

    request_id: str
    orders: tuple[Order, ...] = ()
    error: str | None = None

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "schema": ANSWER_SCHEMA,
            "request_id": self.request_id,
            "orders": [order.to_json() for order in self.orders],
        }
        if self.error is not None:
            body["error"] = self.error
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode_answer(data: bytes) -> OrderAnswer:
    obj = of_schema(data, ANSWER_SCHEMA)
    orders = obj.get("orders", [])
    if not isinstance(orders, list):
        raise OrderFieldError("orders", "not a list")
    return OrderAnswer(
        _FIELDS.text(obj, "request_id", ""),
        tuple(Order.from_json(o, f"orders[{i}]") for i, o in enumerate(orders)),
        _FIELDS.optional_text(obj, "error", ""),
    )


# -- new orders from the till ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOrderLine:
    article: str
    quantity: Decimal  # more than zero
    text: str | None = None  # what the ERP's line says, when not the article's own name

    def to_json(self) -> dict[str, Any]:
        return {"article": self.article, "quantity": str(self.quantity), "text": self.text}


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order made at the till for the ERP: the ERP prices it as it prices any order."""

    customer: str
    lines: tuple[NewOrderLine, ...]
    delivery: str  # "now": the goods leave with the customer | "later": the order stays open
    note: str | None = None
    reference: str | None = None  # the till's O-{register}-{n}, given when it is journaled

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "customer": self.customer,
            "lines": [line.to_json() for line in self.lines],
            "delivery": self.delivery,
            "note": self.note,
        }
        if self.reference is not None:
            body["reference"] = self.reference
        return body

    @classmethod
    def from_json(cls, obj: Any) -> NewOrder:
        """The order the POS posted (or the journal holds); :class:`OrderFieldError` names the field."""
        if not isinstance(obj, dict):
            raise OrderFieldError("body", "not a JSON object")
        unknown = sorted(set(obj) - {"customer", "lines", "delivery", "note", "reference", "pos_id"})
        if unknown:
            raise OrderFieldError(unknown[0], "is not a field of an order (customer, lines, delivery, note)")
        customer = obj.get("customer")
        if not isinstance(customer, str) or not NUMBER_RE.match(customer) or not customer.strip():
            raise OrderFieldError("customer", f"must be the ERP's customer number, got {customer!r}")
        delivery = obj.get("delivery")
        if delivery not in DELIVERIES:
            raise OrderFieldError("delivery", f'must be "now" or "later", got {delivery!r}')
        raw_lines = obj.get("lines")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise OrderFieldError("lines", "must be a list of at least one line")
        if len(raw_lines) > MAX_LINES:
            raise OrderFieldError("lines", f"{len(raw_lines)} lines; at most {MAX_LINES}")
        lines = tuple(_new_line(raw, f"lines[{i}]") for i, raw in enumerate(raw_lines))
        note = obj.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise OrderFieldError("note", f"must be a text of at most {MAX_NOTE} characters")
        reference = obj.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise OrderFieldError("reference", "must be a text")
        return cls(customer, lines, delivery, note, reference)


def _new_line(raw: Any, where: str) -> NewOrderLine:
    if not isinstance(raw, dict):
        raise OrderFieldError(where, "must be an object")
    unknown = sorted(set(raw) - {"article", "quantity", "text"})
    if unknown:
        raise OrderFieldError(
            f"{where}.{unknown[0]}", "is not a field of an order line (article, quantity, text)"
        )
    article = raw.get("article")
    if not isinstance(article, str) or not NUMBER_RE.match(article) or not article.strip():
        raise OrderFieldError(f"{where}.article", f"must be the ERP's article number, got {article!r}")
    value = raw.get("quantity")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    quantity = _quantity(value, f"{where}.quantity")
    if quantity <= 0:
        raise OrderFieldError(f"{where}.quantity", f"{value} is not more than zero")
    text = raw.get("text")
    if text is not None and (not isinstance(text, str) or not NUMBER_RE.match(text)):
        raise OrderFieldError(f"{where}.text", "must be a text of 1-50 characters")
    return NewOrderLine(article, quantity, text)


# -- field readers ------------------------------------------------------------------------


def _quantity(value: Any, where: str) -> Decimal:
    if not isinstance(value, str) or not _QUANTITY_RE.fullmatch(value):
        raise OrderFieldError(where, f"{value!r} is not a quantity as decimal text (at most 5 decimals)")
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise OrderFieldError(where, f"{value!r} is not a number") from None


def _optional_quantity(value: Any, where: str) -> Decimal | None:
    return None if value is None else _quantity(value, where)
