"""The simulated ESC/POS printer with its cash drawer, independent of the transport.

A front-end (pty or TCP) hands every chunk it reads to :meth:`PrinterDevice.received`
and sends back what that returns. Inside, like a real printer:

- **Receive side.** Bytes are parsed on arrival. ``DLE EOT n`` is answered at once from
  the current state, even mid-job, while the printer is offline or busy being slow.
  Everything else goes into the receive buffer, in order. The simulated print engine is
  instant: what a ready (and not slowed) printer received before a status request has
  been carried out when the answer is made, so a test that sends a job and then
  ``DLE EOT`` knows, once the answer arrives, that the receipt files are there.
- **Print side.** :meth:`drain` executes buffered commands while the printer is ready
  (online: paper in, cover shut, no error): text into the line buffer, lines onto the
  paper, a cut writes the receipt (:mod:`firmware_sim.printer.output`), ``ESC p`` kicks
  the drawer.

Paper out, cover open and offline hold the print data (a real printer stops printing
and keeps what it received); it prints, exactly once and in order, when the fault is
cleared. Nothing is ever discarded by those faults. The receive buffer holds about
``buffer_bytes`` (default 4096, a common receive-buffer size): above that,
:attr:`accepting` turns false and the front-end stops reading, so the sender's writes
stall (TCP window / pty buffer full) and real-time status requests behind the data wait
too, exactly as with a full printer. A drawer kick held this way fires when the printer
comes back: that is why a driver must expire kicks that waited.

``disconnect`` is the only fault that loses data: after its byte count of print data
(status requests do not count) the line drops; the rest of that chunk is lost, and so is
an incomplete command. What was received before the drop is processed normally (so
lines already fed stay on the paper; an unfinished line is cleared by the next
``ESC @``).

Time comes from ``clock`` (``time.monotonic`` unless a test passes its own), so the
drawer closing and slow printing are computed, not timed: the front-end only has to call
:meth:`drain` again after :meth:`wake_delay` seconds.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from firmware_sim.printer.config import PrinterConfig
from firmware_sim.printer.drawer import CashDrawer
from firmware_sim.printer.faults import Fault, FaultSet, OfflineKind
from firmware_sim.printer.fonts import load_fonts
from firmware_sim.printer.output import ReceiptWriter
from firmware_sim.printer.paper import Paper, Style
from firmware_sim.printer.render import ReceiptRenderer
from protocols import escpos
from protocols.escpos import (
    Alignment,
    Command,
    ErrorCause,
    OfflineCause,
    PaperStatus,
    PrinterStatus,
    StatusReply,
    StatusType,
)

__all__ = ["PrinterConfig", "PrinterDevice"]

log = logging.getLogger("tillgw.sim.printer")

_STATUS_REQUEST_BYTES = 3


def _held_size(command: Command) -> int:
    """About how many receive-buffer bytes a parsed command stood for."""
    match command:
        case escpos.Text(data=data) | escpos.Unknown(data=data):
            return len(data)
        case escpos.Barcode(data=data):
            return len(data) + 13
        case escpos.QrCode(data=data):
            return len(data) + 40
        case _:
            return 3


class PrinterDevice:
    def __init__(
        self,
        config: PrinterConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        writer: ReceiptWriter | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.faults = FaultSet()
        if writer is None:
            renderer = ReceiptRenderer(load_fonts(config.font)) if config.png else None
            writer = ReceiptWriter(config.output, renderer, png=config.png)
        self.writer = writer
        self.paper = Paper(config.columns)
        self.receipts: list[Path] = []
        self.drawer = CashDrawer(config, clock)
        self.line_dropped = False
        self._parser = escpos.CommandParser()
        self._queue: deque[tuple[Command, int]] = deque()
        self._held = 0
        self._since_armed = 0
        self._cut_due: float | None = None
        self._listeners: list[Callable[[], None]] = []
        self._reset_modes()

    def _reset_modes(self) -> None:
        self.style = Style()
        self.align = Alignment.LEFT
        self.code_table = self.config.code_table

    # -- observers ---------------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every change of state; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- receive side ------------------------------------------------------------------

    def received(self, data: bytes) -> bytes:
        """Bytes from the line; returns the bytes to send back (status replies).

        After a ``disconnect`` drop nothing more is heard until :meth:`line_reset`.
        """
        if self.line_dropped:
            return b""
        replies = bytearray()
        rest = bytes(data)
        while rest:
            budget = self._disconnect_budget()
            chunk, rest = (rest, b"") if budget is None else (rest[:budget], rest[budget:])
            requests = self._take(self._parser.feed(chunk), replies)
            if budget is None:
                continue
            self._since_armed += len(chunk) - _STATUS_REQUEST_BYTES * requests
            if self._since_armed >= self._disconnect_limit():
                self._drop_line(lost=len(rest))
                break
        self.drain()
        return bytes(replies)

    def _take(self, commands: list[Command], replies: bytearray) -> int:
        """Answer the status requests among ``commands``, buffer the rest; count the requests."""
        requests = 0
        for command in commands:
            if isinstance(command, escpos.StatusRequest):
                self._print_ready()  # the answer reflects everything received before it
                replies += escpos.build_status(self.status(command.n))
                requests += 1
            else:
                size = _held_size(command)
                self._queue.append((command, size))
                self._held += size
        return requests

    def _disconnect_limit(self) -> int:
        arg = self.faults.arg(Fault.DISCONNECT)
        return int(arg) if arg else 0

    def _disconnect_budget(self) -> int | None:
        if not self.faults.is_on(Fault.DISCONNECT):
            return None
        return max(1, self._disconnect_limit() - self._since_armed)

    def _drop_line(self, lost: int) -> None:
        self.faults.strike(Fault.DISCONNECT)
        self._take(self._parser.flush(), bytearray())
        pending = self._parser.buffered
        log.warning("fault disconnect: line dropped; %d byte(s) lost", lost + pending)
        self._parser = escpos.CommandParser()
        self._since_armed = 0
        self.line_dropped = True

    def line_reset(self) -> None:
        """A new connection (or the line back after a drop): start parsing afresh.

        Text received before is kept (it reached the line buffer); an incomplete command
        is dropped.
        """
        self._take(self._parser.flush(), bytearray())
        self._parser = escpos.CommandParser()
        self._since_armed = 0
        self.line_dropped = False
        self.drain()

    @property
    def held_bytes(self) -> int:
        """About how many bytes wait in the receive buffer."""
        return self._held + self._parser.buffered

    @property
    def accepting(self) -> bool:
        """Whether the receive buffer has room (the front-end should keep reading)."""
        return self.held_bytes < self.config.buffer_bytes

    # -- print side --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Online: the printer prints what it receives."""
        return not (
            self.faults.is_on(Fault.PAPER_OUT)
            or self.faults.is_on(Fault.COVER_OPEN)
            or self.faults.is_on(Fault.OFFLINE)
        )

    def drain(self) -> None:
        """Print what can be printed now; call again after :meth:`wake_delay` seconds."""
        self._print_ready()
        self._notify()

    def _print_ready(self) -> None:
        while self._queue and self.ready:
            command, size = self._queue[0]
            if isinstance(command, escpos.Cut) and not self._cut_may_proceed():
                break
            self._queue.popleft()
            self._held -= size
            self._execute(command)

    def wake_delay(self) -> float | None:
        """Seconds until time alone lets :meth:`drain` go on (slow printing), else ``None``."""
        if self._cut_due is None or not self._queue or not self.ready:
            return None
        return max(0.0, self._cut_due - self.clock())

    def _cut_may_proceed(self) -> bool:
        if not self.faults.is_on(Fault.SLOW):
            self._cut_due = None
            return True
        if self._cut_due is None:
            delay = float(self.faults.strike(Fault.SLOW) or 0)
            if delay <= 0:
                return True
            self._cut_due = self.clock() + delay
            log.info("fault slow: this receipt takes %.1f s", delay)
        if self.clock() < self._cut_due:
            return False
        self._cut_due = None
        return True

    def _execute(self, command: Command) -> None:
        match command:
            case escpos.Text(data=data):
                self.paper.add_text(escpos.decode_text(data, self.code_table), self.style, self.align)
            case escpos.Feed(lines=lines):
                self.paper.feed(lines, self.align)
            case escpos.Init():
                self._reset_modes()
                self.paper.clear_line_buffer()
            case escpos.CodePage():
                self._select_table(command)
            case escpos.Bold(on=on):
                self.style = Style(on, self.style.width, self.style.height)
            case escpos.Size(width=width, height=height):
                self.style = Style(self.style.bold, width, height)
            case escpos.Align(alignment=alignment):
                self.align = alignment
            case escpos.Barcode():
                self.paper.add_barcode(command, self.align)
            case escpos.QrCode():
                self.paper.add_qr(command, self.align)
            case escpos.Cut():
                self._cut()
            case escpos.DrawerKick():
                self.drawer.kick(command)
            case _:
                log.debug("ignored %r", command)

    def _select_table(self, command: escpos.CodePage) -> None:
        if command.table is None:
            log.warning("ESC t %d: code table not simulated; keeping %s", command.n, self.code_table.name)
        else:
            self.code_table = command.table

    def _cut(self) -> None:
        items = self.paper.take(self.align)
        if not items:
            log.info("cut with nothing printed since the last cut: no receipt written")
            return
        path = self.writer.write(items, self.config.columns)
        self.receipts.append(path)
        log.info("receipt %s (%d lines)", path.name, len(items))

    # -- drawer ------------------------------------------------------------------------

    @property
    def drawer_kicks(self) -> int:
        """How many kicks opened the drawer."""
        return self.drawer.kicks

    @property
    def drawer_open(self) -> bool:
        return self.drawer.is_open

    @property
    def drawer_pin3_high(self) -> bool:
        """The raw sensor level ``DLE EOT 1`` reports (see ``drawer_open_high``)."""
        return self.drawer.pin3_high

    def open_drawer(self) -> None:
        """Someone opens the drawer by hand (key or lever)."""
        self.drawer.open()
        self._notify()

    def close_drawer(self) -> None:
        """Someone pushes the drawer shut."""
        self.drawer.close()
        self._notify()

    # -- faults ------------------------------------------------------------------------

    def set_fault(
        self, fault: Fault | str, arg: str | float | int | None = None, times: int | None = None
    ) -> None:
        fault = Fault(fault)
        self.faults.set(fault, arg, times)
        if fault is Fault.DISCONNECT:
            self._since_armed = 0
        self.drain()

    def clear_fault(self, fault: Fault | str | None = None) -> None:
        """Clear one fault or all; held print data then prints."""
        self.faults.clear(fault)
        self.drain()

    def _offline_kind(self) -> OfflineKind | None:
        arg = self.faults.arg(Fault.OFFLINE)
        return None if arg is None else OfflineKind(arg)

    # -- status ------------------------------------------------------------------------

    def status(self, n: StatusType | int) -> StatusReply:
        """What the printer answers to ``DLE EOT n`` right now."""
        kind = self._offline_kind()
        paper_out = self.faults.is_on(Fault.PAPER_OUT)
        error = kind in (OfflineKind.OVERHEAT, OfflineKind.CUTTER, OfflineKind.UNRECOVERABLE)
        match StatusType(n):
            case StatusType.PRINTER:
                return PrinterStatus(
                    drawer_pin3_high=self.drawer_pin3_high,
                    offline=not self.ready,
                    waiting_online_recovery=kind is OfflineKind.CUTTER,
                    feed_button_pressed=kind is OfflineKind.FEED,
                )
            case StatusType.OFFLINE_CAUSE:
                return OfflineCause(
                    cover_open=self.faults.is_on(Fault.COVER_OPEN),
                    feed_button=kind is OfflineKind.FEED,
                    paper_end_stop=paper_out,
                    error=error,
                )
            case StatusType.ERROR_CAUSE:
                return ErrorCause(
                    autocutter=kind is OfflineKind.CUTTER,
                    unrecoverable=kind is OfflineKind.UNRECOVERABLE,
                    auto_recoverable=kind is OfflineKind.OVERHEAT,
                )
            case StatusType.PAPER:
                return PaperStatus(
                    near_end=paper_out or self.faults.is_on(Fault.PAPER_NEAR_END),
                    paper_end=paper_out,
                )

    def describe(self) -> str:
        """One line for a person: the state, as the ``status`` command prints it."""
        causes = [
            name
            for name, on in (
                ("paper out", self.faults.is_on(Fault.PAPER_OUT)),
                ("cover open", self.faults.is_on(Fault.COVER_OPEN)),
                (f"offline ({self._offline_kind()})", self.faults.is_on(Fault.OFFLINE)),
            )
            if on
        ]
        paper = (
            "out"
            if self.faults.is_on(Fault.PAPER_OUT)
            else ("near end" if self.faults.is_on(Fault.PAPER_NEAR_END) else "ok")
        )
        level = "high" if self.drawer_pin3_high else "low"
        return (
            f"printer {'online' if self.ready else 'offline: ' + ', '.join(causes)}; paper {paper}; "
            f"drawer {'open' if self.drawer_open else 'closed'} (pin 3 {level}); "
            f"{self.held_bytes} byte(s) held; {len(self.receipts)} receipt(s) printed; "
            f"faults on: {', '.join(self.faults.describe()) or 'none'}"
        )
