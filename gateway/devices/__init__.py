"""Device drivers: one owner task per port, URL-addressed links, reconnect, health.

The fiscal pipeline depends on :class:`ControlUnit` (protocol-neutral); the CCSP driver
:class:`ControlUnitDriver` implements it.
"""

from gateway.devices.control_unit import ControlUnitDriver, open_control_unit
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
    "Exchange",
    "FrameRecord",
    "Health",
    "HealthTracker",
    "LineSettings",
    "Link",
    "LinkError",
    "LinkLost",
    "PortOwner",
    "Registration",
    "ReplyReader",
    "UnitIdentity",
    "UnitStatus",
    "open_control_unit",
    "open_link",
]
