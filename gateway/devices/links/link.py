"""A byte link to a device, addressed by URL: a serial port or a TCP socket.

One :class:`Link` interface whatever is underneath, so drivers above it never care:

* ``/dev/ttyUSB0``, ``/dev/pts/7``, ``rfc2217://host:port`` and other pyserial URLs go
  through :func:`serial_asyncio_fast.create_serial_connection`;
* ``socket://host:port`` and ``tcp://host:port`` go through the event loop's own
  ``create_connection``. (serial_asyncio_fast accepts ``socket://`` too, but only by
  building a pyserial object it never uses; the loop does the same job directly.)

We use the transport/protocol layer rather than ``open_serial_connection``'s stream
pair because a port owner must be able to take whatever bytes are already buffered
without waiting (:meth:`Link.take_buffered`), which a ``StreamReader`` cannot do
through its public API.

Errors name the URL and say what to do next, in words for whoever stands at the till.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

import serial
import serial_asyncio_fast

from gateway.common.i18n import N_, tr
from gateway.devices.links.line import LineSettings

__all__ = [
    "Link",
    "LinkError",
    "LinkLost",
    "LinkOpener",
    "TransportLink",
    "describe_open_error",
    "open_link",
    "open_socket_link",
]

log = logging.getLogger("tillgw.devices.link")

NETWORK_SCHEMES = ("socket", "tcp")
CLOSE_WAIT = 1.0  # how long close() waits for the transport to let go of the port


class LinkError(ConnectionError):
    """The link cannot be opened or has failed. ``str()`` says what to do in words."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url


class LinkLost(LinkError):
    """An open link went away (cable pulled, peer hung up, device vanished)."""


class Link(Protocol):
    """An open byte link. Only its port owner task uses it."""

    @property
    def url(self) -> str: ...

    @property
    def is_open(self) -> bool: ...

    async def read(self, deadline: float) -> bytes:
        """Bytes that have arrived, waiting until ``deadline`` (loop time) at most.

        Returns ``b""`` if nothing came by the deadline; raises :class:`LinkLost` if the
        link went away.
        """
        ...

    def take_buffered(self) -> bytes:
        """Whatever has arrived and not been read, without waiting."""
        ...

    async def write(self, data: bytes) -> None:
        """Queue ``data`` and wait until the transport accepts more (flow control)."""
        ...

    async def close(self) -> None: ...


LinkOpener = Callable[[str, LineSettings], Awaitable[Link]]


class _Receiver(asyncio.Protocol):
    """Collects what a transport delivers, for :class:`TransportLink`."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.arrived = asyncio.Event()
        self.lost = asyncio.Event()
        self.lost_reason: Exception | None = None
        self.writable = asyncio.Event()
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.arrived.set()

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_reason = exc
        self.lost.set()
        self.arrived.set()  # wake a reader so it sees the loss
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


class TransportLink:
    """A :class:`Link` over an asyncio transport (serial or TCP)."""

    def __init__(self, url: str, transport: asyncio.BaseTransport, receiver: _Receiver) -> None:
        self._url = url
        self._transport = transport
        self._receiver = receiver

    @property
    def url(self) -> str:
        return self._url

    @property
    def is_open(self) -> bool:
        return not self._receiver.lost.is_set()

    def _lost(self) -> LinkLost:
        reason = self._receiver.lost_reason
        detail = f": {reason}" if reason else ""
        return LinkLost(
            self._url,
            tr("the connection to {url} was lost{detail} — check the cable and power").format(
                url=self._url, detail=detail
            ),
        )

    async def read(self, deadline: float) -> bytes:
        receiver = self._receiver
        while not receiver.buffer:
            if receiver.lost.is_set():
                raise self._lost()
            receiver.arrived.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await receiver.arrived.wait()
            except TimeoutError:
                return b""
        return self.take_buffered()

    def take_buffered(self) -> bytes:
        data = bytes(self._receiver.buffer)
        self._receiver.buffer.clear()
        return data

    async def write(self, data: bytes) -> None:
        if self._receiver.lost.is_set():
            raise self._lost()
        transport = self._transport
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(data)
        await self._receiver.writable.wait()
        if self._receiver.lost.is_set():
            raise self._lost()

    async def close(self) -> None:
        # abort, not close: a graceful close flushes the serial line first, and a
        # tcdrain on a line nobody reads can hang for ever in an executor thread.
        transport = self._transport
        if transport.is_closing():
            pass  # already going (the line was lost): a second abort makes serial_asyncio_fast
            # report connection_lost twice, which ends in an unretrieved task exception
        elif isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        else:  # pragma: no cover - every transport we make can abort
            transport.close()
        # Wait (briefly) until the port is really released, so a reopen finds it free.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT):
                await self._receiver.lost.wait()

    def __repr__(self) -> str:
        return f"<TransportLink {self._url} {'open' if self.is_open else 'closed'}>"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise LinkError(
            url, f"cannot open {url}: a network address must be written {parts.scheme}://HOST:PORT"
        )
    return parts.hostname, port


def is_network_url(url: str) -> bool:
    return urlsplit(url).scheme in NETWORK_SCHEMES


async def open_link(url: str, line: LineSettings) -> Link:
    """Open ``url``; raises :class:`LinkError` saying what is wrong and what to do."""
    loop = asyncio.get_running_loop()
    receiver = _Receiver()
    scheme = urlsplit(url).scheme
    try:
        if scheme in NETWORK_SCHEMES:
            host, port = _host_port(url)
            transport, _ = await loop.create_connection(lambda: receiver, host, port)
        elif scheme == "loop":
            raise LinkError(
                url,
                f"cannot open {url}: pyserial's loop:// does not work with asyncio — "
                "use a pty from `tillgw sim … --pty` instead",
            )
        elif scheme in ("http", "https"):
            raise LinkError(url, f"cannot open {url} as a byte link: it is an HTTP address")
        else:
            # exclusive: an flock, so a second tillgw (or a diag scan while the gateway
            # runs) is told the port is taken instead of mixing its bytes into ours.
            transport, _ = await serial_asyncio_fast.create_serial_connection(
                loop, lambda: receiver, url, exclusive=True, **line.serial_kwargs()
            )
            serial_port = transport.serial
            if line.dtr is not None and serial_port is not None:
                try:
                    serial_port.dtr = line.dtr
                except OSError as exc:
                    if exc.errno != errno.ENOTTY:
                        raise
                    # A pseudo-terminal (a simulator) has no modem lines to set.
                    log.debug("%s has no DTR line to set", url)
    except LinkError:
        raise
    except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
        raise LinkError(url, describe_open_error(url, exc)) from exc
    log.debug("opened %s", url)
    return TransportLink(url, transport, receiver)


async def open_socket_link(url: str, sock: socket.socket) -> Link:
    """A :class:`Link` over a socket that is already connected (a socketpair, say).

    ``url`` only names the link in messages.
    """
    receiver = _Receiver()
    transport, _ = await asyncio.get_running_loop().create_connection(lambda: receiver, sock=sock)
    return TransportLink(url, transport, receiver)


def _errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    # pyserial wraps the OSError's text but not always its errno.
    text = str(exc)
    for name in ("EACCES", "ENOENT", "EBUSY", "EAGAIN", "ENXIO", "EIO", "ECONNREFUSED"):
        number = getattr(errno, name)
        if f"[Errno {number}]" in text:
            return int(number)
    return None


_NEXT_STEPS: dict[int, str] = {
    errno.EACCES: N_(
        "permission denied — add the user to the dialout group (sudo "
        "usermod -aG dialout $USER, then log in again)"
    ),
    errno.EPERM: N_(
        "permission denied — add the user to the dialout group (sudo "
        "usermod -aG dialout $USER, then log in again)"
    ),
    errno.ENOENT: N_(
        "no such device — check that it is plugged in and powered, and "
        "look for it with `ls /dev/ttyUSB* /dev/ttyACM*`"
    ),
    errno.ENODEV: N_("the device is gone — check the USB cable and plug it in again"),
    errno.ENXIO: N_("no device behind that port — check the cable and power"),
    errno.EBUSY: N_(
        "the port is in use by another program — stop the other program "
        "(for example a second tillgw or a modem manager)"
    ),
    errno.EAGAIN: N_(
        "the port is in use by another program (perhaps the running "
        "tillgw) — stop that program first, or see the gateway's status "
        "page"
    ),
    errno.EIO: N_("input/output error — unplug the device and plug it in again"),
    errno.ECONNREFUSED: N_("connection refused — check that the device is on and listens on that port"),
    errno.EHOSTUNREACH: N_("host unreachable — check the network cable and the address"),
    errno.ENETUNREACH: N_("network unreachable — check the network cable and the address"),
    errno.ETIMEDOUT: N_("no answer from that address — check the network cable and the address"),
}


def describe_open_error(url: str, exc: BaseException) -> str:
    """``cannot open URL: what happened — what to do``."""
    code = _errno_of(exc)
    if code is not None and code in _NEXT_STEPS:
        return tr("cannot open {url}: {next_step}").format(url=url, next_step=tr(_NEXT_STEPS[code]))
    if isinstance(exc, serial.SerialException | ValueError):
        return tr("cannot open {url}: {exc} — check the address and the line settings").format(
            url=url, exc=exc
        )
    return f"cannot open {url}: {exc}"
