"""Device drivers: one owner task per port, URL-addressed links, reconnect, health.

The fiscal pipeline depends on :class:`ControlUnit` (protocol-neutral); the CCSP driver
:class:`ControlUnitDriver` implements it. Barcode scanners (serial, TCP, USB keyboard via
evdev) come from :func:`open_scanner`; every scan reaches subscribers as a :class:`ScanEvent`.
The receipt printer (serial, TCP, USB) is :class:`PrinterDriver`, and the cash drawer on it
:class:`Drawer`.

Each name is loaded from its module on first use, so that importing one module of this
package (the configuration reads ``gateway.devices.unit_kinds``) loads no other driver.

The modules, from the wire up:

* links and ports: ``line`` (serial settings), ``link`` (serial and TCP), ``usb_link``,
  ``port`` (the one task that owns a port), ``usb_ids`` (what a USB id is);
* control units: ``fiscal_unit`` (the interface the pipeline sees), ``unit_kinds`` (which
  driver a ``[control_unit]`` section opens), ``unit_operation`` (tries, deadlines and
  words every driver shares), ``control_unit`` (CCSP), ``http_unit`` (what HTTP drivers
  share), ``xccsp_unit``, ``cloud_unit`` and ``client_cert`` (what the cloud services
  share), ``tcs_unit``, ``srv4pos_unit``;
* the printer: ``printer_status`` (its status bytes in words), ``print_job``,
  ``printer_link`` (serial, TCP or USB), ``printer`` (the driver), ``drawer``;
* scanners: ``scanner`` (:func:`open_scanner`), ``scan_events`` (events and subscribers),
  ``scanner_driver`` (what every scanner driver shares), ``serial_scanner``;
  ``hid_scanner`` with ``input_devices`` (which input device), ``evdev_backend``
  (python-evdev) and ``input_recording`` (replayed events for tests).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.common.backoff import Backoff
    from gateway.common.health import DeviceState, Health, HealthTracker
    from gateway.devices.control_unit import ControlUnitDriver
    from gateway.devices.drawer import Drawer, KickOutcome, KickResult, OpenLevel
    from gateway.devices.fiscal_unit import (
        ControlUnit,
        ControlUnitError,
        ControlUnitRefused,
        ControlUnitUnavailable,
        FrameRecord,
        Registration,
        UnitIdentity,
        UnitStatus,
    )
    from gateway.devices.line import CCSP_LEGACY_PROTOCOL, CCSP_PROTOCOL, DeviceProtocol, LineSettings
    from gateway.devices.link import Link, LinkError, LinkLost, open_link
    from gateway.devices.port import DeviceTimeout, Exchange, PortOwner, ReplyReader
    from gateway.devices.print_job import JobStatus, Outcome, PrintJob, PrintResult
    from gateway.devices.printer import PrinterDriver
    from gateway.devices.printer_status import PrinterCondition, PrinterOffline, PrinterUnavailable
    from gateway.devices.scan_events import ScanEvent, ScannerEvent, ScanRejected, ScanSubscription
    from gateway.devices.scanner import open_scanner
    from gateway.devices.scanner_driver import ScannerDriver
    from gateway.devices.serial_scanner import SerialScanner, SerialScannerConfig
    from gateway.devices.unit_kinds import UnitKind, UnitSettings, kind_of, open_control_unit, open_unit

_MODULE_OF: dict[str, str] = {
    "Backoff": "gateway.common.backoff",
    "CCSP_LEGACY_PROTOCOL": "gateway.devices.line",
    "CCSP_PROTOCOL": "gateway.devices.line",
    "ControlUnit": "gateway.devices.fiscal_unit",
    "ControlUnitDriver": "gateway.devices.control_unit",
    "ControlUnitError": "gateway.devices.fiscal_unit",
    "ControlUnitRefused": "gateway.devices.fiscal_unit",
    "ControlUnitUnavailable": "gateway.devices.fiscal_unit",
    "DeviceProtocol": "gateway.devices.line",
    "DeviceState": "gateway.common.health",
    "DeviceTimeout": "gateway.devices.port",
    "Drawer": "gateway.devices.drawer",
    "Exchange": "gateway.devices.port",
    "FrameRecord": "gateway.devices.fiscal_unit",
    "Health": "gateway.common.health",
    "HealthTracker": "gateway.common.health",
    "JobStatus": "gateway.devices.print_job",
    "KickOutcome": "gateway.devices.drawer",
    "KickResult": "gateway.devices.drawer",
    "LineSettings": "gateway.devices.line",
    "Link": "gateway.devices.link",
    "LinkError": "gateway.devices.link",
    "LinkLost": "gateway.devices.link",
    "OpenLevel": "gateway.devices.drawer",
    "Outcome": "gateway.devices.print_job",
    "PortOwner": "gateway.devices.port",
    "PrintJob": "gateway.devices.print_job",
    "PrintResult": "gateway.devices.print_job",
    "PrinterCondition": "gateway.devices.printer_status",
    "PrinterDriver": "gateway.devices.printer",
    "PrinterOffline": "gateway.devices.printer_status",
    "PrinterUnavailable": "gateway.devices.printer_status",
    "Registration": "gateway.devices.fiscal_unit",
    "ReplyReader": "gateway.devices.port",
    "ScanEvent": "gateway.devices.scan_events",
    "ScanRejected": "gateway.devices.scan_events",
    "ScanSubscription": "gateway.devices.scan_events",
    "ScannerDriver": "gateway.devices.scanner_driver",
    "ScannerEvent": "gateway.devices.scan_events",
    "SerialScanner": "gateway.devices.serial_scanner",
    "SerialScannerConfig": "gateway.devices.serial_scanner",
    "UnitIdentity": "gateway.devices.fiscal_unit",
    "UnitKind": "gateway.devices.unit_kinds",
    "UnitSettings": "gateway.devices.unit_kinds",
    "UnitStatus": "gateway.devices.fiscal_unit",
    "kind_of": "gateway.devices.unit_kinds",
    "open_control_unit": "gateway.devices.unit_kinds",
    "open_link": "gateway.devices.link",
    "open_scanner": "gateway.devices.scanner",
    "open_unit": "gateway.devices.unit_kinds",
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
