"""The till's local HTTP API (docs/api.md): receipts, copies, the drawer, POS events, status,
the catalog's articles and customers, and the event stream — one aiohttp application over
a :class:`~gateway.till.Till`.

``make_app(till)`` builds it; :func:`serving` runs it on a host and port until the block
ends (what ``tillgw run`` does after :meth:`Till.open`). The API adds no logic of its own
to fiscal matters: it reads and checks the request, calls the pipeline, and says what
happened — the pipeline decides numbers, registrations, copies and refusals.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from gateway.api.auth import EVENTS_PATH, auth_middleware
from gateway.api.errors import ApiError, error_middleware
from gateway.api.events import DEFAULT_QUEUE_SIZE, EventHub, stream_events
from gateway.api.history import add_history_routes
from gateway.api.page import SESSION_KEY_FILE, add_page_routes
from gateway.api.session import Sessions
from gateway.api.text_check import check_text, refuse_bad_text
from gateway.catalog.customers import customer_request
from gateway.catalog.orders import NotConnected
from gateway.catalog.store import MAX_SEARCH
from gateway.common.health import Health, HealthListener
from gateway.fiscal import report_text
from gateway.fiscal.pipeline import FiscalError, RegisteredReceipt
from gateway.fiscal.reports import Report
from gateway.messages.orders import NewOrder, Order, OrderAnswer, OrderFieldError
from gateway.receipts.codec import money_text, parse_money, rate_text, receipt_from_json
from gateway.till import DeviceError, Till

__all__ = ["HUB", "TILL", "make_app", "serving"]

log = logging.getLogger("tillgw.api")

TILL = web.AppKey("till", Till)
HUB = web.AppKey("hub", EventHub)

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_NAME = 60  # cashier and article fields of POS events: as long as a receipt's texts

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


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


class _Background:
    """Work the API started and nobody waits for (printing a report); stopped at cleanup."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_TASKS = web.AppKey("background", _Background)


# -- reading requests ---------------------------------------------------------------------


async def _body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one; 413 past the size limit)."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, "bad_json", "the body is empty; send a JSON object")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
        detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "it cannot be decoded"
        raise ApiError(400, "bad_json", f"the body is not JSON: {detail}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", f"the body must be a JSON object, not {_json_type(value)}")
    refuse_bad_text(value)  # a lone surrogate or a control character in any text: 422 naming it
    return value


def _json_type(value: Any) -> str:
    match value:
        case list():
            return "an array"
        case str():
            return "a string"
        case bool():
            return "true or false"
        case int() | float():
            return "a number"
        case None:
            return "null"
    return type(value).__name__  # pragma: no cover - json.loads makes nothing else


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            422, "invalid", f"is not a field of this request ({', '.join(sorted(allowed))})", unknown[0]
        )


def _name(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(422, "invalid", "is missing", key)
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid", f"must be a non-empty string, got {value!r}", key)
    if len(value) > MAX_NAME:
        raise ApiError(422, "invalid", f"is {len(value)} characters; at most {MAX_NAME}", key)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ApiError(422, "invalid", "holds a control character", key)
    return value


def _request_id(body: dict[str, Any]) -> str:
    value = body.get("id")
    if value is None:
        raise ApiError(
            422, "invalid", "is missing: every receipt needs the POS's own id (the idempotency key)", "id"
        )
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise ApiError(422, "invalid", f"must be 1-64 characters of A-Z a-z 0-9 . _ : -, got {value!r}", "id")
    return value


def _flag(request: web.Request, key: str) -> bool:
    value = request.query.get(key, "false").lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ApiError(400, "bad_request", f"?{key}= must be true or false, got {value!r}", key)


# -- answers --------------------------------------------------------------------------------


async def _receipt(till: Till, registered: RegisteredReceipt) -> dict[str, Any]:
    """A receipt as the API shows it: its JSON, whether it is on paper, and its text."""
    printed = till.printer is not None and await till.pipeline.printed(registered.entry_seq)
    return {**registered.to_json(printed=printed), "text": till.pipeline.receipt_text(registered)}


def _event_data(receipt: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in receipt.items() if k != "text"}


# -- handlers -------------------------------------------------------------------------------


async def post_receipt(request: web.Request) -> web.Response:
    till, hub = request.app[TILL], request.app[HUB]
    body = await _body(request)
    request_id = _request_id(body)
    receipt = receipt_from_json(body)  # ReceiptError names the field: 422
    async with request.app[_IDS].hold(request_id):
        try:
            sale = await till.pipeline.sell(request_id, receipt)
        except FiscalError as exc:
            if not exc.repeat:  # a repeated refusal is no news
                hub.publish("receipt.error", {"id": request_id, **exc.to_json()["error"]})
            raise
    registered = sale.registered
    answer = await _receipt(till, registered)
    fresh = sale.earlier != "done"  # a receipt this request completed, also one that was in doubt
    if sale.earlier is not None and registered.receipt != receipt:
        raise ApiError(
            409,
            "id_reused",
            f"id {request_id!r} belongs to receipt {registered.receipt_no}, which is not this receipt; "
            "every new sale needs a new id",
            "id",
        )
    return _json(answer, 201 if fresh else 200)


def _receipt_no(request: web.Request) -> int:
    return int(request.match_info["no"])  # the route allows 1-18 digits only


async def get_receipt(request: web.Request) -> web.Response:
    till = request.app[TILL]
    number, copy = _receipt_no(request), _flag(request, "copy")
    registered = await till.pipeline.find(number, copy=copy)
    if registered is None:
        what = f"receipt {number} has no copy" if copy else f"there is no receipt number {number}"
        raise ApiError(404, "not_found", what)
    return _json(await _receipt(till, registered))


async def post_copy(request: web.Request) -> web.Response:
    till = request.app[TILL]
    registered = await till.pipeline.copy(_receipt_no(request))  # 404, 409, 503 from the pipeline
    return _json(await _receipt(till, registered), 201)


async def open_drawer(request: web.Request) -> web.Response:
    till, hub = request.app[TILL], request.app[HUB]
    body = await _body(request, optional=True)
    _only(body, {"cashier"})
    cashier = _name(body, "cashier", required=False)
    if till.printer is None:
        raise ApiError(
            503,
            "no_drawer",
            "this till has no printer configured, and the drawer hangs on the printer; nothing was opened",
        )
    try:
        entry = await till.pipeline.open_drawer(cashier)
    except DeviceError as exc:
        raise ApiError(
            503, "drawer_failed", f"the opening is journaled, but the drawer did not open: {exc}"
        ) from None
    hub.publish("drawer.open", {"journal_entry": entry, "cashier": cashier})
    return _json({"journal_entry": entry, "cashier": cashier}, 201)


_POS_EVENTS = ("cashier.login", "cashier.logout", "price.change", "float.change")


async def post_event(request: web.Request) -> web.Response:
    till = request.app[TILL]
    body = await _body(request)
    kind = body.get("type")
    if kind is None:
        raise ApiError(422, "invalid", f"is missing: one of {', '.join(_POS_EVENTS)}", "type")
    if kind not in _POS_EVENTS:
        raise ApiError(422, "invalid", f"{kind!r} is not one of {', '.join(_POS_EVENTS)}", "type")
    record: dict[str, Any]
    if kind == "price.change":
        _only(body, {"type", "article", "text", "old_price", "new_price", "cashier"})
        record = {
            "article": _name(body, "article", required=True),
            "text": _name(body, "text", required=False),
            "old_price": _price(body, "old_price", required=False),
            "new_price": _price(body, "new_price", required=True),
            "cashier": _name(body, "cashier", required=False),
        }
    elif kind == "float.change":
        # The pipeline checks it (reports.float_change_body: amount, cashier, note) and
        # names the field of a FiscalError (422); the journal keeps the amount in öre.
        record = {k: v for k, v in body.items() if k != "type"}
    else:
        _only(body, {"type", "cashier"})
        record = {"cashier": _name(body, "cashier", required=True)}
    entry = await till.pipeline.record(kind, record)
    return _json({"journal_entry": entry, "type": kind}, 201)


def _price(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    if body.get(key) is None:
        if required:
            raise ApiError(422, "invalid", "is missing", key)
        return None
    ore = parse_money(body[key], key)  # ReceiptError names the field: 422
    if ore < 0:
        raise ApiError(422, "invalid", "must not be negative", key)
    return money_text(ore)


async def post_report(request: web.Request) -> web.Response:
    """An X or a Z report: journaled, printed (in the background) and returned."""
    till, hub = request.app[TILL], request.app[HUB]
    report = await till.pipeline.report(request.match_info["kind"])
    printing = _print_report(request.app, report)
    hub.publish(
        "report",
        {"report": report.kind.value, "z_no": report.z_no, "journal_entry": report.entry_seq},
    )
    answer = {
        **report.to_json(),
        "printing": printing,
        "text": report_text.text(report, till.config.paper_width),
    }
    return _json(answer, 201)


def _print_report(app: web.Application, report: Report) -> bool:
    """Queue the report for the printer; False when the till has none."""
    till = app[TILL]
    if till.printer is None:
        return False
    printer = till.printer
    data = report_text.render(report, till.config.paper_width, till.pipeline.code_table)

    async def print_it() -> None:
        try:
            await printer.print_job(data)
        except Exception as exc:  # the report is journaled; `tillgw report` can show it again
            log.warning("%s not printed: %s", report.title, exc)

    app[_TASKS].start(print_it(), f"print {report.title}")
    return True


# -- the catalog ----------------------------------------------------------------------------

DEFAULT_SEARCH = 20  # results of a search when ?limit= is not given


def _query_text(request: web.Request, key: str, limit: int) -> str | None:
    value = request.query.get(key)
    if value is None:
        return None
    if not value.strip():
        raise ApiError(400, "bad_request", f"?{key}= is empty", key)
    if len(value) > limit:
        raise ApiError(400, "bad_request", f"?{key}= is {len(value)} characters; at most {limit}", key)
    reason = check_text(value)
    if reason is not None:
        raise ApiError(400, "bad_request", f"?{key}= {reason}", key)
    return value


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
    barcode, text = _query_text(request, "barcode", 64), _query_text(request, "q", 100)
    if barcode is not None and text is not None:
        raise ApiError(400, "bad_request", "give ?barcode= or ?q=, not both", "q")
    if barcode is not None:
        # On the event loop, no thread: an index lookup is microseconds (gateway.catalog.store).
        found = catalog.article_by_barcode(barcode)
        if found is None:
            raise ApiError(404, "not_found", f"no article has the barcode {barcode!r}", "barcode")
        return _json(found.to_json())
    if text is None:
        raise ApiError(
            400, "bad_request", "give ?barcode=… (a scanned code) or ?q=… (words of a name)", "barcode"
        )
    limit = _limit(request)
    articles = await catalog.search_articles(text, limit)
    return _json({"articles": [a.to_json() for a in articles], "limit": limit})


async def get_article(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    found = request.app[TILL].catalog.article(number)
    if found is None:
        raise ApiError(404, "not_found", f"there is no article number {number!r}")
    return _json(found.to_json())


async def get_customers(request: web.Request) -> web.Response:
    text = _query_text(request, "q", 100)
    if text is None:
        raise ApiError(400, "bad_request", "give ?q=… (words of a name, or a number)", "q")
    limit = _limit(request)
    customers = await request.app[TILL].catalog.search_customers(text, limit)
    return _json({"customers": [c.to_json() for c in customers], "limit": limit})


async def get_customer(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    found = request.app[TILL].catalog.customer(number)
    if found is None:
        raise ApiError(404, "not_found", f"there is no customer number {number!r}")
    return _json(found.to_json())


async def post_customer(request: web.Request) -> web.Response:
    """A customer made or changed at the till: journaled for the ERP, and in the catalog at once."""
    till = request.app[TILL]
    wanted = customer_request(await _body(request))  # CustomerError names the field: 422
    number = wanted.number or await till.catalog.provisional_number(till.config.pos_id)
    customer = wanted.with_number(number)
    # Journaled first: the change reaches the sync module through the outbox like every event.
    entry = await till.pipeline.record("customer.change", customer.to_json())
    created = await till.catalog.put_customer(customer)
    found = till.catalog.customer(number)
    assert found is not None
    return _json(
        {"customer": found.to_json(), "journal_entry": entry, "created": created}, 201 if created else 200
    )


# -- sales orders ---------------------------------------------------------------------------

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
    customer = _query_text(request, "customer", 50)
    if customer is None:
        raise ApiError(400, "bad_request", "give ?customer=… (the ERP's customer number)", "customer")
    answer = await _ask_for_orders(request, customer, None)
    if not answer.orders:
        raise ApiError(404, "not_found", f"the ERP has no open order of customer {customer!r}", "customer")
    return _json({"orders": [_order_json(o) for o in answer.orders]})


async def get_order(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    if len(number) > 50 or check_text(number) is not None:
        raise ApiError(400, "bad_request", "an order number is 1-50 characters without control characters")
    answer = await _ask_for_orders(request, _query_text(request, "customer", 50), number)
    found = [o for o in answer.orders if o.number == number]
    if not found:
        raise ApiError(404, "not_found", f"the ERP has no open order number {number!r}")
    return _json(_order_json(found[0]))


async def post_order(request: web.Request) -> web.Response:
    """A new sales order for the ERP: journaled as ``order.new``, sent through the outbox."""
    till = request.app[TILL]
    try:
        order = NewOrder.from_json({k: v for k, v in (await _body(request)).items()})
    except OrderFieldError as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None
    if order.reference is not None:
        raise ApiError(422, "invalid", "is given by the till, not the POS", "reference")
    entry = await till.pipeline.record("order.new", order.to_json())
    reference = await till.pipeline.order_reference(entry)
    return _json({"reference": reference, "journal_entry": entry, "order": order.to_json()}, 201)


async def get_status(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    status = await request.app[TILL].status()
    status["events"] = {"clients": hub.clients, "disconnected_as_too_slow": hub.dropped}
    return _json(status)


async def get_events(request: web.Request) -> web.StreamResponse:
    if not web.WebSocketResponse().can_prepare(request).ok:
        raise ApiError(
            400, "websocket_expected", f"{EVENTS_PATH} is a WebSocket: connect with a WebSocket client"
        )
    till = request.app[TILL]
    return await stream_events(request, request.app[HUB], till.status)


# -- the application ----------------------------------------------------------------------


def _device_listener(hub: EventHub, device: str, url: str) -> HealthListener:
    def listener(health: Health) -> None:
        hub.publish(
            "device",
            {
                "device": device,
                "url": url,
                "state": health.state.value,
                "reason": health.reason,
                "since": health.since.isoformat(timespec="seconds"),
            },
        )

    return listener


async def _device_events(app: web.Application) -> AsyncIterator[None]:
    """From start to cleanup: device state changes and completed receipts go to the event stream."""
    till, hub = app[TILL], app[HUB]
    stops = [till.unit.on_change(_device_listener(hub, "control_unit", till.unit.url))]
    if till.printer is not None:
        driver = till.printer.driver
        stops.append(driver.on_change(_device_listener(hub, "printer", driver.url)))
    if till.bus is not None:
        stops.append(till.bus.on_change(_device_listener(hub, "bus", till.bus.url)))
    updates = till.catalog_updates
    if updates is not None:
        stops.append(updates.on_change(_device_listener(hub, "catalog", updates.url)))
        updates.on_sync_status = lambda status: hub.publish("sync", status.to_json())

    def on_receipt(registered: RegisteredReceipt) -> None:
        """Every receipt the pipeline completes, whichever request (or start-up) completed it."""
        if hub.clients:  # its JSON made only when someone listens: most of the time nobody does
            hub.publish("receipt", registered.to_json())

    till.pipeline.on_receipt = on_receipt
    yield
    till.pipeline.on_receipt = None
    if updates is not None:
        updates.on_sync_status = None
    for stop in stops:
        stop()


async def _close_streams(app: web.Application) -> None:
    app[HUB].close()


async def _stop_tasks(app: web.Application) -> None:
    await app[_TASKS].stop()


def make_app(
    till: Till, *, event_queue: int = DEFAULT_QUEUE_SIZE, order_wait: float = ORDER_WAIT
) -> web.Application:
    """The API of ``till``. ``event_queue``: how many events a WebSocket client may fall behind;
    ``order_wait``: how many seconds to wait for the sync module's answer about orders."""
    max_body = till.config.api.max_body_kib * 1024
    sessions = Sessions.from_file(till.files.data_dir / SESSION_KEY_FILE)  # the status page's logins
    app = web.Application(
        client_max_size=max_body,
        middlewares=[error_middleware(max_body), auth_middleware(till.token, sessions)],
    )
    app[TILL] = till
    app[HUB] = EventHub(event_queue)
    app[_IDS] = _KeyedLocks()
    app[_TASKS] = _Background()
    app[_ORDER_WAIT] = order_wait
    app.cleanup_ctx.append(_device_events)
    app.on_shutdown.append(_close_streams)
    app.on_cleanup.append(_stop_tasks)
    receipt = r"/v1/receipts/{no:[0-9]{1,18}}"
    app.router.add_post("/v1/receipts", post_receipt)
    app.router.add_get(receipt, get_receipt, allow_head=False)
    app.router.add_post(receipt + "/copy", post_copy)
    app.router.add_post("/v1/drawer/open", open_drawer)
    app.router.add_post(EVENTS_PATH, post_event)
    app.router.add_get(EVENTS_PATH, get_events, allow_head=False)
    app.router.add_post("/v1/reports/{kind:[xz]}", post_report)
    app.router.add_get("/v1/status", get_status, allow_head=False)
    app.router.add_get("/v1/articles", get_articles, allow_head=False)
    app.router.add_get("/v1/articles/{number}", get_article, allow_head=False)
    app.router.add_get("/v1/customers", get_customers, allow_head=False)
    app.router.add_post("/v1/customers", post_customer)
    app.router.add_get("/v1/customers/{number}", get_customer, allow_head=False)
    add_history_routes(app, till)  # GET /v1/receipts?last=, GET /v1/reports/z?last=
    add_page_routes(app, sessions, till.token)  # the status page at /, its login and logout
    app.router.add_get("/v1/orders", get_orders, allow_head=False)
    app.router.add_post("/v1/orders", post_order)
    app.router.add_get("/v1/orders/{number}", get_order, allow_head=False)
    return app


class _AccessLogger(AbstractAccessLogger):
    """Method, path, status and time — never the query string (it may hold the token).

    A refused request at INFO, every request at DEBUG (``tillgw run -v``): a line per
    receipt tells a shop nothing the journal does not, and costs a twentieth of the
    gateway's time for each.
    """

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        level = logging.INFO if response.status >= 400 else logging.DEBUG
        if not self.logger.isEnabledFor(level):
            return
        self.logger.log(
            level,
            "%s %s %s %s %d %.1f ms",
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
        )


@contextlib.asynccontextmanager
async def serving(till: Till, host: str | None = None, port: int | None = None) -> AsyncIterator[str]:
    """Serve the API of ``till`` (on ``[api].listen`` unless given); yields its base URL."""
    host = till.config.api.host if host is None else host
    port = till.config.api.port if port is None else port
    runner = web.AppRunner(make_app(till), access_log_class=_AccessLogger)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        yield f"http://{shown}:{bound[1]}"
    finally:
        await runner.cleanup()
