"""A Fortnox API v3 on 127.0.0.1 for tests, refusing what the real one refuses.

Built from Fortnox's OpenAPI definition (the extract in tests/sync/contracts/fortnox/,
README.md there says where it came from) and its guides:

* every ``/3/`` request is checked against the definition (tests/sync/contracts/
  openapi_check.py): a path it does not define is 404 (a method it does not define on a
  path it does, 405), a query parameter (2000588), a body property or a type (2001399)
  it does not allow is 400, each with Fortnox's error body, and each is kept in
  :attr:`FakeFortnox.violations`; :func:`running` fails the test on any;
* every answer is the definition's: a list holds only its ``*ListItem`` properties, of
  their types (``GET /3/articles`` has no ``Active``, ``Type``, ``StockGoods``; its prices
  are text), a single record only the record's properties; an answer that says more is
  a violation too (the fake's own error);
* ``filter=active|inactive`` selects articles and customers by ``Active``;
* vouchers belong to a financial year: ``financialyear`` (its Id) on ``POST /3/vouchers``
  and ``GET /3/vouchers/sublist/{series}`` chooses it, and without it Fortnox uses the
  year preselected for the company (here: the one holding today), so a voucher dated in
  another year is refused and the sublist shows only that year's vouchers;

* the token endpoint ``/oauth-v1/token`` wants HTTP Basic with the client id and secret
  and a form body; ``authorization_code`` (a code is good once), ``refresh_token`` (a
  refresh token is good once: each refresh hands out a new one, and the old one is
  ``invalid_grant`` ever after) and ``client_credentials`` with a ``TenantId`` header;
* every ``/3/`` request wants ``Authorization: Bearer`` with a live access token (401
  otherwise); access tokens live ``access_ttl`` seconds, and :meth:`FakeFortnox.expire_tokens`
  ends them all at once, as the hour running out would;
* 25 requests in any 5 s per client and tenant (a sliding window); one more is 429;
* errors are ``{"ErrorInformation": {"error": 1, "message": …, "code": …}}``;
* lists are paged (``limit`` at most 500, ``page``) with ``MetaInformation``, and
  ``lastmodified`` filters articles and customers;
* a voucher must balance, name a series that exists, accounts of the chart of accounts,
  cost centres that ``GET /3/costcenters`` lists as active, and a date inside a financial year;
* orders (``/3/orders``): listed as subsets without rows, filtered by the search parameters
  Fortnox offers on orders (``customernumber``, ``documentnumber``, ``externalinvoicereference1``
  …, and ``filter`` = ``cancelled`` | ``expired`` | ``invoicecreated`` | ``invoicenotcreated``;
  any other parameter is refused as Fortnox refuses it); a text search matches what contains
  it, so an exact match is the caller's to make. Rows without a price take the article's
  (the customer's price list), without a VAT the article's; a delivered quantity is at most
  the ordered one. ``PUT`` replaces the rows it sends. ``createinvoice`` makes an invoice
  of the delivered rows, carrying ``ExternalInvoiceReference1``, and refuses an order that
  is cancelled or already invoiced, or has nothing delivered. Back orders for what was
  ordered and not delivered are not made here.

Faults for tests: :meth:`drop_after_commit` (the server does the work, then the
connection dies before the answer), :meth:`fail` (5xx answers before doing anything) and
:meth:`storm` (429s).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from gateway.sync.adapters.fortnox.config import FortnoxConfig, parse_fortnox
from tests.sync.contracts.fortnox import CONTRACT, LIST_LIMIT

__all__ = ["CHART", "FakeFortnox", "Seen", "config_for", "running"]

CHART = frozenset(
    {"1580", "1689", "1910", "1930", "2421", "2611", "2621", "2631", "3001", "3002", "3003", "3004", "3740"}
    | {"1510", "3010", "3011", "3012", "3013"}
)
"""The fake company's chart of accounts: the BAS accounts tillgw books on, and a few more."""

_ORDER_LIST_FIELDS = (
    *("DocumentNumber", "CustomerName", "CustomerNumber", "Cancelled", "Currency", "DeliveryDate"),
    *("ExternalInvoiceReference1", "ExternalInvoiceReference2", "OrderDate", "Project", "Sent", "Total"),
)
_ORDER_SEARCH = frozenset(
    {"customername", "customernumber", "documentnumber", "externalinvoicereference1"}
    | {"externalinvoicereference2", "filter", "fromdate", "todate", "lastmodified", "ourreference"}
    | {"yourreference", "costcenter", "label", "notcompleted", "orderdate", "project", "sent"}
    | {"limit", "page", "offset", "sortby", "sortorder"}
)
_ORDER_FILTERS = ("cancelled", "expired", "invoicecreated", "invoicenotcreated")

# Fortnox's guide "Errors": an invalid parameter, an invalid field name. Its code for a
# path it does not know is not published; the status and message are what is quoted.
_BAD_PARAMETER = 2000588
_BAD_FIELD = 2001399
_UNKNOWN_CODE = 2000000

# The schema of each list's items and of each single record the fake answers with.
_LIST_ITEM = {
    "Articles": "fortnox_ArticleListItem",
    "Customers": "fortnox_CustomerListItem",
    "Vouchers": "fortnox_VoucherListItem",
    "Invoices": "fortnox_InvoiceListItem",
    "InvoicePayments": "fortnox_InvoicePaymentListItem",
    "Orders": "fortnox_OrderListItem",
    "Prices": "fortnox_PriceListItem",
    "FinancialYears": "fortnox_FinancialYear",
    "CostCenters": "fortnox_CostCenter",
}
_RECORD = {
    "Article": "fortnox_Article",
    "Customer": "fortnox_Customer",
    "Voucher": "fortnox_Voucher",
    "Invoice": "fortnox_Invoice",
    "InvoicePayment": "fortnox_InvoicePayment",
    "Order": "fortnox_Order",
}


def shaped(schema: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as the schema ``schema`` has it: only its properties, each of its type.

    Fortnox's list items give some numbers as text (``SalesPrice``, ``VAT`` of
    ``ArticleListItem``) that the single record gives as numbers.
    """
    props: dict[str, Any] = CONTRACT.schema(schema).get("properties", {})
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key not in props:
            continue
        kind = props[key].get("type")
        if value is not None and not isinstance(value, bool):
            if kind == "string" and isinstance(value, int | float | Decimal):
                value = str(value)
            elif kind == "number" and isinstance(value, str | int | Decimal):
                value = float(value)
        out[key] = value
    return out


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Seen:
    """One request to ``/3/`` as the fake saw it."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    status: int
    counted: bool  # within the rate limit (carried out or refused on its merits)


@dataclass
class _Fault:
    kind: str  # "drop" | "status"
    method: str
    path_prefix: str
    times: int
    status: int = 503


@dataclass
class _Tenant:
    tenant_id: str
    window: list[float] = field(default_factory=list)  # arrival times of counted requests


def error(status: int, message: str, code: int) -> web.Response:
    body = {"ErrorInformation": {"error": 1, "message": message, "code": code}}
    return web.json_response(body, status=status)


def _gross(line: Decimal, vat: Any, included: bool) -> Decimal:
    """A row's amount incl. VAT: ``line`` as it is when prices include VAT, else with ``vat`` %."""
    return line if included else line * (1 + Decimal(vat) / 100)


def _too_long(body: dict[str, Any], name: str, most: int, minimum: int = 0) -> web.Response | None:
    """Fortnox's refusal of a text field outside its OpenAPI ``minLength``/``maxLength``, or None."""
    value = body.get(name)
    if isinstance(value, str) and not minimum <= len(value) <= most:
        return error(400, f"Fältet {name} får vara högst {most} tecken långt ({len(value)}).", 2000106)
    return None


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(value)
    return Decimal(str(value))


class FakeFortnox:
    def __init__(
        self,
        *,
        client_id: str = "tillgw-client",
        client_secret: str = "tillgw-secret",
        tenant_id: str = "1234567",
        max_requests: int = 25,
        window: float = 5.0,
        access_ttl: float = 3600.0,
        series: tuple[str, ...] = ("A", "B", "K"),
        years: tuple[tuple[date, date], ...] | None = None,  # None: this calendar year
        chart: frozenset[str] = CHART,
        orgnr: str = "556036-0793",  # the company's organisation number, as Fortnox writes it
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = _Tenant(tenant_id)
        self.max_requests = max_requests
        self.window = window
        self.access_ttl = access_ttl
        self.series = set(series)
        if years is None:
            this = date.today().year
            years = ((date(this, 1, 1), date(this, 12, 31)),)
        self.years: list[dict[str, Any]] = [
            {"Id": i, "FromDate": f.isoformat(), "ToDate": t.isoformat(), "AccountChartType": "BAS 2024"}
            for i, (f, t) in enumerate(years, 1)
        ]
        self.chart = set(chart)
        self.orgnr = orgnr
        self.seen: list[Seen] = []
        self.violations: list[str] = []  # what the contract does not allow, asked or answered
        self.denied: dict[str, tuple[int, str, int]] = {}  # path prefix -> (status, message, code)
        self.token_requests: list[dict[str, str]] = []
        self.access_tokens: dict[str, float] = {}  # token -> time.time() it expires
        self.refresh_token: str | None = None  # the one valid refresh token
        self.spent_refresh_tokens: set[str] = set()
        self.refused_grants: list[str] = []  # what the token endpoint said no to
        self.codes: set[str] = set()
        self.vouchers: list[dict[str, Any]] = []
        self.invoices: dict[int, dict[str, Any]] = {}
        self.payments: dict[int, dict[str, Any]] = {}
        self.articles: dict[str, dict[str, Any]] = {}
        self.prices: dict[tuple[str, str], Decimal] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.cost_centers: dict[str, dict[str, Any]] = {}  # code -> cost centre (GET /3/costcenters)
        self.orders: dict[int, dict[str, Any]] = {}
        self._answered_event: asyncio.Event | None = None  # set after each request (wait_until)
        self._order_numbers = itertools.count(1)
        self._faults: list[_Fault] = []
        self._numbers = itertools.count(1)
        self._voucher_numbers: dict[str, itertools.count[int]] = {}
        self._runner: web.AppRunner | None = None
        self.base = ""

    # -- running ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/oauth-v1/token", self._token)
        r = app.router
        r.add_get("/3/financialyears", self._financialyears)
        r.add_get("/3/companyinformation", self._companyinformation)
        r.add_get("/3/costcenters", self._list_cost_centers)
        r.add_post("/3/vouchers", self._post_voucher)
        r.add_get("/3/vouchers/sublist/{series}", self._voucher_sublist)
        r.add_get("/3/invoices", self._list_invoices)
        r.add_post("/3/invoices", self._post_invoice)
        r.add_get("/3/invoices/{n}", self._getter("Invoice", self._invoice))
        r.add_put("/3/invoices/{n}/bookkeep", self._bookkeep_invoice)
        r.add_get("/3/invoicepayments", self._list_payments)
        r.add_post("/3/invoicepayments", self._post_payment)
        r.add_get("/3/invoicepayments/{n}", self._getter("InvoicePayment", self._payment))
        r.add_put("/3/invoicepayments/{n}/bookkeep", self._bookkeep_payment)
        r.add_get("/3/orders", self._list_orders)
        r.add_post("/3/orders", self._post_order)
        r.add_get("/3/orders/{n}", self._getter("Order", self._order))
        r.add_put("/3/orders/{n}", self._put_order)
        r.add_put("/3/orders/{n}/createinvoice", self._create_invoice)
        r.add_get("/3/articles", self._list_articles)
        r.add_get("/3/articles/{n}", self._getter("Article", self._article))
        r.add_put("/3/articles/{n}", self._put_article)
        r.add_get("/3/prices/sublist/{list}/{article}", self._article_prices)
        r.add_get("/3/customers", self._list_customers)
        r.add_get("/3/customers/{n}", self._getter("Customer", self._customer))
        r.add_post("/3/customers", self._post_customer)
        r.add_put("/3/customers/{n}", self._put_customer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"{self.base}/3/"

    @property
    def token_url(self) -> str:
        return f"{self.base}/oauth-v1/token"

    # -- test controls ------------------------------------------------------------------

    def issue_code(self) -> str:
        """An authorisation code, as the consent page would redirect with."""
        code = secrets.token_urlsafe(12)
        self.codes.add(code)
        return code

    def issue_refresh_token(self) -> str:
        """A refresh token, as if the integration had been authorised (replaces any other)."""
        if self.refresh_token:
            self.spent_refresh_tokens.add(self.refresh_token)
        self.refresh_token = secrets.token_urlsafe(16)
        return self.refresh_token

    def expire_tokens(self) -> None:
        """Every access token handed out so far stops working now."""
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    def drop_after_commit(self, method: str, path_prefix: str, times: int = 1) -> None:
        """The next ``times`` matching requests are carried out, then the connection dies unanswered."""
        self._faults.append(_Fault("drop", method, path_prefix, times))

    def fail(self, method: str, path_prefix: str, times: int, status: int = 503) -> None:
        """The next ``times`` matching requests get ``status`` and are not carried out."""
        self._faults.append(_Fault("status", method, path_prefix, times, status))

    def deny(self, path_prefix: str, status: int, message: str, code: int) -> None:
        """Every request below ``path_prefix`` is refused so, as for a scope or licence the
        integration or company lacks (``deny("/3/", 403, "Api-licens saknas.", 2001103)``)."""
        self.denied[path_prefix] = (status, message, code)

    def storm(self, times: int) -> None:
        """The next ``times`` requests get 429, whatever the window holds."""
        self._faults.append(_Fault("status", "*", "/3/", times, 429))

    def max_in_window(self) -> int:
        """The most counted requests any ``window`` seconds held (what the limit is about)."""
        times = sorted(s.at for s in self.seen if s.counted)
        most, start = 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - self.window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def calls(self, method: str, path_prefix: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path.startswith(path_prefix))

    def add_article(self, number: str, description: str, price: str, vat: int = 25, **more: Any) -> None:
        self.articles[number] = {
            "ArticleNumber": number,
            "Description": description,
            "SalesPrice": float(Decimal(price)),
            "VAT": vat,
            "Unit": "st",
            "Active": True,
            "StockGoods": False,
            "QuantityInStock": 0.0,
            "DisposableQuantity": 0.0,
            "EAN": "",
            "Type": "STOCK",
            "LastModified": self._now_text(),
            **more,
        }
        self.prices[("A", number)] = Decimal(price)

    def add_customer(self, number: str, name: str, **more: Any) -> None:
        self.customers[number] = {
            "CustomerNumber": number,
            "Name": name,
            "OrganisationNumber": "",
            "Email": "",
            "Phone1": "",
            "ZipCode": "",
            "City": "",
            "PriceList": "A",
            "Active": True,
            "LastModified": self._now_text(),
            **more,
        }

    def add_order(self, customer: str, *rows: tuple[str, str], **more: Any) -> dict[str, Any]:
        """An order for ``customer`` made in Fortnox, rows (article, quantity) at the article's price."""
        fields = {"CustomerNumber": customer, "OrderDate": date.today().isoformat(), **more}
        fields["OrderRows"] = [{"ArticleNumber": a, "OrderedQuantity": q} for a, q in rows]
        made = self._order_from(fields, None)
        assert isinstance(made, dict), made.text
        return made

    @staticmethod
    def _now_text() -> str:
        return datetime.now().strftime("%Y-%m-%d %H:%M")

    # -- the gate every request passes ---------------------------------------------------

    async def wait_until(self, check: Callable[[], bool]) -> None:
        """Return once ``check()`` holds, looking again after every request the fake answers."""
        while not check():
            if self._answered_event is None:
                self._answered_event = asyncio.Event()
            await self._answered_event.wait()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await self._gate(request, handler)
        finally:
            event, self._answered_event = self._answered_event, None
            if event is not None:
                event.set()

    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/3/"):
            return await handler(request)
        arrived = time.monotonic()

        def seen(status: int, counted: bool) -> None:
            self.seen.append(Seen(arrived, request.method, request.path, status, counted))

        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if not token or self.access_tokens.get(token, 0.0) <= time.time():
            seen(401, False)
            return error(401, "Ogiltig inloggning", 2000310)  # the guide "Errors": a missing or wrong token
        window = self.tenant.window
        while window and window[0] <= arrived - self.window:
            window.pop(0)
        if len(window) >= self.max_requests:
            seen(429, False)
            return web.json_response({"message": "Too Many Requests"}, status=429)
        window.append(arrived)
        for prefix, (status, message, code) in self.denied.items():
            if request.path.startswith(prefix):
                seen(status, True)
                return error(status, message, code)
        refused = await self._against_contract(request)
        if refused is not None:
            seen(refused.status, True)
            return refused
        fault = self._fault(request)
        if fault is not None and fault.kind == "status":
            seen(fault.status, True)
            if fault.status == 429:
                return web.json_response({"message": "Too Many Requests"}, status=429)
            return error(fault.status, "Tjänsten är inte tillgänglig just nu.", 2000000 + fault.status)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            seen(exc.status, True)
            raise
        seen(response.status, True)
        if isinstance(response, web.Response) and response.body is not None:
            answered = (
                json.loads(response.text or "null") if response.content_type == "application/json" else None
            )
            for problem in CONTRACT.check_response(request.method, request.path, response.status, answered):
                self.violations.append(f"the fake answered {request.method} {request.path}: {problem}")
        if fault is not None and fault.kind == "drop" and request.transport is not None:
            request.transport.abort()  # done, and nobody hears of it
            raise asyncio.CancelledError
        return response

    async def _against_contract(self, request: web.Request) -> web.Response | None:
        """Fortnox's refusal of what its definition does not allow, or None."""
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return error(400, "Ogiltig JSON.", 2000004)
        query = {k: v for k, v in request.query.items()}
        problems = CONTRACT.check_request(request.method, request.path, query, body)
        limit = query.get("limit", "")
        if limit.isdigit() and not 1 <= int(limit) <= LIST_LIMIT:
            problems.append(f"limit {limit}: at most {LIST_LIMIT}")
        if not problems:
            return None
        self.violations += [f"{request.method} {request.path_qs}: {p}" for p in problems]
        if CONTRACT.operation(request.method, request.path) is None:
            if CONTRACT.path_known(request.path):
                return error(405, f"Metoden {request.method} stöds inte här.", _UNKNOWN_CODE)
            return error(404, f"Kan inte hitta sökvägen {request.path}.", _UNKNOWN_CODE)
        code = _BAD_PARAMETER if "parameter" in problems[0] else _BAD_FIELD
        return error(400, f"Ogiltig begäran: {problems[0]}", code)

    def _fault(self, request: web.Request) -> _Fault | None:
        for fault in self._faults:
            if (
                fault.times > 0
                and fault.method in ("*", request.method)
                and request.path.startswith(fault.path_prefix)
            ):
                fault.times -= 1
                return fault
        return None

    # -- tokens -------------------------------------------------------------------------

    def _grant(self, refresh: bool) -> web.Response:
        access = secrets.token_urlsafe(16)
        self.access_tokens[access] = time.time() + self.access_ttl
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(self.access_ttl),
            "token_type": "bearer",
            "scope": "bookkeeping invoice payment article customer price settings companyinformation",
        }
        if refresh:
            if self.refresh_token:
                self.spent_refresh_tokens.add(self.refresh_token)
            self.refresh_token = secrets.token_urlsafe(16)
            body["refresh_token"] = self.refresh_token
        return web.json_response(body)

    async def _token(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed"}, status=401
            )
        if request.content_type != "application/x-www-form-urlencoded":
            return web.json_response(
                {"error": "invalid_request", "error_description": "Expected a form body"}, status=400
            )
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        grant = form.get("grant_type")
        if grant == "refresh_token":
            given = form.get("refresh_token", "")
            if not given or given != self.refresh_token:
                self.refused_grants.append(given)
                return web.json_response(
                    {"error": "invalid_grant", "error_description": "Invalid refresh token"}, status=400
                )
            return self._grant(refresh=True)
        if grant == "authorization_code":
            code = form.get("code", "")
            if code not in self.codes:
                return web.json_response(
                    {"error": "invalid_grant", "error_description": "Invalid authorization code"}, status=400
                )
            self.codes.discard(code)
            return self._grant(refresh=True)
        if grant == "client_credentials":
            if request.headers.get("TenantId") != self.tenant.tenant_id:
                return web.json_response(
                    {"error": "invalid_request", "error_description": "Unknown or missing TenantId"},
                    status=400,
                )
            return self._grant(refresh=False)
        return web.json_response(
            {"error": "unsupported_grant_type", "error_description": f"Grant type {grant} is not supported"},
            status=400,
        )

    # -- lists ----------------------------------------------------------------------------

    @staticmethod
    def _page(request: web.Request, name: str, items: list[dict[str, Any]]) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
            page = int(request.query.get("page", "1"))
        except ValueError:
            return error(400, "Ogiltig parameter för sidhantering.", 2001399)
        if not 1 <= limit <= 500 or page < 1:
            return error(400, "Ogiltigt värde för limit eller page.", 2001399)
        pages = max(1, math.ceil(len(items) / limit))
        chunk = items[(page - 1) * limit : page * limit]
        meta = {"@TotalResources": len(items), "@TotalPages": pages, "@CurrentPage": page}
        listed = [shaped(_LIST_ITEM[name], item) for item in chunk]
        return web.json_response({name: listed, "MetaInformation": meta})

    @staticmethod
    def _changed(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]] | web.Response:
        wanted = request.query.get("filter")
        if wanted is not None:
            items = [i for i in items if bool(i.get("Active", True)) == (wanted == "active")]
        since = request.query.get("lastmodified")
        if since is None:
            return items
        try:
            datetime.strptime(since, "%Y-%m-%d %H:%M")
        except ValueError:
            return error(400, f"Ogiltigt datum för lastmodified: {since}", 2000588)
        return [i for i in items if i["LastModified"] >= since]

    def _changed_page(self, request: web.Request, name: str, items: list[dict[str, Any]]) -> web.Response:
        """``items`` that ``lastmodified`` chooses, paged."""
        chosen = self._changed(request, items)
        return chosen if isinstance(chosen, web.Response) else self._page(request, name, chosen)

    # -- one record ------------------------------------------------------------------------

    @staticmethod
    def _find(
        request: web.Request,
        table: dict[Any, dict[str, Any]],
        what: str,
        code: int,
        *,
        numbered: bool = False,
    ) -> dict[str, Any] | web.Response:
        """The record of ``table`` that ``{n}`` in the path names (a number if ``numbered``), or a 404."""
        n = request.match_info["n"]
        key: Any = n
        if numbered:
            key = int(n) if n.isdigit() else None
        found = table.get(key)
        if found is None:
            return error(404, f"Kan inte hitta {what} {n}.", code)
        return found

    @staticmethod
    def answer(wrapper: str, record: dict[str, Any], status: int = 200) -> web.Response:
        """``{wrapper: record}`` with the record as Fortnox's definition has it."""
        return web.json_response({wrapper: shaped(_RECORD[wrapper], record)}, status=status)

    @staticmethod
    def _getter(wrapper: str, lookup: Callable[[web.Request], dict[str, Any] | web.Response]) -> Handler:
        """``GET`` of one record: ``{wrapper: record}``, or the lookup's refusal."""

        async def handle(request: web.Request) -> web.Response:
            found = lookup(request)
            if isinstance(found, web.Response):
                return found
            return FakeFortnox.answer(wrapper, found)

        return handle

    def _modified(self, wrapper: str, record: dict[str, Any], change: dict[str, Any]) -> web.Response:
        """``record`` changed by ``change`` (a ``PUT``), with its new ``LastModified``."""
        record.update(change)
        record["LastModified"] = self._now_text()
        return self.answer(wrapper, record)

    # -- bookkeeping ------------------------------------------------------------------------

    def _year_of(self, day: str) -> dict[str, Any] | None:
        for year in self.years:
            if year["FromDate"] <= day <= year["ToDate"]:
                return year
        return None

    async def _companyinformation(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"CompanyInformation": {"CompanyName": "Kaffebaren i Växjö AB", "OrganizationNumber": self.orgnr}}
        )

    def preselected_year(self) -> dict[str, Any] | None:
        """The year Fortnox uses when a request names none: the one holding today, else the last."""
        return self._year_of(date.today().isoformat()) or (self.years[-1] if self.years else None)

    def _chosen_year(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The financial year ``financialyear`` names, or the preselected one."""
        named = request.query.get("financialyear")
        if named is None:
            year = self.preselected_year()
            return year or error(400, "Det finns inget räkenskapsår.", 2000433)
        for year in self.years:
            if str(year["Id"]) == named:
                return year
        return error(400, f"Räkenskapsåret {named} finns inte.", 2000433)

    async def _financialyears(self, request: web.Request) -> web.Response:
        # the definition writes the parameter "Date", the guides say parameters are lower case
        day = next((v for k, v in request.query.items() if k.lower() == "date"), None)
        years = self.years if day is None else [y for y in self.years if y is self._year_of(day)]
        return self._page(request, "FinancialYears", years)

    async def _body(self, request: web.Request, wrapper: str) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "Ogiltig JSON.", 2000004)
        inner = body.get(wrapper) if isinstance(body, dict) else None
        if not isinstance(inner, dict):
            return error(400, f"Objektet {wrapper} saknas.", 2000004)
        return inner

    async def _post_voucher(self, request: web.Request) -> web.Response:
        v = await self._body(request, "Voucher")
        if isinstance(v, web.Response):
            return v
        refused = _too_long(v, "Description", 200, minimum=1)
        if refused is not None:
            return refused
        series = v.get("VoucherSeries")
        if series not in self.series:
            return error(400, f"Verifikationsserien {series} finns inte.", 2000544)
        day = v.get("TransactionDate")
        try:
            date.fromisoformat(str(day))
        except ValueError:
            return error(400, f"Ogiltigt datum: {day}", 2000588)
        year = self._chosen_year(request)
        if isinstance(year, web.Response):
            return year
        if not year["FromDate"] <= str(day) <= year["ToDate"]:
            return error(
                400,
                f"Datumet {day} ligger utanför räkenskapsåret {year['FromDate']}–{year['ToDate']}.",
                2000433,
            )
        rows = v.get("VoucherRows")
        if not isinstance(rows, list) or len(rows) < 2:
            return error(400, "En verifikation måste ha minst två rader.", 2000545)
        debit = credit = Decimal(0)
        for row in rows:
            account = str(row.get("Account"))
            if account not in self.chart:
                return error(400, f"Kontot {account} finns inte i kontoplanen.", 2000555)
            center = row.get("CostCenter")
            if center and not (center in self.cost_centers and self.cost_centers[center]["Active"]):
                return error(400, f"Kostnadsstället {center} hittades inte.", 2000730)
            try:
                d, c = _money(row.get("Debit", 0)), _money(row.get("Credit", 0))
            except ValueError:
                return error(400, "Ogiltigt belopp på verifikationsrad.", 2000546)
            if d.as_tuple().exponent < -2 or c.as_tuple().exponent < -2:  # type: ignore[operator]
                return error(400, "Belopp får ha högst två decimaler.", 2000546)
            debit, credit = debit + d, credit + c
        if debit != credit:
            return error(400, f"Verifikationen är inte balanserad (debet {debit}, kredit {credit}).", 2000547)
        number = next(self._voucher_numbers.setdefault(series, itertools.count(1)))
        stored = {**v, "VoucherNumber": number, "Year": year["Id"], "ReferenceType": "MANUAL"}
        self.vouchers.append(stored)
        return self.answer("Voucher", stored, status=201)

    def add_cost_center(self, code: str, description: str, active: bool = True) -> None:
        self.cost_centers[code] = {"Code": code, "Description": description, "Active": active, "Note": ""}

    async def _list_cost_centers(self, request: web.Request) -> web.Response:
        return self._page(request, "CostCenters", list(self.cost_centers.values()))

    async def _voucher_sublist(self, request: web.Request) -> web.Response:
        series = request.match_info["series"]
        if series not in self.series:
            return error(400, f"Verifikationsserien {series} finns inte.", 2000544)
        year = self._chosen_year(request)
        if isinstance(year, web.Response):
            return year
        lo = request.query.get("fromdate", "0000-00-00")
        hi = request.query.get("todate", "9999-99-99")
        items = [
            v
            for v in self.vouchers
            if v["VoucherSeries"] == series and v["Year"] == year["Id"] and lo <= v["TransactionDate"] <= hi
        ]
        return self._page(request, "Vouchers", items)

    # -- invoices and payments ----------------------------------------------------------------

    async def _post_invoice(self, request: web.Request) -> web.Response:
        inv = await self._body(request, "Invoice")
        if isinstance(inv, web.Response):
            return inv
        refused = _too_long(inv, "ExternalInvoiceReference1", 80)
        if refused is not None:
            return refused
        customer = str(inv.get("CustomerNumber", ""))
        if customer not in self.customers:
            return error(400, f"Kunden med kundnummer {customer} hittades inte.", 2000433)
        rows = inv.get("InvoiceRows")
        if not isinstance(rows, list) or not rows:
            return error(400, "Fakturan saknar rader.", 2000545)
        total = Decimal(0)
        included = bool(inv.get("VATIncluded", False))
        for row in rows:
            number = row.get("ArticleNumber")
            if number is not None and str(number) not in self.articles:
                return error(400, f"Artikeln {number} hittades inte.", 2000428)
            if row.get("VAT") not in (25, 12, 6, 0):
                return error(400, f"Ogiltig momssats: {row.get('VAT')}", 2000520)
            try:
                line = _money(row.get("DeliveredQuantity", 0)) * _money(row.get("Price", 0))
            except ValueError:
                return error(400, "Ogiltigt belopp på fakturarad.", 2000546)
            total += _gross(line, row["VAT"], included)
        return self.answer("Invoice", self._new_invoice(inv, total), status=201)

    def _new_invoice(self, fields: dict[str, Any], total: Decimal) -> dict[str, Any]:
        """An invoice of ``fields``, numbered next, neither booked nor paid: ``total`` its balance."""
        total = total.quantize(Decimal("0.01"))
        number = next(self._numbers)
        stored = {
            **fields,
            "DocumentNumber": str(number),
            "Total": float(total),
            "Balance": float(total),
            "Booked": False,
            "Cancelled": False,
        }
        self.invoices[number] = stored
        return stored

    def _invoice(self, request: web.Request) -> dict[str, Any] | web.Response:
        return self._find(request, self.invoices, "fakturan", 2000434, numbered=True)

    async def _list_invoices(self, request: web.Request) -> web.Response:
        ref = request.query.get("externalinvoicereference1")
        items = [
            i for i in self.invoices.values() if ref is None or i.get("ExternalInvoiceReference1") == ref
        ]
        return self._page(request, "Invoices", items)

    async def _bookkeep_invoice(self, request: web.Request) -> web.Response:
        inv = self._invoice(request)
        if isinstance(inv, web.Response):
            return inv
        if inv["Booked"]:
            return error(400, "Fakturan är redan bokförd.", 2000595)
        inv["Booked"] = True
        return self.answer("Invoice", inv)

    async def _post_payment(self, request: web.Request) -> web.Response:
        p = await self._body(request, "InvoicePayment")
        if isinstance(p, web.Response):
            return p
        n = str(p.get("InvoiceNumber", ""))
        inv = self.invoices.get(int(n)) if n.isdigit() else None
        if inv is None:
            return error(400, f"Kan inte hitta fakturan {n}.", 2000434)
        if not inv["Booked"]:
            return error(400, "Fakturan måste vara bokförd innan en inbetalning kan registreras.", 2000596)
        try:
            amount = _money(p.get("Amount"))
        except ValueError:
            return error(400, "Ogiltigt belopp.", 2000546)
        number = next(self._numbers)
        stored = {**p, "Number": number, "Booked": False}
        self.payments[number] = stored
        inv["Balance"] = float(Decimal(str(inv["Balance"])) - amount)
        return self.answer("InvoicePayment", stored, status=201)

    async def _list_payments(self, request: web.Request) -> web.Response:
        n = request.query.get("invoicenumber")
        items = [p for p in self.payments.values() if n is None or str(p["InvoiceNumber"]) == n]
        return self._page(request, "InvoicePayments", items)

    def _payment(self, request: web.Request) -> dict[str, Any] | web.Response:
        return self._find(request, self.payments, "inbetalningen", 2000434, numbered=True)

    async def _bookkeep_payment(self, request: web.Request) -> web.Response:
        p = self._payment(request)
        if isinstance(p, web.Response):
            return p
        if p["Booked"]:
            return error(400, "Inbetalningen är redan bokförd.", 2000595)
        p["Booked"] = True
        return self.answer("InvoicePayment", p)

    # -- orders -------------------------------------------------------------------------------

    def _rows(
        self, rows: Any, customer: dict[str, Any], included: bool
    ) -> tuple[list[dict[str, Any]], Decimal] | web.Response:
        """The rows, priced and checked as Fortnox does, and the total incl. VAT."""
        if not isinstance(rows, list) or not rows:
            return error(400, "Ordern saknar rader.", 2000545)
        out: list[dict[str, Any]] = []
        total = Decimal(0)
        for i, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                return error(400, "Ogiltig orderrad.", 2000545)
            number = row.get("ArticleNumber")
            article = self.articles.get(str(number)) if number is not None else None
            if number is not None and article is None:
                return error(400, f"Artikeln {number} hittades inte.", 2000428)
            try:
                ordered = _money(row.get("OrderedQuantity", 0))
                delivered = _money(row.get("DeliveredQuantity", 0))
                if "Price" in row:
                    price = _money(row["Price"])
                elif article is not None:
                    listed = self.prices.get((customer.get("PriceList") or "A", str(number)))
                    price = listed if listed is not None else Decimal(str(article["SalesPrice"]))
                else:
                    price = Decimal(0)
            except ValueError:
                return error(400, f"Ogiltigt antal eller pris på rad {i}.", 2000546)
            if delivered > ordered:
                return error(
                    400, f"Levererat antal får inte vara större än beställt antal (rad {i}).", 2001057
                )
            vat = row.get("VAT", article["VAT"] if article is not None else 25)
            if vat not in (25, 12, 6, 0):
                return error(400, f"Ogiltig momssats: {vat}", 2000520)
            description = row.get("Description") or (article["Description"] if article is not None else "")
            stored = {
                "RowId": i,
                "ArticleNumber": str(number) if number is not None else "",
                "Description": description,
                "OrderedQuantity": str(ordered),
                "DeliveredQuantity": str(delivered),
                "Price": float(price),
                "VAT": vat,
            }
            out.append(stored)
            line = ordered * price
            total += _gross(line, vat, included)
        return out, total.quantize(Decimal("0.01"))

    def _order_from(
        self, fields: dict[str, Any], order: dict[str, Any] | None
    ) -> dict[str, Any] | web.Response:
        """A new order of ``fields`` (``order`` None), or ``order`` changed by them."""
        # The OpenAPI gives an order's reference no length, but createinvoice carries it to the
        # invoice, whose ExternalInvoiceReference1 takes 80: a longer one could not be invoiced.
        refused = _too_long(fields, "ExternalInvoiceReference1", 80)
        if refused is not None:
            return refused
        merged = {**(order or {}), **fields}
        customer = self.customers.get(str(merged.get("CustomerNumber", "")))
        if customer is None:
            return error(400, f"Kunden med kundnummer {merged.get('CustomerNumber')} hittades inte.", 2000433)
        included = bool(merged.get("VATIncluded", False))
        priced = self._rows(merged.get("OrderRows"), customer, included)
        if isinstance(priced, web.Response):
            return priced
        rows, total = priced
        day = merged.get("DeliveryDate")
        if day:
            try:
                date.fromisoformat(str(day))
            except ValueError:
                return error(400, f"Ogiltigt datum: {day}", 2000588)
        if order is None:
            number = next(self._order_numbers)
            order = {
                "DocumentNumber": str(number),
                "Cancelled": False,
                "InvoiceReference": "0",
                "Sent": False,
                "Currency": "SEK",
                "Project": "",
                "DeliveryDate": None,
                "ExternalInvoiceReference1": "",
                "ExternalInvoiceReference2": "",
                "VATIncluded": False,
                "YourOrderNumber": "",
            }
            self.orders[number] = order
        order.update(merged)
        order.update({"CustomerName": customer["Name"], "OrderRows": rows, "Total": float(total)})
        return order

    def _order(self, request: web.Request) -> dict[str, Any] | web.Response:
        return self._find(request, self.orders, "ordern", 2000434, numbered=True)

    def _open_order(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The order the path names, if it may still be changed: else a 404 or the refusal."""
        order = self._order(request)
        if isinstance(order, web.Response):
            return order
        locked = self._locked(order)
        return order if locked is None else locked

    @staticmethod
    def _locked(order: dict[str, Any]) -> web.Response | None:
        if order["Cancelled"]:
            return error(400, f"Order {order['DocumentNumber']} är makulerad och kan inte ändras.", 2000762)
        if order["InvoiceReference"] not in ("", "0"):
            return error(
                400,
                f"Order {order['DocumentNumber']} är redan fakturerad (faktura {order['InvoiceReference']}).",
                2000761,
            )
        return None

    async def _list_orders(self, request: web.Request) -> web.Response:
        unknown = sorted(set(request.query) - _ORDER_SEARCH)
        if unknown:
            return error(400, f"Ogiltig parameter: {unknown[0]}", 2000587)
        wanted = request.query.get("filter")
        if wanted is not None and wanted not in _ORDER_FILTERS:
            return error(400, f"Ogiltigt filter: {wanted}", 2000587)
        q = request.query

        def chosen(o: dict[str, Any]) -> bool:
            invoiced = o["InvoiceReference"] not in ("", "0")
            if wanted == "cancelled" and not o["Cancelled"]:
                return False
            if wanted == "invoicecreated" and not invoiced:
                return False
            if wanted == "invoicenotcreated" and (invoiced or o["Cancelled"]):
                return False
            if wanted == "expired":
                return False  # no order here has a validity date that passed
            if "customernumber" in q and o["CustomerNumber"] != q["customernumber"]:
                return False
            if "documentnumber" in q and o["DocumentNumber"] != q["documentnumber"]:
                return False
            for key, name in (("externalinvoicereference1", "ExternalInvoiceReference1"),
                              ("externalinvoicereference2", "ExternalInvoiceReference2")):  # fmt: skip
                if key in q and q[key].lower() not in str(o.get(name) or "").lower():
                    return False
            return True

        items = [{k: o.get(k) for k in _ORDER_LIST_FIELDS} for o in self.orders.values() if chosen(o)]
        return self._page(request, "Orders", items)

    async def _post_order(self, request: web.Request) -> web.Response:
        fields = await self._body(request, "Order")
        if isinstance(fields, web.Response):
            return fields
        made = self._order_from({k: v for k, v in fields.items() if k != "DocumentNumber"}, None)
        return made if isinstance(made, web.Response) else self.answer("Order", made, status=201)

    async def _put_order(self, request: web.Request) -> web.Response:
        order = self._open_order(request)
        if isinstance(order, web.Response):
            return order
        fields = await self._body(request, "Order")
        if isinstance(fields, web.Response):
            return fields
        before = dict(order)
        changed = self._order_from({k: v for k, v in fields.items() if k != "DocumentNumber"}, order)
        if isinstance(changed, web.Response):
            order.clear()
            order.update(before)  # a refused change changes nothing
            return changed
        return self.answer("Order", changed)

    async def _create_invoice(self, request: web.Request) -> web.Response:
        order = self._open_order(request)
        if isinstance(order, web.Response):
            return order
        delivered = [r for r in order["OrderRows"] if Decimal(r["DeliveredQuantity"])]
        if not delivered:
            return error(
                400, f"Order {order['DocumentNumber']} har inga levererade rader att fakturera.", 2000763
            )
        rows = []
        total = Decimal(0)
        for r in delivered:
            row = {k: r[k] for k in ("Description", "DeliveredQuantity", "Price", "VAT")}
            if r["ArticleNumber"]:
                row["ArticleNumber"] = r["ArticleNumber"]
            rows.append(row)
            line = Decimal(r["DeliveredQuantity"]) * Decimal(str(r["Price"]))
            total += _gross(line, r["VAT"], order["VATIncluded"])
        fields = {
            "CustomerNumber": order["CustomerNumber"],
            "InvoiceDate": date.today().isoformat(),
            "ExternalInvoiceReference1": order["ExternalInvoiceReference1"],
            "VATIncluded": order["VATIncluded"],
            "InvoiceRows": rows,
            "OrderReference": order["DocumentNumber"],
        }
        invoice = self._new_invoice(fields, total)
        order["InvoiceReference"] = invoice["DocumentNumber"]
        return self.answer("Invoice", invoice)

    # -- articles, prices, customers -------------------------------------------------------------

    async def _list_articles(self, request: web.Request) -> web.Response:
        return self._changed_page(request, "Articles", list(self.articles.values()))

    def _article(self, request: web.Request) -> dict[str, Any] | web.Response:
        return self._find(request, self.articles, "artikeln", 2000428)

    async def _put_article(self, request: web.Request) -> web.Response:
        a = self._article(request)
        if isinstance(a, web.Response):
            return a
        change = await self._body(request, "Article")
        if isinstance(change, web.Response):
            return change
        if "QuantityInStock" in change and not a["StockGoods"]:
            return error(400, "Lagerantal kan bara anges för lagerartiklar.", 2001302)
        return self._modified("Article", a, change)

    async def _article_prices(self, request: web.Request) -> web.Response:
        """The prices of an article in the price list ``{list}``, one per quantity (here: from 0)."""
        name, article = request.match_info["list"], request.match_info["article"]
        if article not in self.articles:
            return error(404, f"Kan inte hitta artikeln {article}.", 2000428)
        price = self.prices.get((name, article))
        items = (
            []
            if price is None
            else [{"ArticleNumber": article, "FromQuantity": 0, "Price": float(price), "PriceList": name}]
        )
        return self._page(request, "Prices", items)

    async def _list_customers(self, request: web.Request) -> web.Response:
        return self._changed_page(request, "Customers", list(self.customers.values()))

    def _customer(self, request: web.Request) -> dict[str, Any] | web.Response:
        return self._find(request, self.customers, "kunden", 2000433)

    async def _post_customer(self, request: web.Request) -> web.Response:
        c = await self._body(request, "Customer")
        if isinstance(c, web.Response):
            return c
        if not c.get("Name"):
            return error(400, "Kunden måste ha ett namn.", 2000310)
        number = str(c.get("CustomerNumber") or 1000 + len(self.customers) + 1)
        if number in self.customers:
            return error(400, f"Kundnummer {number} används redan.", 2000311)
        self.add_customer(number, str(c["Name"]), **{k: v for k, v in c.items() if k != "CustomerNumber"})
        return self.answer("Customer", self.customers[number], status=201)

    async def _put_customer(self, request: web.Request) -> web.Response:
        c = self._customer(request)
        if isinstance(c, web.Response):
            return c
        change = await self._body(request, "Customer")
        if isinstance(change, web.Response):
            return change
        return self._modified("Customer", c, {k: v for k, v in change.items() if k != "CustomerNumber"})


@contextlib.asynccontextmanager
async def running(*, allow_violations: bool = False, **settings: Any) -> AsyncIterator[FakeFortnox]:
    """A started fake (``settings`` as for :class:`FakeFortnox`), stopped afterwards.

    The test fails if anything asked of the fake, or answered by it, broke Fortnox's
    contract — unless ``allow_violations`` (a test of the refusal itself).
    """
    fake = FakeFortnox(**settings)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert allow_violations or not fake.violations, "\n".join(fake.violations)


def config_for(fake: FakeFortnox, **over: Any) -> FortnoxConfig:
    """``[sync.fortnox]`` for ``fake``: client credentials, its tenant and URLs; ``over`` adds or replaces."""
    table: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "grant": "client_credentials",
        "tenant_id": fake.tenant.tenant_id,
        "base_url": fake.api_url,
        "token_url": fake.token_url,
        **over,
    }
    return parse_fortnox(table)
