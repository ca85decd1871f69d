"""What an ESC/POS printer says about itself: the four real-time status bytes, decoded.

``DLE EOT 1``, ``2``, ``3`` and ``4`` are asked together (:data:`STATUS_QUERY`, 12 bytes;
4 reply bytes, collected by :class:`StatusReader`) and decoded into a
:class:`PrinterCondition`, whose :meth:`~PrinterCondition.words` give the state a shop
owner reads: ``ready``; ``degraded: paper nearly out — change the roll soon``;
``failed: out of paper — put in a new roll``, ``failed: cover open — close the printer's
cover``, ``failed: printer offline (…) — …``. A printer that cannot be asked raises
:class:`PrinterUnavailable`; one that answers but is not online, :class:`PrinterOffline`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from protocols import escpos
from protocols.escpos import ErrorCause, OfflineCause, PaperStatus, PrinterStatus, StatusType

__all__ = [
    "STATUS_QUERY",
    "ConditionListener",
    "PrinterCondition",
    "PrinterOffline",
    "PrinterUnavailable",
    "StatusReader",
]

log = logging.getLogger("tillgw.devices.printer")

STATUS_QUERY = b"".join(escpos.status_request(n) for n in StatusType)
"""``DLE EOT 1..4``: printer, offline cause, error cause and paper, answered in that order."""


@dataclass(frozen=True, slots=True)
class PrinterCondition:
    """The four real-time status bytes, decoded."""

    printer: PrinterStatus
    offline_cause: OfflineCause
    error_cause: ErrorCause
    paper: PaperStatus

    @classmethod
    def from_replies(cls, replies: bytes) -> PrinterCondition:
        """The answer to :data:`STATUS_QUERY` (four bytes, in order)."""
        return cls(
            escpos.parse_status(StatusType.PRINTER, replies[0]),
            escpos.parse_status(StatusType.OFFLINE_CAUSE, replies[1]),
            escpos.parse_status(StatusType.ERROR_CAUSE, replies[2]),
            escpos.parse_status(StatusType.PAPER, replies[3]),
        )

    @property
    def online(self) -> bool:
        """The printer prints what it receives now."""
        return not (self.printer.offline or self.offline_cause.cover_open or self.paper.paper_end)

    @property
    def paper_words(self) -> str:
        if self.paper.paper_end or self.offline_cause.paper_end_stop:
            return "out"
        return "near end" if self.paper.near_end else "ok"

    def words(self) -> tuple[DeviceState, str | None]:
        """The state and, unless ready, what is wrong — what to do.

        Order matters when several flags are on: the first that stops printing wins, and
        paper comes before the cover because a roll is changed with the cover open.
        """
        error, cause, paper = self.error_cause, self.offline_cause, self.paper
        failed = DeviceState.FAILED
        if error.unrecoverable:
            return failed, tr(
                "printer offline (internal error) — switch the printer off and "
                "on, then check that the last receipt printed; if the error "
                "stays, call for service"
            )
        if error.autocutter:
            return failed, tr(
                "printer offline (the paper cutter is stuck) — open the cover, "
                "clear the paper from the cutter and close the cover"
            )
        if paper.paper_end or cause.paper_end_stop:
            return failed, tr("out of paper — put in a new roll")
        if cause.cover_open:
            return failed, tr("cover open — close the printer's cover")
        if error.auto_recoverable:
            return failed, tr(
                "printer offline (print head too hot) — wait a few minutes; it goes on by itself"
            )
        if cause.feed_button or self.printer.feed_button_pressed:
            return failed, tr("printer offline (the feed button is held down) — let go of the feed button")
        if error.recoverable:
            return failed, tr(
                "printer offline (an error) — open and close the cover; if that fails, restart it"
            )
        if self.printer.offline or cause.error:
            return failed, tr("printer offline — check the printer's lights, then switch it off and on")
        if paper.near_end:
            return DeviceState.DEGRADED, tr("paper nearly out — change the roll soon")
        return DeviceState.READY, None

    def flags(self) -> dict[str, dict[str, bool]]:
        """Every decoded flag, by status byte (for JSON)."""
        return {
            "printer": asdict(self.printer),
            "offline_cause": asdict(self.offline_cause),
            "error_cause": asdict(self.error_cause),
            "paper": asdict(self.paper),
        }


ConditionListener = Callable[[PrinterCondition], None]


class StatusReader:
    """Collects the four reply bytes to :data:`STATUS_QUERY`.

    A byte without the fixed status pattern (line noise) is skipped, not taken for status.
    """

    def __init__(self) -> None:
        self._replies = bytearray()

    def feed(self, data: bytes) -> PrinterCondition | None:
        for byte in data:
            n = len(self._replies) + 1
            try:
                escpos.parse_status(n, byte)
            except escpos.StatusByteError:
                log.warning("skipped byte %#04x that is no status answer", byte)
                continue
            self._replies.append(byte)
            if len(self._replies) == len(StatusType):
                return PrinterCondition.from_replies(bytes(self._replies))
        return None


class PrinterUnavailable(Exception):
    """The printer could not be asked (no link, no answer). ``str()`` is the words."""


class PrinterOffline(PrinterUnavailable):
    """The printer answered but is not online; ``condition`` says why."""

    def __init__(self, condition: PrinterCondition, words: str) -> None:
        super().__init__(words)
        self.condition = condition
