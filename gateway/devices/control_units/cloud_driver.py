"""What the two cloud control-unit drivers (Infrasec TCS, srv4pos) share over HTTPS.

:class:`CloudUnit` is an :class:`~gateway.devices.control_units.http_driver.HttpUnit` for a service on
the internet, named to the shop owner by :attr:`CloudUnit.service`:

TLS: the server is checked against ``ca_cert`` (a PEM file) or the system's trust
store; a client certificate, when the service wants one, is read from a PKCS#12 file
with its password (:mod:`gateway.devices.control_units.client_cert`).

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
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar, TypeAlias, TypeVar, Unpack
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from gateway.common.i18n import tr
from gateway.devices.control_units.client_cert import REFUSED_CERT_ALERTS, client_tls_context, ssl_error_in
from gateway.devices.control_units.http_driver import Answer, HttpProblem, HttpUnit, Stop
from gateway.devices.control_units.interface import UnitIdentity
from gateway.devices.control_units.operation import (
    Operation,
    Retry,
    Tries,
    UnitProblem,
)
from protocols.skv import FieldError

__all__ = [
    "SEQ_MAX",
    "CertificateProblem",
    "CloudUnit",
    "Op",
]

T = TypeVar("T")

SEQ_MAX = 2**63 - 1  # the services' receipt numbers are 64-bit integers


class CertificateProblem(enum.Enum):
    """What a try that shows a client certificate can meet besides :class:`HttpProblem`."""

    HANDSHAKE_CLOSED = "closed during the TLS handshake"


Problem: TypeAlias = UnitProblem | HttpProblem | CertificateProblem
Op: TypeAlias = Operation[Problem]


class CloudUnit(HttpUnit[Problem]):
    """A cloud control unit at an HTTPS ``url``. Subclasses add their documents."""

    service: ClassVar[str]  # the service as the shop owner knows it: "the Infrasec TCS service"
    protocol: ClassVar[str]  # the protocol its identity names: "TCS"
    version: ClassVar[int]  # the protocol version this driver knows (the wire carries none)
    _unit_noun: ClassVar[str]  # what the service calls the unit that signs: "control server"

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        ca_cert: Path | None = None,
        client_cert: Path | None = None,
        client_cert_password: str | None = None,
        **tries: Unpack[Tries],
    ) -> None:
        super().__init__(url, pos_id, orgnr, ca_cert=ca_cert, **tries)
        self._client_cert = client_cert
        self.__password = client_cert_password  # name-mangled: kept out of reprs and vars() dumps

    def _checked_url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{parts.scheme}://{parts.hostname or ''}… is not an https:// address")
        if parts.username is not None or parts.password is not None:
            # A credential in the URL would end up in every log line and reason.
            raise ValueError("put credentials in their own settings, not in the control unit's URL")
        return urlunsplit(parts._replace(query="", fragment="")).rstrip("/")

    # -- the ControlUnit interface ------------------------------------------------------

    async def start(self) -> UnitIdentity:
        """Ask the service how the register stands, where it can be asked (each driver's
        ``_query_status`` says): the settings are checked before the first sale."""
        self._start_watching()
        return await self.identity()

    async def identity(self) -> UnitIdentity:
        async def body(op: Op) -> UnitIdentity:
            self._apply_status(await self._query_status(op))
            return self._identity or UnitIdentity("", self.version, "", protocol=self.protocol)

        return await self._operate("handshake", body, identify=False)

    # -- HTTPS ----------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("https:"):
            return False
        return client_tls_context(
            ca_cert=self._ca_cert,
            client_cert=self._client_cert,
            client_cert_password=self.__password,
            service=self.service,
        )

    async def _post(self, op: Op, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One POST; HTTP 5xx is a server error worth another try (see :class:`HttpUnit`)."""
        answer = await super()._post(op, url, body, headers)
        if answer.status >= 500:
            op.journal.received(answer.body, f"HTTP {answer.status} {answer.reason}")
            raise Retry(HttpProblem.SERVER_ERROR, f"HTTP {answer.status} {answer.reason}", pause=True)
        return answer

    def _decoded(self, op: Op, data: bytes, decode: Callable[[bytes], T]) -> T:
        """``data`` read by ``decode`` and kept in the journal; unreadable, another try."""
        try:
            reply = decode(data)
        except FieldError as exc:
            op.journal.received(data, f"dropped: {exc}")
            raise Retry(HttpProblem.DAMAGED, str(exc)) from None
        op.journal.received(data)
        return reply

    def _note_unit(self, unit_id: str) -> None:
        """An answer named the unit that signed: it is this driver's identity from now on."""
        if not unit_id:
            return
        if self._identity is not None and self._identity.unit_id not in ("", unit_id):
            self._log.warning(
                "%s: the %s changed from %s to %s", self.url, self._unit_noun, self._identity.unit_id, unit_id
            )
        self._identity = UnitIdentity(unit_id, self.version, "", protocol=self.protocol)

    def _untrusted_words(self, exc: aiohttp.ClientConnectorCertificateError | None = None) -> str:
        return tr(
            "{service} at {url} showed a certificate this till does not "
            "trust — check the address and [control_unit] ca_cert"
        ).format(service=self.service, url=self.url)

    def _connection_lost(self, exc: aiohttp.ClientError) -> Retry[HttpProblem]:
        self._stop_if_certificate_refused(exc)
        if (
            isinstance(exc, aiohttp.ClientConnectorError)
            and self._client_cert is not None
            and isinstance(exc.os_error, ConnectionResetError)
        ):
            # A server that will not take the certificate may hang up without saying why
            # (as Python's own TLS servers do); once may be the network.
            raise Retry(CertificateProblem.HANDSHAKE_CLOSED, "the server hung up during the TLS handshake")
        return super()._connection_lost(exc)

    def _stop_if_certificate_refused(self, exc: BaseException) -> None:
        error = ssl_error_in(exc)
        if error is None:
            return
        name = str(getattr(error, "reason", "") or error)
        if "CERTIFICATE_VERIFY_FAILED" in name:
            raise Stop(self._untrusted_words()) from None
        if any(alert in name.upper() for alert in REFUSED_CERT_ALERTS):
            raise Stop(self._certificate_refused_words(name)) from None

    def _certificate_refused_words(self, alert: str) -> str:
        return tr(
            "{service} refused the connection's certificate ({alert}) — "
            "check [control_unit] client_cert; if it is right, ask the "
            "supplier"
        ).format(service=self.service, alert=alert)

    def _give_up_words(self, last: Retry[Problem], tries: str) -> str:
        service = f"{self.service} at {self.url}"
        match last.problem:
            case HttpProblem.NO_REPLY | HttpProblem.DROPPED:
                return tr(
                    "no answer from {service} after {tries} — check the till's "
                    "internet connection; if it works, the service may be down"
                ).format(service=service, tries=tries)
            case HttpProblem.CANNOT_CONNECT:
                return tr(
                    "cannot connect to {service} ({detail}) after {tries} — check "
                    "the till's internet connection and the address"
                ).format(service=service, detail=last.detail, tries=tries)
            case HttpProblem.DAMAGED:
                return tr(
                    "{service} answered with something this gateway cannot read "
                    "({detail}, {tries}) — check the address; if it is right, call "
                    "the supplier"
                ).format(service=service, detail=last.detail, tries=tries)
            case HttpProblem.SERVER_ERROR:
                return tr(
                    "{service} reported a server error ({detail}, {tries}) — wait a "
                    "few minutes and try again; if it goes on, call the supplier"
                ).format(service=service, detail=last.detail, tries=tries)
            case CertificateProblem.HANDSHAKE_CLOSED:
                return self._certificate_refused_words(f"it hung up during the TLS handshake, {tries}")
            case UnitProblem():
                return self._unit_problem_words(last.problem, service, last.detail)
