"""The driver interface every barcode scanner shares: an owner task, its health, its subscribers.

:class:`ScannerDriver` starts one task that opens the scanner, reads it and reconnects
after a random wait under a doubling ceiling (:func:`scanner_backoff`: up to 0.1 s,
doubling up to 1 s; it starts over after a scan arrives), until it is closed. Each
driver (:class:`~gateway.devices.scanner.serial_line.SerialScanner`,
:class:`~gateway.devices.scanner.hid.HidScanner`) supplies the reading; this class turns
what it reads into events (:mod:`gateway.devices.scanner.events`) for the subscribers.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Self

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, HealthReporter, HealthTracker
from gateway.common.i18n import tr
from gateway.devices.scanner.events import (
    ScanEvent,
    ScanHub,
    ScannerEventListener,
    ScanRejected,
    ScanSubscription,
    make_scan_event,
)
from protocols.scanner import InStoreLayout, Rejected

__all__ = ["DEFAULT_SUBSCRIBER_QUEUE", "HEAD_BYTES", "ScannerDriver", "scanner_backoff"]

log = logging.getLogger("tillgw.devices.scanner")

DEFAULT_SUBSCRIBER_QUEUE = 256  # events held for one subscriber that is not reading
BACKOFF_INITIAL = 0.1
BACKOFF_MAXIMUM = 1.0  # a re-plugged scanner resumes within about a second
HEAD_BYTES = 32  # bytes of a rejected line kept in its event


def scanner_backoff() -> Backoff:
    """The default reconnect backoff: a random wait of up to 0.1 s, doubling, at most 1 s."""
    return Backoff(initial=BACKOFF_INITIAL, maximum=BACKOFF_MAXIMUM)


class ScannerDriver(HealthReporter, abc.ABC):
    """One scanner: an owner task that reads it, its health, and its subscribers.

    Nothing is opened until :meth:`start` (or ``async with``). The task then runs until
    :meth:`close`, through any number of unplugs and re-plugs.
    """

    def __init__(self, url: str, *, layout: InStoreLayout, backoff: Backoff | None) -> None:
        self._url = url
        self.layout = layout
        self._backoff = backoff if backoff is not None else scanner_backoff()
        self._health = HealthTracker(f"scanner {url}", tr("not yet opened"))
        self._hub = ScanHub()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.scans = 0  # codes delivered
        self.rejected = 0  # lines or keystrokes reported as rejected
        self.opens = 0  # how many times the device was opened: 1 plus the reconnects
        self.last_scan: ScanEvent | None = None
        self.last_rejection: ScanRejected | None = None

    # -- subscribers --------------------------------------------------------------------

    def subscribe(self, maxsize: int = DEFAULT_SUBSCRIBER_QUEUE) -> ScanSubscription:
        """Every event from now on, as an async iterator (see :class:`ScanSubscription`)."""
        if self._closed:
            raise RuntimeError(f"the scanner {self.url} is closed")
        return self._hub.subscribe(maxsize)

    def on_event(self, listener: ScannerEventListener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns a function that stops it."""
        return self._hub.on_event(listener)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the owner task (once); returns at once, whether the device is there or not."""
        if self._closed:
            raise RuntimeError(f"the scanner {self.url} is closed")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._guarded_run(), name=f"scanner {self.url}"
            )

    async def close(self) -> None:
        """Stop reading, release the device, end every subscription."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._hub.close()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _guarded_run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: say so instead of going quiet
            log.exception("%s: the scanner task stopped", self.url)
            self._health.set(
                DeviceState.FAILED,
                tr(
                    "the scanner task for {url} stopped on an internal error ({exc}) — restart the gateway"
                ).format(url=self.url, exc=exc),
            )

    @abc.abstractmethod
    async def _run(self) -> None:
        """Open, read, reconnect — until cancelled."""

    # -- for the drivers ----------------------------------------------------------------

    def _deliver(self, item: str | Rejected) -> None:
        if isinstance(item, Rejected):
            self._reject(item.reason, item.head)
            return
        event = make_scan_event(item, self.url, layout=self.layout)
        self.scans += 1
        self.last_scan = event
        self._backoff.reset()  # a device that scans earns a quick reconnect
        log.debug("%s: scanned %r (%s, valid=%s)", self.url, event.code, event.kind.value, event.valid)
        self._hub.publish(event)

    def _reject(self, reason: str, head: bytes = b"") -> None:
        event = ScanRejected(reason, head[:HEAD_BYTES], self.url, datetime.now(UTC))
        self.rejected += 1
        self.last_rejection = event
        log.warning("%s: rejected: %s %r", self.url, reason, event.head)
        self._hub.publish(event)

    async def _pause(self) -> None:
        # The reconnect interval (a random wait under a doubling ceiling), not a synchronisation.
        await asyncio.sleep(self._backoff.next_delay())
