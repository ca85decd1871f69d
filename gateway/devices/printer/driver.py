"""The ESC/POS receipt printer driver: serial, TCP (raw 9100) and USB behind one port owner.

Addresses: a pyserial URL or device (``/dev/ttyUSB0``, ``/dev/pts/7``), ``tcp://host:9100``
or ``socket://host:port``, and ``usb://VID:PID[/serial]`` (:mod:`gateway.devices.printer.link`).
Everything above the byte link — status, jobs, resends, health — is the same for all.

**Status.** The four real-time status bytes, decoded into a
:class:`~gateway.devices.printer.status.PrinterCondition` whose words are the printer's
state (``ready``, ``failed: out of paper — put in a new roll``, …); when nothing answers,
``failed: no answer from the printer at URL — check the cable and power``.

**Jobs.** A job (:class:`~gateway.devices.printer.job.PrintJob`) is the ESC/POS bytes of one
receipt (the caller builds them). Jobs are printed one at a time, in the order submitted,
by one worker task:

1. *Before*: the status is asked. While the printer is not online (out of paper, cover
   open, offline, no answer, no link) the job waits and the status is asked again every
   ``poll_interval`` seconds; the job's :attr:`PrintJob.waiting_for` says why.
2. *Send*: the job's bytes go out followed by the status request, in one write. A TCP
   send (or a serial write) is no proof of printing; the answer to that status request
   is: the printer answers it only once it has received every byte before it.
3. *After*: the answer says online -> :attr:`Outcome.PRINTED`. It says out of paper /
   cover open / offline -> the printer *holds* the job (it keeps what it received), so
   the job is never sent again: it waits until the printer is online, and is printed.

**Resends**, at most ``resend_limit`` times per job:

* the link dropped mid-job (TCP reset, USB device gone): how much arrived is unknown, so
  after the reconnect the job is sent again, preceded by ``ESC @`` and a cut. The printer
  may have printed part of the receipt before the drop; the cut separates that partial
  piece from the whole receipt that follows. (This is why the caller keeps a receipt
  "unprinted" until its job says :attr:`Outcome.PRINTED`.)
* the printer fell silent mid-job (no answer within the job's deadline, link still
  open) and the job fits the printer's receive buffer (``printer_buffer``): a printer
  that had the whole job would have answered, so the bytes were lost on the line (a
  pulled serial cable, a power cut). The link is reopened — so nothing we queued before
  trickles in later — and the job is resent as above.
* silent on a job bigger than that buffer: the printer may just be holding it (a full
  buffer delays its answer), so the job is not resent; once the printer answers again
  the job ends as :attr:`Outcome.UNCONFIRMED` ("check the receipt; print a copy if it
  is missing"), as it does when the resends run out.

Known limit: a printer switched off while it holds a job loses it, and a status answer
cannot tell; the words for errors that need a power cycle say to check the last receipt.

Every exchange has a deadline: ``status_timeout`` for a status request, ``job_timeout``
plus the line time of the job (serial) for a job. Waiting for paper is not a retry: it
lasts until the printer is back, or :meth:`PrintJob.cancel`, or :meth:`close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, Health, HealthReporter, HealthTracker
from gateway.common.i18n import tr
from gateway.devices.links.line import LineSettings
from gateway.devices.links.link import Link, LinkError, LinkOpener, is_network_url
from gateway.devices.links.port import DeviceTimeout, Exchange, PortClosed, PortOwner
from gateway.devices.printer.job import JobStatus, Outcome, PrintJob, PrintResult
from gateway.devices.printer.link import ResettableLink, open_printer_link
from gateway.devices.printer.status import (
    STATUS_QUERY,
    ConditionListener,
    PrinterCondition,
    PrinterOffline,
    PrinterUnavailable,
    StatusReader,
)
from protocols import escpos

__all__ = [
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PRINTER_BUFFER",
    "DEFAULT_RESEND_LIMIT",
    "DEFAULT_STATUS_TIMEOUT",
    "ESCPOS_LINE",
    "RESEND_PREFIX",
    "CommandExpired",
    "PrinterDriver",
]

log = logging.getLogger("tillgw.devices.printer")

ESCPOS_LINE = LineSettings(baudrate=9600)
"""9600 8N1, the commonest factory setting; match the printer's DIP switches or menu."""

DEFAULT_STATUS_TIMEOUT = 1.0  # real-time status is answered at once; 12 bytes at 9600 baud take 13 ms
DEFAULT_JOB_TIMEOUT = 5.0  # plus the job's line time on serial; only a dying printer gets near it
DEFAULT_POLL_INTERVAL = 1.0  # how soon a printer that is back (paper in) is noticed
DEFAULT_RESEND_LIMIT = 2
DEFAULT_PRINTER_BUFFER = 4096  # the common receive buffer of receipt printers (Epson TM: 4 KiB)

RESEND_PREFIX = escpos.initialise() + escpos.cut(feed=0)
"""Before a resend: reset modes, drop an unfinished line, cut off what did print."""


class CommandExpired(Exception):
    """A command waited for the port past its time and was not sent."""

    def __init__(self, waited: float, allowed: float) -> None:
        super().__init__(
            tr("waited {waited:.1f} s for the printer, longer than the {allowed:g} s allowed").format(
                waited=waited, allowed=allowed
            )
        )
        self.waited = waited
        self.allowed = allowed


@dataclass(frozen=True, slots=True)
class _Delivered:
    after: PrinterCondition


@dataclass(frozen=True, slots=True)
class _Lost:
    words: str


@dataclass(frozen=True, slots=True)
class _InDoubt:
    words: str


_SendResult = _Delivered | _Lost | _InDoubt | None  # None: not sent, the printer is not online


class PrinterDriver(HealthReporter):
    """An ESC/POS printer at ``url``; see the module documentation for the policy.

    Nothing is opened until :meth:`start` or the first call. ``submit`` and the status
    and drawer calls may come from any task; they reach the port one at a time.
    ``watch_interval`` asks the status while idle, so paper running out or a cover left
    open shows on the status page before the next sale. ``clock`` (the loop's time by
    default) times drawer-kick expiry.
    """

    def __init__(
        self,
        url: str,
        *,
        line: LineSettings = ESCPOS_LINE,
        status_timeout: float = DEFAULT_STATUS_TIMEOUT,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        resend_limit: int = DEFAULT_RESEND_LIMIT,
        printer_buffer: int = DEFAULT_PRINTER_BUFFER,
        watch_interval: float | None = None,
        backoff: Backoff | None = None,
        opener: LinkOpener = open_printer_link,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if status_timeout <= 0 or job_timeout <= 0 or poll_interval <= 0:
            raise ValueError("timeouts and the poll interval must be positive")
        if resend_limit < 0:
            raise ValueError(f"resend_limit {resend_limit} must be 0 or more")
        if printer_buffer < 1:
            raise ValueError(f"printer_buffer {printer_buffer} must be at least 1")
        if watch_interval is not None and watch_interval <= 0:
            raise ValueError(f"watch_interval {watch_interval} must be positive")
        self._url = url
        self.line = line
        self.status_timeout = status_timeout
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        self.resend_limit = resend_limit
        self.printer_buffer = printer_buffer
        self.watch_interval = watch_interval
        self._opener = opener
        self._clock = clock
        self._port = PortOwner(url, line, opener=self._open, backoff=backoff)
        self._link: ResettableLink | None = None
        self._health = HealthTracker(f"printer {url}")
        self._condition: PrinterCondition | None = None
        self._condition_listeners: list[ConditionListener] = []
        # One sequence of exchanges at a time (status, then the job or the drawer kick),
        # so nothing gets in between a "printer is online" answer and what it allows.
        self._port_lock = asyncio.Lock()
        self._jobs: asyncio.Queue[PrintJob] = asyncio.Queue()
        self._unfinished: list[PrintJob] = []
        self._ids = itertools.count(1)
        self._worker: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False

    # -- what the status API reads ------------------------------------------------------

    @property
    def condition(self) -> PrinterCondition | None:
        """The last status the printer gave (``None`` before the first answer)."""
        return self._condition

    @property
    def queue_depth(self) -> int:
        """Jobs submitted and not finished, the one being printed included."""
        return len(self.jobs)

    @property
    def jobs(self) -> tuple[PrintJob, ...]:
        """The unfinished jobs, oldest first."""
        return tuple(job for job in self._unfinished if not job.done)

    @property
    def link_opens(self) -> int:
        return self._port.opens

    def on_condition(self, listener: ConditionListener) -> Callable[[], None]:
        """Call ``listener`` whenever the decoded status changes (the drawer sensor too)."""
        self._condition_listeners.append(listener)

        def remove() -> None:
            if listener in self._condition_listeners:
                self._condition_listeners.remove(listener)

        return remove

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    # -- life cycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> Health:
        """Start the job worker (and the idle watch) and ask the status once.

        Never raises for the printer's sake: a printer that is off is a state.
        """
        self._ensure_worker()
        if self.watch_interval is not None and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name=f"printer watch {self._url}")
        async with self._port_lock:
            await self._refresh()
        return self.health

    async def close(self) -> None:
        """Stop: jobs not yet sent end as not printed, one being sent as unconfirmed."""
        if self._closed:
            return
        self._closed = True
        for task in (self._watcher, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for job in list(self._unfinished):
            if job.sends:
                self._finish(
                    job, Outcome.UNCONFIRMED, tr("the gateway stopped while the receipt was printing")
                )
            else:
                self._finish(job, Outcome.NOT_PRINTED, tr("the gateway stopped before the receipt was sent"))
        await self._port.close()

    # -- jobs -----------------------------------------------------------------------------

    def submit(self, data: bytes) -> PrintJob:
        """Queue one receipt's ESC/POS bytes; ``await`` the job for its result."""
        if self._closed:
            raise PortClosed(f"the printer driver for {self._url} is closed")
        if not data:
            raise ValueError("a print job needs at least one byte")
        job = PrintJob(next(self._ids), bytes(data), asyncio.get_running_loop().create_future())
        self._unfinished.append(job)
        self._jobs.put_nowait(job)
        self._ensure_worker()
        return job

    async def print(self, data: bytes) -> PrintResult:
        """Submit and wait for the result."""
        return await self.submit(data)

    def _ensure_worker(self) -> None:
        if self._worker is None and not self._closed:
            self._worker = asyncio.create_task(self._work(), name=f"printer jobs {self._url}")

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            if job.future.done():  # cancelled while queued
                self._forget(job)
                continue
            try:
                await self._print(job)
            except Exception as exc:  # a bug must not stall every later receipt
                log.exception("%s: job %d failed", self._url, job.id)
                self._finish(job, Outcome.UNCONFIRMED, f"the printer driver failed: {exc}")
            self._forget(job)  # finished, or cancelled while it waited

    async def _print(self, job: PrintJob) -> None:
        resend = False
        while not job.future.done():
            async with self._port_lock:
                before = await self._refresh()
                if job.future.done():
                    return  # withdrawn (cancel) while the status was asked
                sent: _SendResult = None
                if before is not None and before.online:
                    sent = await self._send(job, resend)
            match sent:
                case _Delivered(after=after) if after.online:
                    self._finish(job, Outcome.PRINTED, "printed")
                case _Delivered():
                    await self._until_online(job, JobStatus.HELD)
                    if not job.future.done():
                        self._finish(job, Outcome.PRINTED, "printed")
                case _Lost(words=words) if job.sends > self.resend_limit:
                    self._finish(job, Outcome.UNCONFIRMED, words)
                case _Lost():
                    resend = True  # at once: the port owner paces the reconnect
                case _InDoubt(words=words):
                    await self._until_online(job, JobStatus.HELD, any_answer=True)
                    self._finish(job, Outcome.UNCONFIRMED, words)
                case None:
                    job.status = JobStatus.WAITING
                    job.waiting_for = self.reason
                    # The poll period: a printer gives no signal when paper is back.
                    await asyncio.sleep(self.poll_interval)

    async def _send(self, job: PrintJob, resend: bool) -> _SendResult:
        """Send the job and the status request after it (the port lock is held)."""
        data = RESEND_PREFIX + job.data if resend else job.data
        job.status = JobStatus.SENDING
        job.waiting_for = None
        job.sends += 1
        timeout = self.job_timeout + self._line_seconds(len(data) + len(STATUS_QUERY))
        try:
            after = await self._query(data + STATUS_QUERY, timeout)
        except LinkError as exc:
            self._health.set(DeviceState.FAILED, str(exc))
            log.warning("%s: job %d: link lost mid-job (send %d): %s", self._url, job.id, job.sends, exc)
            return _Lost(
                tr(
                    "the connection to the printer dropped {times} time(s) while it "
                    "printed — check the receipt, print a copy if it is missing, and "
                    "check the cable"
                ).format(times=job.sends)
            )
        except DeviceTimeout:
            self._reset_link()
            self._health.set(DeviceState.FAILED, self._silent_words())
            log.warning("%s: job %d: no answer after the job (send %d)", self._url, job.id, job.sends)
            if len(data) + len(STATUS_QUERY) <= self.printer_buffer:
                return _Lost(
                    tr(
                        "the printer stopped answering {times} time(s) while it printed "
                        "— check the receipt, print a copy if it is missing, and check "
                        "the cable and power"
                    ).format(times=job.sends)
                )
            return _InDoubt(
                tr(
                    "the printer stopped answering in the middle of a long receipt — "
                    "check that it printed whole; print a copy if not"
                )
            )
        self._apply(after)
        if not after.online:
            job.status = JobStatus.HELD
            job.waiting_for = self.reason
        return _Delivered(after)

    async def _until_online(self, job: PrintJob, status: JobStatus, *, any_answer: bool = False) -> None:
        """Poll until the printer answers online (or, with ``any_answer``, answers at all).

        The printer holds a job it received while offline and prints it when it is back;
        its answer comes only once it has dealt with everything received before.
        """
        job.status = status
        while not job.future.done():
            job.waiting_for = self.reason
            await asyncio.sleep(self.poll_interval)
            async with self._port_lock:
                condition = await self._refresh()
            if condition is not None and (condition.online or any_answer):
                return

    def _finish(self, job: PrintJob, outcome: Outcome, reason: str) -> None:
        job.status = JobStatus.DONE
        job.waiting_for = None
        if not job.future.done():
            job.future.set_result(PrintResult(job.id, outcome, reason, job.sends, self._condition))
        # A job that may not have printed is a failure the shop must look at (a copy, perhaps).
        level = logging.INFO if outcome is Outcome.PRINTED else logging.WARNING
        log.log(
            level, "%s: job %d %s after %d send(s): %s", self._url, job.id, outcome.value, job.sends, reason
        )
        self._forget(job)

    def _forget(self, job: PrintJob) -> None:
        if job in self._unfinished:
            self._unfinished.remove(job)

    # -- status and commands --------------------------------------------------------------

    async def status(self) -> PrinterCondition:
        """Ask the printer now. Raises :class:`PrinterUnavailable` with the words."""
        async with self._port_lock:
            condition = await self._refresh()
        if condition is None:
            raise PrinterUnavailable(self.detail)
        return condition

    async def send_now(self, data: bytes, *, not_after: float) -> PrinterCondition:
        """Send a command only if the printer is online, and only before ``not_after``.

        For commands that must happen now or never (a drawer kick): nothing is sent to a
        printer that is offline, since it would hold the command and carry it out when it
        comes back; nothing is sent once ``not_after`` (:meth:`now` time) has passed, as
        checked right before the bytes go out. Returns the status after the command.

        Raises :class:`CommandExpired`, :class:`PrinterOffline`, :class:`PrinterUnavailable`.
        """
        started = self.now()
        try:
            # Waiting for the port counts against the command's time.
            async with asyncio.timeout(max(0.0, not_after - started)):
                await self._port_lock.acquire()
        except TimeoutError:
            raise CommandExpired(self.now() - started, not_after - started) from None
        try:
            before = await self._refresh()
            if before is None:
                raise PrinterUnavailable(self.detail)
            if not before.online:
                raise PrinterOffline(before, self.detail)
            if self.now() > not_after:
                raise CommandExpired(self.now() - started, not_after - started)
            try:
                after = await self._query(data + STATUS_QUERY, self.status_timeout)
            except DeviceTimeout:
                self._reset_link()
                self._health.set(DeviceState.FAILED, self._silent_words())
                raise PrinterUnavailable(self._silent_words()) from None
            except LinkError as exc:
                self._health.set(DeviceState.FAILED, str(exc))
                raise PrinterUnavailable(str(exc)) from None
            self._apply(after)
            return after
        finally:
            self._port_lock.release()

    async def _refresh(self) -> PrinterCondition | None:
        """Ask the status (the port lock is held); update the health; ``None`` if no answer."""
        try:
            condition = await self._query(STATUS_QUERY, self.status_timeout)
        except DeviceTimeout:
            self._reset_link()
            self._health.set(DeviceState.FAILED, self._silent_words())
            return None
        except LinkError as exc:
            self._health.set(DeviceState.FAILED, str(exc))
            return None
        self._apply(condition)
        return condition

    async def _query(self, data: bytes, seconds: float) -> PrinterCondition:
        """``data`` (ending in :data:`STATUS_QUERY`) and the status it brings back."""
        return await self._port.exchange(Exchange(data, StatusReader(), seconds))

    def _apply(self, condition: PrinterCondition) -> None:
        changed = condition != self._condition
        self._condition = condition
        state, words = condition.words()
        self._health.set(state, words)
        if changed:
            for listener in list(self._condition_listeners):
                try:
                    listener(condition)
                except Exception:  # a broken listener must not break the printer
                    log.exception("condition listener %r failed", listener)

    def _silent_words(self) -> str:
        return tr("no answer from the printer at {url} — check the cable and power").format(url=self._url)

    def _line_seconds(self, size: int) -> float:
        """How long ``size`` bytes take on the wire (serial only; start + data + parity + stop bits)."""
        if urlsplit(self._url).scheme == "usb" or is_network_url(self._url):
            return 0.0
        line = self.line
        bits = 1 + line.bytesize + (0 if line.parity == "N" else 1) + line.stopbits
        return size * bits / line.baudrate

    # -- the link -------------------------------------------------------------------------

    async def _open(self, url: str, line: LineSettings) -> Link:
        link = ResettableLink(await self._opener(url, line))
        self._link = link
        return link

    def _reset_link(self) -> None:
        """After an unanswered exchange: have the owner reopen the link before the next one."""
        if self._link is not None:
            self._link.reset = True

    async def _watch(self) -> None:
        assert self.watch_interval is not None
        while True:
            # The watch period: how soon a change is noticed while the till is idle.
            await asyncio.sleep(self.watch_interval)
            if self._port_lock.locked():
                continue  # a job or a kick is talking to the printer; that tells us enough
            async with self._port_lock:
                await self._refresh()
