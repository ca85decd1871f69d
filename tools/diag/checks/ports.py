"""The serial ports and USB devices this machine has, and what each one is as far as can be told.

A serial port is named by what the system knows of it (a USB adapter's ids, a by-id
link) and by whether a control unit answered on it (the control-unit scan of
``tillgw diag``); a USB device by its ids, looked up in :mod:`gateway.devices.links.usb_ids`, and the
names it reports itself when this user may read them.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gateway.common.i18n import tr
from gateway.devices.links.usb_ids import describe, lookup
from tools.diag.checks import Check, Verdict

__all__ = ["SERIAL_PATTERNS", "check_serial_ports", "check_usb", "serial_ports"]

SERIAL_PATTERNS = ("/dev/ttyS*", "/dev/ttyUSB*", "/dev/ttyACM*", "/dev/serial/by-id/*")


def serial_ports(patterns: Sequence[str] = SERIAL_PATTERNS) -> list[str]:
    """Every path matching ``patterns``, each once, in order."""
    return list(dict.fromkeys(path for pattern in patterns for path in sorted(glob.glob(pattern))))


def _usb_of(device: str) -> dict[str, Any]:
    """What pyserial knows of a port: its USB ids and names when it is a USB adapter."""
    from serial.tools import list_ports

    real = os.path.realpath(device)
    for port in list_ports.comports():
        if os.path.realpath(str(port.device)) == real and port.vid is not None and port.pid is not None:
            return {
                "usb_id": f"{port.vid:04x}:{port.pid:04x}",
                "usb": describe(port.vid, port.pid),
                "description": port.description,
                "serial_number": port.serial_number,
            }
    return {}


def check_serial_ports(found: Iterable[str], answered: dict[str, str]) -> Check:
    """``found`` ports; ``answered``: port -> what answered there (``"control unit TGSIM…"``)."""
    ports = []
    for path in found:
        entry: dict[str, Any] = {"path": path}
        if os.path.islink(path):
            entry["target"] = os.path.realpath(path)
        entry.update(_usb_of(path))
        what = answered.get(path) or answered.get(os.path.realpath(path))
        entry["is"] = what or entry.get("usb") or tr("nothing answered as a control unit")
        ports.append(entry)
    if not ports:
        return Check(
            "serial ports",
            Verdict.OK,
            tr("none: no /dev/ttyS*, /dev/ttyUSB*, /dev/ttyACM* or /dev/serial/by-id/*"),
            {"ports": []},
        )
    return Check(
        "serial ports",
        Verdict.OK,
        tr("{count} port(s)").format(count=len(ports)),
        {"ports": ports},
    )


def _text(device: Any, index_name: str) -> str | None:
    """A string descriptor, or None when this user may not read it (or the device has none)."""
    import usb.util

    index = getattr(device, index_name, 0)
    if not index:
        return None
    try:
        return str(usb.util.get_string(device, index))
    except (ValueError, OSError, NotImplementedError, usb.core.USBError):
        return None


def check_usb(find: Callable[..., Any] | None = None) -> Check:
    """Every USB device pyusb sees, its ids looked up; ``find`` is ``usb.core.find`` unless given."""
    import usb.core

    try:
        devices = list((find or usb.core.find)(find_all=True))
    except usb.core.NoBackendError:
        return Check(
            "usb",
            Verdict.WARNING,
            tr("cannot list USB devices: no libusb on this machine"),
            {},
            tr("install libusb (apt install libusb-1.0-0) to see USB printers and scanners here"),
        )
    listed = []
    for device in devices:
        vendor_id, product_id = int(device.idVendor), int(device.idProduct)
        known = lookup(vendor_id, product_id)
        listed.append(
            {
                "usb_id": f"{vendor_id:04x}:{product_id:04x}",
                "bus": getattr(device, "bus", None),
                "address": getattr(device, "address", None),
                "manufacturer": _text(device, "iManufacturer"),
                "product": _text(device, "iProduct"),
                "is": describe(vendor_id, product_id),
                "kind": None if known is None else known.kind,
            }
        )
    at_till = [d for d in listed if d["kind"] is not None]
    summary = tr("{count} device(s), {known} known till device(s)").format(
        count=len(listed), known=len(at_till)
    )
    if at_till:
        summary += ": " + "; ".join(str(d["is"]) for d in at_till)
    return Check("usb", Verdict.OK, summary, {"devices": listed})
