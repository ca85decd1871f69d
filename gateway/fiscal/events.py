"""The fiscal events besides receipts that the POS reports, checked into their journal bodies.

:func:`event_body` reads an event's JSON object into its Struct
(:mod:`gateway.messages.bodies`), adding the POS id; :func:`checked_order` and
:func:`append_order` do the same for an ``order.new``, which also takes the till's next
order reference. What is not one of them is a :class:`~gateway.fiscal.errors.FiscalError` (422).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.fiscal.bodies import RegistrationChangedBody
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.store import Writer
from gateway.messages.bodies import (
    Body,
    CashierBody,
    CustomerChangeBody,
    Delivery,
    FloatChangeBody,
    OrderLineBody,
    OrderNewBody,
    PriceChangeBody,
    body_error,
)
from gateway.messages.catalog import Customer
from gateway.messages.envelope import MessageError
from gateway.messages.orders import NewOrder, OrderFieldError, order_reference
from gateway.receipts.codec import parse_money
from gateway.receipts.model import MAX_TEXT
from gateway.receipts.money import parse_ore
from protocols.skv import FieldError

__all__ = ["EVENTS", "append_order", "checked_order", "event_body", "float_change_body"]

EVENTS: dict[str, type[Body]] = {
    "cashier.login": CashierBody,
    "cashier.logout": CashierBody,
    "price.change": PriceChangeBody,
    # The till's own (gateway.registration.check), never the POS's:
    "registration.changed": RegistrationChangedBody,
}
"""The events journaled as they come (with the POS id); ``float.change``, ``customer.change``
and ``order.new`` are checked by their own readers first."""


def event_body(kind: str, body: dict[str, Any], pos_id: str) -> Body:
    """The journal body of an event other than ``order.new`` (:func:`append_order`)."""
    if kind == "float.change":
        try:
            return float_change_body(body, pos_id)
        except FieldError as exc:
            raise FiscalError("bad_event", str(exc), 422, exc.field) from None
    if kind == "customer.change":
        try:
            customer = Customer.from_json(body, "customer")
        except MessageError as exc:
            raise FiscalError("bad_event", str(exc), 422) from None
        return CustomerChangeBody(
            number=customer.number,
            name=customer.name,
            orgnr=customer.orgnr,
            email=customer.email,
            phone=customer.phone,
            address=customer.address,
            price_list=customer.price_list,
            pos_id=pos_id,
        )
    if kind in EVENTS:
        try:
            journaled: Body = msgspec.convert({**body, "pos_id": pos_id}, EVENTS[kind])
        except msgspec.ValidationError as exc:
            error = body_error(exc, "")
            raise FiscalError("bad_event", str(error), 422, error.field) from None
        if isinstance(journaled, PriceChangeBody):
            _check_prices(journaled)
        return journaled
    raise FiscalError("bad_event", f"{kind!r} is not an event the POS reports", 422, "kind")


def _check_prices(body: PriceChangeBody) -> None:
    """A price change's prices are amounts in kronor (``"32.00"``): the bus carries them in öre."""
    for key, text in (("old_price", body.old_price), ("new_price", body.new_price)):
        if text is None:
            continue
        try:
            ore = parse_ore(text)
        except ValueError:
            raise FiscalError(
                "bad_event", f'{key}: {text!r} is not an amount like "32.00"', 422, key
            ) from None
        if ore < 0:
            raise FiscalError("bad_event", f"{key}: must not be negative", 422, key)


def float_change_body(body: dict[str, Any], pos_id: str) -> FloatChangeBody:
    """Check a ``float.change`` event from the POS and give the body the journal keeps.

    The POS sends ``{"amount": "2000.00", "cashier": "Anna", "note": "morning float"}``:
    ``amount`` a decimal string in kronor, positive for money put into the drawer as
    float (växelkassa), negative for float taken out; ``cashier`` and ``note`` optional.
    The journal keeps ``amount`` in öre (an integer) like every amount it holds, and the
    register's ``pos_id``. Raises :class:`~protocols.skv.FieldError` naming the field.
    """
    unknown = sorted(set(body) - {"amount", "cashier", "note"})
    if unknown:
        raise FieldError(unknown[0], "is not a field of a float change")
    amount = body.get("amount")
    if not isinstance(amount, str):
        raise FieldError("amount", f'must be an amount as a string like "2000.00", got {amount!r}')
    ore = parse_money(amount, "amount")
    if ore == 0:
        raise FieldError("amount", "is zero")
    texts: dict[str, str | None] = {}
    for key in ("cashier", "note"):
        value = body.get(key)
        if value is not None and (
            not isinstance(value, str) or len(value) > MAX_TEXT or any(ord(c) < 0x20 for c in value)
        ):
            raise FieldError(key, f"must be text of at most {MAX_TEXT} characters")
        texts[key] = value
    return FloatChangeBody(amount=ore, cashier=texts["cashier"], note=texts["note"], pos_id=pos_id)


def checked_order(body: dict[str, Any]) -> NewOrder:
    """An ``order.new``'s order, checked; the till gives its reference, not the POS."""
    try:
        return NewOrder.from_json({k: v for k, v in body.items() if k != "reference"})
    except OrderFieldError as exc:
        raise FiscalError("bad_order", exc.message, 422, exc.field) from None


def append_order(w: Writer, order: NewOrder, pos_id: str) -> int:
    """Journal the order with the till's next reference ``O-{register}-{n}`` (database thread):
    in the transaction that journals it, so two orders never share one."""
    lines = tuple(OrderLineBody(line.article, str(line.quantity), line.text) for line in order.lines)
    row = w.fetchone("SELECT COUNT(*) FROM journal WHERE kind = 'order.new'")
    body = OrderNewBody(
        customer=order.customer,
        lines=lines,
        delivery=Delivery(order.delivery),
        note=order.note,
        reference=order_reference(pos_id, (0 if row is None else int(row[0])) + 1),
        pos_id=pos_id,
    )
    return w.append("order.new", body).seq
