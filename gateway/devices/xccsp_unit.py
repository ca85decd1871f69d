"""The XCCSP driver: a CleanCash control unit reached over HTTP (``POST /xccsp``, XML).

:class:`XccspControlUnit` implements :class:`~gateway.devices.fiscal_unit.ControlUnit`
over XCCSP (:mod:`protocols.xccsp`, docs/protocols/xccsp.md), with the same retry,
deadline and health rules as the CCSP driver (:mod:`gateway.devices.control_unit`), so
the fiscal pipeline sees no difference: both run their tries through
:class:`~gateway.devices.unit_operation.RetryingUnit`, and this module adds HTTP.

The HTTP side: one aiohttp ``ClientSession`` per driver, opened on first use; a
connection limit of 1 and one operation at a time, so requests reach the server strictly
one after the other, as on a serial line; a new connection per request
(``force_close``), so a connection the server closed while idle is never reused; no
redirects followed; replies over 64 KiB are not read. ``https://`` addresses are checked
against the system's trust store, or against ``ca_cert`` (a PEM file) when given.

Credentials: ``http://user:password@host:8081/xccsp``. They are sent as HTTP Basic with
every request (the hosted service, as NaviPartner's client does); when a server answers
401 with a ``Digest`` challenge (a LAN server: MD5, ``qop=auth``, realm ``CleanCash
Server``) the driver resends at once with Digest and keeps using it. A 401 that
remains is final: :class:`ControlUnitUnavailable` and state ``failed`` ("… refused the
user name or password — check them in [control_unit] url"), no retries. The credentials
are never in :attr:`url`, a reason, an exception, a log line or a frame record.

Retry and deadline policy (numbers are the constructor's defaults, as in CCSP):

* every request has a deadline (``request_timeout``, 2 s), connecting included;
* a request is tried at most ``1 + retries`` times (3); every try sends the same
  request, the same ``SerialNo`` included, so a server that did register the first time
  ignores the repeat and answers with the same code;
* retried at once: no answer before the deadline (the deadline was the wait), and an
  answer that is not the XCCSP reply the request expects (cut short, noise before it,
  another ``type`` or wrapper, a control code not of CleanCash's shape): each such
  try is logged with the reply's first bytes, and the words at the end name it;
* retried after a pause that fills the try up to ``request_timeout``: a connection that
  could not be made or was dropped (a unit rebooting after a power cut drops at once),
  HTTP 5xx, Fault 98 (server error), Fault 99 or main status 99 without a code (the
  server has lost its control unit). So a dead unit costs each try its full deadline,
  like a silent serial line, and the driver gives up after at most
  ``(1 + retries) × request_timeout`` (6 s) plus any busy wait;
* Fault 6 (not operational): the driver asks ``RequestStatus``; while it says busy
  (main status 5) it waits, polling every ``busy_poll`` (0.5 s) for at most
  ``busy_timeout`` (10 s) per call, then sends the same request again (a new try);
* Faults 2, 3, 7, 8, 9, 10 are final: :class:`ControlUnitRefused` with the CCSP NAK
  code of the same meaning (``FaultCode.nak``), what the server said (``Fault 7:
  Invalid POS Id (…)``) and :func:`refusal_words`; 2, 7, 9 and 10 make the driver
  ``failed``, 8 ``degraded`` (``REFUSAL_HEALTH``) until a receipt is registered again;
* a fault code this gateway does not know is a refusal too (the server answered and
  said no): :class:`ControlUnitRefused` with ``code=None``, its number in the words;
* any other HTTP status (404 wrong path, 405, 413, 3xx), a persisting 401 and a TLS
  certificate that is not trusted: the address or the settings are wrong, not the
  unit; no retry: :class:`ControlUnitUnavailable` at once, state ``failed``;
* out of tries: :class:`ControlUnitUnavailable`, and the state becomes ``failed`` with
  the same words ("no answer from the control unit at http://… after 3 tries — check
  that it is powered and on the network").

Unlike CCSP, an HTTP answer always belongs to its request, so no late answer can be
taken for a new one and there is no resynchronisation.

``IsNewSession`` is ``1`` on every ``RegisterReceipt`` until the server has answered
one (with a code or a refusal) since :meth:`XccspControlUnit.start` — or since the
driver was made, if the first call is a registration — and ``0`` after. All tries of
one registration send the same value.

Every document is logged on ``tillgw.devices.xccsp_unit.frames`` (DEBUG) and kept in
the :class:`~gateway.devices.fiscal_unit.Registration` as a ``tx``/``rx``
:class:`~gateway.devices.fiscal_unit.FrameRecord` (the raw HTTP bodies, never headers).
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn, TypeAlias, TypeVar
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import aiohttp

from gateway.devices.fiscal_unit import (
    ControlUnit,
    ControlUnitRefused,
    ControlUnitUnavailable,
    Registration,
    UnitIdentity,
    UnitStatus,
    needs_code,
)
from gateway.devices.health import DeviceState
from gateway.devices.unit_operation import (
    CLEANCASH_CODE,
    Direction,
    Operation,
    Retry,
    RetryingUnit,
    UnitProblem,
)
from protocols import xccsp
from protocols.ccsp import MainStatus
from protocols.skv import ControlData, validate_orgnr

__all__ = [
    "DEFAULT_BUSY_POLL",
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_RETRIES",
    "MAX_REPLY",
    "XCCSP_VERSION",
    "XccspControlUnit",
]

log = logging.getLogger("tillgw.devices.xccsp_unit")
frame_log = logging.getLogger("tillgw.devices.xccsp_unit.frames")

DEFAULT_REQUEST_TIMEOUT = 2.0
DEFAULT_RETRIES = 2
DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_BUSY_POLL = 0.5
MAX_REPLY = 64 * 1024  # a reply above this is not an XCCSP answer; it is not read on
REPLY_EXCERPT = 160  # characters of an unusable reply quoted in the words and the log
XCCSP_VERSION = 1  # XCCSP has no version number on the wire; this is the one we know

R = TypeVar("R")


class _Problem(enum.Enum):
    """What a try over XCCSP can meet besides the :class:`UnitProblem` of any protocol."""

    NO_REPLY = "no reply"
    DROPPED = "connection dropped"
    CANNOT_CONNECT = "cannot connect"
    DAMAGED = "unreadable reply"
    SERVER_ERROR = "server error"
    NO_UNIT = "no unit behind the server"


_Op: TypeAlias = Operation[UnitProblem | _Problem]
Credentials: TypeAlias = tuple[str, str]


class _NoRetry(Exception):
    """The address or the settings are wrong, not the unit: no retry will help."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


def _without_userinfo(parts: SplitResult) -> SplitResult:
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host)


def _xccsp_url(url: str) -> str:
    """``url`` checked and without its credentials, with the path ``/xccsp`` added when it
    names none. An error never repeats the credentials."""
    parts = urlsplit(url)
    shown = urlunsplit(_without_userinfo(parts))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an XCCSP address like http://host:8081/xccsp")
    parts = _without_userinfo(parts)
    if parts.path in ("", "/"):
        parts = parts._replace(path=xccsp.HTTP_PATH)
    return urlunsplit(parts)


def _credentials_of(url: str) -> Credentials | None:
    """The user name and password in ``url`` (percent-decoded), or ``None``."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    user, password = unquote(parts.username), unquote(parts.password or "")
    if ":" in user:
        raise ValueError("the user name in the control unit's url may not hold ':'")
    return user, password


def _tls_context(ca_cert: Path | None) -> ssl.SSLContext | bool:
    """Certificates checked against ``ca_cert`` (PEM) or, without one, the system's store."""
    if ca_cert is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_cert))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"the CA certificate {str(ca_cert)!r} cannot be used: {exc}") from None


def _excerpt(data: bytes) -> str:
    """The start of a reply, for words and logs (XCCSP is Latin-1; any byte decodes)."""
    text = data[:REPLY_EXCERPT].decode(xccsp.ENCODING)
    return repr(text + ("…" if len(data) > REPLY_EXCERPT else ""))


def _connect_error_words(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"its certificate is not trusted ({exc.certificate_error})"
    error = exc.os_error
    if isinstance(error, socket.gaierror):
        return f"the name {exc.host!r} is not known"
    if error.errno:
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


class XccspControlUnit(RetryingUnit[UnitProblem | _Problem], ControlUnit):
    """A control unit speaking XCCSP at ``url`` for the register ``pos_id`` of ``orgnr``.

    ``url`` is ``http://host:port/xccsp`` (``http://host:8081`` gets the path added), with
    the service's user name and password in it when it asks for them
    (``http://user:password@host:8081/xccsp``); :attr:`url` shows it without them.
    ``ca_cert`` is a PEM file of the CA an ``https://`` server's certificate is checked
    against (default: the system's trust store). ``orgnr`` is the shop's
    organisationsnummer, sent in every request (``556123-4567`` is accepted and sent
    without the hyphen); receipts must carry the same one. Nothing is opened until
    :meth:`start` or the first call; every call is safe to make concurrently (they are
    served one at a time). ``watch_interval`` (seconds) makes the driver ask the unit's
    status while idle, as the CCSP driver does.
    """

    _log = log

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        ca_cert: Path | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        busy_poll: float = DEFAULT_BUSY_POLL,
        watch_interval: float | None = None,
    ) -> None:
        self._credentials = _credentials_of(url)  # before the base class keeps url without them
        super().__init__(
            url,
            pos_id,
            request_timeout=request_timeout,
            retries=retries,
            busy_timeout=busy_timeout,
            busy_poll=busy_poll,
            watch_interval=watch_interval,
        )
        self._orgnr = validate_orgnr(orgnr)
        self._tls = _tls_context(ca_cert) if self._url.startswith("https:") else True
        self.unit_type: str | None = None  # the unit's model, as its Identity names it
        self._licences: int | None = None  # InstalledLicenses of the last Status
        self._session: aiohttp.ClientSession | None = None
        self._digest = False  # the server asked for Digest: every request uses it from then on
        self._closed = False
        self._identity_stale = False  # an answer named another unit: ask again first
        self._new_session = True  # IsNewSession for the next RegisterReceipt (module doc)

    # -- the ControlUnit interface ------------------------------------------------------

    @property
    def orgnr(self) -> str:
        return self._orgnr

    async def start(self) -> UnitIdentity:
        """The handshake (``RequestIdentity``, then ``RequestStatus``); starts a session.

        Raises :class:`ControlUnitUnavailable` (or :class:`ControlUnitRefused` if the unit
        refuses this POS id even a status).
        """
        self._start_watching()
        self._new_session = True
        return await self.identity()

    async def identity(self) -> UnitIdentity:
        """Ask the unit who it is (``RequestIdentity``, then ``RequestStatus``)."""
        return await self._operate("handshake", self._identify, identify=False)

    async def register(self, seq: int, data: ControlData, *, cashier: str = "") -> Registration:
        """Register one receipt (``RegisterReceipt`` with ``SerialNo`` = ``seq``).

        Sending the same ``seq`` and data again (after a crash, say) returns the same
        code and stores nothing new. ``cashier`` is not sent: a ``Receipt`` has no field
        for it.
        """
        if isinstance(seq, bool) or not 1 <= seq <= xccsp.SERIAL_MAX:
            raise ValueError(f"seq {seq} is outside 1..{xccsp.SERIAL_MAX}")
        if data.pos_id != self._pos_id:
            raise ValueError(
                f"receipt for POS id {data.pos_id!r} sent to the control unit of {self._pos_id!r}"
            )
        if data.orgnr != self._orgnr:
            raise ValueError(
                f"receipt for organisation number {data.orgnr} sent to the control unit of {self._orgnr}"
            )

        request = xccsp.RegisterReceipt(seq, self._new_session, data)  # the same on every try

        async def body(op: _Op) -> Registration:
            return await self._register(op, request)

        return await self._operate(f"seq={seq} receipt={data.receipt_no}", body, identify=True)

    async def close(self) -> None:
        self._closed = True
        await self._stop_watching()
        await self._close_session()

    # -- operations and their tries -----------------------------------------------------

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
            if self._digest and self._credentials is not None:
                middlewares = (aiohttp.DigestAuthMiddleware(*self._credentials),)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1, force_close=True, ssl=self._tls),
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
                headers={"Content-Type": xccsp.CONTENT_TYPE},
                middlewares=middlewares,
            )
        return self._session

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _checked_url(self, url: str) -> str:
        return _xccsp_url(url)

    def _log_frame(self, label: str, direction: Direction, data: bytes, note: str) -> None:
        if frame_log.isEnabledFor(logging.DEBUG):
            text = data.decode(xccsp.ENCODING)
            frame_log.debug("%s %s%s\n%s", label, direction, f" ({note})" if note else "", text)

    async def _try(self, op: _Op, body: Callable[[_Op], Awaitable[R]], *, identify: bool) -> R:
        if self._closed:
            raise ControlUnitUnavailable("the gateway is shutting down")
        try:
            if identify and (self._identity is None or self._identity_stale):
                await self._identify(op)
            return await body(op)
        except _NoRetry as hopeless:
            self._health.set(DeviceState.FAILED, hopeless.words)
            log.warning("%s %s: %s", self.url, op.label, hopeless.words)
            raise ControlUnitUnavailable(hopeless.words) from None

    def _give_up_words(self, last: Retry[UnitProblem | _Problem], tries: str) -> str:
        url = self.url
        match last.problem:
            case _Problem.NO_REPLY | _Problem.DROPPED:
                return (
                    f"no answer from the control unit at {url} after {tries} — "
                    "check that it is powered and on the network"
                )
            case _Problem.CANNOT_CONNECT:
                return (
                    f"cannot connect to the control unit at {url} ({last.detail}) after {tries} — "
                    "check that it is powered and on the network, and that the address is right"
                )
            case _Problem.DAMAGED:
                return (
                    f"the control unit at {url} answered with something that is no usable XCCSP reply "
                    f"({last.detail}; {tries}) — restart it; if that does not help, call the supplier"
                )
            case _Problem.SERVER_ERROR:
                return (
                    f"the control unit server at {url} reported a server error ({last.detail}; {tries}) — "
                    "restart it; if that does not help, call the supplier"
                )
            case _Problem.NO_UNIT:
                return (
                    f"the control unit server at {url} has lost its control unit ({last.detail}; {tries}) — "
                    "check the unit behind the server (its power and cable), or call the service's supplier"
                )
            case UnitProblem():
                return self._unit_problem_words(last.problem, f"the control unit at {url}", last.detail)

    async def _register(self, op: _Op, request: xccsp.RegisterReceipt) -> Registration:
        try:
            reply = await self._ask(op, request)
        except ControlUnitRefused:
            self._new_session = False  # the server has seen this session
            raise
        if not isinstance(reply, xccsp.RegisterReceiptResponse):  # pragma: no cover - decode_reply
            raise Retry(_Problem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        if reply.main is MainStatus.NO_UNIT and not reply.code:
            raise Retry(_Problem.NO_UNIT, "RegisterResult with main status 99 and no code", pause=True)
        code = self._code_of(reply.code, request.data.receipt_type, CLEANCASH_CODE)
        self._new_session = False
        self._note_unit_id(reply.unit_id)
        self._sticky = None
        self._apply_status(UnitStatus(reply.main, reply.storage))
        return Registration(
            request.serial_no,
            code,
            reply.unit_id,
            reply.main,
            reply.storage,
            tuple(op.journal.records),
            op.attempt,
            needs_code(request.data.receipt_type),
        )

    def _note_unit_id(self, unit_id: str) -> None:
        """An answer named ``unit_id``: if it is not the unit we know, ask who it is next time."""
        if self._identity is not None and unit_id != self._identity.unit_id:
            log.warning(
                "%s: the control unit changed from %s to %s", self.url, self._identity.unit_id, unit_id
            )
            self._identity_stale = True

    # -- single requests ----------------------------------------------------------------

    async def _identify(self, op: _Op) -> UnitIdentity:
        reply = await self._ask(op, xccsp.RequestIdentity(self._pos_id, self._orgnr))
        if not isinstance(reply, xccsp.IdentityResponse):  # pragma: no cover - decode_reply guarantees it
            raise Retry(_Problem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        self._note_unit_id(reply.unit_id)
        status = await self._query_status(op)
        self._identity = UnitIdentity(
            reply.unit_id, XCCSP_VERSION, reply.firmware, protocol="XCCSP", licences=self._licences
        )
        self._identity_stale = False
        self.unit_type = reply.unit_type
        self._apply_status(status)
        return self._identity

    async def _query_status(self, op: _Op) -> UnitStatus:
        reply = await self._ask(op, xccsp.RequestStatus(self._pos_id, self._orgnr))
        if not isinstance(reply, xccsp.StatusResponse):  # pragma: no cover - decode_reply guarantees it
            raise Retry(_Problem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        self._note_unit_id(reply.unit_id)
        if reply.installed_licenses is not None:
            self._licences = reply.installed_licenses
        return UnitStatus(reply.main, reply.storage)

    async def _ask(self, op: _Op, request: xccsp.Request) -> xccsp.Reply:
        """One request; a fault is retried (raises :class:`Retry`) or refused."""
        answer = await self._post(op, request)
        if isinstance(answer, xccsp.Fault):
            await self._handle_fault(op, request, answer)
        return answer

    async def _post(self, op: _Op, request: xccsp.Request) -> xccsp.Reply | xccsp.Fault:
        body = xccsp.encode_request(request)
        op.journal.sent(body)
        status, reason, challenge, data = await self._exchange(op, body)
        asks_digest = challenge.lower().startswith("digest")
        if status == 401 and asks_digest and self._credentials is not None and not self._digest:
            # A LAN server: the same request again with Digest, and Digest from now on.
            log.info("%s asks for HTTP Digest; using it from now on", self.url)
            op.journal.received(data, "HTTP 401: Digest asked for")
            self._digest = True
            await self._close_session()
            op.journal.sent(body)
            status, reason, challenge, data = await self._exchange(op, body)
        if status != 200:
            op.journal.received(data, f"HTTP {status} {reason}")
            self._refuse_status(status, reason, data)
        try:
            answer = xccsp.decode_reply(data, type(request))
        except xccsp.XccspError as exc:
            op.journal.received(data, f"dropped: {exc}")
            raise Retry(_Problem.DAMAGED, f"{exc}; it began {_excerpt(data)}", pause=False) from None
        op.journal.received(data)
        return answer

    async def _exchange(self, op: _Op, body: bytes) -> tuple[int, str, str, bytes]:
        """One HTTP POST: (status, reason, ``WWW-Authenticate``, body); raises :class:`Retry`."""
        session = self._open_session()
        headers = {}
        if self._credentials is not None and not self._digest:
            # Sent with the first request, as the hosted service expects (no 401 first).
            headers["Authorization"] = aiohttp.encode_basic_auth(*self._credentials)
        try:
            async with session.post(self.url, data=body, headers=headers, allow_redirects=False) as response:
                status, reason = response.status, response.reason or ""
                challenge = response.headers.get("WWW-Authenticate", "")
                data = await self._read_reply(op, response)
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (and ClientErrors)
            raise Retry(
                _Problem.NO_REPLY, f"no answer within {self.request_timeout:g} s", pause=False
            ) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise _NoRetry(
                f"the control unit server at {self.url} has a certificate this till does not trust "
                f"({exc.certificate_error}) — check the address, or set ca_cert in [control_unit]"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise Retry(_Problem.CANNOT_CONNECT, _connect_error_words(exc), pause=True) from None
        except aiohttp.ClientError as exc:
            raise Retry(_Problem.DROPPED, f"{type(exc).__name__}: {exc}", pause=True) from None
        return status, reason, challenge, data

    def _refuse_status(self, status: int, reason: str, data: bytes) -> NoReturn:
        """Any HTTP status but 200: a retry (5xx) or the end (the address or settings)."""
        said = f"HTTP {status} {reason}".rstrip()
        if status >= 500:
            raise Retry(_Problem.SERVER_ERROR, f"{said}, the reply began {_excerpt(data)}", pause=True)
        if status == 401 and self._credentials is None:
            raise _NoRetry(
                f"the control unit server at {self.url} asks for a user name and password — "
                f"put them in [control_unit] url, like http://user:password@host:{xccsp.DEFAULT_PORT}"
                f"{xccsp.HTTP_PATH}"
            )
        if status == 401:
            raise _NoRetry(
                f"the control unit server at {self.url} refused the user name or password — "
                "check them in [control_unit] url"
            )
        raise _NoRetry(
            f"{self.url} answered {said} instead of an XCCSP reply — check the control unit's "
            f"address (like http://host:{xccsp.DEFAULT_PORT}{xccsp.HTTP_PATH})"
        )

    @staticmethod
    async def _read_reply(op: _Op, response: aiohttp.ClientResponse) -> bytes:
        data = bytearray()
        async for chunk in response.content.iter_chunked(8192):
            data += chunk
            if len(data) > MAX_REPLY:
                op.journal.received(bytes(data[:MAX_REPLY]), f"dropped: reply over {MAX_REPLY} bytes")
                raise Retry(_Problem.DAMAGED, f"reply over {MAX_REPLY} bytes", pause=False)
        return bytes(data)

    async def _handle_fault(self, op: _Op, request: xccsp.Request, fault: xccsp.Fault) -> NoReturn:
        """Raise what a fault to ``request`` calls for: a retry, or a refusal."""
        code = fault.code
        said = fault.said
        if not isinstance(code, xccsp.FaultCode):
            self._refuse_with(
                f"the control unit service refused it with fault code {int(code)}, which this gateway "
                "does not know — call the supplier and give them this number",
                op,
                said,
            )
        if code is xccsp.FaultCode.SERVER_ERROR:
            raise Retry(_Problem.SERVER_ERROR, said, pause=True)
        if code is xccsp.FaultCode.NO_UNIT:
            raise Retry(_Problem.NO_UNIT, said, pause=True)
        if code is xccsp.FaultCode.NOT_OPERATIONAL:
            if not isinstance(request, xccsp.RequestStatus):
                await self._wait_while_busy(op)
            raise Retry(UnitProblem.NOT_OPERATIONAL, said, pause=False)
        nak = code.nak
        assert nak is not None  # every known code but 98 and 99 has one
        self._refuse(nak, op, said)
