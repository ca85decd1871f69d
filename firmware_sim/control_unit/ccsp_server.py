"""The CCSP front-end of the simulated unit: one session per line (pty or TCP connection).

A session deframes what the register sends, answers each request in order, keeps the
v1 receipt state (ST -> RH -> SQ) for its line, and logs every frame in hex. It answers
as real units do (docs/protocols/ccsp.md): SIR with a status detail of several
characters, IR, RRR to RR (one space for the code of a training or pro forma receipt),
ACK to ST and RH, SR with the code only to SQ, NAK. A v1-only unit answers RR with
NAK 002. On a pty with a configured ``baudrate`` it hears nothing a register sends at
another speed (a UART at the wrong rate reads only framing errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from firmware_sim.control_unit.unit import ControlUnit, NoReply, Refused, ServerError
from firmware_sim.pty import PtyPort
from protocols import ccsp
from protocols.skv import ControlData

log = logging.getLogger("tillgw.sim.control_unit")


class CcspSession:
    """The unit's side of one line. ``send`` writes bytes; ``hangup`` drops the line."""

    def __init__(
        self,
        unit: ControlUnit,
        send: Callable[[bytes], None],
        hangup: Callable[[], None] | None = None,
        line_speed: Callable[[], int | None] | None = None,
    ) -> None:
        self.unit = unit
        self.send = send
        self.hangup = hangup
        self.line_speed = line_speed  # the speed the register set, where the line has one
        self.deframer = ccsp.Deframer()
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._started = False  # v1: ST seen
        self._header: ControlData | None = None  # v1: RH seen
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def finish(self) -> None:
        """The line is gone: answer nothing more, but let the unit finish what it started.

        A real unit behind a serial-to-TCP converter goes on with a request whose sender
        hung up; cancelling it here would make the simulator less faithful than the unit.
        """
        self.send = _discard
        self._queue.put_nowait(None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def received(self, data: bytes) -> None:
        """Bytes from the line (called from the transport, never blocks)."""
        if self.unit.is_dark():
            return  # a unit without power hears nothing
        wanted = self.unit.config.baudrate
        if wanted is not None and self.line_speed is not None:
            speed = self.line_speed()
            if speed is not None and speed != wanted:
                log.debug("rx at %d baud, unit listens at %d: %d bytes unheard", speed, wanted, len(data))
                return
        for f in self.deframer.feed_marking_lrc_errors(data):
            # b"" stands for a frame that failed its LRC: answered with NAK 001 in turn.
            self._queue.put_nowait(b"" if f is None else f)

    async def _run(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None:
                return
            if frame:
                log.debug("rx %s", frame.hex(" "))
            else:
                log.debug("rx frame with bad LRC")
            try:
                reply = await self._answer(frame)
            except NoReply as exc:
                log.info("no reply (%s)", exc)
                if exc.power_cut:
                    self.deframer.reset()
                    self._started, self._header = False, None
                    if self.hangup is not None:
                        self.hangup()
                continue
            data = ccsp.frame(ccsp.encode_message(reply), self.unit.config.frame_mode.encode("ascii"))
            if self.unit.take_corruption():
                data = data[:-3] + (b"00" if data[-3:-1] != b"00" else b"01") + b"\r"
            data = self.unit.take_noise() + data
            log.debug("tx %s", data.hex(" "))
            self.send(data)

    async def _answer(self, frame: bytes) -> ccsp.Reply:
        try:
            return await self._answer_frame(frame)
        except ServerError:
            return ccsp.Nak(ccsp.NakCode.INTERNAL_ERROR)  # a unit's own failure is NAK 008

    async def _answer_frame(self, frame: bytes) -> ccsp.Reply:
        if not frame:
            await self.unit.status()  # a bad LRC still meets the transport faults
            return ccsp.Nak(ccsp.NakCode.INVALID_LRC)
        message = ccsp.message_of(frame)
        try:
            request = ccsp.decode_request(message)
        except ccsp.MessageError as exc:
            await self.unit.status()
            known = ccsp.message_type(message) in ccsp.REQUESTS
            log.info("refused %r: %s", message[:40], exc)
            return ccsp.Nak(ccsp.NakCode.INVALID_DATA if known else ccsp.NakCode.UNKNOWN_MESSAGE)
        try:
            return await self._dispatch(request)
        except Refused as exc:
            return ccsp.Nak(exc.code)

    async def _dispatch(self, request: ccsp.Request) -> ccsp.Reply:
        unit = self.unit
        v1_only = unit.config.protocol == 1
        match request:
            case ccsp.StatusQuery():
                status = await unit.status()
                return ccsp.StatusReply(status.main, status_detail(status.main, status.storage))
            case ccsp.IdentityQuery():
                ident = await unit.identity()
                return ccsp.IdentityReply(ident.unit_id, ident.protocol, ident.firmware)
            case ccsp.RegisterReceipt(seq=seq, data=data) if not v1_only:
                done = await unit.register(f"seq:{seq}", data)
                return ccsp.RegisterReply(done.code, done.unit_id, done.main, done.storage)
            case ccsp.StartReceipt():
                await unit.status()
                self._started, self._header = True, None
                return ccsp.Ack()
            case ccsp.ReceiptHeader(data=data):
                await unit.status()
                if not self._started:
                    raise Refused(ccsp.NakCode.INVALID_SEQUENCE)
                self._header = data
                return ccsp.Ack()
            case ccsp.SignatureQuery():
                await unit.status()
                header = self._header
                if header is None:
                    raise Refused(ccsp.NakCode.INVALID_SEQUENCE)
                key = f"v1:{header.receipt_type.value}:{header.receipt_no}"
                done = await unit.register(key, header)
                self._started, self._header = False, None
                return ccsp.SignatureReply(done.code)
        raise Refused(ccsp.NakCode.UNKNOWN_MESSAGE)


_SEVERITY_OF_MAIN = {
    ccsp.MainStatus.OK: ccsp.Severity.INFORMATIONAL,
    ccsp.MainStatus.WARNING: ccsp.Severity.WARNING,
    ccsp.MainStatus.PROTOCOL_ERROR: ccsp.Severity.PROTOCOL_ERROR,
    ccsp.MainStatus.NON_FATAL_ERROR: ccsp.Severity.NON_FATAL_ERROR,
    ccsp.MainStatus.FATAL_ERROR: ccsp.Severity.FATAL_ERROR,
}


def status_detail(main: ccsp.MainStatus, storage: ccsp.StorageStatus) -> str:
    """The simulator's SIR detail: five characters, the severity second (where Odoo reads
    it) and the storage status third. The layout beyond the severity is our choice (the
    real one is not public); the driver reads only the severity."""
    severity = _SEVERITY_OF_MAIN.get(main, ccsp.Severity.INFORMATIONAL)
    return f"0{int(severity)}{int(storage)}00"


def _discard(data: bytes) -> None:
    pass


@contextlib.asynccontextmanager
async def serve_tcp(unit: ControlUnit, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve CCSP on a TCP port; yields the ``socket://host:port`` URL a driver opens."""
    sessions: set[CcspSession] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = CcspSession(unit, writer.write, writer.close)
        sessions.add(session)
        session.start()
        try:
            while data := await reader.read(4096):
                session.received(data)
        except ConnectionError:
            pass
        finally:
            sessions.discard(session)
            session.finish()
            writer.close()

    server = await asyncio.start_server(on_client, host, port)
    bound = server.sockets[0].getsockname()
    try:
        yield f"socket://{bound[0]}:{bound[1]}"
    finally:
        server.close()
        for session in list(sessions):
            await session.stop()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def serve_pty(unit: ControlUnit) -> AsyncIterator[str]:
    """Serve CCSP on a new pty; yields the slave's path (``/dev/pts/N``)."""
    port = PtyPort()
    session = CcspSession(unit, port.write, port.discard_input, port.line_speed)
    session.start()
    port.start_reading(session.received)
    try:
        yield port.path
    finally:
        await session.stop()
        port.close()
