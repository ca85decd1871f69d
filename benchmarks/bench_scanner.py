"""Barcode scanners: scan-to-event latency (serial over a pty and TCP) and HID decoding rate.

    .venv/bin/python benchmarks/bench_scanner.py [--scans 2000] [--repeats 200]

1. Scan-to-event latency: the simulated serial scanner (``firmware_sim.scanner``) writes
   one framed code to its pty master or TCP client, and the clock stops when a
   subscriber of :class:`~gateway.devices.scanner.serial_line.SerialScanner` receives the
   :class:`~gateway.devices.scanner.events.ScanEvent` — kernel pty or loopback, the link layer,
   deframing, classification and fan-out. One scan at a time (a cashier scans one item
   at a time); simulator and driver share one event loop, so both ends read the same
   clock. A real serial scanner adds the line time, printed beside.
2. HID decoding rate: the keyboard-wedge recording ``tests/devices/recordings/
   wedge-scans.jsonl`` repeated ``--repeats`` times, (a) through
   :class:`protocols.scanner.HidDecoder` alone and (b) through the whole HID reading
   path (:class:`~gateway.devices.scanner.hid.HidScanner` with a
   :class:`~tests.devices.input_recording.RecordedDevice` whose descriptor the event loop
   watches, to a subscriber), read 64 events at a time as evdev reads a backlog, and
   one HID report (up to its ``SYN_REPORT``) per read as while a scanner types.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

from firmware_sim.scanner import Scanner
from firmware_sim.scanner.server import serve_pty, serve_tcp, wait_for_receiver
from gateway.common.health import DeviceState
from gateway.devices.scanner.events import ScanEvent
from gateway.devices.scanner.hid import HidScanner
from gateway.devices.scanner.input_devices import InputDeviceInfo, RawEvent
from gateway.devices.scanner.serial_line import SerialScanner
from protocols.scanner import HidDecoder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the recording player is with the tests
from tests.devices.input_recording import RecordedDevice, read_recording  # noqa: E402

RECORDING = ROOT / "tests" / "devices" / "recordings" / "wedge-scans.jsonl"
CODES = ["7310865004703", "2388060103489", "96385074", "010731086500470310LOT42\x1d17261231"]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ms = sorted(x * 1000 for x in latencies)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


async def scan_to_event(transport: str, count: int) -> list[float]:
    scanner = Scanner()
    server = serve_pty(scanner) if transport == "pty" else serve_tcp(scanner)
    async with server as url, SerialScanner(url) as driver:
        events = driver.subscribe()
        await asyncio.wait_for(driver.wait_for(DeviceState.READY), 10)
        await asyncio.wait_for(wait_for_receiver(scanner), 10)
        latencies = []
        for i in range(count + 50):  # the first 50 warm up
            code = CODES[i % len(CODES)]
            t0 = time.perf_counter()
            scanner.scan(code)
            event = await asyncio.wait_for(anext(events), 10)
            elapsed = time.perf_counter() - t0
            assert isinstance(event, ScanEvent) and event.code == code, event
            if i >= 50:
                latencies.append(elapsed)
        return latencies


def decoder_rate(events: list[RawEvent]) -> tuple[float, int]:
    decoder = HidDecoder()
    t0 = time.perf_counter()
    codes = 0
    for _, _, ev_type, code, value in events:
        if decoder.feed(ev_type, code, value) is not None:
            codes += 1
    return len(events) / (time.perf_counter() - t0), codes


async def reading_path_rate(
    events: list[RawEvent], expected_scans: int, batch: int | None
) -> tuple[float, int]:
    info = InputDeviceInfo("/dev/input/event7", "benchmark scanner")
    device = RecordedDevice(events, info, batch=batch, end="idle")

    class OneDevice:
        def devices(self) -> list[InputDeviceInfo]:
            return [info]

        def open(self, path: str) -> RecordedDevice:
            return device

    async with HidScanner("evdev://name=benchmark%20scanner", backend=OneDevice()) as scanner:
        subscription = scanner.subscribe(maxsize=expected_scans + 1)
        t0 = time.perf_counter()
        received = 0
        async for event in subscription:
            assert isinstance(event, ScanEvent), event
            received += 1
            if received == expected_scans:
                break
        elapsed = time.perf_counter() - t0
    return len(events) / elapsed, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=2000, help="scans per transport (default 2000)")
    parser.add_argument("--repeats", type=int, default=200, help="times the HID recording is replayed")
    args = parser.parse_args()

    rows = []
    for transport in ("pty", "tcp"):
        p50, p99 = percentiles(asyncio.run(scan_to_event(transport, args.scans)))
        rows.append((transport, p50, p99))

    recording = read_recording(RECORDING)
    events = recording * args.repeats
    scans_per_recording = len(HidDecoder().feed_events((t, c, v) for _, _, t, c, v in recording))
    decoded_rate, decoded = decoder_rate(events)
    expected = scans_per_recording * args.repeats
    backlog_rate, delivered = asyncio.run(reading_path_rate(events, expected, 64))
    packet_rate, _ = asyncio.run(reading_path_rate(events, expected, None))

    command = " ".join(
        shlex.quote(a) for a in [".venv/bin/python", "benchmarks/bench_scanner.py", *sys.argv[1:]]
    )
    print(f"# barcode scanners — `{command}`")
    print(f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}\n")
    print(f"## scan-to-event latency, {args.scans} sequential scans per transport\n")
    print("| transport | p50 | p99 |")
    print("|---|---|---|")
    for transport, p50, p99 in rows:
        print(f"| {transport} | {p50:.3f} ms | {p99:.3f} ms |")
    frame = len(CODES[0]) + 1  # an EAN-13 and its CR
    line_ms = frame * 10 / 9600 * 1000
    print(f"\na real serial scanner adds the line time: {frame} bytes at 9600 8N1 = {line_ms:.1f} ms")
    print(f"\n## HID decoding, {RECORDING.name} x {args.repeats} ({len(events):,} input events)\n")
    print("| path | input events/s | scans |")
    print("|---|---|---|")
    print(f"| HidDecoder alone | {decoded_rate:,.0f} | {decoded:,} |")
    print(
        f"| HidScanner reading path, 64 events per read (a backlog) | {backlog_rate:,.0f} | {delivered:,} |"
    )
    print(
        f"| HidScanner reading path, one report per read (live typing) | {packet_rate:,.0f} | {delivered:,} |"
    )
    print(f"\none scan from a wedge scanner is about {len(recording) // scans_per_recording} input events")


if __name__ == "__main__":
    main()
