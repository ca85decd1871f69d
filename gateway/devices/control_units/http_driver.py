"""What every control-unit driver that speaks HTTP shares (XCCSP, Infrasec TCS, srv4pos).

:class:`HttpUnit` is a :class:`~gateway.devices.control_units.operation.RetryingUnit` that POSTs
one body and reads one answer, the way a serial driver sends one frame: one aiohttp
session per driver, opened on first use; a connection limit of 1 and one operation at a
time, so requests reach the server strictly one after the other; a new connection per
request (``force_close``), so a connection the server closed while idle is never
reused; no redirects followed; a deadline (``request_timeout``) on every request,
connecting and TLS included; replies over :data:`MAX_REPLY` not read.

What every such driver meets, and what this module makes of it (each driver's words
say what it means for that service):

* no answer before the deadline: :attr:`HttpProblem.NO_REPLY`, retried at once (the
  deadline was the wait);
* cannot connect, or the connection dropped: :attr:`HttpProblem.CANNOT_CONNECT` or
  :attr:`HttpProblem.DROPPED`, retried after a pause that fills the try up to
  ``request_timeout``, so a dead server costs each try its full deadline;
* a reply over :data:`MAX_REPLY`: :attr:`HttpProblem.DAMAGED`, retried at once;
* the server's certificate not trusted: :class:`Stop`, in the driver's words: no retry
  mends it, the driver becomes ``failed``.

The answer's status is the driver's to judge. Every body sent and received is logged on
the driver's frame log (DEBUG) and kept in the operation's journal; headers, where the
credentials travel, never are.
"""

from __future__ import annotations

import abc
import enum
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar, Unpack

import aiohttp

from gateway.common.health import DeviceState
from gateway.devices.control_units.interface import ControlUnitUnavailable
from gateway.devices.control_units.operation import Direction, Operation, Retry, RetryingUnit, Tries
from protocols.skv import ControlData, validate_orgnr

__all__ = [
    "MAX_REPLY",
    "Answer",
    "HttpProblem",
    "HttpUnit",
    "Stop",
    "connect_error_words",
    "server_trust",
]

P = TypeVar("P", bound=enum.Enum)
R = TypeVar("R")

MAX_REPLY = 64 * 1024  # a reply above this is no answer of these units; it is not read on


class HttpProblem(enum.Enum):
    """What a try over HTTP can meet besides the :class:`UnitProblem` of any protocol."""

    NO_REPLY = "no reply"
    DROPPED = "connection dropped"
    CANNOT_CONNECT = "cannot connect"
    DAMAGED = "unreadable reply"
    SERVER_ERROR = "server error"


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
    challenge: str = ""  # WWW-Authenticate, for a server that asks for another kind of login


def server_trust(ca_cert: Path | None) -> ssl.SSLContext:
    """A TLS context that checks a server against ``ca_cert`` (PEM) or the system's store.

    Raises :class:`OSError` or :class:`ssl.SSLError` for a CA file that cannot be used;
    each driver says so in its own words.
    """
    return ssl.create_default_context(cafile=str(ca_cert) if ca_cert is not None else None)


def connect_error_words(exc: aiohttp.ClientConnectorError) -> str:
    """Why a connection could not be made, as the system says it."""
    error = exc.os_error
    if isinstance(error, socket.gaierror):
        return f"the name {exc.host!r} is not known"
    if error.errno:
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


class HttpUnit(RetryingUnit[P], abc.ABC):
    """A control unit at an HTTP(S) ``url`` for the register ``pos_id`` of ``orgnr``.

    ``P`` is the driver's problems: :class:`UnitProblem`, :class:`HttpProblem` and its own.
    """

    _frame_log: ClassVar[logging.Logger]
    _frame_encoding: ClassVar[str] = "utf-8"  # how the frame log shows a body

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        ca_cert: Path | None,
        **tries: Unpack[Tries],
    ) -> None:
        super().__init__(url, pos_id, **tries)
        self._orgnr = validate_orgnr(orgnr)
        self._ca_cert = ca_cert
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def orgnr(self) -> str:
        return self._orgnr

    async def close(self) -> None:
        self._closed = True
        await self._stop_watching()
        await self._close_session()

    # -- what each driver supplies ------------------------------------------------------

    @abc.abstractmethod
    def _tls_context(self) -> ssl.SSLContext | bool:
        """How the session checks an ``https://`` server (and what it shows it); raises
        :class:`Stop` for a setting that cannot be used."""

    def _middlewares(self) -> tuple[aiohttp.DigestAuthMiddleware, ...]:
        """What the session adds to every request (a login it has been asked for)."""
        return ()

    async def _prepare(self, op: Operation[P]) -> None:
        """What a try of an operation that needs the unit's identity does first."""

    @abc.abstractmethod
    def _untrusted_words(self, exc: aiohttp.ClientConnectorCertificateError) -> str:
        """The words for a server whose certificate this till does not trust."""

    def _connection_lost(self, exc: aiohttp.ClientError) -> Retry[HttpProblem]:
        """The try a connection that could not be made, or was dropped, costs."""
        if isinstance(exc, aiohttp.ClientConnectorError):
            return Retry(HttpProblem.CANNOT_CONNECT, connect_error_words(exc), pause=True)
        # The exception's name alone: its text may quote what was sent.
        return Retry(HttpProblem.DROPPED, type(exc).__name__, pause=True)

    # -- the session, a try, a request ---------------------------------------------------

    def _check_receipt(self, seq: int, data: ControlData, *, seq_max: int) -> None:
        """``seq`` and ``data`` may go to this unit: in range, this register's, this shop's."""
        if isinstance(seq, bool) or not 1 <= seq <= seq_max:
            raise ValueError(f"seq {seq} is outside 1..{seq_max}")
        if data.pos_id != self._pos_id:
            raise ValueError(
                f"receipt for POS id {data.pos_id!r} sent to the control unit of {self._pos_id!r}"
            )
        if data.orgnr != self._orgnr:
            raise ValueError(
                f"receipt for organisation number {data.orgnr} sent to the control unit of {self._orgnr}"
            )

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1, force_close=True, ssl=self._tls_context()),
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
                middlewares=self._middlewares(),
            )
        return self._session

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _log_frame(self, label: str, direction: Direction, data: bytes, note: str) -> None:
        if self._frame_log.isEnabledFor(logging.DEBUG):
            text = data.decode(self._frame_encoding, "replace")
            self._frame_log.debug("%s %s%s\n%s", label, direction, f" ({note})" if note else "", text)

    async def _try(
        self, op: Operation[P], body: Callable[[Operation[P]], Awaitable[R]], *, identify: bool
    ) -> R:
        if self._closed:
            raise ControlUnitUnavailable("the gateway is shutting down")
        try:
            if identify:
                await self._prepare(op)
            return await body(op)
        except Stop as stop:
            self._health.set(DeviceState.FAILED, stop.words)
            self._log.warning("%s %s: %s", self.url, op.label, stop.words)
            raise ControlUnitUnavailable(stop.words) from None

    async def _post(self, op: Operation[P], url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One POST of ``body``; the answer of any HTTP status, read bounded.

        Raises :class:`Retry` for what another try may mend, :class:`Stop` for what not.
        ``headers`` may hold a credential: they are never logged or kept.
        """
        session = self._open_session()
        op.journal.sent(body)
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                status, reason = response.status, response.reason or ""
                challenge = response.headers.get("WWW-Authenticate", "")
                data = await self._read_reply(op, response)
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (and ClientErrors)
            raise Retry(HttpProblem.NO_REPLY, f"no answer within {self.request_timeout:g} s") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise Stop(self._untrusted_words(exc)) from None
        except aiohttp.ClientError as exc:
            raise self._connection_lost(exc) from None
        return Answer(status, reason, data, challenge)

    @staticmethod
    async def _read_reply(op: Operation[P], response: aiohttp.ClientResponse) -> bytes:
        data = bytearray()
        async for chunk in response.content.iter_chunked(8192):
            data += chunk
            if len(data) > MAX_REPLY:
                op.journal.received(bytes(data[:MAX_REPLY]), f"dropped: reply over {MAX_REPLY} bytes")
                raise Retry(HttpProblem.DAMAGED, f"reply over {MAX_REPLY} bytes")
        return bytes(data)
