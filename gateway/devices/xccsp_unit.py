"""The XCCSP driver: a CleanCash control unit reached over HTTP (``POST /xccsp``, XML).

:class:`XccspControlUnit` implements :class:`~gateway.devices.fiscal_unit.ControlUnit`
over XCCSP (:mod:`protocols.xccsp`, docs/protocols/xccsp.md), with the same retry,
deadline and health rules as the CCSP driver (:mod:`gateway.devices.control_unit`), so
the fiscal pipeline sees no difference.

The HTTP side: one aiohttp ``ClientSession`` per driver, opened on first use; a
connection limit of 1 and one operation at a time, so requests reach the unit strictly
one after the other, as on a serial line; a new connection per request
(``force_close``), so a connection the unit closed while idle is never reused; no
redirects followed; replies over 64 KiB are not read.

Retry and deadline policy (numbers are the constructor's defaults, as in CCSP):

* every request has a deadline (``request_timeout``, 2 s), connecting included;
* a request is tried at most ``1 + retries`` times (3); every try sends the same
  request, the same ``SerialNo`` included, so a unit that did register the first time
  answers the repeat with the same code and stores nothing new (codec choice 9);
* retried at once: no answer before the deadline (the deadline was the wait), and an
  answer that is not a readable XCCSP document (cut short, noise before it, wrong
  ``type``: the driver does not hunt for a document inside garbage — a repeat is cheap
  and safe);
* retried after a pause that fills the try up to ``request_timeout``: a connection that
  could not be made or was dropped (a unit rebooting after a power cut drops at once),
  HTTP 5xx, Fault 98 (server error), Fault 99 (no unit behind the server), a fault code
  this gateway does not know. So a dead unit costs each try its full deadline, like a
  silent serial line, and the driver gives up after at most
  ``(1 + retries) × request_timeout`` (6 s) plus any busy wait;
* Fault 6 (not operational): the driver asks ``RequestStatus``; while it says busy
  (main status 5) it waits, polling every ``busy_poll`` (0.5 s) for at most
  ``busy_timeout`` (10 s) per call, then sends the same request again (a new try);
* Faults 2, 3, 7, 8, 9, 10 are final: :class:`ControlUnitRefused` with the CCSP NAK
  code of the same meaning (``FaultCode.nak``) and :func:`refusal_words`; 2, 7, 9 and
  10 make the driver ``failed``, 8 ``degraded`` (``REFUSAL_HEALTH``) until a receipt is
  registered again;
* any other HTTP status (404 wrong path, 405, 413, 3xx): the address is wrong, not the
  unit; no retry: :class:`ControlUnitUnavailable` at once;
* out of tries: :class:`ControlUnitUnavailable`, and the state becomes ``failed`` with
  the same words ("no answer from the control unit at http://… after 3 tries — check
  that it is powered and on the network").

Unlike CCSP, an HTTP answer always belongs to its request, so no late answer can be
taken for a new one and there is no resynchronisation.

``IsNewSession`` is ``true`` on every ``RegisterReceipt`` until the unit has answered
one (with a code or a refusal) since :meth:`XccspControlUnit.start` — or since the
driver was made, if the first call is a registration — and ``false`` after. All tries of
one registration send the same value.

Every document is logged on ``tillgw.devices.xccsp_unit.frames`` (DEBUG) and kept in
the :class:`~gateway.devices.fiscal_unit.Registration` as a ``tx``/``rx``
:class:`~gateway.devices.fiscal_unit.FrameRecord` (the raw HTTP bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NoReturn, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from gateway.devices.fiscal_unit import (
    REFUSAL_HEALTH,
    ControlUnit,
    ControlUnitError,
    ControlUnitRefused,
    ControlUnitUnavailable,
    FrameRecord,
    Registration,
    UnitIdentity,
    UnitStatus,
    health_of_status,
    refusal_words,
)
from gateway.devices.health import DeviceState, HealthReporter, HealthTracker
from protocols import xccsp
from protocols.skv import ControlData, validate_orgnr, validate_pos_id

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
XCCSP_VERSION = 1  # XCCSP has no version number on the wire; this is the one we know

R = TypeVar("R")


class _Problem(enum.Enum):
    NO_REPLY = "no reply"
    DROPPED = "connection dropped"
    CANNOT_CONNECT = "cannot connect"
    DAMAGED = "unreadable reply"
    SERVER_ERROR = "server error"
    NO_UNIT = "no unit behind the server"
    UNKNOWN_FAULT = "unknown fault code"
    BUSY = "busy"
    NOT_OPERATIONAL = "not operational"
    NO_CODE = "no control code"


class _Retry(Exception):
    """One try failed in a way that another try may mend."""

    def __init__(self, problem: _Problem, detail: str, *, pause: bool) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail
        self.pause = pause  # wait out the rest of the try's deadline before the next


class _WrongAddress(Exception):
    """The URL answers, but not as an XCCSP unit: no retry will help."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


@dataclass(slots=True)
class _Op:
    """One public call (register, status, …) across all its tries, and its documents."""

    label: str
    attempt: int = 0
    busy_since: float | None = None
    last_problem: _Retry | None = None
    records: list[FrameRecord] = field(default_factory=list)

    def _add(self, direction: Literal["tx", "rx"], data: bytes, note: str = "") -> None:
        self.records.append(FrameRecord(direction, datetime.now(UTC), data, note))
        if frame_log.isEnabledFor(logging.DEBUG):
            text = data.decode(xccsp.ENCODING)
            frame_log.debug("%s %s%s\n%s", self.label, direction, f" ({note})" if note else "", text)

    def sent(self, data: bytes) -> None:
        self._add("tx", data)

    def received(self, data: bytes, note: str = "") -> None:
        self._add("rx", data, note)


def _xccsp_url(url: str) -> str:
    """``url`` checked, with the path ``/xccsp`` added when it names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an XCCSP address like http://host:8081/xccsp")
    if parts.path in ("", "/"):
        parts = parts._replace(path=xccsp.HTTP_PATH)
    return urlunsplit(parts)


def _connect_error_words(exc: aiohttp.ClientConnectorError) -> str:
    error = exc.os_error
    if isinstance(error, socket.gaierror):
        return f"the name {exc.host!r} is not known"
    if error.errno:
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


class XccspControlUnit(HealthReporter, ControlUnit):
    """A control unit speaking XCCSP at ``url`` for the register ``pos_id`` of ``orgnr``.

    ``url`` is ``http://host:port/xccsp`` (``http://host:8081`` gets the path added).
    ``orgnr`` is the shop's organisationsnummer, sent in every request (``556123-4567``
    is accepted and sent without the hyphen); receipts must carry the same one. Nothing
    is opened until :meth:`start` or the first call; every call is safe to make
    concurrently (they are served one at a time). ``watch_interval`` (seconds) makes the
    driver ask the unit's status while idle, as the CCSP driver does.
    """

    def __init__(
        self,
        url: str,
        pos_id: str,
        orgnr: str,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        busy_poll: float = DEFAULT_BUSY_POLL,
        watch_interval: float | None = None,
    ) -> None:
        if request_timeout <= 0 or busy_timeout < 0 or busy_poll <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0:
            raise ValueError(f"retries {retries} must be 0 or more")
        if watch_interval is not None and watch_interval <= 0:
            raise ValueError(f"watch_interval {watch_interval} must be positive")
        self._url = _xccsp_url(url)
        self._pos_id = validate_pos_id(pos_id)
        self._orgnr = validate_orgnr(orgnr)
        self.request_timeout = request_timeout
        self.retries = retries
        self.busy_timeout = busy_timeout
        self.busy_poll = busy_poll
        self.watch_interval = watch_interval
        self.unit_type: str | None = None  # the unit's model, as its IdentityResponse names it
        self._health = HealthTracker(f"control unit {self._url}")
        self._lock = asyncio.Lock()  # one operation at a time
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._identity: UnitIdentity | None = None
        self._identity_stale = False  # an answer named another unit: ask again first
        self._last_status: UnitStatus | None = None
        self._new_session = True  # IsNewSession for the next RegisterReceipt (module doc)
        # A refusal that no status report can clear (POS id not licensed): kept until a
        # receipt is registered again.
        self._sticky: tuple[DeviceState, str] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    # -- the ControlUnit interface ------------------------------------------------------

    @property
    def pos_id(self) -> str:
        return self._pos_id

    @property
    def orgnr(self) -> str:
        return self._orgnr

    @property
    def unit_identity(self) -> UnitIdentity | None:
        return self._identity

    @property
    def last_status(self) -> UnitStatus | None:
        return self._last_status

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> UnitIdentity:
        """The handshake (``RequestIdentity``, then ``RequestStatus``); starts a session.

        Raises :class:`ControlUnitUnavailable` (or :class:`ControlUnitRefused` if the unit
        refuses this POS id even a status).
        """
        if self.watch_interval is not None and self._watch_task is None:
            self._watch_task = asyncio.create_task(self._watch(), name=f"control unit watch {self.url}")
        self._new_session = True
        return await self.identity()

    async def identity(self) -> UnitIdentity:
        """Ask the unit who it is (``RequestIdentity``, then ``RequestStatus``)."""
        return await self._operate("handshake", self._identify, identify=False)

    async def status(self) -> UnitStatus:
        """Ask the unit how it is (``RequestStatus``); updates :attr:`state` and :attr:`reason`."""

        async def body(op: _Op) -> UnitStatus:
            status = await self._query_status(op)
            self._apply_status(status)
            return status

        return await self._operate("status", body, identify=False)

    async def register(self, seq: int, data: ControlData) -> Registration:
        """Register one receipt (``RegisterReceipt`` with ``SerialNo`` = ``seq``).

        Sending the same ``seq`` and data again (after a crash, say) returns the same
        code and stores nothing new.
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
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- operations and their tries -----------------------------------------------------

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1, force_close=True),
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
                headers={"Content-Type": xccsp.CONTENT_TYPE},
            )
        return self._session

    async def _operate(self, label: str, body: Callable[[_Op], Awaitable[R]], *, identify: bool) -> R:
        op = _Op(label)
        tries = self.retries + 1
        loop = asyncio.get_running_loop()
        async with self._lock:
            for attempt in range(1, tries + 1):
                if self._closed:
                    raise ControlUnitUnavailable("the gateway is shutting down")
                op.attempt = attempt
                started = loop.time()
                try:
                    if identify and (self._identity is None or self._identity_stale):
                        await self._identify(op)
                    return await body(op)
                except _Retry as retry:
                    op.last_problem = retry
                    log.info("%s %s: try %d of %d failed: %s", self.url, label, attempt, tries, retry)
                    if retry.pause and attempt < tries:
                        # A policy pause, not a synchronisation: a unit that hangs up at
                        # once (rebooting) gets the same time to come back as a silent one.
                        await asyncio.sleep(max(0.0, started + self.request_timeout - loop.time()))
                except _WrongAddress as wrong:
                    self._health.set(DeviceState.FAILED, wrong.words)
                    raise ControlUnitUnavailable(wrong.words) from None
            assert op.last_problem is not None
            words = self._give_up_words(op.last_problem, op.attempt)
            self._health.set(DeviceState.FAILED, words)
            raise ControlUnitUnavailable(words)

    def _give_up_words(self, last: _Retry, attempts: int) -> str:
        url = self.url
        tries = "1 try" if attempts == 1 else f"{attempts} tries"
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
                    f"the control unit at {url} answered with something that is no XCCSP reply "
                    f"({tries}) — restart it; if that does not help, call the supplier"
                )
            case _Problem.SERVER_ERROR:
                return (
                    f"the control unit at {url} reported a server error ({last.detail}, {tries}) — "
                    "restart it; if that does not help, call the supplier"
                )
            case _Problem.NO_UNIT:
                return (
                    f"the XCCSP server at {url} has no control unit connected ({tries}) — "
                    "check the control unit's power and its cable to the server"
                )
            case _Problem.UNKNOWN_FAULT:
                return (
                    f"the control unit at {url} answered with a fault this gateway does not know "
                    f"({last.detail}) — call the supplier"
                )
            case _Problem.BUSY:
                return (
                    f"the control unit at {url} stayed busy for more than {self.busy_timeout:g} s — "
                    "wait a minute and try again; if it stays busy, restart it"
                )
            case _Problem.NOT_OPERATIONAL:
                return (
                    f"the control unit at {url} says it is not operational — "
                    "restart it; if that does not help, call the supplier"
                )
            case _Problem.NO_CODE:
                return (
                    f"the control unit at {url} answered without a control code — "
                    "restart it; if that does not help, call the supplier"
                )

    async def _register(self, op: _Op, request: xccsp.RegisterReceipt) -> Registration:
        try:
            reply = await self._ask(op, request)
        except ControlUnitRefused:
            self._new_session = False  # the unit has seen this session
            raise
        if not isinstance(reply, xccsp.RegisterReceiptResponse):  # pragma: no cover - decode_reply
            raise _Retry(_Problem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        if not reply.code.strip():
            raise _Retry(_Problem.NO_CODE, "the answer's control code is blank", pause=False)
        self._new_session = False
        self._note_unit_id(reply.unit_id)
        self._sticky = None
        self._apply_status(UnitStatus(reply.main, reply.storage))
        return Registration(
            request.serial_no,
            reply.code,
            reply.unit_id,
            reply.main,
            reply.storage,
            tuple(op.records),
            op.attempt,
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
            raise _Retry(_Problem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        self._note_unit_id(reply.unit_id)
        self._identity = UnitIdentity(reply.unit_id, XCCSP_VERSION, reply.firmware, protocol="XCCSP")
        self._identity_stale = False
        self.unit_type = reply.unit_type
        status = await self._query_status(op)
        self._apply_status(status)
        return self._identity

    async def _query_status(self, op: _Op) -> UnitStatus:
        reply = await self._ask(op, xccsp.RequestStatus(self._pos_id, self._orgnr))
        if not isinstance(reply, xccsp.StatusResponse):  # pragma: no cover - decode_reply guarantees it
            raise _Retry(_Problem.DAMAGED, f"unexpected answer {reply!r}", pause=False)
        self._note_unit_id(reply.unit_id)
        return UnitStatus(reply.main, reply.storage)

    async def _ask(self, op: _Op, request: xccsp.Request) -> xccsp.Reply:
        """One request; a fault is retried (raises :class:`_Retry`) or refused."""
        answer = await self._post(op, request)
        if isinstance(answer, xccsp.Fault):
            await self._handle_fault(op, request, answer)
        return answer

    async def _post(self, op: _Op, request: xccsp.Request) -> xccsp.Reply | xccsp.Fault:
        body = xccsp.encode_request(request)
        session = self._open_session()
        op.sent(body)
        try:
            async with session.post(self.url, data=body, allow_redirects=False) as response:
                status, reason = response.status, response.reason or ""
                data = await self._read_reply(op, response)
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (and ClientErrors)
            raise _Retry(
                _Problem.NO_REPLY, f"no answer within {self.request_timeout:g} s", pause=False
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise _Retry(_Problem.CANNOT_CONNECT, _connect_error_words(exc), pause=True) from None
        except aiohttp.ClientError as exc:
            raise _Retry(_Problem.DROPPED, f"{type(exc).__name__}: {exc}", pause=True) from None
        if status != 200:
            op.received(data, f"HTTP {status} {reason}")
            if status >= 500:
                raise _Retry(_Problem.SERVER_ERROR, f"HTTP {status} {reason}", pause=True)
            raise _WrongAddress(
                f"{self.url} answered HTTP {status} {reason} instead of an XCCSP reply — "
                f"check the control unit's address (like http://host:{xccsp.DEFAULT_PORT}{xccsp.HTTP_PATH})"
            )
        try:
            answer = xccsp.decode_reply(data, type(request))
        except xccsp.XccspError as exc:
            op.received(data, f"dropped: {exc}")
            raise _Retry(_Problem.DAMAGED, str(exc), pause=False) from None
        op.received(data)
        return answer

    @staticmethod
    async def _read_reply(op: _Op, response: aiohttp.ClientResponse) -> bytes:
        data = bytearray()
        async for chunk in response.content.iter_chunked(8192):
            data += chunk
            if len(data) > MAX_REPLY:
                op.received(bytes(data[:MAX_REPLY]), f"dropped: reply over {MAX_REPLY} bytes")
                raise _Retry(_Problem.DAMAGED, f"reply over {MAX_REPLY} bytes", pause=False)
        return bytes(data)

    async def _handle_fault(self, op: _Op, request: xccsp.Request, fault: xccsp.Fault) -> NoReturn:
        """Raise what a fault to ``request`` calls for: a retry, or a refusal."""
        code = fault.code
        said = f"Fault {int(code)} to {request.TYPE}" + (f": {fault.message}" if fault.message else "")
        if not isinstance(code, xccsp.FaultCode):
            raise _Retry(_Problem.UNKNOWN_FAULT, said, pause=True)
        if code is xccsp.FaultCode.SERVER_ERROR:
            raise _Retry(_Problem.SERVER_ERROR, said, pause=True)
        if code is xccsp.FaultCode.NO_UNIT:
            raise _Retry(_Problem.NO_UNIT, said, pause=True)
        if code is xccsp.FaultCode.NOT_OPERATIONAL:
            if not isinstance(request, xccsp.RequestStatus):
                await self._wait_while_busy(op)
            raise _Retry(_Problem.NOT_OPERATIONAL, said, pause=False)
        nak = code.nak
        assert nak is not None  # every known code but 98 and 99 has one
        words = refusal_words(nak, self._pos_id)
        state = REFUSAL_HEALTH.get(nak)
        if state is not None:
            self._sticky = (state, words)
            self._health.set(state, words)
        log.warning("%s %s: refused: %s", self.url, op.label, said)
        raise ControlUnitRefused(nak, words)

    async def _wait_while_busy(self, op: _Op) -> None:
        """After Fault 6: while the status says busy, wait (up to busy_timeout per call)."""
        loop = asyncio.get_running_loop()
        status = await self._query_status(op)
        if status.main is xccsp.MainStatus.BUSY:
            if op.busy_since is None:
                op.busy_since = loop.time()
            busy_end = op.busy_since + self.busy_timeout
            while status.main is xccsp.MainStatus.BUSY and loop.time() < busy_end:
                # A poll period, not a synchronisation: the unit gives no "ready" signal.
                await asyncio.sleep(min(self.busy_poll, busy_end - loop.time()))
                status = await self._query_status(op)
            if status.main is xccsp.MainStatus.BUSY:
                raise _Retry(_Problem.BUSY, f"still busy after {self.busy_timeout:g} s", pause=False)
        self._apply_status(status)
        if self.state is DeviceState.FAILED:
            raise ControlUnitUnavailable(self.reason.removeprefix("failed: "))

    # -- health -------------------------------------------------------------------------

    def _apply_status(self, status: UnitStatus) -> None:
        self._last_status = status
        state, words = health_of_status(status)
        if self._sticky is not None and state is not DeviceState.FAILED:
            state, words = self._sticky
        self._health.set(state, words)

    async def _watch(self) -> None:
        assert self.watch_interval is not None
        while True:
            # The watch period: how soon a change is noticed while the till is idle.
            await asyncio.sleep(self.watch_interval)
            if self._lock.locked():
                continue  # a sale is talking to the unit; that tells us enough
            with contextlib.suppress(ControlUnitError):
                await self.status()
