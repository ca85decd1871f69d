"""Serial, USB-CDC and TCP barcode scanners: each code arrives as a line.

:class:`SerialScanner` reaches its scanner through the shared link layer
(:func:`~gateway.devices.links.link.open_link`): ``/dev/ttyACM0``, ``/dev/pts/7``,
``socket://host:port``; :class:`SerialScannerConfig` says how the scanner frames its
codes.

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

import asyncio
import errno
import logging
from dataclasses import dataclass

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.links.line import LineSettings
from gateway.devices.links.link import Link, LinkError, LinkLost, LinkOpener, is_network_url, open_link
from gateway.devices.scanner.driver import ScannerDriver
from protocols.scanner import (
    DEFAULT_MAX_LINE,
    SWEDISH_IN_STORE,
    InStoreLayout,
    LineDeframer,
    Terminator,
)

__all__ = ["DEFAULT_OPEN_TIMEOUT", "SCANNER_LINE", "SerialScanner", "SerialScannerConfig"]

log = logging.getLogger("tillgw.devices.scanner")

DEFAULT_OPEN_TIMEOUT = 5.0
READ_SLICE = 3600.0  # a scanner is silent for long spells; each read waits this long at most

# Let the event loop run this many times after opening, so bytes already in the kernel's
# buffer reach ours and are dropped as stale (as the port owner does before a request).
_STALE_SWEEPS = 2

# An open that fails with one of these means "nothing there (yet)": after an unplug,
# the words stay "unplugged — plug it back in" rather than the raw error.
_ABSENT_ERRNOS = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ECONNREFUSED, errno.EIO})

SCANNER_LINE = LineSettings(baudrate=9600)
"""9600 8N1, the factory setting of serial scanners (a USB-CDC scanner ignores it)."""


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
                log.warning("%s", exc)
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
            words = tr(
                "cannot open {url}: it took longer than {open_timeout:g} s — check the cable and power"
            ).format(url=self.url, open_timeout=self.open_timeout)
        except LinkError as exc:
            words = self._lost_words() if lost and _is_absent(exc) else str(exc)
        self._health.set(DeviceState.FAILED, words)
        return None

    def _lost_words(self) -> str:
        if is_network_url(self.url):
            return tr(
                "lost the connection to the scanner at {url} — check its network "
                "cable and power; scans resume by themselves"
            ).format(url=self.url)
        return tr("scanner unplugged from {url} — plug it back in; scans resume by themselves").format(
            url=self.url
        )

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
                    tr(
                        "the link was lost in the middle of a scan: {buffered} bytes of "
                        "an unfinished line dropped — scan that item again"
                    ).format(buffered=deframer.buffered)
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
