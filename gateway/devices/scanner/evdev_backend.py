"""The thin layer: the machine's input devices through python-evdev.

Only :class:`EvdevBackend` and :class:`EvdevDevice` touch python-evdev, and it is imported
when a device is first looked for, so the gateway runs without it until a USB keyboard
scanner is configured (:class:`EvdevUnavailable` says how to install it). Everything above
takes any :class:`~gateway.devices.scanner.input_devices.InputBackend`.
"""

from __future__ import annotations

import contextlib
import errno
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from gateway.common.i18n import tr
from gateway.devices.scanner.input_devices import EventDevice, InputDeviceInfo, RawEvent
from protocols.scanner import EV_KEY, KEY_ENTER

__all__ = ["EvdevBackend", "EvdevDevice", "EvdevUnavailable"]


class EvdevUnavailable(RuntimeError):
    """python-evdev is not installed."""


def _evdev() -> ModuleType:
    try:
        import evdev  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise EvdevUnavailable(
            tr(
                "python-evdev is not installed, so USB keyboard scanners cannot "
                "be read — install it (pip install evdev) or set the scanner to "
                "serial (USB COM) mode"
            )
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
