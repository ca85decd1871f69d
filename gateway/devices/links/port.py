"""The port owner: one asyncio task per port, the only code that touches the link.

Everyone else hands it an :class:`Exchange` — bytes to write, a reader that is fed
whatever comes back, and a timeout — and awaits the result. The owner serves exchanges
one at a time, in order, which is what a half-duplex device on a serial line needs.

It knows nothing of any byte protocol; the CCSP driver and the printer driver give it
their own readers. What it does own:

* opening the link lazily, on the first exchange;
* a deadline on every exchange, opening the link included;
* reconnecting after a link error, no sooner than its :class:`~gateway.common.backoff.Backoff`
  allows (a random wait up to 0.1 s, 0.2 s, 0.4 s … 5 s by default), so a dead port is
  not hammered;
* dropping stale input before each exchange, so a late answer to an earlier exchange
  that timed out is not read as the answer to this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from gateway.common.backoff import Backoff
from gateway.common.i18n import tr
from gateway.devices.links.line import LineSettings
from gateway.devices.links.link import Link, LinkError, LinkOpener, open_link

__all__ = [
    "DeviceTimeout",
    "Exchange",
    "PortClosed",
    "PortOwner",
    "ReplyReader",
]

log = logging.getLogger("tillgw.devices.port")

# A port that fails is tried again after a random wait of up to 0.1 s, then up to twice
# the last bound, at most 5 s: a re-plugged device is back within seconds.
BACKOFF_INITIAL = 0.1
BACKOFF_MAXIMUM = 5.0

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class DeviceTimeout(TimeoutError):
    """No complete answer came before the exchange's deadline."""

    def __init__(self, url: str, timeout: float, received: bytes) -> None:
        got = f" ({len(received)} bytes that made no answer)" if received else ""
        super().__init__(f"no answer from {url} within {timeout:g} s{got}")
        self.url = url
        self.timeout = timeout
        self.received = received


class PortClosed(RuntimeError):
    """The port owner was closed; nothing more is sent."""


class ReplyReader(Protocol[T_co]):
    """Fed every chunk that arrives during one exchange; returns the result once it has one."""

    def feed(self, data: bytes) -> T_co | None: ...


@dataclass(slots=True)
class Exchange(Generic[T]):
    """One request to the device and how to recognise its answer."""

    data: bytes
    reader: ReplyReader[T]
    timeout: float
    on_sent: Callable[[bytes], None] | None = None  # called as the bytes are written
    on_stale: Callable[[bytes], None] | None = None  # called with input dropped before writing


@dataclass(slots=True)
class _Job:
    exchange: Exchange[Any]
    future: asyncio.Future[Any]


# Let the event loop run this many times before dropping stale input, so bytes that
# are already in the kernel's buffer reach ours and are dropped too.
_STALE_SWEEPS = 2


class PortOwner:
    """Owns one port. ``await owner.exchange(Exchange(...))`` from any task.

    Use as an async context manager, or call :meth:`close` when done. The task starts
    on the first exchange, so constructing an owner does no I/O.
    """

    def __init__(
        self,
        url: str,
        line: LineSettings,
        *,
        opener: LinkOpener = open_link,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.line = line
        self._opener = opener
        self._backoff = backoff if backoff is not None else Backoff(BACKOFF_INITIAL, BACKOFF_MAXIMUM)
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._link: Link | None = None
        self._not_before = 0.0  # loop time before which we do not try to open again
        self._last_error: LinkError | None = None
        self._closed = False
        self.opens = 0  # how many times the link was opened (a new line may hold a new device)

    async def __aenter__(self) -> PortOwner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        return self._link is not None and self._link.is_open

    async def exchange(self, exchange: Exchange[T]) -> T:
        """Send one request and return what its reader made of the answer.

        Raises :class:`DeviceTimeout` when no answer came in time, :class:`LinkError`
        when the link cannot be opened or failed, :class:`PortClosed` after close().
        """
        if self._closed:
            raise PortClosed(f"the port owner for {self.url} is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"port-owner {self.url}")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(exchange, future))
        return await future

    async def set_line(self, line: LineSettings) -> None:
        """Speak at ``line`` from the next exchange on (the link is reopened with it).

        Call it between exchanges (a driver holding its own lock), never during one.
        """
        if line == self.line:
            return
        self.line = line
        await self._drop_link()
        self._not_before = 0.0  # a new speed is no failure to back off from

    async def close(self) -> None:
        """Finish the exchange under way, fail the queued ones, close the link."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if job is not None and not job.future.done():
                job.future.set_exception(PortClosed(f"the port owner for {self.url} is closed"))
        await self._drop_link()

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            if job is None:
                return
            if job.future.done():  # the caller gave up while it waited in the queue
                continue
            try:
                result = await self._serve(job.exchange)
            except asyncio.CancelledError:
                if not job.future.done():
                    job.future.set_exception(PortClosed(f"the port owner for {self.url} was stopped"))
                raise
            except Exception as exc:
                if not job.future.done():
                    job.future.set_exception(exc)
            else:
                if not job.future.done():
                    job.future.set_result(result)

    async def _serve(self, exchange: Exchange[T]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + exchange.timeout
        link = await self._ensure_link(deadline, exchange.timeout)
        try:
            await self._drop_stale(link, exchange)
            if exchange.on_sent is not None:
                exchange.on_sent(exchange.data)
            async with asyncio.timeout_at(deadline):
                await link.write(exchange.data)
            received = bytearray()
            while True:
                data = await link.read(deadline)
                if not data:
                    raise DeviceTimeout(self.url, exchange.timeout, bytes(received))
                received += data
                result = exchange.reader.feed(data)
                if result is not None:
                    self._backoff.reset()  # a device that answers earns a quick reconnect
                    return result
        except TimeoutError as exc:
            if isinstance(exc, DeviceTimeout):
                raise
            raise DeviceTimeout(self.url, exchange.timeout, b"") from None
        except LinkError as exc:
            await self._link_failed(exc)
            raise

    async def _drop_stale(self, link: Link, exchange: Exchange[Any]) -> None:
        for _ in range(_STALE_SWEEPS):
            await asyncio.sleep(0)
        stale = link.take_buffered()
        if stale:
            log.debug("%s: dropped %d stale bytes before a request: %s", self.url, len(stale), stale.hex(" "))
            if exchange.on_stale is not None:
                exchange.on_stale(stale)

    async def _ensure_link(self, deadline: float, allowed: float) -> Link:
        if self._link is not None and self._link.is_open:
            return self._link
        if self._link is not None:
            await self._link_failed(
                LinkError(
                    self.url,
                    tr("the connection to {url} was lost — check the cable and power").format(url=self.url),
                )
            )
        loop = asyncio.get_running_loop()
        wait = self._not_before - loop.time()
        if wait > 0:
            if loop.time() + wait > deadline:
                # The backoff outlasts this request: fail it now with the last reason
                # rather than sit out its whole deadline doing nothing.
                reason = str(self._last_error) if self._last_error else f"cannot open {self.url} yet"
                raise LinkError(self.url, reason)
            await asyncio.sleep(wait)
        try:
            async with asyncio.timeout_at(deadline):
                link = await self._opener(self.url, self.line)
        except TimeoutError:
            error = LinkError(self.url, f"cannot open {self.url}: it took longer than {allowed:g} s")
            self._schedule_reopen(error)
            raise error from None
        except LinkError as exc:
            self._schedule_reopen(exc)
            raise
        self._link = link
        self.opens += 1
        self._last_error = None
        return link

    async def _link_failed(self, error: LinkError) -> None:
        log.warning("%s", error)
        await self._drop_link()
        self._schedule_reopen(error)

    def _schedule_reopen(self, error: LinkError) -> None:
        self._last_error = error
        self._not_before = asyncio.get_running_loop().time() + self._backoff.next_delay()

    async def _drop_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()
