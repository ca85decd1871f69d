"""Receipts: ``POST /v1/receipts`` (a sale), ``GET /v1/receipts/{no}`` and
``POST /v1/receipts/{no}/copy`` (its one copy) — docs/api.md.

The handlers read and check the request and say what happened; the pipeline decides
numbers, registrations, copies and refusals. A receipt may name the parked sale it
completes (``"parked"``, :mod:`gateway.fiscal.parking`): the sale is checked before the
receipt is registered and marked completed after. A receipt's answer is its JSON, whether it
is on paper, and its text as printed, laid out once by the pipeline for both the
printer and this answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.api.app_keys import HUB, PARKING, TILL
from gateway.api.errors import ApiError
from gateway.api.reading import flag, json_answer, read_body
from gateway.fiscal.errors import FiscalError
from gateway.fiscal.parking import Parking
from gateway.fiscal.registered import RegisteredReceipt, Sale
from gateway.receipts.codec import receipt_from_json
from gateway.receipts.model import Receipt
from gateway.till import Till

__all__ = ["RECEIPT_PATH", "add_receipt_routes", "receipt_answer"]

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
RECEIPT_PATH = r"/v1/receipts/{no:[0-9]{1,18}}"


class _KeyedLocks:
    """One lock per request id in use, so that two requests with one id run one after the other."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


_IDS = web.AppKey("request_ids", _KeyedLocks)


def _request_id(body: dict[str, Any]) -> str:
    value = body.get("id")
    if value is None:
        raise ApiError(
            422, "invalid", "is missing: every receipt needs the POS's own id (the idempotency key)", "id"
        )
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise ApiError(422, "invalid", f"must be 1-64 characters of A-Z a-z 0-9 . _ : -, got {value!r}", "id")
    return value


def _parked_id(body: dict[str, Any]) -> str | None:
    value = body.get("parked")
    if value is None:
        return None
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        words = f"must be the id of a parked sale (1-64 characters of A-Z a-z 0-9 . _ : -), got {value!r}"
        raise ApiError(422, "invalid", words, "parked")
    return value


async def _parked_sale_may_end(parking: Parking, parked: str, request_id: str) -> None:
    """The 422 (unknown) or 409 (abandoned, completed by another receipt) of a receipt naming
    ``parked``; nothing for one this very receipt completed."""
    try:
        await parking.completable(parked, request_id)
    except FiscalError as exc:
        if exc.status == 404:
            raise ApiError(422, "invalid", exc.message, "parked") from None
        raise FiscalError(exc.code, exc.message, exc.status, "parked") from None


async def receipt_answer(till: Till, registered: RegisteredReceipt) -> dict[str, Any]:
    """A receipt as the API shows it: its JSON, whether it is on paper, and its text."""
    printed = till.printer is not None and await till.pipeline.printed(registered.entry_seq)
    return {**registered.to_json(printed=printed), "text": till.pipeline.receipt_text(registered)}


async def post_receipt(request: web.Request) -> web.Response:
    till = request.app[TILL]
    body = await read_body(request)
    request_id = _request_id(body)
    parked = _parked_id(body)
    receipt = receipt_from_json({k: v for k, v in body.items() if k != "parked"})  # 422 naming the field
    async with request.app[_IDS].hold(request_id):
        if parked is None:
            sale = await _sell(request, request_id, receipt)
        else:
            parking = request.app[PARKING]
            # From the check to the completion: no other receipt completes it, nobody abandons it.
            async with parking.lock:
                await _parked_sale_may_end(parking, parked, request_id)
                sale = await _sell(request, request_id, receipt)
                done = sale.registered
                await parking.complete(parked, done.receipt_no, done.entry_seq, request_id)
    answer = await receipt_answer(till, sale.registered)
    if parked is not None:
        answer["parked"] = parked
    fresh = sale.earlier != "done"  # a receipt this request completed, also one that was in doubt
    return json_answer(answer, 201 if fresh else 200)


async def _sell(request: web.Request, request_id: str, receipt: Receipt) -> Sale:
    """The receipt registered (or the one this id got before, when it is the same receipt)."""
    try:
        sale = await request.app[TILL].pipeline.sell(request_id, receipt)
    except FiscalError as exc:
        if not exc.repeat:  # a repeated refusal is no news
            request.app[HUB].publish("receipt.error", {"id": request_id, **exc.to_json()["error"]})
        raise
    registered = sale.registered
    if sale.earlier is not None and registered.receipt != receipt:
        raise ApiError(
            409,
            "id_reused",
            f"id {request_id!r} belongs to receipt {registered.receipt_no}, which is not this receipt; "
            "every new sale needs a new id",
            "id",
        )
    return sale


def _receipt_no(request: web.Request) -> int:
    return int(request.match_info["no"])  # the route allows 1-18 digits only


async def get_receipt(request: web.Request) -> web.Response:
    till = request.app[TILL]
    number, copy = _receipt_no(request), flag(request, "copy")
    registered = await till.pipeline.find(number, copy=copy)
    if registered is None:
        what = f"receipt {number} has no copy" if copy else f"there is no receipt number {number}"
        raise ApiError(404, "not_found", what)
    return json_answer(await receipt_answer(till, registered))


async def post_copy(request: web.Request) -> web.Response:
    till = request.app[TILL]
    registered = await till.pipeline.copy(_receipt_no(request))  # 404, 409, 503 from the pipeline
    return json_answer(await receipt_answer(till, registered), 201)


def add_receipt_routes(app: web.Application) -> None:
    """The receipt endpoints on ``app`` (which holds the till and the hub)."""
    app[_IDS] = _KeyedLocks()
    app.router.add_post("/v1/receipts", post_receipt)
    app.router.add_get(RECEIPT_PATH, get_receipt, allow_head=False)
    app.router.add_post(RECEIPT_PATH + "/copy", post_copy)
