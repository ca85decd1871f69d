"""Keyboard-wedge (USB HID) barcode scanners, read with evdev.

A USB scanner in keyboard mode types each code and presses Enter. The gateway opens its
input device (``/dev/input/eventN``, chosen by its ``evdev:`` URL as
:mod:`gateway.devices.scanner.input_devices` describes), grabs it (``EVIOCGRAB``) so the
keystrokes never reach a desktop or a terminal, reads its key events and decodes them with
:class:`protocols.scanner.HidDecoder` (US layout, shift and caps lock, Ctrl+] as the
GS1 separator GS, autorepeat ignored). Every code becomes a
:class:`~gateway.devices.scanner.events.ScanEvent`, as from a serial scanner.

A device opened by path is checked on every re-open: if the node now belongs to another
device (the event number was reused, say by the till's keyboard), it is not grabbed.

Unplug and re-plug
    Reads fail with ``ENODEV`` when the scanner is unplugged: the state becomes
    ``failed`` ("scanner unplugged — plug it back in; scans resume by themselves"), a
    half-typed code is reported as cut off, and the device is looked for again after a
    random wait of up to 0.1 s, doubling up to 1 s, until it is back; it is then
    grabbed again and the state is ``ready``.

Reading
    The device's file descriptor is registered with the event loop (``add_reader``); each
    time it is readable the events waiting are read without blocking. Stopping is
    removing the reader and closing the device (which also releases the grab), so
    :meth:`~gateway.devices.scanner.driver.ScannerDriver.close` always stops at once — unlike
    evdev's ``async_read_loop``, which a ``close()`` cannot end cleanly.

The devices come from an :class:`~gateway.devices.scanner.input_devices.InputBackend`: the
kernel's (:mod:`gateway.devices.scanner.evdev_backend`), or recorded events in tests and
benchmarks (:mod:`tests.devices.input_recording`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.scanner.driver import ScannerDriver
from gateway.devices.scanner.evdev_backend import EvdevBackend, EvdevUnavailable
from gateway.devices.scanner.input_devices import (
    DeviceSelector,
    EventDevice,
    InputBackend,
    InputDeviceInfo,
    choose_device,
)
from protocols.scanner import DEFAULT_MAX_LINE, SWEDISH_IN_STORE, HidDecoder, InStoreLayout

__all__ = ["HidScanner", "HidScannerConfig"]

log = logging.getLogger("tillgw.devices.hid_scanner")

_NAMES_SHOWN = 6  # input devices named in a "not found" message


@dataclass(frozen=True, slots=True)
class HidScannerConfig:
    """``max_length``: characters before Enter past which a code is rejected as runaway."""

    max_length: int = DEFAULT_MAX_LINE
    layout: InStoreLayout = SWEDISH_IN_STORE


class _NotAttached(Exception):
    """The scanner could not be taken now; ``str()`` is the health reason."""


class HidScanner(ScannerDriver):
    """A keyboard-wedge scanner at an ``evdev:`` URL (see the module documentation)."""

    def __init__(
        self,
        url: str,
        config: HidScannerConfig | None = None,
        *,
        backend: InputBackend | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        config = config if config is not None else HidScannerConfig()
        HidDecoder(max_length=config.max_length)  # refuse an impossible max_length now
        super().__init__(url, layout=config.layout, backoff=backoff)
        self.selector = DeviceSelector.from_url(url)
        self.config = config
        self._backend: InputBackend = backend if backend is not None else EvdevBackend()
        self._identity: tuple[str, int, int] | None = None
        self.device_info: InputDeviceInfo | None = None  # the device last grabbed
        self.attempts = 0  # times the device was looked for: 1 plus the reconnect attempts

    async def _run(self) -> None:
        lost = False
        while True:
            try:
                device = self._attach(lost)
            except EvdevUnavailable as exc:
                self._health.set(DeviceState.FAILED, str(exc))
                return  # nothing to wait for: polling cannot install a library
            except _NotAttached as exc:
                self._health.set(DeviceState.FAILED, str(exc))
                await self._pause()
                continue
            self.opens += 1
            self._health.set(DeviceState.READY)
            try:
                error = await self._read(device)
            finally:
                device.close()
            lost = True
            self._health.set(DeviceState.FAILED, self._lost_words(error))
            await self._pause()

    def _unplugged_words(self) -> str:
        return tr("scanner unplugged ({scanner}) — plug it back in; scans resume by themselves").format(
            scanner=self.selector.describe()
        )

    def _lost_words(self, error: OSError) -> str:
        if error.errno in (errno.ENODEV, errno.ENOENT, errno.ENXIO):
            return self._unplugged_words()
        return tr(
            "reading the scanner ({scanner}) failed: {error} — unplug it and "
            "plug it back in; scans resume by themselves"
        ).format(scanner=self.selector.describe(), error=error.strerror or error)

    def _attach(self, lost: bool) -> EventDevice:
        """Find, open, check and grab the scanner; raises :class:`_NotAttached` in words."""
        self.attempts += 1
        selector = self.selector
        path = selector.path
        try:
            if path is None:
                candidates = self._backend.devices()
                chosen = choose_device(selector, candidates)
                if chosen is None:
                    raise _NotAttached(self._unplugged_words() if lost else self._absent_words(candidates))
                path = chosen.path
            device = self._backend.open(path)
        except _NotAttached:
            raise
        except OSError as exc:
            raise _NotAttached(self._open_words(exc, lost, path=path)) from exc
        info = device.info
        if self._identity is not None and info.identity != self._identity:
            device.close()
            name, vendor, product = self._identity
            raise _NotAttached(
                tr(
                    "{path} is now {name!r} ({vendor:04x}:{product:04x}), not the "
                    "scanner {scanner_name!r} "
                    "({scanner_vendor:04x}:{scanner_product:04x}); it was not "
                    "grabbed — address the scanner as evdev://name={scanner_name} so "
                    "it is found wherever it appears"
                ).format(
                    path=info.path,
                    name=info.name,
                    vendor=info.vendor,
                    product=info.product,
                    scanner_name=name,
                    scanner_vendor=vendor,
                    scanner_product=product,
                )
            )
        try:
            device.grab()
        except OSError as exc:
            device.close()
            raise _NotAttached(self._open_words(exc, lost, path=info.path)) from exc
        self._identity = info.identity
        self.device_info = info
        log.info("%s: grabbed %s", self.url, info.describe())
        return device

    def _absent_words(self, candidates: Sequence[InputDeviceInfo]) -> str:
        if any(self.selector.matches(c) for c in candidates):
            return tr(
                "the input device {scanner} has no Enter key, so it cannot end a "
                "code — set the scanner to USB keyboard (HID) mode"
            ).format(scanner=self.selector.describe())
        present = ", ".join(repr(c.name) for c in candidates[:_NAMES_SHOWN])
        more = "" if len(candidates) <= _NAMES_SHOWN else f" and {len(candidates) - _NAMES_SHOWN} more"
        seen = f" (input devices present: {present}{more})" if present else " (no input devices at all)"
        return tr(
            "no input device {scanner} is plugged in{seen} — plug the scanner in; scans start by themselves"
        ).format(scanner=self.selector.describe(), seen=seen)

    def _open_words(self, exc: OSError, lost: bool, *, path: str | None = None) -> str:
        where = path or exc.filename or self.selector.path or self.selector.describe()
        code = exc.errno
        if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
            if lost:
                return self._unplugged_words()
            return tr("no input device at {where} — plug the scanner in; scans start by themselves").format(
                where=where
            )
        if code in (errno.EACCES, errno.EPERM):
            return tr(
                "permission denied on {where} — add the user to the input group "
                "(sudo usermod -aG input $USER, then log in again)"
            ).format(where=where)
        if code == errno.EBUSY:
            return tr(
                "another program has grabbed the scanner at {where} (another tillgw?) — stop it"
            ).format(where=where)
        return tr("cannot open the scanner at {where}: {error} — unplug it and plug it back in").format(
            where=where, error=exc.strerror or exc
        )

    async def _read(self, device: EventDevice) -> OSError:
        """Decode events until the device fails; returns why it failed (ENODEV: unplugged)."""
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[OSError] = loop.create_future()
        decoder = HidDecoder(max_length=self.config.max_length)  # fresh: no half code carries over
        fd = device.fileno()

        def readable() -> None:
            try:
                events = device.read()
            except BlockingIOError:
                return
            except OSError as exc:
                loop.remove_reader(fd)
                if not gone.done():
                    gone.set_result(exc)
                return
            for _, _, ev_type, code, value in events:
                result = decoder.feed(ev_type, code, value)
                if result is not None:
                    self._deliver(result)

        loop.add_reader(fd, readable)
        try:
            error = await gone
        finally:
            loop.remove_reader(fd)
        if decoder.pending:
            self._reject(
                tr(
                    "the scanner was lost in the middle of a scan: {count} "
                    "characters of an unfinished code dropped — scan that item again"
                ).format(count=len(decoder.pending)),
                decoder.pending.encode(),
            )
        return error
