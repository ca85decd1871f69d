"""The till's local HTTP API (docs/api.md): one aiohttp application over a
:class:`~gateway.till.Till`, assembled here from the modules that serve each part.

* :mod:`gateway.api.receipts` — receipts and their copies;
* :mod:`gateway.api.sales` — parked sales;
* :mod:`gateway.api.fiscal_events` — the drawer, the POS's events, X and Z reports;
* :mod:`gateway.api.catalog` and :mod:`gateway.api.orders` — articles, customers, sales orders;
* :mod:`gateway.api.status` — the till's status and the event stream, with
  :mod:`gateway.api.scans` for the scans on it;
* :mod:`gateway.api.history` and :mod:`gateway.api.page` — the last receipts and Z reports,
  and the status page.

``make_app(till)`` builds it; :func:`serving` runs it on a host and port until the block
ends (what ``tillgw run`` does after :meth:`Till.open`). The API adds no logic of its own
to fiscal matters: it reads and checks the request, calls the pipeline, and says what
happened — the pipeline decides numbers, registrations, copies and refusals.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from gateway.api.app_keys import HUB, PARKING, TILL
from gateway.api.auth import auth_middleware
from gateway.api.catalog import add_catalog_routes
from gateway.api.cors import cors_middleware
from gateway.api.errors import error_middleware
from gateway.api.events import DEFAULT_QUEUE_SIZE, EventHub
from gateway.api.fiscal_events import add_fiscal_event_routes
from gateway.api.history import add_history_routes
from gateway.api.openapi.document import add_openapi_route
from gateway.api.orders import ORDER_WAIT, add_order_routes
from gateway.api.page import SESSION_KEY_FILE, add_page_routes
from gateway.api.receipts import add_receipt_routes
from gateway.api.sales import add_sale_routes
from gateway.api.session import Sessions
from gateway.api.status import add_status_routes
from gateway.fiscal.parking import Parking
from gateway.till import Till

__all__ = ["make_app", "serving"]


def make_app(
    till: Till, *, event_queue: int = DEFAULT_QUEUE_SIZE, order_wait: float = ORDER_WAIT
) -> web.Application:
    """The API of ``till``. ``event_queue``: how many events a WebSocket client may fall behind;
    ``order_wait``: how many seconds to wait for the sync module's answer about orders."""
    max_body = till.config.api.max_body_kib * 1024
    sessions = Sessions.from_file(till.files.data_dir / SESSION_KEY_FILE)  # the status page's logins
    # CORS outermost, only when origins are listed: its headers go on every answer, errors
    # included, and a browser's preflight is answered before the token is asked for.
    cors_origins = till.config.api.cors_origins
    app = web.Application(
        client_max_size=max_body,
        middlewares=[
            *([cors_middleware(cors_origins)] if cors_origins else []),
            error_middleware(max_body),
            auth_middleware(till.token, sessions),
        ],
    )
    app[TILL] = till
    app[HUB] = EventHub(event_queue)
    app[PARKING] = Parking(till.store, till.config.pos_id)
    add_receipt_routes(app)  # POST /v1/receipts, GET /v1/receipts/{no}, POST …/{no}/copy
    add_sale_routes(app)  # POST /v1/sales/{id}/park|resume|abandon, GET /v1/sales/parked, …/{id}
    add_fiscal_event_routes(app)  # POST /v1/drawer/open, POST /v1/events, POST /v1/reports/x|z
    add_status_routes(app)  # GET /v1/status, GET /v1/events (WebSocket)
    add_catalog_routes(app)  # GET /v1/articles, GET|POST /v1/customers
    add_history_routes(app, till)  # GET /v1/receipts?last=, GET /v1/reports/z?last=
    add_page_routes(
        app, sessions, till.token, till.config.shop.language
    )  # the status page at /, its login and logout
    add_order_routes(app, order_wait)  # GET|POST /v1/orders, GET /v1/orders/{number}
    add_openapi_route(app)  # GET /v1/openapi.json: this API described, no token
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
