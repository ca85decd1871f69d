"""Parked sales: ``POST /v1/sales/{id}/park``, ``…/resume``, ``…/abandon``, ``GET /v1/sales/parked``
and ``GET /v1/sales/{id}`` — docs/api.md.

A parked sale is the POS's unfinished sale put aside: its lines so far, kept in the journal
(:mod:`gateway.fiscal.parking`) and counted as unfinished on the X and Z reports until it
is resumed, abandoned or completed. It is completed by a receipt: ``POST /v1/receipts``
with ``"parked": "<id>"`` (:mod:`gateway.api.receipts`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.app_keys import HUB, PARKING
from gateway.api.errors import ApiError
from gateway.api.reading import json_answer, name_field, only_fields, read_body
from gateway.api.receipts import REQUEST_ID
from gateway.fiscal.parking import ParkedSale
from gateway.receipts.codec import receipt_from_json
from gateway.receipts.money import money_text

__all__ = ["LIST_WORD", "SALE_PATH", "add_sale_routes", "sale_id"]

SALE_PATH = "/v1/sales/{id}"
SALE_FIELDS = {"lines", "discount", "cashier"}
LIST_WORD = "parked"  # GET /v1/sales/parked lists the parked sales: no sale may be called so


def sale_id(value: Any, field: str) -> str:
    """The POS's id of a parked sale, as a receipt's id is written (422 naming ``field`` otherwise).

    ``parked`` is refused: ``GET /v1/sales/parked`` is the list, so a sale of that name could be
    parked but never fetched by its id.
    """
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise ApiError(
            422, "invalid", f"must be 1-64 characters of A-Z a-z 0-9 . _ : -, got {value!r}", field
        )
    if value == LIST_WORD:
        raise ApiError(
            422,
            "invalid",
            f"{LIST_WORD!r} cannot be a sale's id: GET /v1/sales/{LIST_WORD} lists the parked sales; "
            "choose another id",
            field,
        )
    return value


def _path_id(request: web.Request) -> str:
    return sale_id(request.match_info["id"], "id")


def _announce(request: web.Request, sale: ParkedSale) -> None:
    request.app[HUB].publish("sale", {"id": sale.id, "state": sale.state, "total": money_text(sale.total)})


async def park(request: web.Request) -> web.Response:
    parking = request.app[PARKING]
    ident = _path_id(request)
    body = await read_body(request)
    only_fields(body, SALE_FIELDS)
    receipt = receipt_from_json(body)  # ReceiptError names the field: 422
    sale, fresh = await parking.park(ident, receipt)  # the lines checked as a receipt's
    if fresh:
        _announce(request, sale)
    return json_answer(sale.to_json(), 201 if fresh else 200)


async def resume(request: web.Request) -> web.Response:
    parking = request.app[PARKING]
    ident = _path_id(request)
    body = await read_body(request, optional=True)
    only_fields(body, {"cashier"})
    sale = await parking.resume(ident, name_field(body, "cashier", required=False))
    _announce(request, sale)
    return json_answer(sale.to_json())


async def abandon(request: web.Request) -> web.Response:
    parking = request.app[PARKING]
    ident = _path_id(request)
    body = await read_body(request, optional=True)
    only_fields(body, {"cashier", "reason"})
    cashier = name_field(body, "cashier", required=False)
    reason = name_field(body, "reason", required=False)
    # Not while a receipt that names the sale is being registered: that receipt completes it.
    async with parking.lock:
        sale = await parking.abandon(ident, cashier, reason)
    _announce(request, sale)
    return json_answer(sale.to_json())


async def parked_now(request: web.Request) -> web.Response:
    sales = await request.app[PARKING].parked()
    return json_answer(
        {
            "parked": [sale.to_json() for sale in sales],
            "count": len(sales),
            "total": money_text(sum(sale.total for sale in sales)),
        }
    )


async def get_sale(request: web.Request) -> web.Response:
    ident = _path_id(request)
    sale = await request.app[PARKING].find(ident)
    if sale is None:
        raise ApiError(404, "not_found", f"there is no parked sale {ident!r}")
    return json_answer(sale.to_json())


def add_sale_routes(app: web.Application) -> None:
    """The parked-sale endpoints on ``app`` (which holds the parking and the hub)."""
    app.router.add_get(f"/v1/sales/{LIST_WORD}", parked_now, allow_head=False)  # before the id's route
    app.router.add_get(SALE_PATH, get_sale, allow_head=False)
    app.router.add_post(SALE_PATH + "/park", park)
    app.router.add_post(SALE_PATH + "/resume", resume)
    app.router.add_post(SALE_PATH + "/abandon", abandon)
