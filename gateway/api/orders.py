"""Sales orders: ``GET /v1/orders?customer=``, ``GET /v1/orders/{number}`` (the ERP's open orders,
asked of the sync module over the bus) and ``POST /v1/orders`` (a new order for the ERP,
journaled and sent through the outbox) — docs/orders.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.api.app_keys import TILL
from gateway.api.errors import ApiError
from gateway.api.reading import json_answer, query_text, read_body
from gateway.api.text_check import check_text
from gateway.catalog.orders import NotConnected
from gateway.messages.orders import NewOrder, Order, OrderAnswer, OrderFieldError
from gateway.receipts.money import money_text
from gateway.receipts.vat import rate_text

__all__ = ["ORDER_WAIT", "add_order_routes"]

ORDER_WAIT = 10.0  # seconds the API waits for the sync module's answer about orders
_ORDER_WAIT = web.AppKey("order_wait", float)


def _order_json(order: Order) -> dict[str, Any]:
    """An order as the POS gets it: amounts and rates as a receipt line takes them."""
    return {
        "number": order.number,
        "customer": order.customer,
        "customer_name": order.customer_name,
        "reference": order.reference,
        "lines": [
            {
                "article": line.article,
                "text": line.text,
                "quantity": str(line.quantity),
                "unit_price": money_text(line.unit_price),
                "vat_rate": rate_text(line.vat_rate),
                "delivered": None if line.delivered is None else str(line.delivered),
                "invoiced": None if line.invoiced is None else str(line.invoiced),
            }
            for line in order.lines
        ],
    }


async def _ask_for_orders(request: web.Request, customer: str | None, number: str | None) -> OrderAnswer:
    till, wait = request.app[TILL], request.app[_ORDER_WAIT]
    if till.orders is None:
        raise ApiError(
            503,
            "no_bus",
            "this till has no MQTT bus configured ([mqtt]), so it cannot ask the ERP for orders",
        )
    try:
        answer = await asyncio.wait_for(till.orders.ask(customer, number), wait)
    except TimeoutError:
        raise ApiError(
            504,
            "no_answer",
            f"the ERP sync module did not answer in {wait:g} s — is tillgw sync running?",
        ) from None
    except NotConnected as exc:
        raise ApiError(503, "no_bus", str(exc)) from None
    if answer.error is not None:
        raise ApiError(502, "erp_error", f"the ERP could not say: {answer.error}")
    return answer


async def get_orders(request: web.Request) -> web.Response:
    """``?customer=``: the customer's open orders in the ERP (asked over the bus)."""
    customer = query_text(request, "customer", 50)
    if customer is None:
        raise ApiError(400, "bad_request", "give ?customer=… (the ERP's customer number)", "customer")
    answer = await _ask_for_orders(request, customer, None)
    if not answer.orders:
        raise ApiError(404, "not_found", f"the ERP has no open order of customer {customer!r}", "customer")
    return json_answer({"orders": [_order_json(o) for o in answer.orders]})


async def get_order(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    if len(number) > 50 or check_text(number) is not None:
        raise ApiError(400, "bad_request", "an order number is 1-50 characters without control characters")
    answer = await _ask_for_orders(request, query_text(request, "customer", 50), number)
    found = [o for o in answer.orders if o.number == number]
    if not found:
        raise ApiError(404, "not_found", f"the ERP has no open order number {number!r}")
    return json_answer(_order_json(found[0]))


async def post_order(request: web.Request) -> web.Response:
    """A new sales order for the ERP: journaled as ``order.new``, sent through the outbox."""
    till = request.app[TILL]
    try:
        order = NewOrder.from_json({k: v for k, v in (await read_body(request)).items()})
    except OrderFieldError as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None
    if order.reference is not None:
        raise ApiError(422, "invalid", "is given by the till, not the POS", "reference")
    entry = await till.pipeline.record("order.new", order.to_json())
    reference = await till.pipeline.order_reference(entry)
    return json_answer({"reference": reference, "journal_entry": entry, "order": order.to_json()}, 201)


def add_order_routes(app: web.Application, order_wait: float = ORDER_WAIT) -> None:
    """The order endpoints on ``app`` (which holds the till); ``order_wait``: how many seconds to
    wait for the sync module's answer."""
    app[_ORDER_WAIT] = order_wait
    app.router.add_get("/v1/orders", get_orders, allow_head=False)
    app.router.add_post("/v1/orders", post_order)
    app.router.add_get("/v1/orders/{number}", get_order, allow_head=False)
