"""The keyboard-wedge scanner: recorded input events through the real HID reading path.

There is no /dev/uinput on these machines, so the thin evdev layer is replaced by a
backend whose devices replay recordings from ``recordings/`` (see its README): each
device is a :class:`RecordedDevice` whose descriptor the event loop watches, as it
watches a real ``/dev/input/eventN``; it hands out the recorded packets and then fails
with ``ENODEV``, as an unplugged scanner does. Everything above that layer — finding
the device, grabbing it, decoding, events, unplug and re-plug — is the production code.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, Health
from gateway.devices.scanner.evdev_backend import EvdevBackend, EvdevUnavailable
from gateway.devices.scanner.events import ScanEvent, ScannerEvent, ScanRejected, ScanSubscription
from gateway.devices.scanner.hid import HidScanner, HidScannerConfig
from gateway.devices.scanner.input_devices import (
    DeviceSelector,
    EventDevice,
    InputDeviceInfo,
    RawEvent,
    choose_device,
)
from protocols.scanner import MeasureKind, ScanKind
from tests.devices.input_recording import RecordedDevice, read_recording

IO_TIMEOUT = 10.0
RECORDINGS = Path(__file__).parent / "recordings"
SCANNER = InputDeviceInfo("/dev/input/event7", "Datalogic Scanner", 0x05F9, 0x2206, keyboard=True)
SCANNER_CONTROLS = InputDeviceInfo("/dev/input/event8", "Datalogic Scanner", 0x05F9, 0x2206, keyboard=False)
KEYBOARD = InputDeviceInfo("/dev/input/event3", "AT Translated Set 2 keyboard", 0x0001, 0x0001)

SCANS = [
    ("7310865004703", ScanKind.EAN13, True),
    ("2388060103489", ScanKind.EAN13, True),
    ("LOT:A7-B_9", ScanKind.OTHER, None),
    ("SKU/X", ScanKind.OTHER, None),
    ("010731086500470310LOT42\x1d17261231", ScanKind.OTHER, None),
    ("96385074", ScanKind.EAN8, True),
    ("7310865004704", ScanKind.OTHER, False),
]


def recording(name: str) -> list[RawEvent]:
    return read_recording(RECORDINGS / f"{name}.jsonl")


class ReplayBackend:
    """Input devices whose every plug-in replays one recording; the test plugs them in.

    ``plug(events)`` makes a device appear (``info`` says what the kernel would call it);
    it stays listed until it has been opened and played to its end, then it is gone
    until the next ``plug``. Other devices (the till's keyboard) are always present.
    """

    def __init__(self, *others: InputDeviceInfo) -> None:
        self.others = list(others)
        self.opened: list[RecordedDevice] = []
        self.lookups = 0
        self.open_error: OSError | None = None
        self.opened_one = asyncio.Event()  # set whenever a device is opened
        self._waiting: RecordedDevice | None = None

    def plug(
        self,
        events: Sequence[RawEvent],
        info: InputDeviceInfo = SCANNER,
        end: Literal["unplug", "idle"] = "unplug",
    ) -> RecordedDevice:
        device = RecordedDevice(events, info, end=end)
        self._waiting = device
        return device

    def _present(self) -> list[RecordedDevice]:
        live = [d for d in self.opened if not d.closed and not (d.played and d.end == "unplug")]
        return live + ([self._waiting] if self._waiting is not None else [])

    def devices(self) -> list[InputDeviceInfo]:
        self.lookups += 1
        return [*self.others, *(d.info for d in self._present())]

    def open(self, path: str) -> EventDevice:
        if self.open_error is not None:
            raise self.open_error
        device = self._waiting
        if device is None or device.info.path != path:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self._waiting = None
        self.opened.append(device)
        self.opened_one.set()
        return device

    def close(self) -> None:
        for device in [*self.opened, *([self._waiting] if self._waiting else [])]:
            device.close()


@pytest.fixture
def backend() -> Iterator[ReplayBackend]:
    replay = ReplayBackend(KEYBOARD, SCANNER_CONTROLS)
    yield replay
    replay.close()


@pytest.fixture
async def make_scanner(backend: ReplayBackend) -> AsyncIterator[Callable[..., HidScanner]]:
    scanners: list[HidScanner] = []

    def make(url: str = "evdev://name=Datalogic%20Scanner", **options: Any) -> HidScanner:
        options.setdefault("backoff", Backoff(initial=0.01, maximum=0.05))
        options.setdefault("backend", backend)
        scanner = HidScanner(url, **options)
        scanners.append(scanner)
        scanner.start()
        return scanner

    yield make
    for scanner in scanners:
        await scanner.close()


async def next_event(subscription: ScanSubscription) -> ScannerEvent:
    return await asyncio.wait_for(anext(subscription), IO_TIMEOUT)


async def take(subscription: ScanSubscription, count: int) -> list[ScannerEvent]:
    return [await next_event(subscription) for _ in range(count)]


async def until(scanner: HidScanner, state: DeviceState) -> Health:
    return await asyncio.wait_for(scanner.wait_for(state), IO_TIMEOUT)


def scans_of(events: Sequence[ScannerEvent]) -> list[tuple[str, ScanKind, bool | None]]:
    return [(e.code, e.kind, e.valid) for e in events if isinstance(e, ScanEvent)]


# -- decoding recorded events ----------------------------------------------------------


async def test_recorded_scans_are_decoded_and_the_device_is_grabbed(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    device = backend.plug(recording("wedge-scans"), end="idle")  # stays plugged in
    scanner = make_scanner()
    events = scanner.subscribe()

    got = await take(events, len(SCANS))

    assert scans_of(got) == SCANS  # shift (left and right), keypad, GS via Ctrl+], autorepeat
    assert device.grabbed and scanner.state is DeviceState.READY
    assert scanner.device_info == SCANNER  # the keyboard node, not its "consumer control" twin
    weighed = got[1]
    assert isinstance(weighed, ScanEvent) and weighed.in_store is not None
    assert (weighed.in_store.kind, weighed.in_store.weight_g) == (MeasureKind.WEIGHT, 348)
    assert all(isinstance(e, ScanEvent) and e.source == "evdev://name=Datalogic%20Scanner" for e in got)

    # Stopping while the reader waits on an idle device: close() returns and lets go.
    await scanner.close()
    assert (device.closed, device.grabbed) == (True, False)
    assert [e async for e in events] == []


async def test_unplug_mid_scan_then_replug_resumes_scanning(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    first = backend.plug(recording("wedge-unplug"))
    scanner = make_scanner()
    changes: list[Health] = []
    scanner.on_change(changes.append)
    events = scanner.subscribe()

    before = await take(events, 2)
    failed = await until(scanner, DeviceState.FAILED)

    assert scans_of(before[:1]) == [("7350053850019", ScanKind.EAN13, True)]
    cut = before[1]
    assert isinstance(cut, ScanRejected)
    assert cut.reason.startswith("the scanner was lost in the middle of a scan: 6 characters")
    assert cut.head == b"400638"
    assert failed.reason == (
        "failed: scanner unplugged (named 'Datalogic Scanner') — plug it back in; scans resume by themselves"
    )
    assert first.closed  # released at once

    lookups = backend.lookups
    second = backend.plug(recording("wedge-scans"), end="idle")
    await until(scanner, DeviceState.READY)
    after = await take(events, len(SCANS))

    assert scans_of(after) == SCANS  # "400638" did not stick to the next code
    assert first.grabbed is False and second.grabbed
    assert backend.opened == [first, second]
    assert scanner.opens == 2 and scanner.attempts >= 2 and backend.lookups > lookups
    assert [h.state for h in changes] == [DeviceState.READY, DeviceState.FAILED, DeviceState.READY]


async def test_overlong_typing_is_rejected(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    backend.plug(recording("wedge-scans"), end="idle")
    scanner = make_scanner(config=HidScannerConfig(max_length=14))
    events = await take(scanner.subscribe(), len(SCANS))
    rejected = [e for e in events if isinstance(e, ScanRejected)]
    assert [r.reason for r in rejected] == [
        "more than 14 characters without Enter; discarded up to the next Enter"
    ]
    assert rejected[0].head == b"010731086500470"
    assert len(scans_of(events)) == len(SCANS) - 1


# -- finding the device ---------------------------------------------------------------


async def test_a_scanner_that_is_not_plugged_in_says_what_is(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    scanner = make_scanner("evdev://name=Honeywell%201900")
    failed = await until(scanner, DeviceState.FAILED)
    assert failed.reason == (
        "failed: no input device named 'Honeywell 1900' is plugged in (input devices present: "
        "'AT Translated Set 2 keyboard', 'Datalogic Scanner') — plug the scanner in; "
        "scans start by themselves"
    )
    assert backend.opened == []  # the till's keyboard was never touched


async def test_a_scanner_is_waited_for_and_only_its_keyboard_node_is_taken(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    scanner = make_scanner("evdev://id=05f9:2206")
    failed = await until(scanner, DeviceState.FAILED)
    # Only the scanner's controls node is there: it matches the id but cannot type Enter.
    assert failed.reason == (
        "failed: the input device with USB id 05f9:2206 has no Enter key, so it cannot end a code — "
        "set the scanner to USB keyboard (HID) mode"
    )
    backend.plug(recording("wedge-scans"), end="idle")
    events = await take(scanner.subscribe(), 1)
    assert scans_of(events) == SCANS[:1]
    assert scanner.device_info == SCANNER


async def test_a_reused_event_node_is_not_grabbed(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    backend.plug(recording("wedge-unplug"))
    scanner = make_scanner("evdev:///dev/input/event7")
    events = scanner.subscribe()
    await take(events, 2)
    await until(scanner, DeviceState.FAILED)

    # The node comes back, but it is another device now (the kernel reused the number).
    impostor = backend.plug(
        recording("wedge-scans"), InputDeviceInfo("/dev/input/event7", "USB Keyboard", 0x413C, 0x2113)
    )
    await asyncio.wait_for(_until_opened(backend, impostor), IO_TIMEOUT)
    health = await until(scanner, DeviceState.FAILED)
    assert health.reason.startswith(
        "failed: /dev/input/event7 is now 'USB Keyboard' (413c:2113), not the scanner 'Datalogic Scanner' "
        "(05f9:2206); it was not grabbed — address the scanner as evdev://name=Datalogic Scanner"
    )
    assert not impostor.grabbed and impostor.closed

    backend.plug(recording("wedge-scans"), end="idle")
    assert scans_of(await take(events, 1)) == SCANS[:1]


async def _until_opened(backend: ReplayBackend, device: RecordedDevice) -> None:
    """Wait until the driver has opened ``device`` (its health does not change meanwhile)."""
    while device not in backend.opened:
        backend.opened_one.clear()
        await backend.opened_one.wait()


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/dev/input/event7"),
            "failed: permission denied on /dev/input/event7 — add the user to the input group "
            "(sudo usermod -aG input $USER, then log in again)",
        ),
        (
            OSError(errno.EIO, "Input/output error"),
            "failed: cannot open the scanner at /dev/input/event7: Input/output error — "
            "unplug it and plug it back in",
        ),
    ],
)
async def test_open_errors_in_words(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner], error: OSError, words: str
) -> None:
    backend.open_error = error
    backend.plug(recording("wedge-scans"))
    scanner = make_scanner()
    assert (await until(scanner, DeviceState.FAILED)).reason == words


async def test_a_device_grabbed_by_another_program(
    backend: ReplayBackend, make_scanner: Callable[..., HidScanner]
) -> None:
    device = backend.plug(recording("wedge-scans"))

    def busy() -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    device.grab = busy  # type: ignore[method-assign]
    scanner = make_scanner()
    failed = await until(scanner, DeviceState.FAILED)
    assert failed.reason == (
        "failed: another program has grabbed the scanner at /dev/input/event7 (another tillgw?) — stop it"
    )
    assert device.closed


async def test_without_python_evdev_the_scanner_fails_for_good(
    make_scanner: Callable[..., HidScanner],
) -> None:
    class NoEvdev:
        def devices(self) -> list[InputDeviceInfo]:
            raise EvdevUnavailable("python-evdev is not installed — install it (pip install evdev)")

        def open(self, path: str) -> EventDevice:
            raise AssertionError("never reached")

    scanner = make_scanner(backend=NoEvdev())
    failed = await until(scanner, DeviceState.FAILED)
    assert failed.reason == "failed: python-evdev is not installed — install it (pip install evdev)"
    assert scanner.attempts == 1  # no polling for a library


# -- addresses, recordings, the thin layer ---------------------------------------------


def test_evdev_urls() -> None:
    assert DeviceSelector.from_url("evdev:///dev/input/event5") == DeviceSelector(path="/dev/input/event5")
    assert DeviceSelector.from_url("evdev://name=Honeywell%20Imaging 1900") == DeviceSelector(
        name="Honeywell Imaging 1900"
    )
    assert DeviceSelector.from_url("evdev://id=0C2E:0b61") == DeviceSelector(usb_id=(0x0C2E, 0x0B61))
    for bad in (
        "evdev://",
        "evdev:///",
        "evdev://name=",
        "evdev://serial=1",
        "/dev/input/event5",
        "evdev:event5",
    ):
        with pytest.raises(ValueError, match="not a HID scanner address"):
            DeviceSelector.from_url(bad)
    with pytest.raises(ValueError, match="four hex digits"):
        DeviceSelector.from_url("evdev://id=c2e:b61")


def test_choose_device_prefers_the_node_with_an_enter_key() -> None:
    by_name = DeviceSelector(name="Datalogic Scanner")
    assert choose_device(by_name, [KEYBOARD, SCANNER_CONTROLS, SCANNER]) == SCANNER
    assert choose_device(by_name, [KEYBOARD, SCANNER_CONTROLS]) is None
    assert choose_device(by_name, [KEYBOARD]) is None
    assert choose_device(DeviceSelector(path="/dev/input/event3"), [KEYBOARD, SCANNER]) == KEYBOARD


def test_read_recording_refuses_a_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("[1, 2, 1, 28, 1]\n\n[1, 2, 1, 28]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:3: an event is \[sec, usec, type, code, value\]"):
        read_recording(path)
    assert len(recording("wedge-scans")) > 600


def test_the_evdev_layer_on_a_machine_without_input_devices(tmp_path: Path) -> None:
    pytest.importorskip("evdev")
    assert EvdevBackend(str(tmp_path)).devices() == []
    with pytest.raises(FileNotFoundError):
        EvdevBackend(str(tmp_path)).open(str(tmp_path / "event0"))
