"""The scanner's probe for ``tillgw diag --scanner``: listen, and show every code scanned.

:func:`probe_scanner` opens a scanner and collects what is scanned for ``--read``
seconds; :func:`tell` and :func:`tell_event` say on stderr, as it happens, that it
listens and what arrived, so that ``--json`` output stays one document.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.scanner.events import ScanEvent, ScannerEvent
from gateway.devices.scanner.opener import open_scanner
from gateway.devices.scanner.serial_line import SerialScannerConfig
from protocols.scanner import Terminator
from tools.diag.finding import READ_SECONDS, Finding, next_step_of

__all__ = ["probe_scanner", "scanners_problem", "tell", "tell_event", "visible_code"]

_CONTROL_NAMES = {0x1D: "GS", 0x1E: "RS", 0x04: "EOT", 0x02: "STX", 0x03: "ETX", 0x09: "TAB"}


def visible_code(code: str) -> str:
    """A code as a terminal can show it: ``<GS>`` for the GS1 separator, ``\\xNN`` for other controls."""
    out = []
    for ch in code:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"<{_CONTROL_NAMES[ord(ch)]}>" if ord(ch) in _CONTROL_NAMES else f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _scan_summary(event: ScanEvent) -> dict[str, Any]:
    document = event.to_json()
    return {key: document[key] for key in ("code", "kind", "valid", "in_store", "at")}


async def probe_scanner(
    url: str,
    seconds: float = READ_SECONDS,
    *,
    count: int | None = None,
    on_listening: Callable[[str], None] | None = None,
    on_event: Callable[[ScannerEvent], None] | None = None,
) -> Finding:
    """Open the scanner at ``url`` and collect what is scanned within ``seconds``.

    A serial or TCP scanner is read with tolerant framing (CR, LF or CR LF ends a code,
    no prefix or suffix expected), so whatever the scanner wraps its codes in shows in
    the code. ``count`` stops after that many scans. ``on_listening`` is told once the
    scanner is open — the moment to scan — and ``on_event`` of every event as it comes.
    ``answered`` means at least one code arrived.
    """
    options: dict[str, Any] = {}
    if not url.startswith("evdev:"):
        options["config"] = SerialScannerConfig(Terminator.CRLF)
    try:
        driver = open_scanner(url, **options)
    except ValueError as exc:
        reason = f"{DeviceState.FAILED.words}: {exc}"
        return Finding("scanner", url, False, DeviceState.FAILED.value, reason, {}, next_step_of(reason))
    scans: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    async with driver:
        events = driver.subscribe()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                health = await driver.wait_for(DeviceState.READY, DeviceState.FAILED)
                if health.state is DeviceState.READY:
                    if on_listening is not None:
                        on_listening(
                            tr(
                                "listening to the scanner at {url} for {seconds:g} s — scan a barcode now"
                            ).format(url=url, seconds=seconds)
                        )
                    async for event in events:
                        if on_event is not None:
                            on_event(event)
                        if isinstance(event, ScanEvent):
                            scans.append(_scan_summary(event))
                        else:
                            document = event.to_json()
                            rejected.append({"reason": document["reason"], "head": document["head"]})
                        if count is not None and len(scans) >= count:
                            break
        state, reason = driver.state, driver.reason
        device = getattr(driver, "device_info", None)
    details: dict[str, Any] = {"read_seconds": seconds, "scans": scans, "rejected": rejected}
    if device is not None:
        details["device"] = {
            "name": device.name,
            "path": device.path,
            "usb_id": f"{device.vendor:04x}:{device.product:04x}",
        }
    next_step = next_step_of(reason)
    if state is DeviceState.READY and not scans:
        mode = tr("USB keyboard (HID)") if url.startswith("evdev:") else tr("serial (USB COM)")
        next_step = (
            tr("check the scanner's terminator, prefix and suffix settings")
            if rejected
            else f"scan a barcode while diag listens; if nothing arrives, check the cable and that the "
            f"scanner is set to {mode} mode"
        )
    return Finding("scanner", url, bool(scans), state.value, reason, details, next_step)


def scanners_problem(findings: Sequence[Finding]) -> str | None:
    """The scanners' trouble in words (None when each gave a code): unreadable, rejected, silent."""
    troubles = []
    for f in findings:
        if f.usable:
            continue
        if f.state != DeviceState.READY.value:
            troubles.append(f"{f.url}: cannot read the scanner ({f.reason})")
        elif f.details.get("rejected"):
            first = f.details["rejected"][0]["reason"]
            troubles.append(f"{f.url}: only rejected lines arrived ({first})")
        else:
            troubles.append(f"{f.url}: nothing was scanned within {f.details['read_seconds']:g} s")
    return "; ".join(troubles) or None


def tell(text: str) -> None:
    """Progress for whoever stands at the till: on stderr, so --json output stays one document."""
    print(text, file=sys.stderr, flush=True)


def tell_event(event: ScannerEvent) -> None:
    if isinstance(event, ScanEvent):
        check = {True: "check digit ok", False: "check digit WRONG", None: "no check digit"}[event.valid]
        tell(f"scanned {visible_code(event.code)} ({event.kind.value}, {check})")
    else:
        tell(f"rejected: {event.reason}")
