"""A :class:`~gateway.devices.links.link.Link` over USB bulk endpoints, through pyusb.

Thin on purpose: it moves bytes and nothing else, so the printer driver above it is the
same for USB, serial and TCP. ``usb://VID:PID[/serial]`` (hexadecimal ids, as ``lsusb``
prints them) picks the device; the first interface with a bulk OUT endpoint is used,
with the first bulk IN endpoint beside it for status answers.

pyusb blocks, and its default timeout on a transfer is "for ever" (``timeout=0`` in
libusb). So every transfer here runs in a worker thread with an explicit timeout:

* a reader thread reads IN with a short timeout in a loop and hands what arrives to the
  event loop, which is what lets a port owner take stale bytes without waiting;
* writes run in one writer thread, in order, a packet at a time: a bulk packet the
  printer NAKs (its buffer is full) is not taken at all, so retrying that packet after a
  timeout can neither lose nor double a byte. As with a TCP transport, bytes handed to
  :meth:`UsbLink.write` keep going out after the caller stops waiting, until the link
  closes.

The kernel's ``usblp`` driver claims USB printers; it is detached first (and not put
back on close: the gateway is the printer's one user).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import usb.core
import usb.util

from gateway.common.i18n import tr
from gateway.devices.links.link import LinkError, LinkLost

__all__ = [
    "OPEN_TIMEOUT",
    "READ_TIMEOUT_MS",
    "WRITE_TIMEOUT_MS",
    "UsbAddress",
    "UsbLink",
    "open_usb_link",
    "parse_usb_url",
]

log = logging.getLogger("tillgw.devices.usb")

READ_TIMEOUT_MS = 100  # one IN read; bounds how long close() waits for the reader thread
WRITE_TIMEOUT_MS = 1000  # one OUT packet; then it is tried again, unless the link is closing
OPEN_TIMEOUT = 5.0  # finding, detaching and claiming; a port owner's deadline is usually shorter
_READ_SIZE = 512
_GONE = (errno.ENODEV, errno.EIO, errno.EPIPE, errno.ESHUTDOWN, errno.ENOENT)


@dataclass(frozen=True, slots=True)
class UsbAddress:
    vendor: int
    product: int
    serial: str | None = None

    def describe(self) -> str:
        return f"{self.vendor:04x}:{self.product:04x}" + (f" serial {self.serial}" if self.serial else "")


def parse_usb_url(url: str) -> UsbAddress:
    """``usb://04b8:0202`` or ``usb://04b8:0202/J8CF012345`` -> :class:`UsbAddress`."""
    rest = url.removeprefix("usb://")
    ids, _, serial = rest.partition("/")
    vid, colon, pid = ids.partition(":")
    try:
        if not colon:
            raise ValueError
        vendor, product = int(vid, 16), int(pid, 16)
        if not (0 <= vendor <= 0xFFFF and 0 <= product <= 0xFFFF):
            raise ValueError
    except ValueError:
        raise LinkError(
            url, f"cannot open {url}: a USB address is written usb://VID:PID (hexadecimal, as lsusb shows it)"
        ) from None
    return UsbAddress(vendor, product, serial or None)


class UsbLink:
    """An open USB printer: bulk OUT for commands, bulk IN for answers."""

    def __init__(
        self,
        url: str,
        device: Any,
        interface: int,
        ep_out: Any,
        ep_in: Any | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._url = url
        self._device = device
        self._interface = interface
        self._out = int(ep_out.bEndpointAddress)
        self._packet = max(1, int(ep_out.wMaxPacketSize))
        self._in = None if ep_in is None else int(ep_in.bEndpointAddress)
        self._in_size = _READ_SIZE if ep_in is None else max(_READ_SIZE, int(ep_in.wMaxPacketSize))
        self._loop = loop
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self._lost_reason: str | None = None
        self._closing = threading.Event()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"usb-write {url}")
        self._reader: threading.Thread | None = None
        if self._in is not None:
            self._reader = threading.Thread(target=self._read_loop, name=f"usb-read {url}", daemon=True)
            self._reader.start()

    @property
    def url(self) -> str:
        return self._url

    @property
    def is_open(self) -> bool:
        return self._lost_reason is None and not self._closing.is_set()

    def _lost(self) -> LinkLost:
        detail = f": {self._lost_reason}" if self._lost_reason else ""
        words = tr("the USB printer {url} went away{detail} — check the USB cable and power").format(
            url=self._url, detail=detail
        )
        return LinkLost(self._url, words)

    # -- reading ------------------------------------------------------------------------

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            try:
                data = bytes(self._device.read(self._in, self._in_size, timeout=READ_TIMEOUT_MS))
            except usb.core.USBTimeoutError:
                continue
            except usb.core.USBError as exc:
                if self._closing.is_set():
                    return
                self._from_thread(self._set_lost, str(exc))
                return
            if data:
                self._from_thread(self._take, data)

    def _from_thread(self, callback: Any, arg: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody listens
            self._loop.call_soon_threadsafe(callback, arg)

    def _take(self, data: bytes) -> None:
        self._buffer += data
        self._arrived.set()

    def _set_lost(self, reason: str) -> None:
        if self._lost_reason is None:
            self._lost_reason = reason
            log.warning("%s: USB link lost: %s", self._url, reason)
        self._arrived.set()

    async def read(self, deadline: float) -> bytes:
        while not self._buffer:
            if not self.is_open:
                raise self._lost()
            self._arrived.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._arrived.wait()
            except TimeoutError:
                return b""
        return self.take_buffered()

    def take_buffered(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    # -- writing ------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        if not self.is_open:
            raise self._lost()
        error = await self._loop.run_in_executor(self._writer, self._write_all, bytes(data))
        if error is not None:
            self._set_lost(error)
            raise self._lost()

    def _write_all(self, data: bytes) -> str | None:
        """Write ``data`` packet by packet (writer thread); the reason if the device is gone."""
        sent = 0
        while sent < len(data):
            if self._closing.is_set() or self._lost_reason is not None:
                return "closed"
            packet = data[sent : sent + self._packet]
            try:
                sent += int(self._device.write(self._out, packet, timeout=WRITE_TIMEOUT_MS))
            except usb.core.USBTimeoutError:
                continue  # the printer's buffer is full: the packet was not taken, try it again
            except usb.core.USBError as exc:
                return str(exc)
        return None

    # -- closing ------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        reader = self._reader
        if reader is not None:
            # The reader ends within one read timeout; joined off the loop.
            await asyncio.to_thread(reader.join, READ_TIMEOUT_MS / 1000 * 5)
        # A write under way stops within one packet timeout (it checks _closing); wait
        # for it, so the interface is not released under a transfer.
        await asyncio.to_thread(functools.partial(self._writer.shutdown, wait=True, cancel_futures=True))
        await asyncio.to_thread(_release, self._device, self._interface)
        self._arrived.set()

    def __repr__(self) -> str:
        return f"<UsbLink {self._url} {'open' if self.is_open else 'closed'}>"


def _release(device: Any, interface: int) -> None:
    with contextlib.suppress(usb.core.USBError, NotImplementedError, ValueError):
        usb.util.release_interface(device, interface)
    with contextlib.suppress(usb.core.USBError, NotImplementedError, ValueError):
        usb.util.dispose_resources(device)


async def open_usb_link(url: str, within: float = OPEN_TIMEOUT) -> UsbLink:
    """Find, claim and open the USB printer at ``url``; :class:`LinkError` in words if not."""
    address = parse_usb_url(url)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(within):
            device, interface, ep_out, ep_in = await asyncio.to_thread(_claim, url, address)
    except TimeoutError:
        words = tr(
            "cannot open {url}: the USB device did not respond within {within:g} s — plug it in again"
        ).format(url=url, within=within)
        raise LinkError(url, words) from None
    log.debug("opened %s (interface %d)", url, interface)
    return UsbLink(url, device, interface, ep_out, ep_in, loop)


def _claim(url: str, address: UsbAddress) -> tuple[Any, int, Any, Any | None]:
    """Blocking: find the device, pick the interface, detach usblp, claim it."""
    try:
        device = usb.core.find(
            idVendor=address.vendor, idProduct=address.product, custom_match=_serial_matches(address.serial)
        )
    except usb.core.NoBackendError:
        raise LinkError(
            url,
            tr("cannot open {url}: libusb is not installed — install it (apt install libusb-1.0-0)").format(
                url=url
            ),
        ) from None
    if device is None:
        raise LinkError(
            url,
            tr(
                "cannot open {url}: no USB device {device} — check that the "
                "printer is on and its USB cable is in, and look for it with "
                "`lsusb`"
            ).format(url=url, device=address.describe()),
        )
    try:
        interface, ep_out, ep_in = _bulk_interface(device)
        if device.is_kernel_driver_active(interface):
            device.detach_kernel_driver(interface)  # usblp holds USB printers
        usb.util.claim_interface(device, interface)
    except usb.core.USBError as exc:
        raise LinkError(url, _describe_usb_error(url, exc)) from exc
    except LookupError as exc:
        raise LinkError(
            url, tr("cannot open {url}: {exc} — is this the printer's address?").format(url=url, exc=exc)
        ) from None
    return device, interface, ep_out, ep_in


def _serial_matches(serial: str | None) -> Any:
    if serial is None:
        return None

    def match(device: Any) -> bool:
        try:
            return bool(device.serial_number == serial)
        except (usb.core.USBError, ValueError):
            return False  # no readable serial number: not the one asked for

    return match


def _bulk_interface(device: Any) -> tuple[int, Any, Any | None]:
    """The first interface with a bulk OUT endpoint, that endpoint, and its bulk IN if any."""
    try:
        config = device.get_active_configuration()
    except usb.core.USBError:
        config = None
    if config is None:  # not configured yet (no kernel driver has touched it)
        device.set_configuration()
        config = device.get_active_configuration()
    for interface in config:
        endpoints = list(interface)
        out = _first(endpoints, usb.util.ENDPOINT_OUT)
        if out is not None:
            return int(interface.bInterfaceNumber), out, _first(endpoints, usb.util.ENDPOINT_IN)
    raise LookupError("the USB device has no bulk OUT endpoint")


def _first(endpoints: list[Any], direction: int) -> Any | None:
    for ep in endpoints:
        if (
            usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
            and usb.util.endpoint_direction(ep.bEndpointAddress) == direction
        ):
            return ep
    return None


def _describe_usb_error(url: str, exc: usb.core.USBError) -> str:
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return tr(
            "cannot open {url}: permission denied — give the gateway's user "
            "access to the printer with a udev rule (see the docs), then "
            "plug the printer in again"
        ).format(url=url)
    if code == errno.EBUSY:
        return tr(
            "cannot open {url}: the printer is in use by another program — stop that program first"
        ).format(url=url)
    if code in _GONE:
        return tr(
            "cannot open {url}: the device went away — check the USB cable and plug it in again"
        ).format(url=url)
    return tr("cannot open {url}: {exc} — unplug the printer and plug it in again").format(url=url, exc=exc)
