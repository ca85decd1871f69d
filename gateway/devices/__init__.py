"""Device drivers: one owner task per port, URL-addressed links, reconnect, health.

The fiscal pipeline depends on :class:`ControlUnit` (protocol-neutral); the CCSP driver
:class:`ControlUnitDriver` implements it. Barcode scanners (serial, TCP, USB keyboard via
evdev) come from :func:`open_scanner`; every scan reaches subscribers as a :class:`ScanEvent`.
The receipt printer (serial, TCP, USB) is :class:`PrinterDriver`, and the cash drawer on it
:class:`Drawer`.
"""

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
from gateway.devices.health import DeviceState, Health, HealthTracker
from gateway.devices.line import CCSP_LEGACY_PROTOCOL, CCSP_PROTOCOL, DeviceProtocol, LineSettings
from gateway.devices.link import Link, LinkError, LinkLost, open_link
from gateway.devices.port import Backoff, DeviceTimeout, Exchange, PortOwner, ReplyReader
from gateway.devices.printer import (
    JobStatus,
    Outcome,
    PrinterCondition,
    PrinterDriver,
    PrinterOffline,
    PrinterUnavailable,
    PrintJob,
    PrintResult,
)
from gateway.devices.scanner import (
    ScanEvent,
    ScannerDriver,
    ScannerEvent,
    ScanRejected,
    ScanSubscription,
    SerialScanner,
    SerialScannerConfig,
    open_scanner,
)
from gateway.devices.unit_kinds import UnitKind, UnitSettings, kind_of, open_control_unit, open_unit

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
