"""Device drivers: one owner task per port, URL-addressed links, reconnect, health.

The fiscal pipeline depends on :class:`ControlUnit` (protocol-neutral); the CCSP driver
:class:`ControlUnitDriver` implements it. Barcode scanners (serial, TCP, USB keyboard via
evdev) come from :func:`open_scanner`; every scan reaches subscribers as a :class:`ScanEvent`.
The receipt printer (serial, TCP, USB) is :class:`PrinterDriver`, and the cash drawer on it
:class:`Drawer`.

Each name is loaded from its module on first use, so that importing one module of this
package (the configuration reads ``gateway.devices.control_units.kinds``) loads no other driver.

One folder per kind of thing, from the wire up:

* ``links/`` — how a device is reached (serial, TCP, USB) and the task that owns a port;
* ``control_units/`` — the control unit of every kind behind one interface;
* ``printer/`` — the receipt printer and the cash drawer on it;
* ``scanner/`` — barcode scanners, serial and USB keyboard-wedge.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.common.backoff import Backoff
    from gateway.common.health import DeviceState, Health, HealthTracker
    from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
    from gateway.devices.control_units.interface import (
        ControlUnit,
        ControlUnitError,
        ControlUnitRefused,
        ControlUnitUnavailable,
        FrameRecord,
        Registration,
        UnitIdentity,
        UnitStatus,
    )
    from gateway.devices.control_units.kinds import (
        UnitKind,
        UnitSettings,
        kind_of,
        open_control_unit,
        open_unit,
    )
    from gateway.devices.links.line import CCSP_LEGACY_PROTOCOL, CCSP_PROTOCOL, DeviceProtocol, LineSettings
    from gateway.devices.links.link import Link, LinkError, LinkLost, open_link
    from gateway.devices.links.port import DeviceTimeout, Exchange, PortOwner, ReplyReader
    from gateway.devices.printer.drawer import Drawer, KickOutcome, KickResult, OpenLevel
    from gateway.devices.printer.driver import PrinterDriver
    from gateway.devices.printer.job import JobStatus, Outcome, PrintJob, PrintResult
    from gateway.devices.printer.status import PrinterCondition, PrinterOffline, PrinterUnavailable
    from gateway.devices.scanner.driver import ScannerDriver
    from gateway.devices.scanner.events import ScanEvent, ScannerEvent, ScanRejected, ScanSubscription
    from gateway.devices.scanner.opener import open_scanner
    from gateway.devices.scanner.serial_line import SerialScanner, SerialScannerConfig

_MODULE_OF: dict[str, str] = {
    "Backoff": "gateway.common.backoff",
    "CCSP_LEGACY_PROTOCOL": "gateway.devices.links.line",
    "CCSP_PROTOCOL": "gateway.devices.links.line",
    "ControlUnit": "gateway.devices.control_units.interface",
    "ControlUnitDriver": "gateway.devices.control_units.ccsp_driver",
    "ControlUnitError": "gateway.devices.control_units.interface",
    "ControlUnitRefused": "gateway.devices.control_units.interface",
    "ControlUnitUnavailable": "gateway.devices.control_units.interface",
    "DeviceProtocol": "gateway.devices.links.line",
    "DeviceState": "gateway.common.health",
    "DeviceTimeout": "gateway.devices.links.port",
    "Drawer": "gateway.devices.printer.drawer",
    "Exchange": "gateway.devices.links.port",
    "FrameRecord": "gateway.devices.control_units.interface",
    "Health": "gateway.common.health",
    "HealthTracker": "gateway.common.health",
    "JobStatus": "gateway.devices.printer.job",
    "KickOutcome": "gateway.devices.printer.drawer",
    "KickResult": "gateway.devices.printer.drawer",
    "LineSettings": "gateway.devices.links.line",
    "Link": "gateway.devices.links.link",
    "LinkError": "gateway.devices.links.link",
    "LinkLost": "gateway.devices.links.link",
    "OpenLevel": "gateway.devices.printer.drawer",
    "Outcome": "gateway.devices.printer.job",
    "PortOwner": "gateway.devices.links.port",
    "PrintJob": "gateway.devices.printer.job",
    "PrintResult": "gateway.devices.printer.job",
    "PrinterCondition": "gateway.devices.printer.status",
    "PrinterDriver": "gateway.devices.printer.driver",
    "PrinterOffline": "gateway.devices.printer.status",
    "PrinterUnavailable": "gateway.devices.printer.status",
    "Registration": "gateway.devices.control_units.interface",
    "ReplyReader": "gateway.devices.links.port",
    "ScanEvent": "gateway.devices.scanner.events",
    "ScanRejected": "gateway.devices.scanner.events",
    "ScanSubscription": "gateway.devices.scanner.events",
    "ScannerDriver": "gateway.devices.scanner.driver",
    "ScannerEvent": "gateway.devices.scanner.events",
    "SerialScanner": "gateway.devices.scanner.serial_line",
    "SerialScannerConfig": "gateway.devices.scanner.serial_line",
    "UnitIdentity": "gateway.devices.control_units.interface",
    "UnitKind": "gateway.devices.control_units.kinds",
    "UnitSettings": "gateway.devices.control_units.kinds",
    "UnitStatus": "gateway.devices.control_units.interface",
    "kind_of": "gateway.devices.control_units.kinds",
    "open_control_unit": "gateway.devices.control_units.kinds",
    "open_link": "gateway.devices.links.link",
    "open_scanner": "gateway.devices.scanner.opener",
    "open_unit": "gateway.devices.control_units.kinds",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CCSP_LEGACY_PROTOCOL",
    "CCSP_PROTOCOL",
    "Backoff",
    "ControlUnit",
    "ControlUnitDriver",
    "ControlUnitError",
    "ControlUnitRefused",
    "ControlUnitUnavailable",
    "DeviceProtocol",
    "DeviceState",
    "DeviceTimeout",
    "Drawer",
    "Exchange",
    "FrameRecord",
    "Health",
    "HealthTracker",
    "JobStatus",
    "KickOutcome",
    "KickResult",
    "LineSettings",
    "Link",
    "LinkError",
    "LinkLost",
    "OpenLevel",
    "Outcome",
    "PortOwner",
    "PrintJob",
    "PrintResult",
    "PrinterCondition",
    "PrinterDriver",
    "PrinterOffline",
    "PrinterUnavailable",
    "Registration",
    "ReplyReader",
    "ScanEvent",
    "ScanRejected",
    "ScanSubscription",
    "ScannerDriver",
    "ScannerEvent",
    "SerialScanner",
    "SerialScannerConfig",
    "UnitIdentity",
    "UnitKind",
    "UnitSettings",
    "UnitStatus",
    "kind_of",
    "open_control_unit",
    "open_link",
    "open_scanner",
    "open_unit",
]
