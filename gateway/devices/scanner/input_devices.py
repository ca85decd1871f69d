"""Input devices and which one is the scanner: what a keyboard-wedge scanner driver opens.

Addresses (``evdev:`` URLs, parsed by :meth:`DeviceSelector.from_url`)
    ``evdev:///dev/input/event5``
        that device node; a stable link such as ``/dev/input/by-id/usb-…-event-kbd``
        works too and survives re-plugging into another USB port.
    ``evdev://name=Honeywell%20Imaging%201900``
        the input device with exactly this name (``%20`` or a quoted space), as
        ``tillgw diag`` or ``evtest`` shows it; found wherever it appears.
    ``evdev://id=0c2e:0b61``
        the device with this USB vendor:product id (hex).

    Only a device with an Enter key is taken (:func:`choose_device`): one scanner often
    shows a keyboard node and a "consumer control" node with the same name and id.

What the driver needs of an opened device is an :class:`EventDevice`, and of the list of
devices an :class:`InputBackend`: the kernel's through python-evdev
(:mod:`gateway.devices.scanner.evdev_backend`), or recorded events in tests and benchmarks
(:mod:`tests.devices.input_recording`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

__all__ = [
    "SCHEME",
    "DeviceSelector",
    "EventDevice",
    "InputBackend",
    "InputDeviceInfo",
    "RawEvent",
    "choose_device",
]

RawEvent = tuple[int, int, int, int, int]
"""One input event: ``(sec, usec, type, code, value)``, as ``struct input_event`` holds it."""

SCHEME = "evdev://"


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
