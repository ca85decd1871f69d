"""What the simulated units reached over HTTP (XCCSP, Infrasec TCS, srv4pos) share:
serving HTTP(S) with aiohttp in front of the simulated unit, and the unit's silences.

- ``no-reply``: the request is held open, unanswered, until the client gives up (or
  :data:`HOLD_SECONDS` pass, then the connection is dropped);
- a power cut (and any request while the unit is dark): the connection is dropped;
- the unit finishes what it started even if the client gives up (a slow registration
  still reaches journal memory), as a real service would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Coroutine
from typing import Any, ClassVar, NoReturn, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from firmware_sim.control_unit.pki import Pki
from firmware_sim.control_unit.unit import ControlUnit, NoReply

__all__ = ["FINISH_SECONDS", "HOLD_SECONDS", "MAX_BODY", "UnitHttpServer", "run_app", "server_tls_context"]

log = logging.getLogger("tillgw.sim.control_unit.http")

HOLD_SECONDS = 60.0  # no-reply: the longest a request is held before the connection drops
FINISH_SECONDS = 5.0  # on stop: how long started unit work may take to finish
MAX_BODY = 64 * 1024  # a request body above this gets HTTP 413

T = TypeVar("T")


def drop(request: web.BaseRequest) -> NoReturn:
    """End the request without a reply: the connection goes down, as with a dead service."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # aiohttp's way out of a handler whose connection is gone


def server_tls_context(pki: Pki, *, client_auth: bool) -> ssl.SSLContext:
    """TLS for a simulated service with the server certificate of ``pki``; with
    ``client_auth`` it demands a client certificate issued by that CA (and OpenSSL
    refuses expired ones)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if client_auth:
        context.load_verify_locations(cafile=pki.ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class UnitHttpServer:
    """The unit calls and silences of one simulated unit over HTTP; subclasses add the
    routes. ``hold_seconds`` (``None``: :data:`HOLD_SECONDS`) bounds a held request."""

    _log: ClassVar[logging.Logger] = log  # a subclass logs on its own service's logger

    def __init__(self, unit: ControlUnit, hold_seconds: float | None = None) -> None:
        self.unit = unit
        self.hold_seconds = HOLD_SECONDS if hold_seconds is None else hold_seconds
        self._stopping = asyncio.Event()
        self._work: set[asyncio.Task[Any]] = set()

    def app(self) -> web.Application:
        middlewares = [self._power, *self.middlewares()]
        app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def middlewares(self) -> list[Middleware]:
        """What a request passes after the power check (a login the server asks for)."""
        return []

    @web.middleware
    async def _power(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.unit.is_dark():  # a service without power answers nothing, not even a 404
            self._log.info("%s %s while the unit is dark: connection dropped", request.method, request.path)
            drop(request)
        response: web.StreamResponse = await handler(request)
        return response

    async def silence(self, request: web.Request, exc: NoReply) -> NoReturn:
        """What a :class:`NoReply` from the unit looks like to the client."""
        if exc.power_cut:
            self._log.info("power cut: connection dropped without a reply")
            drop(request)
        self._log.info("no reply: request held open (at most %g s)", self.hold_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.hold_seconds)
        self._log.info("no reply: held request dropped")
        drop(request)

    async def unit_call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the unit to its end even if the client gives up meanwhile."""
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._finished_alone)
            raise

    def _finished_alone(self, task: asyncio.Task[Any]) -> None:
        """Log what the unit did for a client that gave up waiting (and retrieve its error)."""
        if task.cancelled():
            return
        error = task.exception()
        self._log.info("the client gave up; the unit finished with %r", error or task.result())

    async def stop(self) -> None:
        """Drop held requests now; give started unit work :data:`FINISH_SECONDS` to end."""
        self._stopping.set()
        if self._work:
            _, pending = await asyncio.wait(set(self._work), timeout=FINISH_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


@contextlib.asynccontextmanager
async def run_app(
    server: UnitHttpServer, host: str, port: int, tls: ssl.SSLContext | None, path: str
) -> AsyncIterator[str]:
    """Serve ``server`` on ``host:port``; yields its base URL with ``path`` appended."""
    runner = web.AppRunner(
        server.app(), handler_cancellation=True, access_log=None, shutdown_timeout=FINISH_SECONDS
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://{bound_host}:{bound_port}{path}"
    finally:
        await server.stop()
        await runner.cleanup()
