"""The CCSP driver: a CleanCash-compatible control unit on a serial line or TCP socket.

:class:`ControlUnitDriver` implements :class:`~gateway.devices.control_units.interface.ControlUnit`
over the CleanCash Serial Protocol, v1 (``ST``/``RH``/``SQ``) and v2 (``RR``); the
handshake (``IQ`` then ``SIQ``) tells which one the unit speaks.

Retry and deadline policy (numbers are the constructor's defaults):

* every request has a deadline (``request_timeout``, 2 s) — opening the link included;
* a request is tried at most ``1 + retries`` times (3); a retry keeps the sequence number,
  so a unit that did register the first time answers the repeat with the same code;
* retried: no answer, an answer dropped for a bad LRC, a lost link, NAK 001 (the unit
  saw *our* LRC wrong), NAK 006 (not operational; while ``SIQ`` says busy we wait up to
  ``busy_timeout``, 10 s, polling every ``busy_poll``, 0.5 s, then send again), and for
  v1 NAK 004 (the unit lost the ST/RH/SQ thread: the triple starts over);
* any other NAK is final, a code this gateway does not know too:
  :class:`ControlUnitRefused` with the NAK's number and words for the POS;
* an answer that came back but cannot be used (another reply type than the request's,
  a control code that is not one, fields that do not parse) is retried; out of tries
  it is named as such, with its bytes — "no answer" only when nothing came back;
* out of tries: :class:`ControlUnitUnavailable`, and the state becomes ``failed`` with
  the same words.

The tries, their deadlines and what a failure is called are run by
:class:`~gateway.devices.control_units.operation.RetryingUnit`, which the XCCSP driver shares;
this module adds the framing and the resynchronisation below.

After a request went unanswered, the line is "in doubt": the late answer may still be
on its way, and a CCSP answer does not say which request it answers. So before the
next request the driver sends ``SIQ`` and waits for its ``SIR`` — units answer in
order, so once that comes every older answer has come too (and was skipped, since an
answer is read by the layout of the request it answers). Only then is a new ``RR``
sent, and a late code for an old receipt can never be taken for a new one.

Line speed: with ``speeds`` (``[control_unit] baudrate = "auto"``, the default on a
serial line) the handshake asks ``SIQ`` at each speed in turn (9600, 57600, 19200) until
one is answered, then ``IQ``; the speed found is kept, tried first at the next
handshake, and shown in :attr:`UnitIdentity.line`.

Every frame is logged in hex on ``tillgw.devices.control_unit.frames`` (DEBUG) with the
sequence number and receipt number it belongs to, and kept in the
:class:`~gateway.devices.control_units.interface.Registration`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar, Unpack

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.control_units.interface import (
    ControlUnit,
    ControlUnitUnavailable,
    Registration,
    UnitIdentity,
    UnitStatus,
)
from gateway.devices.control_units.operation import (
    CLEANCASH_CODE,
    Direction,
    FrameJournal,
    Operation,
    Retry,
    RetryingUnit,
    Tries,
    UnitProblem,
)
from gateway.devices.links.line import CCSP_PROTOCOL, DeviceProtocol
from gateway.devices.links.link import LinkError, LinkOpener, is_network_url, open_link
from gateway.devices.links.port import DeviceTimeout, Exchange, PortClosed, PortOwner
from protocols import ccsp
from protocols.skv import ControlData

__all__ = [
    "ControlUnitDriver",
    "cashier_field",
]

log = logging.getLogger("tillgw.devices.control_unit")
frame_log = logging.getLogger("tillgw.devices.control_unit.frames")

SUPPORTED_VERSIONS = (1, 2)

R = TypeVar("R")


class _Problem(enum.Enum):
    """What a try over CCSP can meet besides the :class:`UnitProblem` of any protocol."""

    NO_REPLY = "no reply"
    DAMAGED = "damaged reply"
    LINK = "link error"
    NAK_LRC = "unit saw a bad LRC"
    SEQUENCE = "v1 sequence lost"
    OUT_OF_TURN = "answer out of turn"
    UNUSABLE = "unusable answer"
    NO_SPEED = "no answer at any speed"


_Op: TypeAlias = Operation[UnitProblem | _Problem]


@dataclass(frozen=True, slots=True)
class _Answered:
    reply: ccsp.Reply


@dataclass(frozen=True, slots=True)
class _Damaged:
    frames: int  # how many candidate frames failed their LRC


_Outcome = _Answered | _Damaged


_STALE_NOTE = "stale: dropped before the next request"

_Acceptor = Callable[[ccsp.Reply], str | None]  # returns why to skip a reply, or None


class _ReplyReader:
    """Finds the answer to one request in the bytes that come back.

    A frame that does not parse as an answer to this request (a late answer to an
    earlier one) is logged and skipped, and reading goes on until the deadline.
    """

    def __init__(self, answering: type[ccsp.Request], journal: FrameJournal, accept: _Acceptor) -> None:
        self._answering = answering
        self._journal = journal
        self._accept = accept
        self._deframer = ccsp.Deframer()
        self.unusable: list[tuple[bytes, str]] = []  # whole frames that came back but were no answer

    def feed(self, data: bytes) -> _Outcome | None:
        deframer = self._deframer
        lrc_before = deframer.lrc_errors
        frames = deframer.feed(data)
        self._journal_discards()
        for frame in frames:
            try:
                reply = ccsp.decode_reply(ccsp.message_of(frame), self._answering)
            except ccsp.MessageError as exc:
                log.warning("skipped a frame that is no answer to %s: %s", self._answering.TYPE, exc)
                self._journal.received(frame, f"skipped: no answer to {self._answering.TYPE}")
                self.unusable.append((frame, str(exc)))
                continue
            why_not = self._accept(reply)
            if why_not is not None:
                log.warning("skipped an answer to %s: %s", self._answering.TYPE, why_not)
                self._journal.received(frame, f"skipped: {why_not}")
                self.unusable.append((frame, why_not))
                continue
            self._journal.received(frame)
            return _Answered(reply)
        damaged = deframer.lrc_errors - lrc_before
        return _Damaged(damaged) if damaged else None

    def _journal_discards(self) -> None:
        discards = self._deframer.discards
        if not discards:
            return
        data = b"".join(d.data for d in discards)
        reasons = ", ".join(dict.fromkeys(d.reason for d in discards))
        discards.clear()
        self._journal.received(data, f"dropped: {reasons}")


class ControlUnitDriver(RetryingUnit[UnitProblem | _Problem], ControlUnit):
    """A control unit speaking CCSP v1 or v2 at ``url`` for the register ``pos_id``.

    ``url`` is a serial device or pyserial URL (``/dev/ttyUSB0``, ``/dev/pts/7``) or a
    network address (``socket://host:port``, ``tcp://host:port``). Nothing is opened
    until :meth:`start` or the first call; every call is safe to make concurrently (they
    are served one at a time). ``watch_interval`` (seconds) makes the driver ask the
    unit's status while idle, so a unit that dies or comes back is noticed before the
    next sale.
    """

    _log = log

    def __init__(
        self,
        url: str,
        pos_id: str,
        *,
        protocol: DeviceProtocol = CCSP_PROTOCOL,
        speeds: tuple[int, ...] | None = None,
        backoff: Backoff | None = None,
        opener: LinkOpener = open_link,
        **tries: Unpack[Tries],
    ) -> None:
        # One operation (a whole v1 ST/RH/SQ, say) at a time: RetryingUnit holds the lock.
        super().__init__(url, pos_id, **tries)
        self.protocol = protocol
        # Speeds to probe at the handshake; a network link has none to choose.
        self._speeds = () if speeds is None or is_network_url(url) else tuple(dict.fromkeys(speeds))
        if any(speed <= 0 for speed in self._speeds):
            raise ValueError(f"speeds {speeds} must be positive")
        self._port = PortOwner(url, protocol.line, opener=opener, backoff=backoff)
        self._identified_on = -1  # the link opening the identity was learnt on
        self._in_doubt = False  # an answer may still be on its way (see module doc)

    # -- the ControlUnit interface ------------------------------------------------------

    @property
    def link_opens(self) -> int:
        """How many times the link was opened: 1 plus the reconnects."""
        return self._port.opens

    async def start(self) -> UnitIdentity:
        """The handshake: ``IQ`` then ``SIQ``. Raises :class:`ControlUnitUnavailable`."""
        self._start_watching()
        return await self.identity()

    async def identity(self) -> UnitIdentity:
        """Ask the unit who it is (``IQ``, then ``SIQ`` for its state)."""

        async def body(op: _Op) -> UnitIdentity:
            self._identity = None
            return await self._identify(op)

        return await self._operate("handshake", body, identify=False)

    async def register(self, seq: int, data: ControlData, *, cashier: str = "") -> Registration:
        """Register one receipt and return its control code.

        ``seq`` identifies the registration to a v2 unit: sending the same ``seq`` and
        data again (after a crash, say) returns the same code and stores nothing new.
        ``cashier`` goes in v1's ``RH`` (field 4), made fit for it (:func:`cashier_field`).
        """
        if not 1 <= seq <= ccsp.SEQ_MAX:
            raise ValueError(f"seq {seq} is outside 1..{ccsp.SEQ_MAX}")
        if data.pos_id != self._pos_id:
            raise ValueError(
                f"receipt for POS id {data.pos_id!r} sent to the control unit of {self._pos_id!r}"
            )

        async def body(op: _Op) -> Registration:
            assert self._identity is not None  # _operate identified the unit first
            if self._identity.protocol_version == 1:
                return await self._register_v1(op, seq, data, cashier_field(cashier))
            return await self._register_v2(op, seq, data)

        registration = await self._operate(f"seq={seq} receipt={data.receipt_no}", body, identify=True)
        return registration

    async def close(self) -> None:
        await self._stop_watching()
        await self._port.close()

    # -- operations and their tries -----------------------------------------------------

    def _log_frame(self, label: str, direction: Direction, data: bytes, note: str) -> None:
        if frame_log.isEnabledFor(logging.DEBUG):
            frame_log.debug("%s %s %s%s", label, direction, data.hex(" "), f" ({note})" if note else "")

    async def _try(self, op: _Op, body: Callable[[_Op], Awaitable[R]], *, identify: bool) -> R:
        try:
            if self._in_doubt:
                await self._resync(op)
            if identify and (self._identity is None or self._identified_on != self._port.opens):
                await self._identify(op)
            return await body(op)
        except asyncio.CancelledError:
            self._in_doubt = True  # the request may still be answered
            raise
        except PortClosed as exc:
            raise ControlUnitUnavailable(tr("the gateway is shutting down")) from exc

    def _give_up_words(self, last: Retry[UnitProblem | _Problem], tries: str) -> str:
        url = self.url
        match last.problem:
            case _Problem.NO_REPLY:
                return tr(
                    "no answer from the control unit on {url} after {tries} — check the cable and power"
                ).format(url=url, tries=tries)
            case _Problem.NO_SPEED:
                return tr(
                    "no answer from the control unit on {url} at {detail} baud "
                    "({tries}) — check the cable and power; if the unit's manual "
                    "names another speed, set [control_unit] baudrate to it"
                ).format(url=url, detail=last.detail, tries=tries)
            case _Problem.OUT_OF_TURN | _Problem.UNUSABLE:
                return tr(
                    "the control unit on {url} answered, but not in a way this "
                    "gateway can use ({tries}; the last: {detail}) — call the "
                    "supplier with this message"
                ).format(url=url, tries=tries, detail=last.detail)
            case _Problem.DAMAGED:
                return tr(
                    "every answer from the control unit on {url} arrived damaged "
                    "({tries}) — check the cable and keep it away from power leads"
                ).format(url=url, tries=tries)
            case _Problem.NAK_LRC:
                return tr(
                    "the control unit on {url} received damaged frames from the "
                    "register ({tries}) — check the cable and keep it away from "
                    "power leads"
                ).format(url=url, tries=tries)
            case _Problem.LINK:
                return last.detail
            case _Problem.SEQUENCE:
                return tr("the control unit on {url} kept losing track of the receipt — restart it").format(
                    url=url
                )
            case UnitProblem():
                return self._unit_problem_words(
                    last.problem, tr("the control unit on {url}").format(url=url), last.detail
                )

    async def _register_v2(self, op: _Op, seq: int, data: ControlData) -> Registration:
        reply = await self._request(op, ccsp.RegisterReceipt(seq, data))
        if not isinstance(reply, ccsp.RegisterReply):  # pragma: no cover - decode_reply guarantees it
            raise Retry(_Problem.OUT_OF_TURN, f"unexpected answer {reply!r}")
        code = self._code_of(reply.code, data.receipt_type, CLEANCASH_CODE)
        status = None
        if reply.main is not None:
            # An answer without the storage status: the health keeps the last one known.
            storage = reply.storage if reply.storage is not None else self._known_storage()
            status = UnitStatus(reply.main, storage)
        return self._registered(
            op, seq, code, reply.unit_id, reply.main, reply.storage, data.receipt_type, status=status
        )

    async def _register_v1(self, op: _Op, seq: int, data: ControlData, cashier: str) -> Registration:
        # A retry of any step starts the triple over: the unit keys a v1 repeat by receipt
        # type and number, so a receipt it already stored gets its first code back.
        await self._request(op, ccsp.StartReceipt())
        await self._request(op, ccsp.ReceiptHeader(data, cashier))
        reply = await self._request(op, ccsp.SignatureQuery())
        if not isinstance(reply, ccsp.SignatureReply):  # pragma: no cover - decode_reply guarantees it
            raise Retry(_Problem.OUT_OF_TURN, f"unexpected answer {reply!r}")
        code = self._code_of(reply.code, data.receipt_type, CLEANCASH_CODE)
        assert self._identity is not None  # the handshake came first; SR carries no unit id
        self._sticky = None  # registered: a refusal no longer holds, even if the status below fails
        # v1's answer carries no status: ask, but the receipt is registered either way.
        status: UnitStatus | None
        try:
            status = await self._query_status(op)
        except Retry as retry:
            log.warning("%s %s: no status after registering: %s", self.url, op.label, retry)
            status = None
        return self._registered(
            op,
            seq,
            code,
            self._identity.unit_id,
            status.main if status else None,
            status.storage if status else None,
            data.receipt_type,
            status=status,
        )

    # -- single requests ----------------------------------------------------------------

    async def _identify(self, op: _Op) -> UnitIdentity:
        if self._speeds and (self._identity is None or self._identified_on != self._port.opens):
            await self._find_speed(op)
        reply = await self._request(op, ccsp.IdentityQuery())
        if not isinstance(reply, ccsp.IdentityReply):  # pragma: no cover - decode_reply guarantees it
            raise Retry(_Problem.OUT_OF_TURN, f"unexpected answer {reply!r}")
        if reply.protocol not in SUPPORTED_VERSIONS:
            words = tr(
                "the control unit on {url} speaks CCSP version {protocol}, which "
                "this gateway does not know — call the supplier"
            ).format(url=self.url, protocol=reply.protocol)
            self._health.set(DeviceState.FAILED, words)
            raise ControlUnitUnavailable(words)
        if self._identity is not None and self._identity.unit_id != reply.unit_id:
            log.warning(
                "%s: the control unit changed from %s to %s", self.url, self._identity.unit_id, reply.unit_id
            )
        line = self._port.line.describe() if not is_network_url(self.url) else ""
        self._identity = UnitIdentity(reply.unit_id, reply.protocol, reply.firmware, line=line)
        self._identified_on = self._port.opens
        status = await self._query_status(op)
        self._apply_status(status)
        return self._identity

    async def _find_speed(self, op: _Op) -> None:
        """Ask ``SIQ`` at each speed, the last one found first, until one is answered."""
        current = self._port.line.baudrate
        order = (current, *(speed for speed in self._speeds if speed != current))
        for speed in order:
            await self._port.set_line(dataclasses.replace(self._port.line, baudrate=speed))
            try:
                await self._query_status(op)
            except Retry as retry:
                # Looking for the speed, not a failure: silence at the wrong speed is expected.
                # Silence at every speed is the failure, and it is logged as one (a warning per
                # try, an error when the unit is failed).
                log.info("%s: no usable answer at %d baud: %s", self.url, speed, retry)
                continue
            if speed != current:
                log.warning("%s: the control unit answers at %d baud", self.url, speed)
            return
        await self._port.set_line(dataclasses.replace(self._port.line, baudrate=order[0]))
        raise Retry(_Problem.NO_SPEED, ", ".join(str(speed) for speed in order))

    def _known_storage(self) -> ccsp.StorageStatus | None:
        """``SIR`` does not carry the storage status: the last one ``RRR`` told is kept."""
        return self._last_status.storage if self._last_status is not None else None

    async def _query_status(self, op: _Op) -> UnitStatus:
        reply = await self._exchange(op, ccsp.StatusQuery())
        if isinstance(reply, ccsp.Nak):
            if reply.code == ccsp.NakCode.INVALID_LRC:
                raise Retry(_Problem.NAK_LRC, "the unit received a damaged status query")
            raise Retry(_Problem.UNUSABLE, f"NAK {reply.code:03d} ({reply.text}) to a status query")
        if not isinstance(reply, ccsp.StatusReply):  # pragma: no cover - decode_reply guarantees it
            raise Retry(_Problem.OUT_OF_TURN, f"unexpected answer {reply!r}")
        return UnitStatus(reply.main, self._known_storage(), reply.detail)

    async def _resync(self, op: _Op) -> None:
        """Wait for the answer to a fresh SIQ, so every older answer is out of the way."""
        status = await self._query_status(op)
        self._in_doubt = False
        self._apply_status(status)

    async def _request(self, op: _Op, request: ccsp.Request) -> ccsp.Reply:
        """One request; a NAK is retried or turned into :class:`ControlUnitRefused`."""
        reply = await self._exchange(op, request)
        if isinstance(reply, ccsp.Nak):
            await self._handle_nak(op, request, reply.code)
        return reply

    async def _handle_nak(self, op: _Op, request: ccsp.Request, code: int) -> None:
        """Raise what a NAK to ``request`` calls for: a retry, or a refusal (any other code,
        one this gateway does not know too, is a refusal with its number)."""
        if code == ccsp.NakCode.INVALID_LRC:
            raise Retry(_Problem.NAK_LRC, f"the unit received a damaged {request.TYPE}")
        if code == ccsp.NakCode.NOT_OPERATIONAL:
            await self._wait_while_busy(op)
            raise Retry(UnitProblem.NOT_OPERATIONAL, f"NAK 006 to {request.TYPE}")
        if code == ccsp.NakCode.INVALID_SEQUENCE and request.TYPE in ("RH", "SQ"):
            raise Retry(_Problem.SEQUENCE, f"NAK 004 to {request.TYPE}")
        self._refuse(code, op, f"NAK {code:03d} ({ccsp.nak_text(code)}) to {request.TYPE}")

    async def _exchange(self, op: _Op, request: ccsp.Request) -> ccsp.Reply:
        reader = _ReplyReader(type(request), op.journal, self._acceptor(request))
        exchange: Exchange[_Outcome] = Exchange(
            ccsp.encode(request),
            reader,
            self.request_timeout,
            on_sent=op.journal.sent,
            on_stale=lambda data: op.journal.received(data, _STALE_NOTE),
        )
        try:
            outcome = await self._port.exchange(exchange)
        except DeviceTimeout as exc:
            self._in_doubt = True
            if reader.unusable:
                frame, why = reader.unusable[-1]
                raise Retry(_Problem.UNUSABLE, f"{why} — bytes {frame!r}") from None
            raise Retry(_Problem.NO_REPLY, str(exc)) from None
        except LinkError as exc:
            self._in_doubt = True  # a serial line may still hold a late answer
            raise Retry(_Problem.LINK, str(exc)) from None
        if isinstance(outcome, _Damaged):
            raise Retry(_Problem.DAMAGED, f"{outcome.frames} frame(s) with a bad LRC")
        return outcome.reply

    def _acceptor(self, request: ccsp.Request) -> _Acceptor:
        def accept(reply: ccsp.Reply) -> str | None:
            unit_id = getattr(reply, "unit_id", None)
            if (
                isinstance(reply, ccsp.RegisterReply)
                and self._identity is not None
                and unit_id != self._identity.unit_id
            ):
                # A swapped unit names another id: not this receipt's code; ask again.
                self._identified_on = -1
                return f"the answer names unit {unit_id!r}, not {self._identity.unit_id!r}"
            return None

        return accept


def cashier_field(cashier: str) -> str:
    """A cashier id as v1's ``RH`` carries it: printable ASCII (Å, Ä, Ö as A, A, O), at
    most 16 characters, not beginning with ``#``; one space when there is none."""
    text = cashier.translate(_ASCII_LETTERS).encode("ascii", "ignore").decode("ascii")
    text = "".join(ch for ch in text if " " <= ch <= "~").strip().lstrip("#").strip()
    return text[:16] or ccsp.BLANK


_ASCII_LETTERS = str.maketrans("ÅÄÖåäöÉéÜü", "AAOaaoEeUu")
