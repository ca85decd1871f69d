"""What the two cloud control-unit drivers (Infrasec TCS, srv4pos) share: HTTPS.

:class:`HttpsUnit` is a :class:`~gateway.devices.unit_operation.RetryingUnit` that POSTs
one body and reads one answer, with the rules the XCCSP driver keeps for HTTP: one
aiohttp session per driver, opened on first use; one request at a time on a new
connection each (``force_close``); no redirects; a deadline (``request_timeout``) on
every request, connecting and TLS included; replies over :data:`MAX_REPLY` not read.

TLS: the server is checked against ``ca_cert`` (a PEM file) or the system's trust
store; a client certificate, when the service wants one, is read from a PKCS#12 file
with its password (``cryptography``), and checked for its dates before it is offered.

What can go wrong, and what the driver does (the numbers are the drivers' defaults):

* no answer before the deadline: retried at once (the deadline was the wait);
* cannot connect, connection dropped, HTTP 5xx: retried after a pause that fills the
  try up to ``request_timeout``, so a dead service costs each try its full deadline;
* an answer that is no readable document: retried at once;
* final, no retry, the driver ``failed`` with words naming what to fix: the client
  certificate missing, unreadable, of the wrong password, expired or refused by the
  server; the server's certificate not trusted; credentials refused (the driver says
  which setting to check).

Credentials (a certificate password, an API key) are never in the URL, a reason, an
exception's text, a log line or a frame record: frame records hold the bodies, which
carry none, and the ``Authorization`` header is never logged.
"""

from __future__ import annotations

import enum
import logging
import os
import secrets
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TypeAlias, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.devices.fiscal_unit import ControlUnitUnavailable
from gateway.devices.health import DeviceState
from gateway.devices.unit_operation import Direction, Operation, Retry, RetryingUnit, UnitProblem

__all__ = [
    "MAX_REPLY",
    "Answer",
    "HttpProblem",
    "HttpsUnit",
    "Stop",
    "client_tls_context",
]

R = TypeVar("R")

MAX_REPLY = 64 * 1024  # a reply above this is no answer of these services; it is not read on

# OpenSSL's names for the alerts a server sends when it will not take our certificate.
_REFUSED_CERT_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "ACCESS_DENIED",
    "HANDSHAKE_FAILURE",
)


class HttpProblem(enum.Enum):
    """What a try over HTTPS can meet besides the :class:`UnitProblem` of any protocol."""

    NO_REPLY = "no reply"
    DROPPED = "connection dropped"
    CANNOT_CONNECT = "cannot connect"
    DAMAGED = "unreadable reply"
    SERVER_ERROR = "server error"
    HANDSHAKE_CLOSED = "closed during the TLS handshake"


Problem: TypeAlias = UnitProblem | HttpProblem
Op: TypeAlias = Operation[Problem]


class Stop(Exception):
    """A problem no retry mends (a credential, the address): the driver fails with ``words``."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    body: bytes


def _load_pkcs12(path: Path, password: str | None, service: str) -> tuple[PrivateKeyTypes, bytes]:
    """The key and the certificate chain (PEM) in ``path``, the certificate's dates checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise Stop(
            f"this register's certificate for {service} is missing ({path}) — "
            "check [control_unit] client_cert"
        ) from None
    except OSError as exc:
        raise Stop(
            f"this register's certificate for {service} cannot be read ({path}: "
            f"{os.strerror(exc.errno or 0).lower()}) — check the file and its permissions"
        ) from None
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(
            raw, password.encode("utf-8") if password else None
        )
    except ValueError:
        # Wrong password and a damaged file look the same to PKCS#12.
        raise Stop(
            f"this register's certificate for {service} ({path}) cannot be opened with the "
            "configured password — check [control_unit] client_cert_password and that the file "
            "is the .p12/.pfx the supplier sent"
        ) from None
    if key is None or cert is None:
        raise Stop(f"{path} holds no certificate with its key — ask the supplier for the right file")
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        raise Stop(
            f"this register's certificate for {service} expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d} — ask the supplier for a new one"
        )
    if cert.not_valid_before_utc > now:
        raise Stop(
            f"this register's certificate for {service} is valid only from "
            f"{cert.not_valid_before_utc:%Y-%m-%d} — check the till's clock"
        )
    pem = serialization.Encoding.PEM
    certs = cert.public_bytes(pem) + b"".join(c.public_bytes(pem) for c in chain)
    return key, certs


def client_tls_context(
    *, ca_cert: Path | None, client_cert: Path | None, client_cert_password: str | None, service: str
) -> ssl.SSLContext:
    """A TLS context that trusts ``ca_cert`` (or the system) and offers ``client_cert``."""
    try:
        context = ssl.create_default_context(cafile=str(ca_cert) if ca_cert is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise Stop(
            f"the CA certificate {ca_cert} for {service} cannot be read ({exc}) — "
            "check [control_unit] ca_cert"
        ) from None
    if client_cert is None:
        return context
    key, certs = _load_pkcs12(client_cert, client_cert_password, service)
    # TLS 1.2 at most when showing a certificate: under 1.3 a server checks it after the
    # handshake, and its refusal reaches us as a dropped request, which a retry would
    # take for a network fault; under 1.2 it ends the handshake (docs/protocols/tcs.md).
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads a certificate from a file only: the key goes to a private temporary file,
    # encrypted with a password used once, and the file is gone before this returns.
    once = secrets.token_urlsafe(24)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(once.encode()),
    )
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as handle:
        os.chmod(handle.name, 0o600)
        handle.write(certs + encrypted)
        handle.flush()
        context.load_cert_chain(handle.name, password=once)
    return context


def _ssl_error_in(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo += [current.__cause__, current.__context__]
        todo += [a for a in current.args if isinstance(a, BaseException)]
        inner = getattr(current, "os_error", None)
        if isinstance(inner, BaseException):
            todo.append(inner)
    return None


def _connect_error_words(exc: aiohttp.ClientConnectorError) -> str:
    error = exc.os_error
    if isinstance(error, socket.gaierror):
        return f"the name {exc.host!r} is not known"
    if error.errno:
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


class HttpsUnit(RetryingUnit[Problem]):
    """A cloud control unit at an HTTPS ``url``. Subclasses add their documents."""

    _frame_log: ClassVar[logging.Logger]
    service: ClassVar[str]  # the service as the shop owner knows it: "the Infrasec TCS service"

    def __init__(
        self,
        url: str,
        pos_id: str,
        *,
        ca_cert: Path | None,
        client_cert: Path | None,
        client_cert_password: str | None,
        request_timeout: float,
        retries: int,
        busy_timeout: float,
        busy_poll: float,
        watch_interval: float | None,
    ) -> None:
        super().__init__(
            url,
            pos_id,
            request_timeout=request_timeout,
            retries=retries,
            busy_timeout=busy_timeout,
            busy_poll=busy_poll,
            watch_interval=watch_interval,
        )
        self._ca_cert = ca_cert
        self._client_cert = client_cert
        self.__password = client_cert_password  # name-mangled: kept out of reprs and vars() dumps
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _checked_url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{parts.scheme}://{parts.hostname or ''}… is not an https:// address")
        if parts.username is not None or parts.password is not None:
            # A credential in the URL would end up in every log line and reason.
            raise ValueError("put credentials in their own settings, not in the control unit's URL")
        return urlunsplit(parts._replace(query="", fragment="")).rstrip("/")

    async def close(self) -> None:
        self._closed = True
        await self._stop_watching()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            context: ssl.SSLContext | bool = False
            if self.url.startswith("https:"):
                context = client_tls_context(
                    ca_cert=self._ca_cert,
                    client_cert=self._client_cert,
                    client_cert_password=self.__password,
                    service=self.service,
                )
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1, force_close=True, ssl=context),
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            )
        return self._session

    def _log_frame(self, label: str, direction: Direction, data: bytes, note: str) -> None:
        if self._frame_log.isEnabledFor(logging.DEBUG):
            text = data.decode("utf-8", "replace")
            self._frame_log.debug("%s %s%s\n%s", label, direction, f" ({note})" if note else "", text)

    async def _try(self, op: Op, body: Callable[[Op], Awaitable[R]], *, identify: bool) -> R:
        if self._closed:
            raise ControlUnitUnavailable("the gateway is shutting down")
        try:
            return await body(op)
        except Stop as stop:
            self._health.set(DeviceState.FAILED, stop.words)
            self._log.warning("%s %s: %s", self.url, op.label, stop.words)
            raise ControlUnitUnavailable(stop.words) from None

    def _give_up_words(self, last: Retry[Problem], tries: str) -> str:
        service = f"{self.service} at {self.url}"
        match last.problem:
            case HttpProblem.NO_REPLY | HttpProblem.DROPPED:
                return (
                    f"no answer from {service} after {tries} — "
                    "check the till's internet connection; if it works, the service may be down"
                )
            case HttpProblem.CANNOT_CONNECT:
                return (
                    f"cannot connect to {service} ({last.detail}) after {tries} — "
                    "check the till's internet connection and the address"
                )
            case HttpProblem.DAMAGED:
                return (
                    f"{service} answered with something this gateway cannot read ({last.detail}, {tries}) — "
                    "check the address; if it is right, call the supplier"
                )
            case HttpProblem.SERVER_ERROR:
                return (
                    f"{service} reported a server error ({last.detail}, {tries}) — "
                    "wait a few minutes and try again; if it goes on, call the supplier"
                )
            case HttpProblem.HANDSHAKE_CLOSED:
                return self._certificate_refused_words(f"it hung up during the TLS handshake, {tries}")
            case UnitProblem():
                return self._unit_problem_words(last.problem, service, last.detail)

    async def _post(self, op: Op, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One POST of ``body``; the answer of any HTTP status, read bounded.

        Raises :class:`Retry` for what another try may mend, :class:`Stop` for what not.
        ``headers`` may hold a credential: they are never logged or kept.
        """
        session = self._open_session()
        op.journal.sent(body)
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                status, reason = response.status, response.reason or ""
                data = await self._read_reply(op, response)
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors
            raise Retry(HttpProblem.NO_REPLY, f"no answer within {self.request_timeout:g} s") from None
        except aiohttp.ClientConnectorCertificateError:
            raise Stop(
                f"{self.service} at {self.url} showed a certificate this till does not trust — "
                "check the address and [control_unit] ca_cert"
            ) from None
        except aiohttp.ClientError as exc:
            self._stop_if_certificate_refused(exc)
            if isinstance(exc, aiohttp.ClientConnectorError):
                if self._client_cert is not None and isinstance(exc.os_error, ConnectionResetError):
                    # A server that will not take the certificate may hang up without
                    # saying why (as Python's own TLS servers do); once may be the network.
                    raise Retry(
                        HttpProblem.HANDSHAKE_CLOSED, "the server hung up during the TLS handshake"
                    ) from None
                raise Retry(HttpProblem.CANNOT_CONNECT, _connect_error_words(exc), pause=True) from None
            raise Retry(HttpProblem.DROPPED, type(exc).__name__, pause=True) from None
        if status >= 500:
            op.journal.received(data, f"HTTP {status} {reason}")
            raise Retry(HttpProblem.SERVER_ERROR, f"HTTP {status} {reason}", pause=True)
        return Answer(status, reason, data)

    def _stop_if_certificate_refused(self, exc: BaseException) -> None:
        error = _ssl_error_in(exc)
        if error is None:
            return
        name = str(getattr(error, "reason", "") or error)
        if "CERTIFICATE_VERIFY_FAILED" in name:
            raise Stop(
                f"{self.service} at {self.url} showed a certificate this till does not trust — "
                "check the address and [control_unit] ca_cert"
            ) from None
        if any(alert in name.upper() for alert in _REFUSED_CERT_ALERTS):
            raise Stop(self._certificate_refused_words(name)) from None

    def _certificate_refused_words(self, alert: str) -> str:
        return (
            f"{self.service} refused the connection's certificate ({alert}) — "
            "check [control_unit] client_cert; if it is right, ask the supplier"
        )

    @staticmethod
    async def _read_reply(op: Op, response: aiohttp.ClientResponse) -> bytes:
        data = bytearray()
        async for chunk in response.content.iter_chunked(8192):
            data += chunk
            if len(data) > MAX_REPLY:
                op.journal.received(bytes(data[:MAX_REPLY]), f"dropped: reply over {MAX_REPLY} bytes")
                raise Retry(HttpProblem.DAMAGED, f"reply over {MAX_REPLY} bytes")
        return bytes(data)
