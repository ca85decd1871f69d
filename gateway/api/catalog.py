"""The store's catalog at the till: ``GET /v1/articles`` (a scanned barcode, a number, a search),
``GET /v1/customers`` (a search, a number) and ``POST /v1/customers`` (a customer made or
changed at the till) — docs/api.md, docs/catalog.md.

Lookups answer from the till's own catalog (gateway/catalog/), kept up to date from the
bus; a customer made here is journaled for the ERP first, then put in the catalog.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.app_keys import TILL
from gateway.api.errors import ApiError
from gateway.api.reading import json_answer, query_text, read_body
from gateway.catalog.customers import customer_request
from gateway.catalog.store import MAX_SEARCH

__all__ = ["DEFAULT_SEARCH", "add_catalog_routes"]

DEFAULT_SEARCH = 20  # results of a search when ?limit= is not given


def _limit(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None:
        return DEFAULT_SEARCH
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_SEARCH:
        raise ApiError(
            400, "bad_request", f"?limit= must be a number from 1 to {MAX_SEARCH}, got {text!r}", "limit"
        )
    return int(text)


async def get_articles(request: web.Request) -> web.Response:
    """``?barcode=`` (a scan: the article, or 404) or ``?q=`` (a search: a list)."""
    catalog = request.app[TILL].catalog
    barcode, text = query_text(request, "barcode", 64), query_text(request, "q", 100)
    if barcode is not None and text is not None:
        raise ApiError(400, "bad_request", "give ?barcode= or ?q=, not both", "q")
    if barcode is not None:
        # On the event loop, no thread: an index lookup is microseconds (gateway.catalog.store).
        found = catalog.article_by_barcode(barcode)
        if found is None:
            raise ApiError(404, "not_found", f"no article has the barcode {barcode!r}", "barcode")
        return json_answer(found.to_json())
    if text is None:
        raise ApiError(
            400, "bad_request", "give ?barcode=… (a scanned code) or ?q=… (words of a name)", "barcode"
        )
    limit = _limit(request)
    articles = await catalog.search_articles(text, limit)
    return json_answer({"articles": [a.to_json() for a in articles], "limit": limit})


async def get_article(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    found = request.app[TILL].catalog.article(number)
    if found is None:
        raise ApiError(404, "not_found", f"there is no article number {number!r}")
    return json_answer(found.to_json())


async def get_customers(request: web.Request) -> web.Response:
    text = query_text(request, "q", 100)
    if text is None:
        raise ApiError(400, "bad_request", "give ?q=… (words of a name, or a number)", "q")
    limit = _limit(request)
    customers = await request.app[TILL].catalog.search_customers(text, limit)
    return json_answer({"customers": [c.to_json() for c in customers], "limit": limit})


async def get_customer(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    found = request.app[TILL].catalog.customer(number)
    if found is None:
        raise ApiError(404, "not_found", f"there is no customer number {number!r}")
    return json_answer(found.to_json())


async def post_customer(request: web.Request) -> web.Response:
    """A customer made or changed at the till: journaled for the ERP, and in the catalog at once."""
    till = request.app[TILL]
    wanted = customer_request(await read_body(request))  # CustomerError names the field: 422
    number = wanted.number or await till.catalog.provisional_number(till.config.pos_id)
    customer = wanted.with_number(number)
    # Journaled first: the change reaches the sync module through the outbox like every event.
    entry = await till.pipeline.record("customer.change", customer.to_json())
    created = await till.catalog.put_customer(customer)
    found = till.catalog.customer(number)
    assert found is not None
    return json_answer(
        {"customer": found.to_json(), "journal_entry": entry, "created": created}, 201 if created else 200
    )


def add_catalog_routes(app: web.Application) -> None:
    """The articles and customers endpoints on ``app`` (which holds the till)."""
    app.router.add_get("/v1/articles", get_articles, allow_head=False)
    app.router.add_get("/v1/articles/{number}", get_article, allow_head=False)
    app.router.add_get("/v1/customers", get_customers, allow_head=False)
    app.router.add_post("/v1/customers", post_customer)
    app.router.add_get("/v1/customers/{number}", get_customer, allow_head=False)
