"""Barcode scanners: every scan becomes an event that subscribers receive.

Two drivers share everything above the bytes and keys:

* :class:`SerialScanner` (here): a serial or USB-CDC scanner, or one on a TCP port,
  reached through the shared link layer (:func:`~gateway.devices.link.open_link`);
* :class:`~gateway.devices.hid_scanner.HidScanner`: a USB keyboard-wedge scanner read
  with evdev (``evdev://…`` URLs).

:func:`open_scanner` picks the right one for a URL.

Every code a scanner reads becomes a :class:`ScanEvent` (the code, its kind, whether its
check digit holds, the in-store price or weight it carries, the source and the time);
every line that does not become a code (too long, without the configured prefix, cut off
by an unplug, waiting from before the port opened) becomes a :class:`ScanRejected`, so
nothing is dropped without a word. Both go to every subscriber, in order: as an async
iterator (:meth:`ScannerDriver.subscribe`, what the ``/v1/events`` WebSocket uses) or as
a callback (:meth:`ScannerDriver.on_event`). A subscriber that falls behind loses its
oldest events (counted in :attr:`ScanSubscription.dropped`); it never holds up the
scanner or the other subscribers.

The owner task of a serial scanner (numbers are the defaults):

* one task owns the port and reads it continuously; nothing is ever written to it;
* opening has a deadline (``open_timeout``, 5 s);
* bytes already waiting when the port opens were sent while nobody listened: they are
  dropped and reported, because a scan from minutes ago must not be sold now;
* a lost link (cable pulled, device switched off, peer hung up) makes the state
  ``failed`` with words for the shop ("scanner unplugged — plug it back in; scans resume
  by themselves"), reports a half-received code as cut off, and reopens the port after a
  random wait of up to 0.1 s, doubling up to 1 s (:mod:`gateway.common.backoff`), for as
  long as it takes; once it opens the state is ``ready`` and scans flow again. The
  backoff starts over after a scan arrives.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, HealthReporter, HealthTracker
from gateway.devices.line import LineSettings
from gateway.devices.link import Link, LinkError, LinkLost, LinkOpener, is_network_url, open_link
from protocols.scanner import (
    DEFAULT_MAX_LINE,
    SWEDISH_IN_STORE,
    GtinError,
    InStoreCode,
    InStoreError,
    InStoreLayout,
    LineDeframer,
    Rejected,
    ScanKind,
    Terminator,
    classify,
    decode_in_store,
)

__all__ = [
    "DEFAULT_OPEN_TIMEOUT",
    "DEFAULT_SUBSCRIBER_QUEUE",
    "SCANNER_LINE",
    "ScanEvent",
    "ScanRejected",
    "ScanSubscription",
    "ScannerDriver",
    "ScannerEvent",
    "ScannerEventListener",
    "SerialScanner",
    "SerialScannerConfig",
    "make_scan_event",
    "open_scanner",
    "scanner_backoff",
]

log = logging.getLogger("tillgw.devices.scanner")

DEFAULT_OPEN_TIMEOUT = 5.0
DEFAULT_SUBSCRIBER_QUEUE = 256  # events held for one subscriber that is not reading
BACKOFF_INITIAL = 0.1
BACKOFF_MAXIMUM = 1.0  # a re-plugged scanner resumes within about a second
READ_SLICE = 3600.0  # a scanner is silent for long spells; each read waits this long at most
HEAD_BYTES = 32

# Let the event loop run this many times after opening, so bytes already in the kernel's
# buffer reach ours and are dropped as stale (as the port owner does before a request).
_STALE_SWEEPS = 2

# An open that fails with one of these means "nothing there (yet)": after an unplug,
# the words stay "unplugged — plug it back in" rather than the raw error.
_ABSENT_ERRNOS = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ECONNREFUSED, errno.EIO})

SCANNER_LINE = LineSettings(baudrate=9600)
"""9600 8N1, the factory setting of serial scanners (a USB-CDC scanner ignores it)."""


def scanner_backoff() -> Backoff:
    """The default reconnect backoff: a random wait of up to 0.1 s, doubling, at most 1 s."""
    return Backoff(initial=BACKOFF_INITIAL, maximum=BACKOFF_MAXIMUM)


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One code read by a scanner.

    ``valid`` is whether the code's check digits hold: ``True`` for a valid EAN-13,
    EAN-8, UPC-A or GTIN-14 (``kind`` names which); ``False`` for a digit string of GTIN
    length (8, 12, 13, 14) whose check digit is wrong — a misread or a code that is not a
    GTIN, so it must not be looked up as one — or an in-store code whose price verifier
    digit does not match; ``None`` for any other code (Code 128 text, a QR payload), which
    carries no check digit we know. ``in_store`` is the decoded Swedish in-store price or
    weight code (article key and öre or grams) when the code is one. ``source`` is the
    scanner's URL; ``at`` is when the gateway completed the code (UTC).
    """

    code: str
    kind: ScanKind
    valid: bool | None
    in_store: InStoreCode | None
    source: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        in_store = self.in_store
        return {
            "type": "scan",
            "code": self.code,
            "kind": self.kind.value,
            "valid": self.valid,
            "in_store": None
            if in_store is None
            else {
                "article_key": in_store.article_key,
                "article_gtin14": in_store.article_gtin14,
                "measure": in_store.kind.value,
                "price_ore": in_store.price_ore,
                "weight_g": in_store.weight_g,
            },
            "source": self.source,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ScanRejected:
    """Input from a scanner that did not become a code, and why.

    ``head`` holds at most the first 32 bytes of what was discarded (UTF-8 for a
    keyboard-wedge scanner), enough to recognise it without letting a runaway device
    fill a log.
    """

    reason: str
    head: bytes
    source: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "scan_rejected",
            "reason": self.reason,
            "head": self.head.decode("utf-8", errors="backslashreplace"),
            "source": self.source,
            "at": self.at.isoformat(),
        }


ScannerEvent = ScanEvent | ScanRejected
ScannerEventListener = Callable[[ScannerEvent], None]


def _check_digits_valid(code: str, kind: ScanKind) -> bool | None:
    if kind is not ScanKind.OTHER:
        return True
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14):
        return False  # GTIN-shaped, but the check digit is wrong
    return None


def make_scan_event(
    code: str, source: str, *, layout: InStoreLayout = SWEDISH_IN_STORE, at: datetime | None = None
) -> ScanEvent:
    """Classify ``code``, check its digits and decode it as an in-store code if it is one."""
    kind = classify(code)
    valid = _check_digits_valid(code, kind)
    in_store: InStoreCode | None = None
    if kind is ScanKind.EAN13:
        try:
            in_store = decode_in_store(code, layout)
        except (InStoreError, GtinError) as exc:
            log.warning("%s: %s is no valid in-store code: %s", source, code, exc)
            valid = False
    return ScanEvent(code, kind, valid, in_store, source, at if at is not None else _now())


# ---------------------------------------------------------------------------------------
# Subscribers
# ---------------------------------------------------------------------------------------


class ScanSubscription:
    """A scanner's events, in order, as an async iterator; ends when the scanner closes.

    ``async with scanner.subscribe() as scans: async for event in scans: ...``. Holds at
    most ``maxsize`` events for a reader that is behind; past that the oldest is dropped
    and counted in :attr:`dropped`.
    """

    def __init__(self, remove: Callable[[ScanSubscription], None], maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._remove = remove
        self._events: deque[ScannerEvent] = deque()
        self._arrived = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def pending(self) -> int:
        """Events received and not yet read."""
        return len(self._events)

    def put(self, event: ScannerEvent) -> None:
        if self._closed:
            return
        if len(self._events) >= self.maxsize:
            self._events.popleft()
            self.dropped += 1
            log.warning("a scan subscriber is %d events behind: dropped the oldest", self.maxsize)
        self._events.append(event)
        self._arrived.set()

    def close(self) -> None:
        """Stop receiving; events already received are still read, then iteration ends."""
        if not self._closed:
            self._closed = True
            self._remove(self)
            self._arrived.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ScannerEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._arrived.clear()
            await self._arrived.wait()
        return self._events.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Hub:
    """Fans a scanner's events out to its subscriptions and callbacks."""

    def __init__(self) -> None:
        self._subscriptions: list[ScanSubscription] = []
        self._listeners: list[ScannerEventListener] = []

    def subscribe(self, maxsize: int) -> ScanSubscription:
        subscription = ScanSubscription(self._remove, maxsize)
        self._subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: ScanSubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def on_event(self, listener: ScannerEventListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def publish(self, event: ScannerEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription.put(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the scanner
                log.exception("scan listener %r failed", listener)

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        self._listeners.clear()


# ---------------------------------------------------------------------------------------
# The driver interface, shared by serial and HID scanners
# ---------------------------------------------------------------------------------------


class ScannerDriver(HealthReporter, abc.ABC):
    """One scanner: an owner task that reads it, its health, and its subscribers.

    Nothing is opened until :meth:`start` (or ``async with``). The task then runs until
    :meth:`close`, through any number of unplugs and re-plugs.
    """

    def __init__(self, url: str, *, layout: InStoreLayout, backoff: Backoff | None) -> None:
        self._url = url
        self.layout = layout
        self._backoff = backoff if backoff is not None else scanner_backoff()
        self._health = HealthTracker(f"scanner {url}", "not yet opened")
        self._hub = _Hub()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.scans = 0  # codes delivered
        self.rejected = 0  # lines or keystrokes reported as rejected
        self.opens = 0  # how many times the device was opened: 1 plus the reconnects
        self.last_scan: ScanEvent | None = None
        self.last_rejection: ScanRejected | None = None

    # -- health -------------------------------------------------------------------------

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
                f"the scanner task for {self.url} stopped on an internal error ({exc}) — restart the gateway",
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
        event = ScanRejected(reason, head[:HEAD_BYTES], self.url, _now())
        self.rejected += 1
        self.last_rejection = event
        log.warning("%s: rejected: %s %r", self.url, reason, event.head)
        self._hub.publish(event)

    async def _pause(self) -> None:
        # The reconnect interval (a random wait under a doubling ceiling), not a synchronisation.
        await asyncio.sleep(self._backoff.next_delay())


# ---------------------------------------------------------------------------------------
# Serial (and TCP) scanners through the link layer
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SerialScannerConfig:
    """How a serial scanner frames its codes (as set in the scanner), and the line.

    ``terminator``, ``prefix`` and ``suffix`` are explained in
    :class:`protocols.scanner.LineDeframer`; ``max_length`` counts the prefix and suffix.
    ``layout`` says how in-store price and weight codes read (Swedish by default).
    """

    terminator: Terminator = Terminator.CR
    prefix: bytes = b""
    suffix: bytes = b""
    max_length: int = DEFAULT_MAX_LINE
    line: LineSettings = SCANNER_LINE
    layout: InStoreLayout = SWEDISH_IN_STORE

    def deframer(self) -> LineDeframer:
        """A fresh deframer for these settings (raises ValueError for impossible ones)."""
        return LineDeframer(
            self.terminator, prefix=self.prefix, suffix=self.suffix, max_length=self.max_length
        )


class SerialScanner(ScannerDriver):
    """A scanner that sends each code as a line: a serial port, USB-CDC, or TCP.

    ``url`` is anything the link layer opens: ``/dev/ttyACM0``, ``/dev/pts/7``,
    ``socket://host:port``. See the module documentation for the reconnect policy.
    """

    def __init__(
        self,
        url: str,
        config: SerialScannerConfig | None = None,
        *,
        opener: LinkOpener = open_link,
        backoff: Backoff | None = None,
        open_timeout: float = DEFAULT_OPEN_TIMEOUT,
    ) -> None:
        config = config if config is not None else SerialScannerConfig()
        config.deframer()  # refuse impossible settings now, not in the task
        if open_timeout <= 0:
            raise ValueError(f"open_timeout {open_timeout} must be positive")
        super().__init__(url, layout=config.layout, backoff=backoff)
        self.config = config
        self.open_timeout = open_timeout
        self._opener = opener

    async def _run(self) -> None:
        lost = False  # the scanner was open before: its absence means it was unplugged
        while True:
            link = await self._open(lost)
            if link is None:
                await self._pause()
                continue
            self.opens += 1
            try:
                await self._drop_stale(link)
                self._health.set(DeviceState.READY)
                await self._read(link)
            except LinkLost as exc:
                log.info("%s", exc)
            finally:
                # A lost link is closed already; aborting it again makes serial_asyncio_fast
                # call connection_lost twice (an AttributeError in a background task).
                if link.is_open:
                    await link.close()
            lost = True
            self._health.set(DeviceState.FAILED, self._lost_words())
            await self._pause()

    async def _open(self, lost: bool) -> Link | None:
        """Open the link; on failure set the health in words and return None."""
        try:
            async with asyncio.timeout(self.open_timeout):
                return await self._opener(self.url, self.config.line)
        except TimeoutError:
            words = (
                f"cannot open {self.url}: it took longer than {self.open_timeout:g} s — "
                "check the cable and power"
            )
        except LinkError as exc:
            words = self._lost_words() if lost and _is_absent(exc) else str(exc)
        self._health.set(DeviceState.FAILED, words)
        return None

    def _lost_words(self) -> str:
        if is_network_url(self.url):
            return (
                f"lost the connection to the scanner at {self.url} — check its network cable and power; "
                "scans resume by themselves"
            )
        return f"scanner unplugged from {self.url} — plug it back in; scans resume by themselves"

    async def _drop_stale(self, link: Link) -> None:
        for _ in range(_STALE_SWEEPS):
            await asyncio.sleep(0)
        stale = link.take_buffered()
        if stale:
            self._reject(
                f"{len(stale)} bytes were waiting when the port opened (scanned while nobody listened); "
                "dropped so that an old scan is not sold now",
                stale,
            )

    async def _read(self, link: Link) -> None:
        """Read until the link is lost (raises :class:`LinkLost`)."""
        loop = asyncio.get_running_loop()
        deframer = self.config.deframer()  # fresh for every opening: no half line carries over
        try:
            while True:
                data = await link.read(loop.time() + READ_SLICE)
                for item in deframer.feed(data):
                    self._deliver(item)
        except LinkLost:
            if deframer.buffered:
                self._reject(
                    f"the link was lost in the middle of a scan: {deframer.buffered} bytes of an "
                    "unfinished line dropped — scan that item again"
                )
            raise


def _is_absent(exc: BaseException) -> bool:
    cause = exc.__cause__
    code = getattr(cause, "errno", None)
    if code is None and isinstance(cause, BaseException):
        # pyserial keeps the errno only in the message: "[Errno 2] could not open port …"
        text = str(cause)
        return any(f"[Errno {number}]" in text for number in _ABSENT_ERRNOS)
    return code in _ABSENT_ERRNOS


# ---------------------------------------------------------------------------------------
# Choosing a driver by URL
# ---------------------------------------------------------------------------------------


def open_scanner(url: str, **options: Any) -> ScannerDriver:
    """The right driver for ``url`` (not yet started).

    ``evdev:///dev/input/eventN``, ``evdev://name=NAME`` or ``evdev://id=VVVV:PPPP``: a
    keyboard-wedge scanner (see :mod:`gateway.devices.hid_scanner`); anything else: a
    serial or TCP scanner. ``options`` go to the driver's constructor (``config``,
    ``backoff``, and ``opener``/``open_timeout`` for serial or ``backend`` for HID).
    """
    if url.startswith("evdev:"):
        # Imported here: only tills with a keyboard-wedge scanner need it.
        from gateway.devices.hid_scanner import HidScanner

        return HidScanner(url, **options)
    return SerialScanner(url, **options)
