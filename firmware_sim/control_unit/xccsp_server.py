"""The XCCSP front-end of the simulated unit: ``POST /xccsp`` over HTTP (aiohttp).

Each request is one XML document (:mod:`protocols.xccsp`) answered with one document,
through the same :class:`~firmware_sim.control_unit.unit.ControlUnit` as CCSP:
``RequestIdentity`` -> ``IdentityResponse``, ``RequestStatus`` -> ``StatusResponse``,
``RegisterReceipt`` -> ``RegisterReceiptResponse`` (key ``seq:<SerialNo>``, the key of
CCSP v2's sequence number). A refusal is a ``Fault`` document; the mapping from the
unit's CCSP error codes and the simulator's faults over HTTP are choices 17-26 of
docs/protocols/xccsp.md. In short:

- every XCCSP document, a ``Fault`` included, goes out with HTTP 200 and
  ``Content-Type: text/xml; charset=ISO-8859-1``; only HTTP-level problems get an HTTP
  error (404 wrong path, 405 wrong method, 413 body over :data:`MAX_BODY`);
- ``no-reply``: the request is held open, unanswered, until the client gives up (or
  :data:`HOLD_SECONDS` pass, then the connection is dropped);
- a power cut (and any request while the unit is dark): the connection is dropped;
- ``corrupt-lrc``: the reply is cut in half (status 200, not well-formed XML);
- ``noise``: the noise bytes go out before the XML declaration;
- the unit finishes what it started even if the client gives up (a slow registration
  still reaches journal memory), as a unit on a serial line would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from firmware_sim.control_unit.unit import ControlUnit, NoReply, Refused
from protocols import xccsp
from protocols.ccsp import NakCode

log = logging.getLogger("tillgw.sim.control_unit.xccsp")

MAX_BODY = 64 * 1024  # a request body above this gets HTTP 413
HOLD_SECONDS = 60.0  # no-reply: the longest a request is held before the connection drops
FINISH_SECONDS = 5.0  # on stop: how long started unit work may take to finish

_FAULT_OF_NAK: dict[NakCode, xccsp.FaultCode] = {
    nak: code for code in xccsp.FaultCode if (nak := code.nak) is not None
}

T = TypeVar("T")


def fault_of(refused: Refused, request: xccsp.Request | None = None) -> xccsp.Fault:
    """The XCCSP fault a unit's refusal (a CCSP NAK code) is answered with.

    NAK 011 (sequence number used for other data) has no XCCSP code: it becomes Fault 3
    and the message says what happened. NAK 001 (invalid LRC) and 004 (invalid sequence)
    cannot happen over HTTP but a ``nak`` fault can ask for them: they become Fault 3 too.
    """
    nak = refused.code
    if nak is NakCode.INVALID_SEQUENCE_NUMBER:
        serial = f" {request.serial_no}" if isinstance(request, xccsp.RegisterReceipt) else ""
        return xccsp.Fault.of(
            xccsp.FaultCode.INVALID_DATA,
            f"RegisterReceipt/SerialNo: SerialNo{serial} is already registered with other data "
            f"(CCSP NAK 011); resend the same data to get its code, or use a new SerialNo",
        )
    code = _FAULT_OF_NAK.get(nak, xccsp.FaultCode.INVALID_DATA)
    return xccsp.Fault.of(code, f"{nak.text} (CCSP NAK {int(nak):03d})")


def _pos_id_of(request: xccsp.Request) -> str:
    match request:
        case xccsp.RegisterReceipt(data=data):
            return data.pos_id
        case xccsp.RequestIdentity(pos_id=pos_id) | xccsp.RequestStatus(pos_id=pos_id):
            return pos_id
    raise TypeError(f"{request!r} carries no POS id")


def _envelope_pos_id_error(body: bytes, request: xccsp.Request) -> xccsp.DataError | None:
    """A ``PosId`` beside ``type`` and ``data`` must be the PosId inside ``data``.

    The codec reads only ``data``; a register that also puts the POS id on the envelope
    must not get a receipt registered under another POS id than it thinks.
    """
    data_pos_id = _pos_id_of(request)
    for envelope_pos_id in xccsp.envelope_pos_ids(body):
        if envelope_pos_id != data_pos_id:
            return xccsp.DataError(
                "request/PosId",
                f"{envelope_pos_id!r} does not match {request.TYPE}/PosId {data_pos_id!r}",
            )
    return None


def _drop(request: web.BaseRequest) -> NoReturn:
    """End the request without a reply: the connection goes down, as with a dead unit."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    # aiohttp's own way out of a handler whose connection is gone: no response is written.
    raise asyncio.CancelledError


def _finished_alone(task: asyncio.Task[Any]) -> None:
    """Log what the unit did for a client that gave up waiting (and retrieve its error)."""
    if task.cancelled():
        return
    error = task.exception()
    log.info("the client gave up; the unit finished with %r", error or task.result())


class XccspServer:
    """The HTTP side of one simulated unit. :func:`serve_http` runs it."""

    def __init__(self, unit: ControlUnit, hold_seconds: float = HOLD_SECONDS) -> None:
        self.unit = unit
        self.hold_seconds = hold_seconds
        self._stopping = asyncio.Event()
        self._work: set[asyncio.Task[Any]] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._power_middleware()])
        app.router.add_post(xccsp.HTTP_PATH, self.handle)
        return app

    def _power_middleware(self) -> Middleware:
        unit = self.unit

        @web.middleware
        async def power(request: web.Request, handler: Handler) -> web.StreamResponse:
            if unit.is_dark():  # a unit without power answers nothing, not even a 404
                log.info("%s %s while the unit is dark: connection dropped", request.method, request.path)
                _drop(request)
            return await handler(request)

        return power

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # raises HTTP 413 above MAX_BODY
        log.debug("rx %s", body.decode(xccsp.ENCODING))
        try:
            reply = await self._answer(body)
        except NoReply as exc:
            if exc.power_cut:
                log.info("power cut: connection dropped without a reply")
                _drop(request)
            log.info("no reply: request held open (at most %g s)", self.hold_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.hold_seconds)
            log.info("no reply: held request dropped")
            _drop(request)
        data = xccsp.encode_reply(reply)
        if self.unit.take_corruption():
            data = data[: len(data) // 2]
        data = self.unit.take_noise() + data
        log.debug("tx %s", data.decode(xccsp.ENCODING))
        return web.Response(body=data, content_type="text/xml", charset=xccsp.ENCODING)

    async def _answer(self, body: bytes) -> xccsp.Reply | xccsp.Fault:
        try:
            try:
                request = xccsp.decode_request(body)
                error = _envelope_pos_id_error(body, request)
                if error is not None:
                    raise error
            except xccsp.XccspError as exc:
                await self._unit_call(self.unit.status())  # a bad request still meets the faults
                log.info("refused: %s", exc)
                return exc.to_fault()
            try:
                return await self._dispatch(request)
            except Refused as exc:
                log.info("refused %s: %s", request.TYPE, exc)
                return fault_of(exc, request)
        except NoReply:
            raise
        except Exception as exc:
            log.exception("error answering an XCCSP request")
            return xccsp.Fault.of(xccsp.FaultCode.SERVER_ERROR, f"{type(exc).__name__}: {exc}")

    async def _dispatch(self, request: xccsp.Request) -> xccsp.Reply:
        unit = self.unit
        match request:
            case xccsp.RequestIdentity():
                ident = await self._unit_call(unit.identity())
                return xccsp.IdentityResponse(ident.unit_id, ident.firmware, ident.model)
            case xccsp.RequestStatus():
                ident = await self._unit_call(unit.identity())
                status = unit.current_status()
                return xccsp.StatusResponse(
                    ident.unit_id, ident.firmware, ident.licences, status.main, status.storage, ident.model
                )
            case xccsp.RegisterReceipt(serial_no=serial, data=data):
                done = await self._unit_call(unit.register(f"seq:{serial}", data))
                return xccsp.RegisterReceiptResponse(done.code, done.unit_id, done.main, done.storage)
        raise Refused(NakCode.UNKNOWN_MESSAGE)

    async def _unit_call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the unit to its end even if the client gives up meanwhile."""
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_finished_alone)
            raise

    async def stop(self) -> None:
        """Drop held requests now; give started unit work :data:`FINISH_SECONDS` to end."""
        self._stopping.set()
        if self._work:
            _, pending = await asyncio.wait(set(self._work), timeout=FINISH_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


@contextlib.asynccontextmanager
async def serve_http(
    unit: ControlUnit,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    hold_seconds: float = HOLD_SECONDS,
) -> AsyncIterator[str]:
    """Serve XCCSP on ``host:port``; yields the URL a register POSTs to.

    ``port`` 0 takes a free port; the URL names the port bound
    (``http://127.0.0.1:40123/xccsp``).
    """
    server = XccspServer(unit, hold_seconds)
    runner = web.AppRunner(
        server.app(), handler_cancellation=True, access_log=None, shutdown_timeout=FINISH_SECONDS
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        yield f"http://{bound_host}:{bound_port}{xccsp.HTTP_PATH}"
    finally:
        await server.stop()
        await runner.cleanup()
