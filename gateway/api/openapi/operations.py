"""Every operation the till serves, as data: its path and method, what it reads, and every
answer it can give — the successes and each error, with the codes that error can carry.

The table is the one place the OpenAPI document (:mod:`gateway.api.openapi.document`)
takes its paths from; ``tests/api/test_openapi_routes.py`` holds it against the routes
the application registers, both ways. The words of each error are those of docs/api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.api.catalog import DEFAULT_SEARCH
from gateway.api.history import DEFAULT_LAST, MAX_LAST
from gateway.api.openapi import answers, requests
from gateway.api.openapi.fields import ID_PATTERN, NOT_BLANK
from gateway.api.sales import LIST_WORD
from gateway.catalog.store import MAX_SEARCH
from gateway.messages.bodies import ReportBody

__all__ = ["OPERATIONS", "AllOf", "Answer", "OneOf", "Operation", "Parameter"]

JSON = "application/json"


@dataclass(frozen=True)
class AllOf:
    """A body that is every one of ``parts`` at once (an object made of two)."""

    parts: tuple[Any, ...]


@dataclass(frozen=True)
class OneOf:
    """A body that is one of ``choices``, told apart by their fields."""

    choices: tuple[Any, ...]


@dataclass(frozen=True)
class Answer:
    """One status of an operation: what it means and, when it has one, its body's type."""

    description: str
    body: Any = None  # a Struct (its schema), an AllOf or OneOf of Structs, or None
    content_type: str | None = JSON  # None: no body (a redirect, a WebSocket's handshake)
    headers: Mapping[str, str] = field(default_factory=dict)  # name: description


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # "path" or "query"
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    description: str
    answers: Mapping[int, Answer]
    body: Any = None  # the request body's Struct (or union of Structs)
    body_required: bool = True
    body_content_type: str = JSON
    parameters: tuple[Parameter, ...] = ()
    access: str = "token"  # "token", "read" (the token or the status page's cookie), "events", "public"


def _error(words: str) -> Answer:
    return Answer(words, answers.ErrorAnswer)


_BAD_JSON = "bad_json: the body is empty, not JSON, or not a JSON object"
_TOO_LARGE = _error("too_large: the body is over [api].max_body_kib")
_FAULT = (
    "storage_error: the till's database failed; internal_error: a fault in tillgw (its log has the details)"
)
_FULL = _error(
    "storage_full: the disk holding the till's data is full; in_doubt says whether a receipt waits"
)
_UNIT_503 = _error(
    "control_unit_refused: the control unit said no (its words in the message); "
    "control_unit_unavailable: it did not answer, the receipt waits for it (post the same request again); "
    + _FAULT
)
_FAULT_503 = _error(_FAULT)


def _writes(extra: Mapping[int, Answer]) -> dict[int, Answer]:
    """The errors every write with a body can give, beside its own."""
    return {400: _error(_BAD_JSON), 413: _TOO_LARGE, 503: _FAULT_503, 507: _FULL, **extra}


_LAST = Parameter(
    "last",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_LAST, "default": DEFAULT_LAST},
    "How many, newest first",
)
_LIMIT = Parameter(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH, "default": DEFAULT_SEARCH},
    "How many at most",
)
_RECEIPT_NO = Parameter(
    "no",
    "path",
    {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999},
    "The receipt's number (1-18 digits)",
    required=True,
)
# GET /v1/sales/parked is the list: "parked" is no sale's id (gateway.api.sales.sale_id).
_SALE_ID = Parameter(
    "id",
    "path",
    {"type": "string", "pattern": ID_PATTERN, "not": {"const": LIST_WORD}},
    "The POS's id of the parked sale (not 'parked')",
    required=True,
)
_SEARCH = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK}  # reading.query_text
_NUMBER = {"type": "string", "minLength": 1, "maxLength": 50, "pattern": r"^[^\u0000-\u001f\u007f-\u009f/]*$"}
_ERP_NUMBER = {"type": "string", "minLength": 1, "maxLength": 50, "pattern": NOT_BLANK}  # may hold a '/'
_HTML = "text/html"
_SEE_PAGE = {"Location": "/"}

_SALE_409 = _error(
    "already_resumed, already_abandoned, already_completed: the sale is no longer parked; "
    "id_reused: the id was parked with other lines"
)

OPERATIONS: tuple[Operation, ...] = (
    # -- receipts ------------------------------------------------------------------------------
    Operation(
        "post",
        "/v1/receipts",
        "post_receipt",
        "receipts",
        "Register a receipt",
        "Registers the sale with the control unit, journals it, prints it and opens the drawer for "
        "cash. The same id again answers the first result (200).",
        {
            201: Answer("The receipt, registered now", answers.ReceiptAnswer),
            200: Answer("The same id again: the first result", answers.ReceiptAnswer),
            409: _error(
                "id_reused: the id belongs to another receipt; already_abandoned, already_completed: "
                "the parked sale it names is no longer parked"
            ),
            422: _error("invalid: the receipt is wrong (field names where); also an unknown parked sale"),
        }
        | _writes({503: _UNIT_503}),
        body=requests.ReceiptRequest,
    ),
    Operation(
        "get",
        "/v1/receipts",
        "last_receipts",
        "receipts",
        "The last receipts",
        "The latest receipts, copies too, newest first.",
        {
            200: Answer("The receipts", answers.LastReceipts),
            400: _error("bad_request: ?last= is not a number from 1 to 100"),
            503: _FAULT_503,
        },
        parameters=(_LAST,),
        access="read",
    ),
    Operation(
        "get",
        "/v1/receipts/{no}",
        "get_receipt",
        "receipts",
        "A receipt and its text",
        "A receipt by its number; ?copy=true gives its copy instead.",
        {
            200: Answer("The receipt", answers.ReceiptAnswer),
            400: _error("bad_request: ?copy= is not true or false"),
            404: _error("not_found: no receipt with that number, or it has no copy"),
            503: _FAULT_503,
        },
        parameters=(
            _RECEIPT_NO,
            Parameter("copy", "query", {"type": "boolean", "default": False}, "The receipt's copy instead"),
        ),
        access="read",
    ),
    Operation(
        "post",
        "/v1/receipts/{no}/copy",
        "post_copy",
        "receipts",
        "The receipt's one copy",
        "Registers, journals and prints the copy (KOPIA) of receipt no. No body.",
        {
            201: Answer("The copy, in the shape of a receipt", answers.ReceiptAnswer),
            404: _error("not_found: no such receipt"),
            409: _error("copy_exists: the receipt already has its copy"),
            503: _UNIT_503,
            507: _FULL,
        },
        parameters=(_RECEIPT_NO,),
    ),
    # -- parked sales ------------------------------------------------------------------------
    Operation(
        "post",
        "/v1/sales/{id}/park",
        "park_sale",
        "sales",
        "Park a sale",
        "Journals the sale's lines so far; it counts as unfinished until resumed, abandoned or "
        "completed. The same id with the same lines again answers the sale as it is (200).",
        _writes(
            {
                201: Answer("The sale, parked now", answers.ParkedSaleAnswer),
                200: Answer("The same id and lines again", answers.ParkedSaleAnswer),
                409: _SALE_409,
                422: _error(
                    "invalid: a bad id, a field a parked sale does not have, a line a receipt refuses"
                ),
            }
        ),
        body=requests.ParkRequest,
        parameters=(_SALE_ID,),
    ),
    Operation(
        "post",
        "/v1/sales/{id}/resume",
        "resume_sale",
        "sales",
        "Take a parked sale up again",
        "The sale goes back to the POS, which completes it with a receipt naming it (parked).",
        _writes(
            {
                200: Answer("The sale, resumed", answers.ParkedSaleAnswer),
                404: _error("not_found: no parked sale with that id"),
                409: _SALE_409,
                422: _error("invalid: a bad id or cashier, or another field"),
            }
        ),
        body=requests.ResumeRequest,
        body_required=False,
        parameters=(_SALE_ID,),
    ),
    Operation(
        "post",
        "/v1/sales/{id}/abandon",
        "abandon_sale",
        "sales",
        "Give a parked sale up",
        "Nothing was sold; the sale is journaled as abandoned.",
        _writes(
            {
                200: Answer("The sale, abandoned", answers.ParkedSaleAnswer),
                404: _error("not_found: no parked sale with that id"),
                409: _SALE_409,
                422: _error("invalid: a bad id, cashier or reason, or another field"),
            }
        ),
        body=requests.AbandonRequest,
        body_required=False,
        parameters=(_SALE_ID,),
    ),
    Operation(
        "get",
        "/v1/sales/parked",
        "parked_sales",
        "sales",
        "The sales parked now",
        "The sales parked now, the oldest first, and what they come to.",
        {200: Answer("The parked sales", answers.ParkedList), 503: _FAULT_503},
        access="read",
    ),
    Operation(
        "get",
        "/v1/sales/{id}",
        "get_sale",
        "sales",
        "A parked sale",
        "One sale, whatever became of it.",
        {
            200: Answer("The sale", answers.ParkedSaleAnswer),
            404: _error("not_found: no sale was ever parked with that id"),
            422: _error("invalid: the id is not 1-64 characters of A-Z a-z 0-9 . _ : -"),
            503: _FAULT_503,
        },
        parameters=(_SALE_ID,),
        access="read",
    ),
    # -- the drawer, events, reports ------------------------------------------------------------
    Operation(
        "post",
        "/v1/drawer/open",
        "open_drawer",
        "fiscal events",
        "Open the drawer without a sale",
        "Journals the opening, then kicks the drawer.",
        _writes(
            {
                201: Answer("Journaled and opened", answers.DrawerOpened),
                422: _error("invalid: a bad cashier, or another field"),
                503: _error(
                    "no_drawer: the till has no printer, so no drawer; drawer_failed: the opening is "
                    "journaled, but the drawer did not open; " + _FAULT
                ),
            }
        ),
        body=requests.DrawerRequest,
        body_required=False,
    ),
    Operation(
        "post",
        "/v1/events",
        "post_event",
        "fiscal events",
        "Report a cashier, price or float event",
        "Each becomes a signed journal entry of its type.",
        _writes(
            {
                201: Answer("Journaled", answers.EventRecorded),
                422: _error("invalid, bad_event: a missing or unknown type, a missing or bad field"),
            }
        ),
        body=requests.PosEvent,
    ),
    Operation(
        "post",
        "/v1/reports/{kind}",
        "make_report",
        "fiscal events",
        "Make an X or a Z report",
        "An X report (the day so far) or a Z report (closes the period): journaled, printed and "
        "returned. No body.",
        {
            201: Answer("The report", AllOf((ReportBody[str], answers.ReportExtras))),
            404: _error("not_found: kind is neither x nor z"),
            503: _FAULT_503,
            507: _FULL,
        },
        parameters=(
            Parameter("kind", "path", {"type": "string", "enum": ["x", "z"]}, "x or z", required=True),
        ),
    ),
    Operation(
        "get",
        "/v1/reports/z",
        "last_z_reports",
        "fiscal events",
        "The last Z reports",
        "The latest Z reports, newest first; empty before the first.",
        {
            200: Answer("The reports", answers.LastZReports),
            400: _error("bad_request: ?last= is not a number from 1 to 100"),
            503: _FAULT_503,
        },
        parameters=(_LAST,),
        access="read",
    ),
    # -- status and the event stream --------------------------------------------------------
    Operation(
        "get",
        "/v1/status",
        "get_status",
        "status",
        "How the till is",
        "The devices in words, the disk, what waits, the bus, the catalog and the sync module.",
        {200: Answer("The status", answers.StatusAnswer), 503: _FAULT_503},
        access="read",
    ),
    Operation(
        "get",
        "/v1/events",
        "event_stream",
        "status",
        "The event stream (WebSocket)",
        "A WebSocket of JSON text messages {type, at, data}; the first is hello. Browsers send the "
        "token as ?token=.",
        {
            101: Answer("The WebSocket is open", None, None),
            400: _error("websocket_expected: a plain GET, not a WebSocket handshake"),
        },
        access="events",
    ),
    # -- the catalog -------------------------------------------------------------------------
    Operation(
        "get",
        "/v1/articles",
        "find_articles",
        "catalog",
        "An article by barcode, or a search by name",
        "?barcode= answers the article (a scan); ?q= a list for the POS's search box.",
        {
            200: Answer(
                "The article (barcode=) or the articles found (q=)",
                OneOf((answers.ArticleAnswer, answers.ArticleSearch)),
            ),
            400: _error("bad_request: neither barcode nor q, both, an empty one, or a limit out of range"),
            404: _error("not_found: no article has that barcode"),
            503: _FAULT_503,
        },
        parameters=(
            Parameter(
                "barcode", "query", {**_SEARCH, "maxLength": 64}, "A scanned code, or an article number"
            ),
            Parameter("q", "query", _SEARCH, "Words of a name"),
            _LIMIT,
        ),
        access="read",
    ),
    Operation(
        "get",
        "/v1/articles/{number}",
        "get_article",
        "catalog",
        "An article by its number",
        "A number with / in it is found with ?barcode= instead.",
        {
            200: Answer("The article", answers.ArticleAnswer),
            404: _error("not_found: there is no article with that number"),
            503: _FAULT_503,
        },
        parameters=(Parameter("number", "path", _NUMBER, "The article's number", required=True),),
        access="read",
    ),
    Operation(
        "get",
        "/v1/customers",
        "find_customers",
        "catalog",
        "Search the customers",
        "Customers whose name holds the words, or whose number, orgnr, phone or e-mail is them.",
        {
            200: Answer("The customers found", answers.CustomerSearch),
            400: _error("bad_request: no q, an empty one, or a limit out of range"),
            503: _FAULT_503,
        },
        parameters=(Parameter("q", "query", _SEARCH, "Words of a name, or a number", required=True), _LIMIT),
        access="read",
    ),
    Operation(
        "post",
        "/v1/customers",
        "put_customer",
        "catalog",
        "Create or change a customer",
        "Journaled as customer.change for the ERP, and in the till's catalog at once.",
        _writes(
            {
                201: Answer("A customer new to the till", answers.CustomerChanged),
                200: Answer("A customer changed", answers.CustomerChanged),
                422: _error("invalid: a field that is wrong"),
            }
        ),
        body=requests.CustomerRequest,
    ),
    Operation(
        "get",
        "/v1/customers/{number}",
        "get_customer",
        "catalog",
        "A customer by number",
        "One customer of the till's catalog.",
        {
            200: Answer("The customer", answers.CustomerAnswer),
            404: _error("not_found: there is no customer with that number"),
            503: _FAULT_503,
        },
        parameters=(Parameter("number", "path", _NUMBER, "The customer's number", required=True),),
        access="read",
    ),
    # -- orders -------------------------------------------------------------------------------
    Operation(
        "get",
        "/v1/orders",
        "find_orders",
        "orders",
        "A customer's open orders in the ERP",
        "Asked of the ERP sync module over the bus; it waits at most 10 s.",
        {
            200: Answer("The orders", answers.OrderList),
            400: _error("bad_request: no ?customer=, or a bad one"),
            404: _error("not_found: the ERP has no open order of the customer"),
            502: _error("erp_error: the ERP could not say (its words)"),
            503: _error("no_bus: no [mqtt], or no connection to the broker now; " + _FAULT),
            504: _error("no_answer: the sync module did not answer in time"),
        },
        parameters=(
            Parameter(
                "customer",
                "query",
                _ERP_NUMBER,
                "The ERP's customer number",
                required=True,
            ),
        ),
        access="read",
    ),
    Operation(
        "get",
        "/v1/orders/{number}",
        "get_order",
        "orders",
        "An open order in the ERP",
        "Asked of the ERP sync module over the bus; it waits at most 10 s.",
        {
            200: Answer("The order", answers.OrderAnswer),
            400: _error("bad_request: a bad order number or ?customer="),
            404: _error("not_found: the ERP has no such open order"),
            502: _error("erp_error: the ERP could not say (its words)"),
            503: _error("no_bus: no [mqtt], or no connection to the broker now; " + _FAULT),
            504: _error("no_answer: the sync module did not answer in time"),
        },
        parameters=(
            Parameter(
                "number",
                "path",
                _ERP_NUMBER,
                "The order's number",
                required=True,
            ),
            Parameter("customer", "query", _ERP_NUMBER, "The customer's number"),
        ),
        access="read",
    ),
    Operation(
        "post",
        "/v1/orders",
        "post_order",
        "orders",
        "A new order for the ERP",
        "Journaled as order.new with the till's reference O-{register}-{n}; the bus carries it.",
        _writes(
            {
                201: Answer("The order, journaled", answers.NewOrderAnswer),
                422: _error("invalid: a field that is wrong"),
            }
        ),
        body=requests.NewOrderRequest,
    ),
    # -- this document, and the status page ---------------------------------------------------
    Operation(
        "get",
        "/v1/openapi.json",
        "openapi_document",
        "status",
        "This document",
        "The OpenAPI document of every endpoint; served without the token.",
        {200: Answer("The document", None, JSON)},
        access="public",
    ),
    Operation(
        "get",
        "/",
        "status_page",
        "status page",
        "The status page",
        "An HTML page; it shows nothing but a login form until logged in.",
        {200: Answer("The page", None, _HTML)},
        access="public",
    ),
    Operation(
        "get",
        "/static/status.js",
        "status_page_script",
        "status page",
        "The status page's script",
        "Served without the token.",
        {200: Answer("The script", None, "text/javascript")},
        access="public",
    ),
    Operation(
        "post",
        "/login",
        "login",
        "status page",
        "Log the status page in",
        "The form field token: the right one sets the session cookie (GETs only, 12 hours).",
        {
            303: Answer(
                "Logged in: back to the page",
                None,
                None,
                headers={**_SEE_PAGE, "Set-Cookie": "tillgw_session"},
            ),
            400: _error(
                "bad_request: the body is not a form (a multipart body without its parts, bytes not UTF-8)"
            ),
            401: Answer("The form again, with 'wrong token'", None, _HTML),
            413: _TOO_LARGE,
        },
        body=requests.LoginForm,
        body_content_type="application/x-www-form-urlencoded",
        body_required=False,
        access="public",
    ),
    Operation(
        "post",
        "/logout",
        "logout",
        "status page",
        "Log the status page out",
        "Clears the session cookie.",
        {303: Answer("Logged out: back to the page", None, None, headers=_SEE_PAGE)},
        access="public",
    ),
)
