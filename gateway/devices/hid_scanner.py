"""Keyboard-wedge (USB HID) barcode scanners, read with evdev.

A USB scanner in keyboard mode types each code and presses Enter. The gateway opens its
input device (``/dev/input/eventN``), grabs it (``EVIOCGRAB``) so the keystrokes never
reach a desktop or a terminal, reads its key events and decodes them with
:class:`protocols.scanner.HidDecoder` (US layout, shift and caps lock, Ctrl+] as the
GS1 separator GS, autorepeat ignored). Every code becomes a
:class:`~gateway.devices.scanner.ScanEvent`, as from a serial scanner.

Addresses (``evdev:`` URLs)
    ``evdev:///dev/input/event5``
        that device node; a stable link such as ``/dev/input/by-id/usb-…-event-kbd``
        works too and survives re-plugging into another USB port.
    ``evdev://name=Honeywell%20Imaging%201900``
        the input device with exactly this name (``%20`` or a quoted space), as
        ``tillgw diag`` or ``evtest`` shows it; found wherever it appears.
    ``evdev://id=0c2e:0b61``
        the device with this USB vendor:product id (hex).

    Only a device with an Enter key is taken: one scanner often shows a keyboard node
    and a "consumer control" node with the same name and id. A device opened by path is
    checked on every re-open: if the node now belongs to another device (the event
    number was reused, say by the till's keyboard), it is not grabbed.

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
    :meth:`~gateway.devices.scanner.ScannerDriver.close` always stops at once — unlike
    evdev's ``async_read_loop``, which a ``close()`` cannot end cleanly.

The thin layer
    Only :class:`EvdevBackend` and :class:`EvdevDevice` touch python-evdev (imported when
    a device is first looked for, so the gateway runs without it until a HID scanner is
    configured). Everything above takes any :class:`InputBackend`; tests and benchmarks
    substitute devices that replay recorded events (:class:`RecordedDevice`), since there
    is no ``/dev/uinput`` on the build machines.

Recordings
    One input event per line as a JSON array ``[sec, usec, type, code, value]``, the
    fields of the kernel's ``struct input_event`` (:func:`read_recording`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState
from gateway.devices.scanner import ScannerDriver
from protocols.scanner import (
    DEFAULT_MAX_LINE,
    EV_KEY,
    EV_SYN,
    KEY_ENTER,
    SWEDISH_IN_STORE,
    HidDecoder,
    InStoreLayout,
)

__all__ = [
    "DeviceSelector",
    "EvdevBackend",
    "EvdevDevice",
    "EvdevUnavailable",
    "EventDevice",
    "HidScanner",
    "HidScannerConfig",
    "InputBackend",
    "InputDeviceInfo",
    "RawEvent",
    "RecordedDevice",
    "choose_device",
    "read_recording",
]

log = logging.getLogger("tillgw.devices.hid_scanner")

RawEvent = tuple[int, int, int, int, int]
"""One input event: ``(sec, usec, type, code, value)``, as ``struct input_event`` holds it."""

SCHEME = "evdev://"
SYN_REPORT = 0
_NAMES_SHOWN = 6  # input devices named in a "not found" message


# ---------------------------------------------------------------------------------------
# What is plugged in, and which one is the scanner
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputDeviceInfo:
    """An input device as the kernel describes it."""

    path: str
    name: str
    vendor: int = 0
    product: int = 0
    keyboard: bool = True  # it has an Enter key, so it can end a code

    @property
    def identity(self) -> tuple[str, int, int]:
        """What must stay the same for a re-opened node to be the same scanner."""
        return (self.name, self.vendor, self.product)

    def describe(self) -> str:
        return f"{self.name!r} ({self.vendor:04x}:{self.product:04x}) at {self.path}"


@dataclass(frozen=True, slots=True)
class DeviceSelector:
    """Which input device is the scanner: exactly one of a path, a name, a USB id."""

    path: str | None = None
    name: str | None = None
    usb_id: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.path, self.name, self.usb_id))
        if given != 1:
            raise ValueError("a scanner is chosen by exactly one of a path, a name or a USB id")

    @classmethod
    def from_url(cls, url: str) -> DeviceSelector:
        """Parse an ``evdev:`` URL (see the module documentation); ValueError says what is wrong."""
        usage = (
            f"{url!r} is not a HID scanner address — write evdev:///dev/input/eventN, "
            "evdev://name=NAME or evdev://id=VVVV:PPPP"
        )
        if not url.startswith(SCHEME):
            raise ValueError(usage)
        rest = url[len(SCHEME) :]
        if rest.startswith("/"):
            if rest == "/":
                raise ValueError(usage)
            return cls(path=unquote(rest))
        key, equals, value = rest.partition("=")
        value = unquote(value)
        if not equals or not value:
            raise ValueError(usage)
        if key == "name":
            return cls(name=value)
        if key == "id":
            match = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", value)
            if match is None:
                raise ValueError(f"{url!r}: a USB id is written as four hex digits, a colon, four hex digits")
            return cls(usb_id=(int(match.group(1), 16), int(match.group(2), 16)))
        raise ValueError(usage)

    def matches(self, info: InputDeviceInfo) -> bool:
        if self.path is not None:
            return info.path == self.path
        if self.name is not None:
            return info.name == self.name
        return (info.vendor, info.product) == self.usb_id

    def describe(self) -> str:
        if self.path is not None:
            return self.path
        if self.name is not None:
            return f"named {self.name!r}"
        assert self.usb_id is not None
        return f"with USB id {self.usb_id[0]:04x}:{self.usb_id[1]:04x}"


def choose_device(selector: DeviceSelector, candidates: Iterable[InputDeviceInfo]) -> InputDeviceInfo | None:
    """The device ``selector`` means: the first match that has an Enter key (None if none has).

    A scanner's other nodes (consumer control, system control) share its name and USB id
    but cannot type Enter, so they cannot end a code and are never taken.
    """
    for info in candidates:
        if selector.matches(info) and info.keyboard:
            return info
    return None


# ---------------------------------------------------------------------------------------
# The thin layer: an opened device and the list of devices
# ---------------------------------------------------------------------------------------


class EventDevice(Protocol):
    """An opened input device: all the reading path needs of one."""

    @property
    def info(self) -> InputDeviceInfo: ...

    def fileno(self) -> int:
        """A non-blocking descriptor that is readable when events wait."""
        ...

    def grab(self) -> None:
        """Take the device for ourselves (``EVIOCGRAB``); OSError EBUSY if someone has it."""
        ...

    def read(self) -> Sequence[RawEvent]:
        """The events waiting now. BlockingIOError: none; OSError (ENODEV): unplugged."""
        ...

    def close(self) -> None:
        """Close (which releases the grab); never raises."""
        ...


class InputBackend(Protocol):
    """Where input devices come from: the kernel via evdev, or a recording in tests."""

    def devices(self) -> list[InputDeviceInfo]:
        """Every input device present now (PermissionError if none could be read for that)."""
        ...

    def open(self, path: str) -> EventDevice:
        """Open one device (OSError: ENOENT if it is not there, EACCES if not ours to open)."""
        ...


class EvdevUnavailable(RuntimeError):
    """python-evdev is not installed."""


def _evdev() -> ModuleType:
    try:
        import evdev  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise EvdevUnavailable(
            "python-evdev is not installed, so USB keyboard scanners cannot be read — "
            "install it (pip install evdev) or set the scanner to serial (USB COM) mode"
        ) from exc
    module: ModuleType = evdev
    return module


def _natural_key(path: str) -> tuple[str, int]:
    match = re.search(r"(\d+)$", path)
    return (path[: match.start()], int(match.group(1))) if match else (path, -1)


def _info_of(device: Any) -> InputDeviceInfo:
    keys = device.capabilities().get(EV_KEY, [])
    return InputDeviceInfo(
        path=str(device.path),
        name=str(device.name),
        vendor=int(device.info.vendor),
        product=int(device.info.product),
        keyboard=KEY_ENTER in keys,
    )


class EvdevDevice:
    """``/dev/input/eventN`` opened with python-evdev (non-blocking). Kept thin on purpose."""

    def __init__(self, path: str) -> None:
        self._device: Any = _evdev().InputDevice(path)
        try:
            self._info = _info_of(self._device)
        except OSError:
            self._device.close()
            raise

    @property
    def info(self) -> InputDeviceInfo:
        return self._info

    def fileno(self) -> int:
        return int(self._device.fileno())

    def grab(self) -> None:
        self._device.grab()

    def read(self) -> list[RawEvent]:
        return [(e.sec, e.usec, e.type, e.code, e.value) for e in self._device.read()]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._device.close()


class EvdevBackend:
    """The machine's input devices, through python-evdev."""

    def __init__(self, directory: str = "/dev/input") -> None:
        self.directory = directory

    def devices(self) -> list[InputDeviceInfo]:
        evdev = _evdev()
        paths = sorted((str(p) for p in Path(self.directory).glob("event*")), key=_natural_key)
        found: list[InputDeviceInfo] = []
        denied: list[str] = []
        for path in paths:
            try:
                device = evdev.InputDevice(path)
            except PermissionError:
                denied.append(path)
                continue
            except OSError:
                continue  # unplugged meanwhile
            try:
                found.append(_info_of(device))
            except OSError:
                continue
            finally:
                device.close()
        if denied and not found:
            raise PermissionError(errno.EACCES, "permission denied", denied[0])
        return found

    def open(self, path: str) -> EventDevice:
        return EvdevDevice(path)


# ---------------------------------------------------------------------------------------
# Recordings
# ---------------------------------------------------------------------------------------


def read_recording(path: Path) -> list[RawEvent]:
    """Recorded events: JSON lines ``[sec, usec, type, code, value]``; blank lines skipped."""
    events: list[RawEvent] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        value = json.loads(line)
        if not (isinstance(value, list) and len(value) == 5 and all(type(v) is int for v in value)):
            raise ValueError(f"{path}:{number}: an event is [sec, usec, type, code, value], got {line!r}")
        events.append((value[0], value[1], value[2], value[3], value[4]))
    return events


def _packets(events: Sequence[RawEvent]) -> list[list[RawEvent]]:
    """Events grouped as the kernel delivers them: each group ends with a SYN_REPORT."""
    packets: list[list[RawEvent]] = []
    current: list[RawEvent] = []
    for event in events:
        current.append(event)
        if event[2] == EV_SYN and event[3] == SYN_REPORT:
            packets.append(current)
            current = []
    if current:
        packets.append(current)
    return packets


class RecordedDevice:
    """An :class:`EventDevice` that plays back recorded events (tests, benchmarks).

    Each read returns the next packet (the events up to a ``SYN_REPORT``, as the kernel
    delivers them while a scanner types), or with ``batch=N`` up to N events (as a read
    of a backlog returns). Once played, reads fail with ``ENODEV`` (``end="unplug"``, as
    an unplugged device's do) or find nothing waiting (``end="idle"``, a device that stays
    plugged in). Its descriptor is a pipe that is readable while events remain.
    """

    def __init__(
        self,
        events: Sequence[RawEvent],
        info: InputDeviceInfo | None = None,
        *,
        batch: int | None = None,
        end: Literal["unplug", "idle"] = "unplug",
    ) -> None:
        if batch is not None and batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self._info = info if info is not None else InputDeviceInfo("/dev/input/event0", "recorded scanner")
        if batch is None:
            self._chunks = _packets(events)
        else:
            self._chunks = [list(events[i : i + batch]) for i in range(0, len(events), batch)]
        self._next = 0
        self.end = end
        self.grabbed = False
        self.closed = False
        self.reads = 0
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.write(self._write_fd, b"!")  # readable until the recording is played (or forever, to unplug)

    @property
    def info(self) -> InputDeviceInfo:
        return self._info

    @property
    def played(self) -> bool:
        return self._next >= len(self._chunks)

    def fileno(self) -> int:
        return self._read_fd

    def grab(self) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "the device is closed")
        self.grabbed = True

    def read(self) -> list[RawEvent]:
        if self.closed:
            raise OSError(errno.EBADF, "the device is closed")
        self.reads += 1
        if self._next < len(self._chunks):
            chunk = self._chunks[self._next]
            self._next += 1
            if self._next == len(self._chunks) and self.end == "idle":
                with contextlib.suppress(BlockingIOError):
                    os.read(self._read_fd, 1)  # nothing more waiting: no longer readable
            return chunk
        if self.end == "idle":
            raise BlockingIOError(errno.EAGAIN, "no events waiting")
        raise OSError(errno.ENODEV, "No such device")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.grabbed = False
            for fd in (self._read_fd, self._write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


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
        return f"scanner unplugged ({self.selector.describe()}) — plug it back in; scans resume by themselves"

    def _lost_words(self, error: OSError) -> str:
        if error.errno in (errno.ENODEV, errno.ENOENT, errno.ENXIO):
            return self._unplugged_words()
        return (
            f"reading the scanner ({self.selector.describe()}) failed: {error.strerror or error} — "
            "unplug it and plug it back in; scans resume by themselves"
        )

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
                f"{info.path} is now {info.name!r} ({info.vendor:04x}:{info.product:04x}), not the scanner "
                f"{name!r} ({vendor:04x}:{product:04x}); it was not grabbed — address the scanner as "
                f"evdev://name={name} so it is found wherever it appears"
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
            return (
                f"the input device {self.selector.describe()} has no Enter key, so it cannot end a code — "
                "set the scanner to USB keyboard (HID) mode"
            )
        present = ", ".join(repr(c.name) for c in candidates[:_NAMES_SHOWN])
        more = "" if len(candidates) <= _NAMES_SHOWN else f" and {len(candidates) - _NAMES_SHOWN} more"
        seen = f" (input devices present: {present}{more})" if present else " (no input devices at all)"
        return (
            f"no input device {self.selector.describe()} is plugged in{seen} — plug the scanner in; "
            "scans start by themselves"
        )

    def _open_words(self, exc: OSError, lost: bool, *, path: str | None = None) -> str:
        where = path or exc.filename or self.selector.path or self.selector.describe()
        code = exc.errno
        if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
            if lost:
                return self._unplugged_words()
            return f"no input device at {where} — plug the scanner in; scans start by themselves"
        if code in (errno.EACCES, errno.EPERM):
            return (
                f"permission denied on {where} — add the user to the input group "
                "(sudo usermod -aG input $USER, then log in again)"
            )
        if code == errno.EBUSY:
            return f"another program has grabbed the scanner at {where} (another tillgw?) — stop it"
        return f"cannot open the scanner at {where}: {exc.strerror or exc} — unplug it and plug it back in"

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
                f"the scanner was lost in the middle of a scan: {len(decoder.pending)} characters "
                "of an unfinished code dropped — scan that item again",
                decoder.pending.encode(),
            )
        return error
