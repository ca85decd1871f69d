"""The printer simulator's run-time commands (lines on its standard input).

Each function does one command and returns the line to print; errors are raised as
:class:`ValueError` (``FaultError`` is one) for the caller to print.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_sim.printer.faults import Fault, OfflineKind, parse_fault

if TYPE_CHECKING:
    from firmware_sim.printer.device import PrinterDevice

HELP = (
    """commands on standard input:
  fault NAME[=ARG][*TIMES]   switch a fault on (TIMES: slow and disconnect only)
  clear [NAME]               switch one fault, or all, off (held print data then prints)
  drawer open|close          open the drawer by hand / push it shut
  status                     show the printer, paper, drawer and active faults
  help                       this text
faults: """
    + ", ".join(f.value for f in Fault)
    + "\n  offline=CAUSE: "
    + ", ".join(k.value for k in OfflineKind)
    + "; slow=SECONDS per receipt; disconnect=BYTES of print data"
)


def fault(device: PrinterDevice, text: str) -> str:
    name, arg, times = parse_fault(text)
    device.set_fault(name, arg, times)
    return f"ok: {', '.join(device.faults.describe())}"


def clear(device: PrinterDevice, name: str | None) -> str:
    device.clear_fault(parse_fault(name)[0] if name is not None else None)
    return f"ok: faults on: {', '.join(device.faults.describe()) or 'none'}"


def drawer(device: PrinterDevice, action: str) -> str:
    if action == "open":
        device.open_drawer()
    elif action == "close":
        device.close_drawer()
    else:
        raise ValueError(f"drawer takes open or close, got {action!r}")
    return f"ok: drawer {'open' if device.drawer_open else 'closed'}"


def status(device: PrinterDevice) -> str:
    return device.describe()
