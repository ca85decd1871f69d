"""A simulated ESC/POS receipt printer with a cash drawer, served on a pty or TCP.

The device (and with it Pillow, which draws the receipts) is imported on first use, so
that ``tillgw`` can list its commands without loading the image machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firmware_sim.printer.faults import Fault, FaultError, FaultSet, OfflineKind, parse_fault

if TYPE_CHECKING:
    from firmware_sim.printer.device import PrinterConfig, PrinterDevice

__all__ = [
    "Fault",
    "FaultError",
    "FaultSet",
    "OfflineKind",
    "PrinterConfig",
    "PrinterDevice",
    "parse_fault",
]


def __getattr__(name: str) -> Any:
    if name in ("PrinterConfig", "PrinterDevice"):
        from firmware_sim.printer import device

        return getattr(device, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
