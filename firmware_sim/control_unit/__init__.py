"""A CleanCash-compatible control unit: CCSP v1/v2 over a pty or TCP, XCCSP over HTTP."""

from firmware_sim.control_unit.faults import Fault, FaultError, FaultSet, PowerCutMode
from firmware_sim.control_unit.unit import ControlUnit, Identity, NoReply, Refused, Registered, UnitConfig

__all__ = [
    "ControlUnit",
    "Fault",
    "FaultError",
    "FaultSet",
    "Identity",
    "NoReply",
    "PowerCutMode",
    "Refused",
    "Registered",
    "UnitConfig",
]
