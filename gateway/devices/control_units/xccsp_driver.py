"""The XCCSP driver: a CleanCash control unit reached over HTTP (``POST /xccsp``, XML).

:class:`XccspControlUnit` implements :class:`~gateway.devices.control_units.interface.ControlUnit`
over XCCSP (:mod:`protocols.xccsp`, docs/protocols/xccsp.md), with the same retry,
deadline and health rules as the CCSP driver (:mod:`gateway.devices.control_units.ccsp_driver`), so
the fiscal pipeline sees no difference: both run their tries through
:class:`~gateway.devices.control_units.operation.RetryingUnit`, and this module adds XCCSP.

The HTTP side is :class:`~gateway.devices.control_units.http_driver.HttpUnit`'s: one aiohttp session
per driver, opened on first use; one request at a time, as on a serial line, each on a
new connection (``force_close``), so a connection the server closed while idle is never
reused; no redirects followed; replies over 64 KiB are not read. ``https://`` addresses
are checked against the system's trust store, or against ``ca_cert`` (a PEM file) when
given.

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
the :class:`~gateway.devices.control_units.interface.Registration` as a ``tx``/``rx``
:class:`~gateway.devices.control_units.interface.FrameRecord` (the raw HTTP bodies, never headers).
"""

from __future__ import annotations

import enum
import logging
import ssl
from pathlib import Path
from typing import NoReturn, TypeAlias, Unpack
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import aiohttp

from gateway.common.i18n import tr
from gateway.devices.control_units.http_driver import MAX_REPLY, HttpProblem, HttpUnit, Stop, server_trust
from gateway.devices.control_units.interface import (
    ControlUnit,
    ControlUnitRefused,
    Registration,
    UnitIdentity,
    UnitStatus,
)
from gateway.devices.control_units.operation import (
    CLEANCASH_CODE,
    Operation,
    Retry,
    Tries,
    UnitProblem,
)
from protocols import xccsp
from protocols.ccsp import MainStatus
from protocols.skv import ControlData

__all__ = [
    "MAX_REPLY",
    "XCCSP_VERSION",
    "XccspControlUnit",
]

log = logging.getLogger("tillgw.devices.xccsp_unit")
frame_log = logging.getLogger("tillgw.devices.xccsp_unit.frames")

REPLY_EXCERPT = 160  # characters of an unusable reply quoted in the words and the log
XCCSP_VERSION = 1  # XCCSP has no version number on the wire; this is the one we know


class _Problem(enum.Enum):
    """What a try over XCCSP can meet besides the problems of any HTTP unit."""

    NO_UNIT = "no unit behind the server"


_Problems: TypeAlias = UnitProblem | HttpProblem | _Problem
_Op: TypeAlias = Operation[_Problems]
Credentials: TypeAlias = tuple[str, str]


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


def _excerpt(data: bytes) -> str:
    """The start of a reply, for words and logs (XCCSP is Latin-1; any byte decodes)."""
    text = data[:REPLY_EXCERPT].decode(xccsp.ENCODING)
    return repr(text + ("…" if len(data) > REPLY_EXCERPT else ""))


class XccspControlUnit(HttpUnit[_Problems], ControlUnit):
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
    _frame_log = frame_log
    _frame_encoding = xccsp.ENCODING

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        ca_cert: Path | None = None,
        **tries: Unpack[Tries],
    ) -> None:
        self._credentials = _credentials_of(url)  # before the base class keeps url without them
        super().__init__(url, pos_id, orgnr, ca_cert=ca_cert, **tries)
        self._tls = self._trust(ca_cert) if self._url.startswith("https:") else True
        self.unit_type: str | None = None  # the unit's model, as its Identity names it
        self._licences: int | None = None  # InstalledLicenses of the last Status
        self._digest = False  # the server asked for Digest: every request uses it from then on
        self._identity_stale = False  # an answer named another unit: ask again first
        self._new_session = True  # IsNewSession for the next RegisterReceipt (module doc)

    # -- the ControlUnit interface ------------------------------------------------------

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
        self._check_receipt(seq, data, seq_max=xccsp.SERIAL_MAX)

        request = xccsp.RegisterReceipt(seq, self._new_session, data)  # the same on every try

        async def body(op: _Op) -> Registration:
            return await self._register(op, request)

        return await self._operate(f"seq={seq} receipt={data.receipt_no}", body, identify=True)

    # -- HTTP ---------------------------------------------------------------------------

    @staticmethod
    def _trust(ca_cert: Path | None) -> ssl.SSLContext | bool:
        """Certificates checked against ``ca_cert`` (PEM) or, without one, the system's
        store; a CA file that cannot be used stops the driver being made."""
        if ca_cert is None:
            return True
        try:
            return server_trust(ca_cert)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"the CA certificate {str(ca_cert)!r} cannot be used: {exc}") from None

    def _tls_context(self) -> ssl.SSLContext | bool:
        return self._tls

    def _middlewares(self) -> tuple[aiohttp.DigestAuthMiddleware, ...]:
        if self._digest and self._credentials is not None:
            return (aiohttp.DigestAuthMiddleware(*self._credentials),)
        return ()

    def _checked_url(self, url: str) -> str:
        return _xccsp_url(url)

    async def _prepare(self, op: _Op) -> None:
        if self._identity is None or self._identity_stale:
            await self._identify(op)

    def _untrusted_words(self, exc: aiohttp.ClientConnectorCertificateError) -> str:
        return tr(
            "the control unit server at {url} has a certificate this till "
            "does not trust ({certificate_error}) — check the address, or "
            "set ca_cert in [control_unit]"
        ).format(url=self.url, certificate_error=exc.certificate_error)

    def _connection_lost(self, exc: aiohttp.ClientError) -> Retry[HttpProblem]:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return super()._connection_lost(exc)
        # What the connection said when it dropped: an XCCSP request carries no secret.
        return Retry(HttpProblem.DROPPED, f"{type(exc).__name__}: {exc}", pause=True)

    def _give_up_words(self, last: Retry[_Problems], tries: str) -> str:
        url = self.url
        match last.problem:
            case HttpProblem.NO_REPLY | HttpProblem.DROPPED:
                return tr(
                    "no answer from the control unit at {url} after {tries} — check "
                    "that it is powered and on the network"
                ).format(url=url, tries=tries)
            case HttpProblem.CANNOT_CONNECT:
                return tr(
                    "cannot connect to the control unit at {url} ({detail}) after "
                    "{tries} — check that it is powered and on the network, and that "
                    "the address is right"
                ).format(url=url, detail=last.detail, tries=tries)
            case HttpProblem.DAMAGED:
                return tr(
                    "the control unit at {url} answered with something that is no "
                    "usable XCCSP reply ({detail}; {tries}) — restart it; if that "
                    "does not help, call the supplier"
                ).format(url=url, detail=last.detail, tries=tries)
            case HttpProblem.SERVER_ERROR:
                return tr(
                    "the control unit server at {url} reported a server error "
                    "({detail}; {tries}) — restart it; if that does not help, call "
                    "the supplier"
                ).format(url=url, detail=last.detail, tries=tries)
            case _Problem.NO_UNIT:
                return tr(
                    "the control unit server at {url} has lost its control unit "
                    "({detail}; {tries}) — check the unit behind the server (its "
                    "power and cable), or call the service's supplier"
                ).format(url=url, detail=last.detail, tries=tries)
            case UnitProblem():
                return self._unit_problem_words(last.problem, f"the control unit at {url}", last.detail)

    async def _register(self, op: _Op, request: xccsp.RegisterReceipt) -> Registration:
        try:
            reply = await self._ask(op, request)
        except ControlUnitRefused:
            self._new_session = False  # the server has seen this session
            raise
        if not isinstance(reply, xccsp.RegisterReceiptResponse):  # pragma: no cover - decode_reply
            raise Retry(HttpProblem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        if reply.main is MainStatus.NO_UNIT and not reply.code:
            raise Retry(_Problem.NO_UNIT, "RegisterResult with main status 99 and no code", pause=True)
        code = self._code_of(reply.code, request.data.receipt_type, CLEANCASH_CODE)
        self._new_session = False
        self._note_unit_id(reply.unit_id)
        return self._registered(
            op, request.serial_no, code, reply.unit_id, reply.main, reply.storage, request.data.receipt_type
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
            raise Retry(HttpProblem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
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
            raise Retry(HttpProblem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        self._note_unit_id(reply.unit_id)
        if reply.installed_licenses is not None:
            self._licences = reply.installed_licenses
        return UnitStatus(reply.main, reply.storage)

    async def _ask(self, op: _Op, request: xccsp.Request) -> xccsp.Reply:
        """One request; a fault is retried (raises :class:`Retry`) or refused."""
        answer = await self._send(op, request)
        if isinstance(answer, xccsp.Fault):
            await self._handle_fault(op, request, answer)
        return answer

    async def _send(self, op: _Op, request: xccsp.Request) -> xccsp.Reply | xccsp.Fault:
        body = xccsp.encode_request(request)
        answer = await self._post(op, self.url, body, self._headers())
        asks_digest = answer.challenge.lower().startswith("digest")
        if answer.status == 401 and asks_digest and self._credentials is not None and not self._digest:
            # A LAN server: the same request again with Digest, and Digest from now on.
            log.info("%s asks for HTTP Digest; using it from now on", self.url)
            op.journal.received(answer.body, "HTTP 401: Digest asked for")
            self._digest = True
            await self._close_session()
            answer = await self._post(op, self.url, body, self._headers())
        data = answer.body
        if answer.status != 200:
            op.journal.received(data, f"HTTP {answer.status} {answer.reason}")
            self._refuse_status(answer.status, answer.reason, data)
        try:
            reply = xccsp.decode_reply(data, type(request))
        except xccsp.XccspError as exc:
            op.journal.received(data, f"dropped: {exc}")
            raise Retry(HttpProblem.DAMAGED, f"{exc}; it began {_excerpt(data)}", pause=False) from None
        op.journal.received(data)
        return reply

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": xccsp.CONTENT_TYPE}
        if self._credentials is not None and not self._digest:
            # Sent with the first request, as the hosted service expects (no 401 first).
            headers["Authorization"] = aiohttp.encode_basic_auth(*self._credentials)
        return headers

    def _refuse_status(self, status: int, reason: str, data: bytes) -> NoReturn:
        """Any HTTP status but 200: a retry (5xx) or the end (the address or settings)."""
        said = f"HTTP {status} {reason}".rstrip()
        if status >= 500:
            raise Retry(HttpProblem.SERVER_ERROR, f"{said}, the reply began {_excerpt(data)}", pause=True)
        if status == 401 and self._credentials is None:
            raise Stop(
                tr(
                    "the control unit server at {url} asks for a user name and "
                    "password — put them in [control_unit] url, like "
                    "http://user:password@host:{port}{path}"
                ).format(url=self.url, port=xccsp.DEFAULT_PORT, path=xccsp.HTTP_PATH)
            )
        if status == 401:
            raise Stop(
                tr(
                    "the control unit server at {url} refused the user name or "
                    "password — check them in [control_unit] url"
                ).format(url=self.url)
            )
        raise Stop(
            tr(
                "{url} answered {said} instead of an XCCSP reply — check the "
                "control unit's address (like "
                "http://host:{port}{path})"
            ).format(url=self.url, said=said, port=xccsp.DEFAULT_PORT, path=xccsp.HTTP_PATH)
        )

    async def _handle_fault(self, op: _Op, request: xccsp.Request, fault: xccsp.Fault) -> NoReturn:
        """Raise what a fault to ``request`` calls for: a retry, or a refusal."""
        code = fault.code
        said = fault.said
        if not isinstance(code, xccsp.FaultCode):
            self._refuse_with(
                tr(
                    "the control unit service refused it with fault code {code}, "
                    "which this gateway does not know — call the supplier and give "
                    "them this number"
                ).format(code=int(code)),
                op,
                said,
            )
        if code is xccsp.FaultCode.SERVER_ERROR:
            raise Retry(HttpProblem.SERVER_ERROR, said, pause=True)
        if code is xccsp.FaultCode.NO_UNIT:
            raise Retry(_Problem.NO_UNIT, said, pause=True)
        if code is xccsp.FaultCode.NOT_OPERATIONAL:
            if not isinstance(request, xccsp.RequestStatus):
                await self._wait_while_busy(op)
            raise Retry(UnitProblem.NOT_OPERATIONAL, said, pause=False)
        nak = code.nak
        assert nak is not None  # every known code but 98 and 99 has one
        self._refuse(nak, op, said)
