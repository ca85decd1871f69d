"""A fake Visma eEkonomi / Spiris API v2 on 127.0.0.1, built from the extract of Visma's API
definition in ``tests/sync/contracts/visma/`` (read it for where it comes from).

What it enforces:

* every request against the extract (:mod:`tests.sync.contracts.visma_check`): a path it
  does not have is 404, a method 405, an unknown query parameter, an unknown or mistyped
  body property or a required one left out 400 with ErrorCode 4000 — and each is recorded
  in ``violations``, which the tests require empty; every record it answers is checked
  against the extract too, so lists and single records carry only documented fields;
* OAuth 2 from its token endpoint (``/connect/token``, client id and secret by HTTP Basic
  only): refresh tokens rotated (the old one then refused with ``invalid_grant``) or, as
  new clients get them, reusable; an expired or unknown bearer token 401; a token without
  the endpoint's scope (``ea:accounting``, ``ea:sales``) 403;
* 600 requests a minute per client per endpoint (``vouchers``, ``articles``, …), beyond it
  429 with ``{"ErrorCode": 4010, "DeveloperErrorMessage": …, "ErrorId": …}``;
* lists as ``{"Meta": {...}, "Data": [...]}`` paged by ``$page`` / ``$pagesize`` (1-1000),
  filtered by ``$filter`` on the item's properties (op eq/ne/gt/ge/lt/le);
* a voucher must balance, every row's account must exist in the chart, a row is a debit or
  a credit of at most 2 decimals; a cost centre item (``CostCenterItemId1`` … ``3``) must
  be an active item of the cost centre with that number;
* a customer needs a TermsOfPaymentId of the company, InvoiceCity and InvoicePostalCode;
* with the stock module (``stock_module=True``) ``StockBalance`` is read-only and only
  then can an article be ``IsStock``.

It does not refuse a second voucher with the same text: never booking twice is the
adapter's job. The generic part (:class:`VendorFake`: start/stop, request counting, fault
injection, bearer tokens, a sliding-window limit per endpoint) is shared with the other fakes.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from tests.sync.contracts.visma_check import contract

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Match = Callable[[web.Request], bool]


@dataclass
class Faults:
    """What goes wrong next; each count is used up one request at a time."""

    unavailable: int = 0  # the next n API requests: 503
    unavailable_when: list[Match] = field(default_factory=list)  # the next request matching: 503
    storm: int = 0  # the next n API requests: 429
    drop_after_commit: list[Match] = field(default_factory=list)  # carried out, then the connection drops
    expire_tokens_after: int | None = None  # after n more API requests every access token expires


class VendorFake:
    """An aiohttp server with bearer auth, a per-endpoint request limit and fault injection."""

    rate_limit = 600
    rate_window = 60.0

    def __init__(self) -> None:
        self.faults = Faults()
        self.access_tokens: dict[str, float] = {}  # token -> Unix time it expires
        self.token_lifetime = 3600.0
        self.requests: list[tuple[str, str]] = []  # (method, path with query) of every API request
        self.refused: list[tuple[int, str]] = []  # (status, path) of what was refused
        self.dropped = 0
        self._sent: dict[str, deque[float]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- tokens ----------------------------------------------------------------------------

    def issue_access_token(self) -> tuple[str, float]:
        token = uuid.uuid4().hex
        self.access_tokens[token] = time.time() + self.token_lifetime
        return token, self.token_lifetime

    def expire_tokens(self) -> None:
        """Every access token stops working now (as when its hour is over)."""
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    # -- vendor specifics --------------------------------------------------------------------

    def is_api(self, request: web.Request) -> bool:
        return True

    def endpoint(self, request: web.Request) -> str:
        return request.path

    def error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        raise NotImplementedError

    # -- the middleware ----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.is_api(request):
            return await handler(request)
        self.requests.append((request.method, request.path_qs))
        refusal = self._refusal(request)
        if refusal is not None:
            self.refused.append((refusal.status, request.path))
            return refusal
        response = await handler(request)
        drop = next((m for m in self.faults.drop_after_commit if m(request)), None)
        if drop is not None and response.status < 300:
            # The work is done and stored; the client never hears of it.
            self.faults.drop_after_commit.remove(drop)
            self.dropped += 1
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        return response

    def _refusal(self, request: web.Request) -> web.Response | None:
        f = self.faults
        if f.expire_tokens_after is not None:
            if f.expire_tokens_after == 0:
                self.expire_tokens()
                f.expire_tokens_after = None
            else:
                f.expire_tokens_after -= 1
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if self.access_tokens.get(token, 0.0) <= time.time():
            return self.error(
                401,
                "unauthorized",
                "The access token is missing, invalid or expired",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if f.storm:
            f.storm -= 1
            return self.too_many()
        hit = next((m for m in f.unavailable_when if m(request)), None)
        if hit is not None:
            f.unavailable_when.remove(hit)
            return web.Response(status=503, text="Service Unavailable")
        if f.unavailable:
            f.unavailable -= 1
            return web.Response(status=503, text="Service Unavailable")
        now = time.monotonic()
        sent = self._sent.setdefault(self.endpoint(request), deque())
        while sent and sent[0] <= now - self.rate_window:
            sent.popleft()
        if len(sent) >= self.rate_limit:
            return self.too_many()
        sent.append(now)
        return None

    def too_many(self) -> web.Response:
        raise NotImplementedError


# -- OData $filter, as far as these APIs take it --------------------------------------------

_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")


class FilterError(ValueError):
    pass


def _literal(text: str) -> Any:
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?", text):
        return text
    try:
        return Decimal(text)
    except InvalidOperation:
        raise FilterError(f"cannot read the value {text!r}") from None


def parse_filter(text: str, fields: set[str]) -> Callable[[dict[str, Any]], bool]:
    """A predicate for ``Field op value [and Field op value …]`` on the named fields."""
    tests: list[tuple[str, str, Any]] = []
    for part in re.split(r"\s+and\s+", text.strip()):
        m = _CLAUSE.match(part)
        if m is None:
            raise FilterError(f"cannot parse {part!r}")
        name, op, value = m.group(1), m.group(2), _literal(m.group(3))
        if name not in fields:
            raise FilterError(f"{name} cannot be filtered on")
        tests.append((name, op, value))

    def check(item: dict[str, Any]) -> bool:
        for name, op, value in tests:
            have = item.get(name)
            if isinstance(value, Decimal):
                have = Decimal(str(have)) if have is not None else None
            elif isinstance(have, str) and len(value) == 10 and len(have) > 10 and op == "eq":
                have = have[:10]  # a date compared with a date-time field: the day
            if have is None:
                return False
            ok = {
                "eq": have == value,
                "ne": have != value,
                "gt": have > value,
                "ge": have >= value,
                "lt": have < value,
                "le": have <= value,
            }[op]
            if not ok:
                return False
        return True

    return check


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


# -- Visma eEkonomi / Spiris -------------------------------------------------------------------

CHART = {
    "1580", "1689", "1910", "1930", "2421", "2611", "2621", "2631",
    "3001", "3002", "3003", "3004", "3740",
}  # fmt: skip

# Which scope an endpoint needs (developer.vismaonline.com: "sales related endpoints
# requires the sales scope"); a token without it is refused with 403.
SCOPE_OF = {
    "vouchers": "ea:accounting",
    "costcenters": "ea:accounting",
    "articleaccountcodings": "ea:accounting",
    "articles": "ea:sales",
    "customers": "ea:sales",
    "termsofpayments": "ea:sales",
    "companysettings": "ea:api",
}
ALL_SCOPES = frozenset({"ea:api", "offline_access", "ea:accounting", "ea:sales"})
# What Visma computes itself and does not take from a PUT of an article.
ARTICLE_COMPUTED = frozenset({
    "Id", "CreatedUtc", "ChangedUtc", "ShowStockInformation", "IsServiceArticle", "CodingName",
    "UnitName", "UnitAbbreviation", "StockBalanceReserved", "StockBalanceAvailable", "StockValue",
})  # fmt: skip


class VismaFake(VendorFake):
    """The API at ``{url}/v2``, its token endpoint at ``{url}/connect/token``.

    Built from ``tests/sync/contracts/visma/contract.json``: every request is checked
    against it (a request it does not allow is refused: 404 for a path it does not have,
    400 with ErrorCode 4000 otherwise, and recorded in :attr:`violations`), and every
    record the fake answers is checked against it too, so it cannot answer a field Visma
    does not have.
    """

    def __init__(
        self,
        client_id: str = "tillgw",
        client_secret: str = "s3cret",
        *,
        rotate_refresh_tokens: bool = True,
        answer_reused_refresh_token: bool = True,
        stock_module: bool = False,
        orgnr: str = "556677-8899",
    ) -> None:
        super().__init__()
        self.contract = contract()
        self.client_id = client_id
        self.client_secret = client_secret
        self.rotate_refresh_tokens = rotate_refresh_tokens  # False: reusable, as new clients get
        self.answer_reused_refresh_token = answer_reused_refresh_token  # False: a reusable one is left out
        self.stock_module = stock_module  # with it StockBalance is read-only
        self.granted = set(ALL_SCOPES)  # the scopes the company's user consented to
        self.refresh_tokens: set[str] = set()
        self.spent_refresh_tokens: set[str] = set()
        self.codes: set[str] = set()
        self.token_scopes: dict[str, frozenset[str]] = {}
        self.refreshes = 0
        self.violations: list[str] = []  # every request the contract does not allow
        self.accounts = set(CHART)
        self.vouchers: list[dict[str, Any]] = []
        self.articles: list[dict[str, Any]] = []
        self.customers: list[dict[str, Any]] = []
        self.cost_centers: list[dict[str, Any]] = []
        self.unit_id = str(uuid.uuid4())
        self.terms: list[dict[str, Any]] = [
            {"Id": str(uuid.uuid4()), "Name": name, "NumberOfDays": days, "TermsOfPaymentTypeId": kind,
             "AvailableForSales": True, "AvailableForPurchase": True}
            for name, days, kind in (("30 dagar netto", 30, 0), ("Kontant", 0, 2))
        ]  # fmt: skip
        self.settings: dict[str, Any] = {
            "Name": "Butiken AB",
            "CorporateIdentityNumber": orgnr,
            "TermsOfPaymentId": self.terms[0]["Id"],
            "City": "Umeå",
            "PostalCode": "903 26",
            "CountryCode": "SE",
            "ActivatedModules": ["Stock"] if stock_module else [],
            "CompanyStatus": 1,
        }
        self.codings: list[dict[str, Any]] = [
            {"Id": str(uuid.uuid4()), "Name": f"Varor {r} %", "Type": "Goods", "IsActive": True,
             "VatRatePercent": float(Decimal(r) / 100)}
            for r in ("25", "12", "6", "0")
        ]  # fmt: skip

    @property
    def api_url(self) -> str:
        return f"{self.url}/v2"

    @property
    def token_url(self) -> str:
        return f"{self.url}/connect/token"

    # -- test data -------------------------------------------------------------------------

    def first_refresh_token(self) -> str:
        token = uuid.uuid4().hex
        self.refresh_tokens = {token}
        return token

    def authorization_code(self) -> str:
        code = uuid.uuid4().hex
        self.codes.add(code)
        return code

    def coding(self, rate: int) -> str:
        """The id of the article account coding with VAT ``rate`` (whole percent)."""
        return str(next(c["Id"] for c in self.codings if round(c["VatRatePercent"] * 100) == rate))

    def add_article(
        self,
        number: str,
        name: str,
        net: str,
        rate: int = 25,
        *,
        barcode: str | None = None,
        service: bool = False,
        stock: bool = False,
        **more: Any,
    ) -> dict[str, Any]:
        """An article as Visma keeps it; ``stock`` (IsStock) only with the stock module."""
        assert not stock or self.stock_module, "IsStock exists only with the stock module"
        net_price = Decimal(net)
        article = {
            "Id": str(uuid.uuid4()),
            "IsActive": True,
            "Number": number,
            "Name": name,
            "NetPrice": float(net_price),
            "GrossPrice": float((net_price * (100 + rate) / 100).quantize(Decimal("0.01"))),
            "CodingId": self.coding(rate),
            "UnitId": self.unit_id,
            "UnitName": "Styck",
            "UnitAbbreviation": "st",
            "StockBalance": 0.0,
            "IsStock": stock,
            "IsServiceArticle": service,
            "ShowStockInformation": not service and (stock or not self.stock_module),
            "Barcodes": [{"Barcode": barcode, "BarcodeType": 0}] if barcode else [],
            "CreatedUtc": utc_now(),
            "ChangedUtc": utc_now(),
            **more,
        }
        self._own(article, "ArticleApi")
        self.articles.append(article)
        return article

    def add_customer(self, number: str, name: str, **more: Any) -> dict[str, Any]:
        customer = {
            "Id": str(uuid.uuid4()),
            "CustomerNumber": number,
            "Name": name,
            "IsPrivatePerson": False,
            "IsActive": True,
            "TermsOfPaymentId": self.terms[0]["Id"],
            "InvoiceCity": "Umeå",
            "InvoicePostalCode": "903 26",
            "ChangedUtc": utc_now(),
            **more,
        }
        self._own(customer, "CustomerApi")
        self.customers.append(customer)
        return customer

    def add_cost_center_item(
        self, short_name: str, name: str, *, number: int = 1, active: bool = True
    ) -> dict[str, Any]:
        """An item of cost centre ``number`` (made, named "Kostnadsställe n", if it is not there)."""
        centre = next((c for c in self.cost_centers if c["Number"] == number), None)
        if centre is None:
            centre = {
                "Id": str(uuid.uuid4()),
                "Name": f"Kostnadsställe {number}",
                "Number": number,
                "IsActive": True,
                "Items": [],
            }
            self.cost_centers.append(centre)
        item = {
            "Id": str(uuid.uuid4()),
            "CostCenterId": centre["Id"],
            "Name": name,
            "ShortName": short_name,
            "IsActive": active,
            "CreatedUtc": utc_now(),
        }
        centre["Items"].append(item)
        self._own(centre, "CostCenterApi")
        return item

    def _own(self, record: dict[str, Any], model: str) -> None:
        """A record the fake keeps must be one Visma's definition describes."""
        problems = self.contract.check_record(model, record)
        assert not problems, problems

    # -- contract --------------------------------------------------------------------------

    def is_api(self, request: web.Request) -> bool:
        return request.path.startswith("/v2/")

    def endpoint(self, request: web.Request) -> str:
        return request.path.split("/")[2]

    def error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        codes = {
            "unauthorized": 4001,
            "validation": 4000,
            "forbidden": 4003,
            "notfound": 4004,
            "ratelimit": 4010,
        }
        return web.json_response(
            {
                "ErrorCode": codes.get(code, 4000),
                "DeveloperErrorMessage": message,
                "ErrorId": uuid.uuid4().hex,
            },
            status=status,
            headers=headers,
        )

    def too_many(self) -> web.Response:
        return self.error(429, "ratelimit", "Rate limit exceeded: 600 requests per minute per endpoint")

    def _refusal(self, request: web.Request) -> web.Response | None:
        if not self.contract.path_known(request.path):
            self.violations.append(f"{request.method} {request.path}: no such path")
            return self.error(404, "notfound", f"No HTTP resource was found that matches {request.path}")
        refused = super()._refusal(request)
        if refused is not None:
            return refused
        scope = SCOPE_OF[self.endpoint(request)]
        token = request.headers.get("Authorization", "")[7:]
        if scope not in self.token_scopes.get(token, frozenset()):
            return self.error(403, "forbidden", f"The access token lacks the scope {scope}")
        op = self.contract.operation(request.method, request.path)
        if op is None:
            self.violations.append(f"{request.method} {request.path}: method not allowed")
            return self.error(405, "validation", f"The requested resource does not support {request.method}")
        problems = self.contract.check_request(request.method, request.path, dict(request.query), None)
        problems = [p for p in problems if "takes no body" not in p and "body must be" not in p]
        if problems:
            self.violations += problems
            return self.error(400, "validation", "; ".join(problems))
        return None

    async def _body(self, request: web.Request) -> tuple[dict[str, Any] | None, web.Response | None]:
        """The request's JSON body, checked against the operation's model."""
        try:
            body = await request.json()
        except ValueError:
            return None, self.error(400, "validation", "The request body is not JSON")
        problems = self.contract.check_request(request.method, request.path, dict(request.query), body)
        if problems:
            self.violations += problems
            return None, self.error(400, "validation", "; ".join(problems))
        return body, None

    def _answer(self, model: str, record: dict[str, Any], status: int = 200) -> web.Response:
        self._own(record, model)
        return web.json_response(record, status=status)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/connect/token", self._token)
        app.router.add_get("/v2/vouchers", self._list(lambda: self.vouchers, "VoucherApi"))
        app.router.add_post("/v2/vouchers", self._post_voucher)
        app.router.add_get("/v2/articles", self._list(lambda: self.articles, "ArticleApi"))
        app.router.add_get("/v2/articles/{id}", self._get(lambda: self.articles, "ArticleApi"))
        app.router.add_put("/v2/articles/{id}", self._put_article)
        app.router.add_get(
            "/v2/articleaccountcodings", self._list(lambda: self.codings, "ArticleAccountCodingAPI")
        )
        app.router.add_get("/v2/costcenters", self._list(lambda: self.cost_centers, "CostCenterApi"))
        app.router.add_get("/v2/customers", self._list(lambda: self.customers, "CustomerApi"))
        app.router.add_get("/v2/customers/{id}", self._get(lambda: self.customers, "CustomerApi"))
        app.router.add_post("/v2/customers", self._post_customer)
        app.router.add_put("/v2/customers/{id}", self._put_customer)
        app.router.add_get("/v2/termsofpayments", self._list(lambda: self.terms, "TermsOfPaymentApi"))
        app.router.add_get("/v2/companysettings", self._settings)

    # -- the token endpoint ------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        try:
            pair = base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else ""
        except (ValueError, UnicodeDecodeError):
            pair = ""
        if pair != f"{self.client_id}:{self.client_secret}":
            # Client authentication is HTTP Basic; credentials in the form are not read.
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = str(form.get("code", ""))
            if code not in self.codes:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self.codes.discard(code)
            refresh = self.first_refresh_token()
        elif grant == "refresh_token":
            given = str(form.get("refresh_token", ""))
            if given not in self.refresh_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self.refreshes += 1
            if self.rotate_refresh_tokens:
                self.refresh_tokens.discard(given)
                self.spent_refresh_tokens.add(given)
                refresh = uuid.uuid4().hex
                self.refresh_tokens.add(refresh)
            else:
                refresh = given  # reusable: the same token is answered and stays valid
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access, lifetime = self.issue_access_token()
        scopes = frozenset(self.granted)
        self.token_scopes[access] = scopes
        answer = {
            "access_token": access,
            "expires_in": int(lifetime),
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": " ".join(sorted(scopes)),
        }
        if (
            grant == "refresh_token"
            and not self.rotate_refresh_tokens
            and not self.answer_reused_refresh_token
        ):
            del answer["refresh_token"]
        return web.json_response(answer)

    # -- reading -----------------------------------------------------------------------------

    def _list(self, items: Callable[[], list[dict[str, Any]]], model: str) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            q = {k.lower(): v for k, v in request.query.items()}
            page = int(q.get("$page", "1"))
            size = int(q.get("$pagesize", "50"))
            if page < 1:
                return self.error(400, "validation", "$page must be 1 or more")
            selected = items()
            if "$filter" in q:
                fields = set(self.contract.models[model]["properties"])
                try:
                    check = parse_filter(q["$filter"], fields)
                except FilterError as exc:
                    return self.error(400, "validation", f"Invalid $filter: {exc}")
                selected = [i for i in selected if check(i)]
            total = len(selected)
            data = selected[(page - 1) * size : page * size]
            for record in data:
                self._own(record, model)
            return web.json_response(
                {
                    "Meta": {
                        "CurrentPage": page,
                        "PageSize": size,
                        "TotalNumberOfPages": max(1, -(-total // size)),
                        "TotalNumberOfResults": total,
                        "ServerTimeUtc": utc_now(),
                    },
                    "Data": data,
                }
            )

        return handle

    def _get(self, items: Callable[[], list[dict[str, Any]]], model: str) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            record = self._find(items(), request.match_info["id"])
            if record is None:
                return self.error(404, "notfound", f"{model[:-3]} not found")
            return self._answer(model, record)

        return handle

    async def _settings(self, request: web.Request) -> web.Response:
        return self._answer("CompanySettingsApi", self.settings)

    def _find(self, items: list[dict[str, Any]], ident: str) -> dict[str, Any] | None:
        return next((i for i in items if i["Id"] == ident), None)

    # -- vouchers ----------------------------------------------------------------------------

    def _cost_center_errors(self, i: int, row: dict[str, Any]) -> str | None:
        for number in (1, 2, 3):
            key = f"CostCenterItemId{number}"
            given = row.get(key)
            if given is None:
                continue
            items = [it for c in self.cost_centers if c["Number"] == number for it in c["Items"]]
            item = next((it for it in items if it["Id"] == given), None)
            if item is None:
                return f"Rows[{i}]: {key} {given} is not an item of cost center {number}"
            if not item["IsActive"]:
                return f"Rows[{i}]: {key} {given} is an inactive cost center item"
        return None

    async def _post_voucher(self, request: web.Request) -> web.Response:
        body, refused = await self._body(request)
        if refused is not None or body is None:
            return refused or self.error(400, "validation", "no body")
        date = str(body["VoucherDate"])[:10]
        if not body["VoucherText"]:
            return self.error(400, "validation", "VoucherText is required (at most 1000 characters)")
        rows = body["Rows"]
        if len(rows) < 2:
            return self.error(400, "validation", "A voucher needs at least two rows")
        debit = credit = Decimal(0)
        for i, row in enumerate(rows):
            account = str(row.get("AccountNumber"))
            if account not in self.accounts:
                return self.error(
                    400, "validation", f"Rows[{i}]: account {account} does not exist in the fiscal year"
                )
            problem = self._cost_center_errors(i, row)
            if problem:
                return self.error(400, "validation", problem)
            d, c = Decimal(str(row.get("DebitAmount") or 0)), Decimal(str(row.get("CreditAmount") or 0))
            if d < 0 or c < 0 or (d and c) or not (d or c):
                return self.error(400, "validation", f"Rows[{i}]: give either a debit or a credit amount")
            if d != d.quantize(Decimal("0.01")) or c != c.quantize(Decimal("0.01")):
                return self.error(400, "validation", f"Rows[{i}]: at most 2 decimals")
            debit, credit = debit + d, credit + c
        if debit != credit:
            return self.error(
                400, "validation", f"The voucher is not balanced: debit {debit} and credit {credit}"
            )
        now = utc_now()
        voucher = {
            "Id": str(uuid.uuid4()),
            "VoucherDate": f"{date}T00:00:00",
            "VoucherText": body["VoucherText"],
            "Rows": rows,
            "NumberAndNumberSeries": f"A{len(self.vouchers) + 1}",
            "NumberSeries": "A",
            "VoucherType": 2,
            "CreatedUtc": now,
            "ModifiedUtc": now,
        }
        self.vouchers.append(voucher)
        return self._answer("VoucherApi", voucher, 201)

    # -- articles ----------------------------------------------------------------------------

    async def _put_article(self, request: web.Request) -> web.Response:
        article = self._find(self.articles, request.match_info["id"])
        if article is None:
            return self.error(404, "notfound", "Article not found")
        body, refused = await self._body(request)
        if refused is not None or body is None:
            return refused or self.error(400, "validation", "no body")
        if (
            body.get("IsServiceArticle") is not None
            and body["IsServiceArticle"] != article["IsServiceArticle"]
        ):
            return self.error(400, "validation", "IsServiceArticle follows the article's account coding")
        balance = body.get("StockBalance")
        if self.stock_module and balance is not None and balance != article["StockBalance"]:
            return self.error(400, "validation", "StockBalance is read only when the stock module is active")
        if body.get("IsStock") and not self.stock_module:
            return self.error(400, "validation", "IsStock needs the stock module")
        article.update({k: v for k, v in body.items() if k not in ARTICLE_COMPUTED})
        article["ChangedUtc"] = utc_now()
        return self._answer("ArticleApi", article)

    # -- customers ---------------------------------------------------------------------------

    def _customer_errors(self, body: dict[str, Any]) -> str | None:
        if not body["Name"]:
            return "Name is required"
        if not any(t["Id"] == body["TermsOfPaymentId"] for t in self.terms):
            return f"TermsOfPaymentId {body['TermsOfPaymentId']} is not a terms of payment of the company"
        return None

    async def _post_customer(self, request: web.Request) -> web.Response:
        body, refused = await self._body(request)
        if refused is not None or body is None:
            return refused or self.error(400, "validation", "no body")
        problem = self._customer_errors(body)
        if problem:
            return self.error(400, "validation", problem)
        number = body.get("CustomerNumber") or str(1000 + len(self.customers) + 1)
        if any(c["CustomerNumber"] == number for c in self.customers):
            return self.error(400, "validation", f"Customer number {number} is already in use")
        fields = {k: v for k, v in body.items() if k not in ("Id", "ChangedUtc", "CustomerNumber", "Name")}
        customer = self.add_customer(number, body["Name"], **fields)
        return self._answer("CustomerApi", customer, 201)

    async def _put_customer(self, request: web.Request) -> web.Response:
        customer = self._find(self.customers, request.match_info["id"])
        if customer is None:
            return self.error(404, "notfound", "Customer not found")
        body, refused = await self._body(request)
        if refused is not None or body is None:
            return refused or self.error(400, "validation", "no body")
        problem = self._customer_errors(body)
        if problem:
            return self.error(400, "validation", problem)
        customer.update({k: v for k, v in body.items() if k not in ("Id", "CustomerNumber", "ChangedUtc")})
        customer["ChangedUtc"] = utc_now()
        return self._answer("CustomerApi", customer)
