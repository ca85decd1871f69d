"""Recorded input events, played back as an input device (tests, benchmarks).

There is no ``/dev/uinput`` on the build machines, so the keyboard-wedge scanner driver
is tested against :class:`RecordedDevice`: an
:class:`~gateway.devices.scanner.input_devices.EventDevice` that replays events recorded from a
real scanner, through a descriptor the event loop watches as it would a real device's.

A recording is one input event per line as a JSON array ``[sec, usec, type, code,
value]``, the fields of the kernel's ``struct input_event`` (:func:`read_recording`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from gateway.devices.scanner.input_devices import InputDeviceInfo, RawEvent
from protocols.scanner import EV_SYN

__all__ = ["RecordedDevice", "read_recording"]

SYN_REPORT = 0


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
