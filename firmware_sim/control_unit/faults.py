"""Fault injection for the simulated control unit (the mechanism: firmware_sim/faults.py).

A fault is switched on with an optional argument and an optional count: ``times=None``
keeps it on until cleared, ``times=N`` lets it strike the next N requests it applies to.
Faults are set at start (``--fault``) and at run time (the simulator's standard input or
:meth:`FaultSet.set` in tests).
"""

from __future__ import annotations

import enum

from firmware_sim import faults
from firmware_sim.faults import FaultError

__all__ = ["DEFAULT_ARGS", "Fault", "FaultError", "FaultSet", "PowerCutMode", "parse_fault"]
from protocols.ccsp import NakCode


class Fault(enum.StrEnum):
    NO_REPLY = "no-reply"  # the request is swallowed: nothing is processed or answered
    CORRUPT_LRC = "corrupt-lrc"  # the reply goes out with a wrong LRC
    SLOW = "slow"  # the reply waits ARG seconds (default 2)
    NAK = "nak"  # receipt requests are refused with NAK code ARG (default 8; any 1..999)
    BUSY = "busy"  # receipt requests get NAK 006 and SIQ says main status 5 (busy)
    STORAGE_HIGH = "storage-high"  # journal memory reports the high-level warning
    STORAGE_FULL = "storage-full"  # journal memory is full: NAK 010
    POWER_CUT = "power-cut"  # ARG after-store|before-store: the unit dies mid-request
    NOISE = "noise"  # ARG bytes of line noise go out before the reply (default 16)
    SERVER_ERROR = "server-error"  # HTTP kinds: the service answers 5xx (CCSP: NAK 008)


class PowerCutMode(enum.StrEnum):
    AFTER_STORE = "after-store"  # the receipt reached journal memory; the reply is lost
    BEFORE_STORE = "before-store"  # the unit died before storing anything


DEFAULT_ARGS: dict[Fault, str] = {
    Fault.SLOW: "2",
    Fault.NAK: "8",
    Fault.POWER_CUT: PowerCutMode.AFTER_STORE.value,
    Fault.NOISE: "16",
}


def parse_fault(text: str) -> tuple[Fault, str | None, int | None]:
    """``"slow=2.5"``, ``"nak=7"``, ``"no-reply*1"`` (once) -> (fault, arg, times)."""
    return faults.parse_fault(Fault, text, _check_arg)


def _check_arg(fault: Fault, arg: str | None, times: int | None) -> None:
    if arg is None:
        return
    if fault is Fault.SLOW:
        try:
            if float(arg) < 0:
                raise ValueError
        except ValueError:
            raise FaultError(f"slow needs a delay in seconds >= 0, got {arg!r}") from None
    elif fault is Fault.NAK:
        if not arg.isdigit() or not 1 <= int(arg) <= 999:
            codes = ", ".join(f"{int(c)} ({c.text})" for c in NakCode)
            raise FaultError(f"nak needs an error code 1..999, got {arg!r}; known ones: {codes}")
    elif fault is Fault.NOISE:
        if not arg.isdigit() or not 1 <= int(arg) <= 4096:
            raise FaultError(f"noise needs a byte count 1..4096, got {arg!r}")
    elif fault is Fault.POWER_CUT:
        try:
            PowerCutMode(arg)
        except ValueError:
            raise FaultError(f"power-cut mode must be after-store or before-store, got {arg!r}") from None
    else:
        raise FaultError(f"fault {fault.value} takes no argument")


class FaultSet(faults.FaultSet[Fault]):
    """The control unit's faults switched on now."""

    def __init__(self) -> None:
        super().__init__(Fault, _check_arg, DEFAULT_ARGS)
