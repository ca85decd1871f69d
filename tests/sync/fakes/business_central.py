"""A fake Business Central API v2.0 on 127.0.0.1, built from the API pages themselves.

Every request to the API is checked against the page definitions extracted in
tests/sync/contracts/business_central/ (:mod:`tests.sync.contracts.bc_contract`): a path
that is not an entity set reached from ``companies({id})`` through the pages' parts, a
method the page does not allow, a query option or ``$filter`` field the entity has not, a
body property the page does not have, that is read-only or of another type, or an action
the page does not bind (``Microsoft.NAV.ship`` on a sales order: there is none) is refused
as BC refuses it (404 ``BadRequest_NotFound`` "Resource not found for the segment …", 400
``BadRequest`` "The property '…' does not exist on type …", 405) and recorded in
:attr:`BusinessCentralFake.violations`; :meth:`BusinessCentralFake.stop` fails the test
when any is left there. Every answer is checked too: lists and single records carry only
the page's fields (BC answers both from the same page).

Beyond the contract checks:

* Azure AD client credentials at ``/token`` (client id and secret in the form, a scope);
  bearer tokens that expire (401 after);
* 6000 requests in any 5 minutes, beyond it 429 with ``Retry-After`` and
  ``{"error": {"code": "TooManyRequests", "message": …}}``;
* lists as ``{"value": [...]}`` with server-driven paging (``@odata.nextLink``),
  ``$filter`` on the entity's fields;
* a sales invoice needs a known customer; a line of type Item a known item; posting
  refuses an invoice without lines; a payment applies only to a posted invoice;
* items and customers with ``lastModifiedDateTime`` and ``@odata.etag``; a customer is
  changed by PATCH with ``If-Match`` only (412 when the etag is stale);
* ``companyInformation`` (the company's ``taxRegistrationNumber``);
* optionally a partner's item references API page (:meth:`publish_reference_page`):
  API v2.0 itself has no item references;
* the Item Journal page published as an OData v4 web service
  (``…/ODataV4/Company('name')/ItemJournal``, not an API page, so not checked against
  API v2.0): a line needs a known batch and item, an adjustment entry type and a positive
  quantity; the batch is posted by BC's user (:meth:`post_item_journal`).

* sales orders (``salesOrders``, ``salesOrderLines``) with ``@odata.etag``: an order and a
  line are changed by PATCH with ``If-Match`` only; an order's status is ``Draft`` (open in
  BC), ``In Review`` or ``Open`` (released), and the lines of one that is not ``Draft`` are
  not changed; a line of type Item without ``unitPrice`` takes the item's; a quantity is
  never below what is shipped;
* ``Microsoft.NAV.shipAndInvoice``, the one action of the sales order page, posts with
  ship and invoice as BC's Sales-Post does: each line's ``shipQuantity`` (by default what
  is not shipped) is shipped and its ``invoiceQuantity`` (by default what is shipped and
  not invoiced) invoiced into a posted sales invoice (status ``Open``, carrying the
  order's ``externalDocumentNumber`` and ``orderNumber``); with nothing to invoice it is a
  shipment only and the order stays; an order then completely shipped and invoiced is
  deleted; with nothing to post at all: "There is nothing to post.".

It does not refuse a second invoice with the same ``externalDocumentNumber``: never
booking twice is the adapter's job.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import web

from tests.sync.contracts.bc_contract import ApiV2Contract, Entity, Target, Violation
from tests.sync.fakes.dynamics import DynamicsFake
from tests.sync.fakes.visma import FilterError, parse_filter, utc_now

CENT = Decimal("0.01")
CONTRACT = ApiV2Contract.load()
API_ROOT = "/v2.0/tenant/production/api/"

# What docs/adapters/business-central.md asks of a partner's item references API page
# (on table 5777 Item Reference): the item's number, the reference's type and number.
REFERENCE_PAGE = Entity(
    "itemReferences",
    "itemReference",
    {
        "id": ("guid", True),
        "itemNumber": ("string", True),
        "referenceType": ("string", True),
        "referenceNumber": ("string", True),
    },
    insert=False,
    modify=False,
    delete=False,
)


OrderHandler = Callable[[Any, web.Request, dict[str, Any]], Awaitable[web.Response]]


def _on_order(handler: OrderHandler) -> Callable[[Any, web.Request], Awaitable[web.Response]]:
    """A handler of ``salesOrders({id})…`` given the order; a 404 where there is none."""

    @functools.wraps(handler)
    async def handle(fake: Any, request: web.Request) -> web.Response:
        order = fake._order_of(request)
        return order if isinstance(order, web.Response) else await handler(fake, request, order)

    return handle


def _in_company(
    handler: Callable[[Any, web.Request], Awaitable[web.Response]],
) -> Callable[[Any, web.Request], Awaitable[web.Response]]:
    """A handler of ``companies({company})/…``: a 404 where the company is not the fake's."""

    @functools.wraps(handler)
    async def handle(fake: Any, request: web.Request) -> web.Response:
        refused = fake._company(request)
        return refused if refused is not None else await handler(fake, request)

    return handle


FIELD_LENGTHS = {
    "externalDocumentNumber": (35, True),  # "External Document No.": Code[35]
    "description": (100, False),  # Gen. Journal Line Description: Text[100]
}
"""The published lengths of the fields our references go in: the API v2.0 pages
(microsoft/ALAppExtensions, Apps/W1/APIV2/app/src/pages/APIV2SalesInvoices.Page.al,
APIV2SalesOrders.Page.al, APIV2CustomerPayments.Page.al) map them to these table fields;
a Code field is kept in capitals."""


class BusinessCentralFake(DynamicsFake):
    FIELD_LENGTHS = FIELD_LENGTHS
    rate_limit = 6000
    rate_window = 300.0
    page_size = 2

    def __init__(self, client_id: str = "tillgw-app", client_secret: str = "s3cret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_requests = 0
        self.company = str(uuid.uuid4())
        self.items: list[dict[str, Any]] = []
        self.customers: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.lines: dict[str, list[dict[str, Any]]] = {}
        self.journals: list[dict[str, Any]] = []
        self.payments: dict[str, list[dict[str, Any]]] = {}
        self.references: list[dict[str, Any]] = []
        self.reference_page: str | None = None  # "publisher/group/version", once published
        self.tax_registration_number = "SE556036079301"
        self.violations: list[str] = []  # every request or answer the contract does not allow
        self.app_enabled = True  # the app on BC's Microsoft Entra Applications page
        self.permitted = True  # its permission sets (and the environment's licence) cover the API
        self.company_name = "CRONUS Sverige AB"
        self.journal_batches = {("ITEM", "TILLGW")}
        self.item_journal: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.order_lines: dict[str, list[dict[str, Any]]] = {}
        self.shipments: list[dict[str, Any]] = []
        self._versions = 0
        self._order_numbers = 101000

    @property
    def api_url(self) -> str:
        return f"{self.url}/v2.0/tenant/production/api/v2.0"

    @property
    def odata_url(self) -> str:
        return f"{self.url}/v2.0/tenant/production/ODataV4/Company('{self.company_name}')"

    def _etag(self, entity: dict[str, Any]) -> None:
        self._versions += 1
        entity["@odata.etag"] = f'W/"JzQ0O2ZyaTlPVmR6WUxDOEJy{self._versions}Jw=="'

    def publish_reference_page(self, api: str = "contoso/pos/v1.0") -> str:
        """A partner's item references API page at ``…/api/{api}/companies({id})/itemReferences``;
        its name as ``[sync.business_central].item_reference_page`` takes it."""
        self.reference_page = api
        return f"{api}/itemReferences"

    def add_reference(self, item: str, code: str, kind: str = "Bar Code") -> None:
        self.references.append(
            {"id": str(uuid.uuid4()), "itemNumber": item, "referenceType": kind, "referenceNumber": code}
        )

    def post_item_journal(self) -> None:
        """What BC's user does with the batch: each line into the item's inventory."""
        for line in self.item_journal:
            item = next(i for i in self.items if i["number"] == line["Item_No"])
            sign = 1 if line["Entry_Type"] == "Positive Adjmt." else -1
            item["inventory"] = float(Decimal(str(item["inventory"])) + sign * Decimal(str(line["Quantity"])))
        self.item_journal.clear()

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def add_item(self, number: str, name: str, price: str, vat: int = 25, **more: Any) -> dict[str, Any]:
        item = {
            "id": str(uuid.uuid4()),
            "number": number,
            "displayName": name,
            "type": "Inventory",
            "itemCategoryCode": "",
            "blocked": False,
            "gtin": "",
            "unitPrice": float(price),
            "priceIncludesTax": False,
            "inventory": 0.0,
            "baseUnitOfMeasureCode": "ST",
            "taxGroupCode": str(vat),
            "lastModifiedDateTime": utc_now(),
            **more,
        }
        self._etag(item)
        self.items.append(item)
        return item

    def add_customer(self, number: str, name: str, **more: Any) -> dict[str, Any]:
        customer = {
            "id": str(uuid.uuid4()),
            "number": number,
            "displayName": name,
            "email": "",
            "phoneNumber": "",
            "blocked": " ",
            "lastModifiedDateTime": utc_now(),
            **more,
        }
        self._etag(customer)
        self.customers.append(customer)
        return customer

    def add_journal(self, code: str) -> dict[str, Any]:
        journal = {"id": str(uuid.uuid4()), "code": code, "displayName": code}
        self.journals.append(journal)
        self.payments[journal["id"]] = []
        return journal

    # -- contract ------------------------------------------------------------------------------

    def is_api(self, request: web.Request) -> bool:
        return request.path.startswith("/v2.0/")

    def endpoint(self, request: web.Request) -> str:
        return "api"  # one limit for the environment

    def too_many(self) -> web.Response:
        return self.error(
            429, "TooManyRequests", "Rate limit exceeded: 6000 requests in 5 minutes", {"Retry-After": "1"}
        )

    def routes(self, app: web.Application) -> None:
        base = "/v2.0/tenant/production/api/v2.0/companies({company})"
        app.router.add_post("/token", self._token)
        app.router.add_get(base + "/items", self._list(lambda r: self.items))
        app.router.add_get(base + "/customers", self._list(lambda r: self.customers))
        app.router.add_post(base + "/customers", self._post_customer)
        app.router.add_patch(base + "/customers({id})", self._patch_customer)
        app.router.add_get(base + "/companyInformation", self._list(lambda r: [self._company_information()]))
        partner = (
            "/v2.0/tenant/production/api/{publisher}/{group}/{version}/companies({company})/itemReferences"
        )
        app.router.add_get(partner, self._list(lambda r: self.references))
        journal = "/v2.0/tenant/production/ODataV4/{company}/ItemJournal"
        app.router.add_get(journal, self._get_item_journal)
        app.router.add_post(journal, self._post_item_journal)
        app.router.add_get(base + "/salesInvoices", self._list(lambda r: self.invoices))
        app.router.add_post(base + "/salesInvoices", self._post_invoice)
        app.router.add_get(base + "/salesInvoices({id})", self._get_invoice)
        app.router.add_get(base + "/salesInvoices({id})/salesInvoiceLines", self._list(self._lines_of))
        app.router.add_post(base + "/salesInvoices({id})/salesInvoiceLines", self._post_line)
        app.router.add_post(base + "/salesInvoices({id})/Microsoft.NAV.post", self._post_invoice_action)
        app.router.add_get(base + "/salesOrders", self._list_orders)
        app.router.add_post(base + "/salesOrders", self._post_order)
        app.router.add_get(base + "/salesOrders({id})", self._get_order)
        app.router.add_patch(base + "/salesOrders({id})", self._patch_order)
        app.router.add_get(base + "/salesOrders({id})/salesOrderLines", self._list(self._order_lines_of))
        app.router.add_post(base + "/salesOrders({id})/salesOrderLines", self._post_order_line)
        app.router.add_patch(base + "/salesOrders({id})/salesOrderLines({line})", self._patch_order_line)
        app.router.add_post(base + "/salesOrders({id})/Microsoft.NAV.shipAndInvoice", self._ship_and_invoice)
        app.router.add_get(base + "/customerPaymentJournals", self._list(lambda r: self.journals))
        app.router.add_get(
            base + "/customerPaymentJournals({id})/customerPayments", self._list(self._payments_of)
        )
        app.router.add_post(base + "/customerPaymentJournals({id})/customerPayments", self._post_payment)

    # -- the contract, on every request and answer ---------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The shared auth, limit and fault handling, with the contract checked inside it:
        a refused token or a 429 comes before BC reads the request."""

        async def checked(request: web.Request) -> web.StreamResponse:
            if not self.app_enabled:
                return self.error(
                    401,
                    "Authentication_InvalidCredentials",
                    "The server has rejected the client credentials.",
                )
            if not self.permitted:
                return self.error(
                    403,
                    "Authorization_InsufficientPermissions",
                    "You do not have the following permissions on TableData Company Information: Read",
                )
            where = self._contract_target(request)
            if isinstance(where, Violation):
                return self._violated(request, where)
            contract, target = where
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return self._violated(request, Violation(400, "BadRequest", "Invalid Request Body"))
            try:
                contract.check_request(request.method, target, request.query, body)
            except Violation as exc:
                return self._violated(request, exc)
            response: web.StreamResponse = await handler(request)
            if isinstance(response, web.Response) and response.body and response.status < 300:
                try:
                    contract.check_answer(target, json.loads(bytes(response.body)))  # type: ignore[arg-type]
                except Violation as exc:
                    return self._violated(request, exc)
            return response

        if not request.path.startswith(API_ROOT):
            return await super()._middleware(request, handler)  # the token and the OData v4 journal page
        return await super()._middleware(request, checked)

    def _contract_target(self, request: web.Request) -> tuple[ApiV2Contract, Target] | Violation:
        rest = request.path[len(API_ROOT) :]
        contract = CONTRACT
        if rest.startswith("v2.0/"):
            rest = rest[len("v2.0/") :]
        else:
            parts = rest.split("/", 3)
            if self.reference_page is None or len(parts) < 4 or "/".join(parts[:3]) != self.reference_page:
                return Violation(
                    404, "BadRequest_NotFound", f"No API is published at api/{'/'.join(parts[:3])}"
                )
            contract, rest = CONTRACT.partner_page(REFERENCE_PAGE), parts[3]
        try:
            return contract, contract.target(rest, request.method)
        except Violation as exc:
            return exc

    def _violated(self, request: web.Request, violation: Violation) -> web.Response:
        self.violations.append(f"{request.method} {request.path_qs}: {violation.message}")
        self.refused.append((violation.status, request.path))
        return self.error(violation.status, violation.code, violation.message)

    async def stop(self) -> None:
        await super().stop()
        left, self.violations = self.violations, []
        assert not left, "requests or answers the API v2.0 pages do not allow:\n" + "\n".join(left)

    def _company_information(self) -> dict[str, Any]:
        return {
            "id": self.company,
            "displayName": self.company_name,
            "taxRegistrationNumber": self.tax_registration_number,
            "lastModifiedDateTime": "2026-01-01T00:00:00Z",
        }

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response(
                {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"},
                status=401,
            )
        if form.get("grant_type") != "client_credentials" or form.get("scope") != (
            "https://api.businesscentral.dynamics.com/.default"
        ):
            return web.json_response(
                {
                    "error": "invalid_scope" if form.get("scope") else "invalid_request",
                    "error_description": "AADSTS70011: The provided value for the input parameter 'scope' "
                    "is not valid.",
                },
                status=400,
            )
        self.token_requests += 1
        access, lifetime = self.issue_access_token()
        return web.json_response(
            {"access_token": access, "expires_in": int(lifetime), "token_type": "Bearer"}
        )

    def _company(self, request: web.Request) -> web.Response | None:
        if request.match_info["company"] != self.company:
            return self.error(404, "BadRequest_NotFound", "The company does not exist")
        return None

    def _lines_of(self, request: web.Request) -> list[dict[str, Any]]:
        return self.lines.get(request.match_info["id"], [])

    def _payments_of(self, request: web.Request) -> list[dict[str, Any]]:
        return self.payments.get(request.match_info["id"], [])

    def _list(self, items: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            refused = self._company(request)
            if refused is not None:
                return refused
            selected = items(request)
            fields = set(selected[0]) if selected else set()
            selected = self._filtered(request, selected, fields | {"externalDocumentNumber", "code"})
            if isinstance(selected, web.Response):
                return selected
            skip = int(request.query.get("$skiptoken", "0"))
            page = selected[skip : skip + self.page_size]
            if "$select" in request.query:  # the fields asked for, and the etag BC always adds
                chosen = {f.strip() for f in request.query["$select"].split(",")} | {"@odata.etag"}
                page = [{k: v for k, v in x.items() if k in chosen} for x in page]
            body: dict[str, Any] = {"value": page}
            if skip + self.page_size < len(selected):
                query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
                query["$skiptoken"] = str(skip + self.page_size)
                body["@odata.nextLink"] = str(request.url.with_query(query))
            return web.json_response(body)

        return handle

    def _filtered(
        self, request: web.Request, selected: list[dict[str, Any]], fields: set[str]
    ) -> list[dict[str, Any]] | web.Response:
        """``selected`` narrowed by the request's ``$filter`` on ``fields``; a 400 if it cannot be read."""
        if "$filter" not in request.query:
            return selected
        try:
            check = parse_filter(request.query["$filter"], fields)
        except FilterError as exc:
            return self.error(400, "BadRequest", f"Could not parse $filter: {exc}")
        return [x for x in selected if check(x)]

    def _not_found(self, table: str, number: Any) -> web.Response:
        """BC's answer to a number that names no record of ``table``."""
        return self.error(
            400,
            "Internal_RecordNotFound",
            f"The {table} does not exist. Identification fields and values: No.='{number}'",
        )

    def _new_invoice(self, customer: Any, day: Any, **fields: Any) -> dict[str, Any]:
        """A sales invoice's record, numbered next; a draft without amounts unless ``fields`` say."""
        return {
            "id": str(uuid.uuid4()),
            "number": f"S-INV{len(self.invoices) + 101000}",
            "externalDocumentNumber": "",
            "invoiceDate": day,
            "postingDate": utc_now()[:10],  # BC's work date unless the request says
            "customerNumber": customer,
            "salesperson": "",
            "status": "Draft",
            "totalAmountExcludingTax": 0.0,
            "totalAmountIncludingTax": 0.0,
            "lastModifiedDateTime": utc_now(),
            **fields,
        }

    def _invoice(self, request: web.Request) -> dict[str, Any] | None:
        return next((i for i in self.invoices if i["id"] == request.match_info["id"]), None)

    async def _get_invoice(self, request: web.Request) -> web.Response:
        invoice = self._invoice(request)
        if invoice is None:
            return self.error(404, "BadRequest_NotFound", "The sales invoice does not exist")
        return web.json_response(invoice)

    @_in_company
    async def _post_invoice(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._field_refused(body)
        if refused is not None:
            return refused
        number = body.get("customerNumber")
        customer = next((c for c in self.customers if c["number"] == number), None)
        if customer is None:
            return self._not_found("Customer", number)
        invoice = self._new_invoice(
            number,
            body.get("invoiceDate"),
            externalDocumentNumber=body.get("externalDocumentNumber", ""),
            salesperson=body.get("salesperson", ""),
            postingDate=body.get("postingDate") or utc_now()[:10],
        )
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(invoice["invoiceDate"])):
            return self.error(400, "BadRequest", "invoiceDate must be a date")
        self.invoices.append(invoice)
        self.lines[invoice["id"]] = []
        return web.json_response(invoice, status=201)

    async def _post_line(self, request: web.Request) -> web.Response:
        invoice = self._invoice(request)
        if invoice is None:
            return self.error(404, "BadRequest_NotFound", "The sales invoice does not exist")
        if invoice["status"] != "Draft":
            return self.error(400, "BadRequest", "You cannot change a posted invoice")
        body = await request.json()
        kind = body.get("lineType")
        number = body.get("lineObjectNumber")
        if kind == "Item":
            item = next((i for i in self.items if i["number"] == number), None)
            if item is None:
                return self._not_found("Item", number)
            vat = Decimal(item["taxGroupCode"])
        elif kind == "Account":
            vat = Decimal(0)
        else:
            return self.error(400, "BadRequest", f"lineType {kind!r} is not supported here")
        quantity = Decimal(str(body.get("quantity", 0)))
        price = Decimal(str(body.get("unitPrice", 0)))
        amount = (quantity * price).quantize(CENT, ROUND_HALF_UP)
        tax = (amount * vat / 100).quantize(CENT, ROUND_HALF_UP)
        line = {
            "id": str(uuid.uuid4()),
            "sequence": 10000 * (len(self.lines[invoice["id"]]) + 1),
            **body,
            "amountExcludingTax": float(amount),
            "totalTaxAmount": float(tax),
        }
        self.lines[invoice["id"]].append(line)
        net = sum(Decimal(str(x["amountExcludingTax"])) for x in self.lines[invoice["id"]])
        gross = net + sum(Decimal(str(x["totalTaxAmount"])) for x in self.lines[invoice["id"]])
        invoice["totalAmountExcludingTax"] = float(net)
        invoice["totalAmountIncludingTax"] = float(gross)
        return web.json_response(line, status=201)

    async def _post_invoice_action(self, request: web.Request) -> web.Response:
        invoice = self._invoice(request)
        if invoice is None:
            return self.error(404, "BadRequest_NotFound", "The sales invoice does not exist")
        if invoice["status"] != "Draft":
            return self.error(400, "BadRequest", f"Sales invoice {invoice['number']} is already posted")
        if not self.lines[invoice["id"]]:
            return self.error(400, "Application_DialogException", "There is nothing to post.")
        invoice["status"] = "Open"
        return web.Response(status=204)

    async def _post_payment(self, request: web.Request) -> web.Response:
        journal = request.match_info["id"]
        if journal not in self.payments:
            return self.error(404, "BadRequest_NotFound", "The journal does not exist")
        body = await request.json()
        refused = self._field_refused(body)
        if refused is not None:
            return refused
        applies = body.get("appliesToInvoiceId")
        if applies is not None:
            invoice = next((i for i in self.invoices if i["id"] == applies), None)
            if invoice is None or invoice["status"] == "Draft":
                return self.error(400, "BadRequest", "A payment can only be applied to a posted invoice")
        payment = {"id": str(uuid.uuid4()), "lineNumber": 10000 * (len(self.payments[journal]) + 1), **body}
        self.payments[journal].append(payment)
        return web.json_response(payment, status=201)

    @_in_company
    async def _post_customer(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body.get("displayName"), str) or not body["displayName"]:
            return self.error(400, "BadRequest", "displayName must have a value")
        number = f"C{len(self.customers) + 10000}"
        customer = self.add_customer(
            number, body["displayName"], **{k: v for k, v in body.items() if k != "id"}
        )
        return web.json_response(customer, status=201)

    @_in_company
    async def _patch_customer(self, request: web.Request) -> web.Response:
        customer = next((c for c in self.customers if c["id"] == request.match_info["id"]), None)
        if customer is None:
            return self.error(404, "BadRequest_NotFound", "The customer does not exist")
        refused = self._if_match(request, customer, "a customer")
        if refused is not None:
            return refused
        body = await request.json()
        customer.update({k: v for k, v in body.items() if k not in ("id", "number", "@odata.etag")})
        customer["lastModifiedDateTime"] = utc_now()
        self._etag(customer)
        return web.json_response(customer)

    # -- sales orders ---------------------------------------------------------------------------

    def add_order(self, customer: str, *lines: tuple[str, str], **more: Any) -> dict[str, Any]:
        """An order for ``customer`` made in BC: Item lines (item, quantity) at the item's price."""
        status = more.pop("status", "Draft")  # released or in review once its lines are there
        order = self._new_order(customer, more.pop("orderDate", utc_now()[:10]), more)
        for item, quantity in lines:
            made = self._order_line(
                order, {"lineType": "Item", "lineObjectNumber": item, "quantity": quantity}
            )
            assert isinstance(made, dict), made.text
        order["status"] = status
        return order

    def _new_order(self, customer: str, day: str, more: dict[str, Any]) -> dict[str, Any]:
        self._order_numbers += 1
        known = next(c for c in self.customers if c["number"] == customer)
        order = {
            "id": str(uuid.uuid4()),
            "number": f"S-ORD{self._order_numbers}",
            "externalDocumentNumber": "",
            "orderDate": day,
            "postingDate": utc_now()[:10],  # BC's work date unless the request says
            "customerNumber": customer,
            "customerName": known["displayName"],
            "status": "Draft",
            "pricesIncludeTax": False,
            "fullyShipped": False,
            "totalAmountExcludingTax": 0.0,
            "totalAmountIncludingTax": 0.0,
            **more,
        }
        self._etag(order)
        self.orders.append(order)
        self.order_lines[order["id"]] = []
        return order

    def _order_of(self, request: web.Request) -> dict[str, Any] | web.Response:
        order = next((o for o in self.orders if o["id"] == request.match_info["id"]), None)
        if order is None:
            return self.error(404, "BadRequest_NotFound", "The sales order does not exist")
        return order

    def _order_lines_of(self, request: web.Request) -> list[dict[str, Any]]:
        return self.order_lines.get(request.match_info["id"], [])

    def _if_match(
        self, request: web.Request, entity: dict[str, Any], what: str = "this record"
    ) -> web.Response | None:
        etag = request.headers.get("If-Match")
        if etag is None:
            return self.error(428, "BadRequest", f"The If-Match header is required to update {what}")
        if etag not in ("*", entity["@odata.etag"]):
            return self.error(412, "Request_EntityChanged", "Another user has already changed the record.")
        return None

    def _editable(self, order: dict[str, Any]) -> web.Response | None:
        if order["status"] != "Draft":
            current = "Released" if order["status"] == "Open" else "Pending Approval"
            return self.error(
                400,
                "Application_TestFieldError",
                "Status must be equal to 'Open'  in Sales Header: Document Type=Order, "
                f"No.={order['number']}. Current value is '{current}'.",
            )
        return None

    def _changed(self, order: dict[str, Any], *lines: dict[str, Any]) -> None:
        """New etags for ``lines`` and, its totals made again, for ``order``."""
        for line in lines:
            self._etag(line)
        self._totals(order)
        self._etag(order)

    def _totals(self, order: dict[str, Any]) -> None:
        lines = self.order_lines[order["id"]]
        net = sum((Decimal(str(x["amountExcludingTax"])) for x in lines), Decimal(0))
        tax = sum((Decimal(str(x["totalTaxAmount"])) for x in lines), Decimal(0))
        order["totalAmountExcludingTax"] = float(net)
        order["totalAmountIncludingTax"] = float(net + tax)
        order["fullyShipped"] = all(x["shippedQuantity"] >= x["quantity"] for x in lines)

    @staticmethod
    def _amounts(line: dict[str, Any], includes_tax: bool) -> None:
        amount = (Decimal(str(line["quantity"])) * Decimal(str(line["unitPrice"]))).quantize(
            CENT, ROUND_HALF_UP
        )
        rate = Decimal(str(line["taxPercent"]))
        if includes_tax:
            gross = amount
            amount = (gross * 100 / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
        tax = (amount * rate / 100).quantize(CENT, ROUND_HALF_UP)
        line.update(
            amountExcludingTax=float(amount),
            totalTaxAmount=float(tax),
            amountIncludingTax=float(amount + tax),
        )

    def _order_line(self, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | web.Response:
        refused = self._editable(order)
        if refused is not None:
            return refused
        kind, number = body.get("lineType"), body.get("lineObjectNumber")
        line: dict[str, Any] = {"id": str(uuid.uuid4()), "documentId": order["id"]}
        if kind == "Item":
            item = next((i for i in self.items if i["number"] == number), None)
            if item is None:
                return self._not_found("Item", number)
            line.update(
                description=item["displayName"],
                unitPrice=item["unitPrice"],
                taxPercent=float(item["taxGroupCode"]),
            )
        elif kind in ("Account", "Comment"):
            line.update(description="", unitPrice=0.0, taxPercent=0.0)
        else:
            return self.error(400, "BadRequest", f"lineType {kind!r} is not supported here")
        try:
            quantity = Decimal(str(body.get("quantity", 0)))
            Decimal(str(body.get("unitPrice", 0)))
        except ArithmeticError:
            return self.error(400, "BadRequest", "quantity and unitPrice must be numbers")
        if quantity < 0:
            return self.error(400, "BadRequest", "Quantity must be positive on a sales order line")
        line.update({k: v for k, v in body.items() if k in ("description", "unitPrice")})
        line.update(
            sequence=10000 * (len(self.order_lines[order["id"]]) + 1),
            lineType=kind,
            lineObjectNumber=number or "",
            quantity=float(quantity),
            shippedQuantity=0.0,
            invoicedQuantity=0.0,
            shipQuantity=float(quantity),  # BC's Qty. to Ship and Qty. to Invoice: all, at first
            invoiceQuantity=float(quantity),
        )
        self._amounts(line, order["pricesIncludeTax"])
        self.order_lines[order["id"]].append(line)
        self._changed(order, line)
        return line

    @_in_company
    async def _list_orders(self, request: web.Request) -> web.Response:
        fields = {"id", "number", "customerNumber", "externalDocumentNumber", "status", "orderDate"}
        selected = self._filtered(request, self.orders, fields)
        return selected if isinstance(selected, web.Response) else web.json_response({"value": selected})

    @_on_order
    async def _get_order(self, request: web.Request, order: dict[str, Any]) -> web.Response:
        return web.json_response(order)

    @_in_company
    async def _post_order(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._field_refused(body)
        if refused is not None:
            return refused
        number = body.get("customerNumber")
        if not any(c["number"] == number for c in self.customers):
            return self._not_found("Customer", number)
        day = str(body.get("orderDate") or utc_now()[:10])
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return self.error(400, "BadRequest", "orderDate must be a date")
        more = {"externalDocumentNumber": str(body.get("externalDocumentNumber") or "")}
        if body.get("postingDate"):
            more["postingDate"] = str(body["postingDate"])
        return web.json_response(self._new_order(number, day, more), status=201)

    @_on_order
    async def _patch_order(self, request: web.Request, order: dict[str, Any]) -> web.Response:
        refused = self._if_match(request, order)
        if refused is not None:
            return refused
        body = await request.json()
        refused = self._field_refused(body)
        if refused is not None:
            return refused
        unknown = sorted(
            set(body) - {"externalDocumentNumber", "orderDate", "postingDate", "requestedDeliveryDate"}
        )
        if unknown:
            return self.error(400, "BadRequest_PropertyNotEditable", f"{unknown[0]} cannot be changed here")
        order.update(body)
        self._etag(order)
        return web.json_response(order)

    @_on_order
    async def _post_order_line(self, request: web.Request, order: dict[str, Any]) -> web.Response:
        made = self._order_line(order, await request.json())
        return made if isinstance(made, web.Response) else web.json_response(made, status=201)

    @_on_order
    async def _patch_order_line(self, request: web.Request, order: dict[str, Any]) -> web.Response:
        line = next((x for x in self.order_lines[order["id"]] if x["id"] == request.match_info["line"]), None)
        if line is None:
            return self.error(404, "BadRequest_NotFound", "The sales order line does not exist")
        refused = self._if_match(request, line) or self._editable(order)
        if refused is not None:
            return refused
        body = await request.json()
        unknown = sorted(
            set(body) - {"quantity", "unitPrice", "description", "shipQuantity", "invoiceQuantity"}
        )
        if unknown:
            return self.error(400, "BadRequest_PropertyNotEditable", f"{unknown[0]} cannot be changed here")
        if "quantity" in body and Decimal(str(body["quantity"])) < Decimal(str(line["shippedQuantity"])):
            return self.error(
                400,
                "Application_DialogException",
                f"Quantity must not be less than {line['shippedQuantity']} units (Quantity Shipped).",
            )
        if "quantity" in body:  # BC validates Quantity by setting what is to ship and invoice anew
            line["shipQuantity"] = float(body["quantity"]) - line["shippedQuantity"]
            line["invoiceQuantity"] = float(body["quantity"]) - line["invoicedQuantity"]
        line.update(body)
        self._amounts(line, order["pricesIncludeTax"])
        self._changed(order, line)
        return web.json_response(line)

    def _nothing_to_post(self) -> web.Response:
        return self.error(400, "Application_DialogException", "There is nothing to post.")

    @_on_order
    async def _ship_and_invoice(self, request: web.Request, order: dict[str, Any]) -> web.Response:
        """BC's Sales-Post with ship and invoice: each line's ``shipQuantity`` shipped, its
        ``invoiceQuantity`` (no more than is then shipped) invoiced; nothing to invoice: a
        shipment only, and the order stays."""
        lines = self.order_lines[order["id"]]
        ship = {x["id"]: Decimal(str(x["shipQuantity"])) for x in lines}
        invoice_qty = {
            x["id"]: min(
                Decimal(str(x["invoiceQuantity"])),
                Decimal(str(x["shippedQuantity"])) + ship[x["id"]] - Decimal(str(x["invoicedQuantity"])),
            )
            for x in lines
        }
        if not any(ship.values()) and not any(invoice_qty.values()):
            return self._nothing_to_post()
        shipped = [
            {"item": x["lineObjectNumber"], "quantity": float(ship[x["id"]])} for x in lines if ship[x["id"]]
        ]
        if shipped:
            self.shipments.append({"orderNumber": order["number"], "lines": shipped})
        invoiced = [x for x in lines if invoice_qty[x["id"]]]
        if invoiced:
            self._post_invoice_of(order, invoiced, invoice_qty)
        for x in lines:
            x["shippedQuantity"] = float(Decimal(str(x["shippedQuantity"])) + ship[x["id"]])
            x["invoicedQuantity"] = float(Decimal(str(x["invoicedQuantity"])) + invoice_qty[x["id"]])
            x["shipQuantity"] = x["quantity"] - x["shippedQuantity"]
            x["invoiceQuantity"] = x["quantity"] - x["invoicedQuantity"]
        if all(x["invoicedQuantity"] >= x["quantity"] for x in lines):
            # Completely shipped and invoiced: BC deletes the order.
            self.orders.remove(order)
            del self.order_lines[order["id"]]
        else:
            self._changed(order, *lines)
        return web.Response(status=204)

    def _post_invoice_of(
        self, order: dict[str, Any], lines: list[dict[str, Any]], quantities: dict[str, Decimal]
    ) -> None:
        """The posted sales invoice of ``quantities`` of the order's ``lines``."""
        fields = CONTRACT.entities["salesInvoiceLines"].fields
        posted = []
        for x in lines:
            line = {k: v for k, v in x.items() if k in fields}
            line["quantity"] = float(quantities[x["id"]])
            self._amounts(line, order["pricesIncludeTax"])
            posted.append(line)
        net = sum((Decimal(str(x["amountExcludingTax"])) for x in posted), Decimal(0))
        tax = sum((Decimal(str(x["totalTaxAmount"])) for x in posted), Decimal(0))
        invoice = self._new_invoice(  # BC's posted invoice takes the order's dates
            order["customerNumber"],
            order["orderDate"],
            postingDate=order["postingDate"],
            externalDocumentNumber=order["externalDocumentNumber"],
            orderNumber=order["number"],
            status="Open",
            totalAmountExcludingTax=float(net),
            totalAmountIncludingTax=float(net + tax),
        )
        self.invoices.append(invoice)
        self.lines[invoice["id"]] = posted

    def _journal_company(self, request: web.Request) -> web.Response | None:
        if request.match_info["company"] != f"Company('{self.company_name}')":
            return self.error(400, "Internal_CompanyNotFound", f"Cannot open {request.match_info['company']}")
        return None

    async def _get_item_journal(self, request: web.Request) -> web.Response:
        refused = self._journal_company(request)
        if refused is not None:
            return refused
        fields = {"Journal_Template_Name", "Journal_Batch_Name", "Item_No", "Document_No"}
        selected = self._filtered(request, self.item_journal, fields)
        return selected if isinstance(selected, web.Response) else web.json_response({"value": selected})

    async def _post_item_journal(self, request: web.Request) -> web.Response:
        refused = self._journal_company(request)
        if refused is not None:
            return refused
        body = await request.json()
        batch = (body.get("Journal_Template_Name"), body.get("Journal_Batch_Name"))
        if batch not in self.journal_batches:
            return self.error(
                400,
                "Internal_RecordNotFound",
                f"The Item Journal Batch does not exist. Identification fields and values: "
                f"Journal Template Name='{batch[0]}',Name='{batch[1]}'",
            )
        if not any(i["number"] == body.get("Item_No") for i in self.items):
            return self._not_found("Item", body.get("Item_No"))
        if body.get("Entry_Type") not in ("Positive Adjmt.", "Negative Adjmt."):
            return self.error(
                400, "BadRequest", f"Entry_Type {body.get('Entry_Type')!r} is not an adjustment"
            )
        if Decimal(str(body.get("Quantity") or 0)) <= 0:
            return self.error(400, "BadRequest", "Quantity must be positive for an adjustment")
        line = {**body, "Line_No": 10000 * (len(self.item_journal) + 1)}
        self._etag(line)
        self.item_journal.append(line)
        return web.json_response(line, status=201)


def settings_for(fake: BusinessCentralFake, **over: Any) -> dict[str, Any]:
    """``[sync.business_central]`` for ``fake``: its address, app and company, the cash
    customer KONTANT; ``over`` adds or replaces keys (payment journals, posting, …)."""
    return {
        "base_url": fake.api_url,
        "token_url": fake.token_url,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "company_id": fake.company,
        "customer": "KONTANT",
        **over,
    }
