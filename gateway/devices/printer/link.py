"""How the printer driver reaches a printer: serial, TCP or USB, reopened at its word.

:func:`open_printer_link` opens ``usb://VID:PID[/serial]`` through pyusb
(:mod:`gateway.devices.links.usb_link`) and anything else through :func:`open_link`;
:class:`ResettableLink` lets the driver have the port owner reopen a link after an
exchange went unanswered, without touching the link itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.devices.links.line import LineSettings
from gateway.devices.links.link import Link, open_link

__all__ = ["ResettableLink", "open_printer_link"]


async def open_printer_link(url: str, line: LineSettings) -> Link:
    """``usb://VID:PID[/serial]`` through pyusb; anything else as :func:`open_link`."""
    if urlsplit(url).scheme == "usb":
        from gateway.devices.links.usb_link import open_usb_link

        return await open_usb_link(url)
    return await open_link(url, line)


class ResettableLink:
    """A link the driver can mark for reopening without touching it.

    Only the port owner does I/O on a link; after an exchange went unanswered the driver
    sets :attr:`reset`, the link then reads as closed, and the owner closes it and opens
    a fresh one before the next exchange (dropping whatever was still queued on it).
    """

    def __init__(self, inner: Link) -> None:
        self.inner = inner
        self.reset = False

    @property
    def url(self) -> str:
        return self.inner.url

    @property
    def is_open(self) -> bool:
        return self.inner.is_open and not self.reset

    async def read(self, deadline: float) -> bytes:
        return await self.inner.read(deadline)

    def take_buffered(self) -> bytes:
        return self.inner.take_buffered()

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)

    async def close(self) -> None:
        await self.inner.close()
