"""The XCCSP front-end of the simulated unit: ``POST /xccsp`` over HTTP (aiohttp).

Each request is one XML document (:mod:`protocols.xccsp`) answered with one document,
through the same :class:`~firmware_sim.control_unit.unit.ControlUnit` as CCSP:
``RequestIdentity`` -> ``IdentityResponse``, ``RequestStatus`` -> ``StatusResponse``,
``RegisterReceipt`` -> ``RegisterReceiptResponse`` (key ``seq:<SerialNo>``, the key of
CCSP v2's sequence number), each with the wrapper element the real service uses. A
refusal is a ``Fault`` document. docs/protocols/xccsp.md gives the choices in full; in
short:

- every XCCSP document, a ``Fault`` included, goes out with HTTP 200 and
  ``Content-Type: text/xml; charset=iso-8859-1``; HTTP errors are for HTTP-level
  problems (401 without the right credentials, 404 wrong path, 405 wrong method, 413
  body over :data:`MAX_BODY`) and for the ``server-error`` fault (500);
- with ``credentials`` the server asks for them as the real ones do: HTTP Basic (the
  hosted service) or Digest, MD5, ``qop="auth"``, realm ``CleanCash Server`` (a LAN
  server), answering 401 with the matching ``WWW-Authenticate`` challenge;
- :meth:`XccspServer.set_no_unit` makes it a server that has lost its unit: status says
  main status 99, everything else is Fault 99;
- training and pro forma receipts are answered with an empty ``<Code />``;
- ``no-reply``, a power cut and a dark unit as every simulated unit over HTTP
  (:mod:`firmware_sim.control_unit.http_server`): the request held open, the connection
  dropped;
- ``corrupt-lrc: the reply is cut in half (status 200, not well-formed XML);
- ``noise``: the noise bytes go out before the XML declaration;
- the unit finishes what it started even if the client gives up (a slow registration
  still reaches journal memory), as a unit on a serial line would.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Literal, TypeAlias

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from firmware_sim.control_unit.http_server import MAX_BODY, UnitHttpServer, run_app
from firmware_sim.control_unit.unit import ControlUnit, NoReply, Refused, ServerError
from protocols import xccsp
from protocols.ccsp import MainStatus, NakCode

log = logging.getLogger("tillgw.sim.control_unit.xccsp")

__all__ = ["MAX_BODY", "REALM", "HttpAuth", "XccspServer", "fault_of", "serve_http", "serve_xccsp"]

REALM = "CleanCash Server"  # the realm a CleanCash LAN server names in its Digest challenge
NONCES_KEPT = 64  # Digest nonces a client may still use; older ones get a fresh challenge

_FAULT_OF_NAK: dict[int, xccsp.FaultCode] = {
    int(nak): code for code in xccsp.FaultCode if (nak := code.nak) is not None
}
# NAK codes that cannot happen over HTTP (or have no fault of their own): invalid data.
_INVALID_DATA_NAKS = frozenset({NakCode.INVALID_LRC, NakCode.INVALID_SEQUENCE, NakCode.DEPRECATED})

Credentials: TypeAlias = tuple[str, str]
AuthScheme: TypeAlias = Literal["basic", "digest"]


def fault_of(refused: Refused, request: xccsp.Request | None = None) -> xccsp.Fault:
    """The XCCSP fault a unit's refusal (a CCSP NAK number) is answered with.

    NAK 011 (sequence number used for other data) has no XCCSP code: it becomes Fault 3
    and the message says what happened. NAKs that cannot happen over HTTP (001, 004,
    005) become Fault 3 too. Any other number (a ``nak=42`` fault) goes out as the fault
    code of that number, so a register can be shown a code it does not know.
    """
    nak = int(refused.code)
    if nak == NakCode.INVALID_SEQUENCE_NUMBER:
        serial = f" {request.serial_no}" if isinstance(request, xccsp.RegisterReceipt) else ""
        return xccsp.Fault.of(
            xccsp.FaultCode.INVALID_DATA,
            f"RegisterReceipt/SerialNo: SerialNo{serial} is already registered with other data "
            f"(CCSP NAK 011); resend the same data to get its code, or use a new SerialNo",
        )
    code = _FAULT_OF_NAK.get(nak)
    if code is None and nak in _INVALID_DATA_NAKS:
        code = xccsp.FaultCode.INVALID_DATA
    if code is None and nak in (xccsp.FaultCode.SERVER_ERROR, xccsp.FaultCode.NO_UNIT):
        code = xccsp.FaultCode(nak)
    if code is None:
        return xccsp.Fault(nak, "Unknown error", f"simulated fault code {nak}")
    known = nak in NakCode.__members__.values()
    return xccsp.Fault.of(code, f"{NakCode(nak).text if known else code.text} (CCSP NAK {nak:03d})")


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


_AUTH_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class HttpAuth:
    """The credentials a server asks for, checked as RFC 7617 (Basic) or RFC 7616 /
    2617 (Digest: MD5, ``qop="auth"``, a fresh nonce per challenge, a rising ``nc``)."""

    def __init__(self, credentials: Credentials, scheme: AuthScheme = "basic") -> None:
        if scheme not in ("basic", "digest"):
            raise ValueError(f"auth must be 'basic' or 'digest', not {scheme!r}")
        self.user, self.password = credentials
        self.scheme = scheme
        self._opaque = secrets.token_hex(16)
        self._nonces: OrderedDict[str, int] = OrderedDict()  # nonce -> the highest nc used

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` header of a 401."""
        if self.scheme == "basic":
            return f'Basic realm="{REALM}"'
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = 0
        while len(self._nonces) > NONCES_KEPT:
            self._nonces.popitem(last=False)
        return f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}", opaque="{self._opaque}"'

    def allows(self, request: web.BaseRequest) -> bool:
        scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if self.scheme == "basic":
            return scheme.lower() == "basic" and self._basic_matches(value.strip())
        return scheme.lower() == "digest" and self._digest_matches(request, value)

    def _basic_matches(self, token: str) -> bool:
        try:
            given = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{self.user}:{self.password}"
        # Clients differ in how they encode non-ASCII credentials: accept UTF-8 and Latin-1.
        candidates = {expected.encode("utf-8"), expected.encode("latin-1", errors="replace")}
        return any(hmac.compare_digest(given, candidate) for candidate in candidates)

    def _digest_matches(self, request: web.BaseRequest, value: str) -> bool:
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _AUTH_PARAM_RE.finditer(value)
        }
        nonce = params.get("nonce", "")
        if (
            params.get("username") != self.user
            or params.get("realm") != REALM
            or nonce not in self._nonces
            or params.get("opaque", self._opaque) != self._opaque
            or params.get("uri") != request.path_qs
            or params.get("qop") != "auth"
            or params.get("algorithm", "MD5").upper() != "MD5"
        ):
            return False
        try:
            nc = int(params.get("nc", ""), 16)
        except ValueError:
            return False
        if nc <= self._nonces[nonce]:  # a replayed request
            return False
        ha1 = _md5(f"{self.user}:{REALM}:{self.password}")
        ha2 = _md5(f"{request.method}:{request.path_qs}")
        expected = _md5(f"{ha1}:{nonce}:{params['nc']}:{params.get('cnonce', '')}:auth:{ha2}")
        if not hmac.compare_digest(expected, params.get("response", "")):
            return False
        self._nonces[nonce] = nc
        return True


class XccspServer(UnitHttpServer):
    """The HTTP side of one simulated unit. :func:`serve_xccsp` runs it.

    ``credentials`` (user, password): the server asks for them, by ``auth`` (HTTP Basic
    as the hosted service, or Digest as a LAN server); ``None`` asks for nothing.
    """

    _log = log

    def __init__(
        self,
        unit: ControlUnit,
        hold_seconds: float | None = None,
        *,
        credentials: Credentials | None = None,
        auth: AuthScheme = "basic",
    ) -> None:
        super().__init__(unit, hold_seconds)
        self.auth = HttpAuth(credentials, auth) if credentials is not None else None
        self.no_unit = False  # the server has lost its unit (set_no_unit)

    def set_no_unit(self, lost: bool = True) -> None:
        """Make the server one that has lost its unit (status: main status 99; everything
        else: Fault 99), or give it back."""
        self.no_unit = lost
        log.info("the server %s its control unit", "has lost" if lost else "has found")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(xccsp.HTTP_PATH, self.handle)

    def middlewares(self) -> list[Middleware]:
        return [] if self.auth is None else [self._auth_middleware(self.auth)]

    @staticmethod
    def _auth_middleware(auth: HttpAuth) -> Middleware:
        @web.middleware
        async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not auth.allows(request):
                # Read what was sent so the client sees the 401, not a reset connection.
                await request.read()
                log.info("%s %s: 401, no valid %s credentials", request.method, request.path, auth.scheme)
                return web.Response(
                    status=401, text="401: Unauthorized", headers={hdrs.WWW_AUTHENTICATE: auth.challenge()}
                )
            return await handler(request)

        return authenticate

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # raises HTTP 413 above MAX_BODY
        log.debug("rx %s", body.decode(xccsp.ENCODING))
        try:
            reply = await self._answer(body)
        except ServerError as exc:
            log.info("server error: HTTP 500")
            return web.Response(status=500, text=f"500 Internal Server Error: {exc}")
        except NoReply as exc:
            await self.silence(request, exc)
        data = xccsp.encode_reply(reply)
        if self.unit.take_corruption():
            data = data[: len(data) // 2]
        data = self.unit.take_noise() + data
        log.debug("tx %s", data.decode(xccsp.ENCODING))
        return web.Response(body=data, headers={hdrs.CONTENT_TYPE: xccsp.CONTENT_TYPE})

    async def _answer(self, body: bytes) -> xccsp.Reply | xccsp.Fault:
        try:
            try:
                request = xccsp.decode_request(body)
                error = _envelope_pos_id_error(body, request)
                if error is not None:
                    raise error
            except xccsp.XccspError as exc:
                await self.unit_call(self.unit.status())  # a bad request still meets the faults
                log.info("refused: %s", exc)
                return exc.to_fault()
            try:
                return await self._dispatch(request)
            except Refused as exc:
                log.info("refused %s: %s", request.TYPE, exc)
                return fault_of(exc, request)
        except (NoReply, ServerError):
            raise
        except Exception as exc:
            log.exception("error answering an XCCSP request")
            return xccsp.Fault.of(xccsp.FaultCode.SERVER_ERROR, f"{type(exc).__name__}: {exc}")

    async def _dispatch(self, request: xccsp.Request) -> xccsp.Reply | xccsp.Fault:
        unit = self.unit
        if self.no_unit:
            return self._without_unit(request)
        match request:
            case xccsp.RequestIdentity():
                ident = await self.unit_call(unit.identity())
                return xccsp.IdentityResponse(ident.unit_id, ident.firmware, ident.model)
            case xccsp.RequestStatus():
                ident = await self.unit_call(unit.identity())
                status = unit.current_status()
                return xccsp.StatusResponse(
                    ident.unit_id, ident.firmware, ident.licences, status.main, status.storage, ident.model
                )
            case xccsp.RegisterReceipt(serial_no=serial, data=data):
                done = await self.unit_call(unit.register(f"seq:{serial}", data))
                return xccsp.RegisterReceiptResponse(done.code, done.unit_id, done.main, done.storage)
        raise Refused(NakCode.UNKNOWN_MESSAGE)

    def _without_unit(self, request: xccsp.Request) -> xccsp.Reply | xccsp.Fault:
        """A server that has lost its unit: it still says how it is, and nothing else."""
        if isinstance(request, xccsp.RequestStatus):
            return xccsp.StatusResponse(
                self.unit.unit_id, "", None, MainStatus.NO_UNIT, self.unit.current_status().storage, ""
            )
        return xccsp.Fault.of(xccsp.FaultCode.NO_UNIT, "the server has no connection with its CleanCash unit")


@contextlib.asynccontextmanager
async def serve_xccsp(server: XccspServer, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``server`` on ``host:port``; yields the URL a register POSTs to.

    ``port`` 0 takes a free port; the URL names the port bound
    (``http://127.0.0.1:40123/xccsp``). It never holds the credentials.
    """
    async with run_app(server, host, port, None, xccsp.HTTP_PATH) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_http(
    unit: ControlUnit,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    hold_seconds: float | None = None,
    credentials: Credentials | None = None,
    auth: AuthScheme = "basic",
) -> AsyncIterator[str]:
    """Serve XCCSP for ``unit`` on ``host:port``; yields the URL (see :func:`serve_xccsp`).

    ``credentials`` and ``auth`` as :class:`XccspServer`.
    """
    server = XccspServer(unit, hold_seconds, credentials=credentials, auth=auth)
    async with serve_xccsp(server, host, port) as url:
        yield url
