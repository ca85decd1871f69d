"""A receipt on its way to the printer: a :class:`PrintJob`, its status and its result.

A job is the ESC/POS bytes of one receipt. While it waits its turn it is ``queued``;
its turn come and the printer not online, ``waiting`` (:attr:`PrintJob.waiting_for`
says why); then ``sending``; ``held`` while a printer that received it is offline; then
``done``, with a :class:`PrintResult` whose :class:`Outcome` says whether it printed.
:mod:`gateway.devices.printer.driver` runs the jobs.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from gateway.devices.printer.status import PrinterCondition

__all__ = ["JobStatus", "Outcome", "PrintJob", "PrintResult"]


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # behind other jobs
    WAITING = "waiting"  # its turn, but the printer is not online; see waiting_for
    SENDING = "sending"
    HELD = "held"  # the printer has it and prints it when it is back online
    DONE = "done"  # see the result


class Outcome(enum.StrEnum):
    PRINTED = "printed"  # the status after the job said online
    UNCONFIRMED = "unconfirmed"  # may have printed, wholly or partly: check, print a copy if missing
    NOT_PRINTED = "not printed"  # never reached the printer (cancelled, or the gateway stopped)


@dataclass(frozen=True, slots=True)
class PrintResult:
    job_id: int
    outcome: Outcome
    reason: str  # "printed", or what happened — what to do
    sends: int  # how many times its bytes went out (1 + resends)
    condition: PrinterCondition | None  # the last status seen


class PrintJob:
    """One receipt's bytes on their way; ``await job`` gives its :class:`PrintResult`."""

    def __init__(self, job_id: int, data: bytes, future: asyncio.Future[PrintResult]) -> None:
        self.id = job_id
        self.data = data
        self.future = future
        self.status = JobStatus.QUEUED
        self.waiting_for: str | None = None  # the printer's reason while WAITING or HELD
        self.sends = 0

    @property
    def done(self) -> bool:
        return self.future.done()

    def cancel(self) -> bool:
        """Withdraw the job if it has not been sent yet; returns whether it was withdrawn."""
        if self.status not in (JobStatus.QUEUED, JobStatus.WAITING) or self.sends or self.future.done():
            return False
        self.status = JobStatus.DONE
        result = PrintResult(self.id, Outcome.NOT_PRINTED, "cancelled before it was sent", 0, None)
        self.future.set_result(result)
        return True

    def __await__(self) -> Generator[Any, None, PrintResult]:
        # shield: a caller that stops waiting must not cancel the job itself.
        return asyncio.shield(self.future).__await__()

    def __repr__(self) -> str:
        return f"<PrintJob {self.id} {self.status.value} {len(self.data)} bytes>"
