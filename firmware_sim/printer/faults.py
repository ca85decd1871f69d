"""Fault injection for the simulated printer.

Most printer faults are *conditions* (the paper is out, the cover is open): they stay
until cleared, like the real thing, and take no count. Two are *events* that may be
limited to the next N strikes with ``*N``: ``slow`` (one strike per delayed receipt)
and ``disconnect`` (one strike per dropped line). Syntax as for the control unit:
``NAME[=ARG][*TIMES]``, set at start (``--fault``) or at run time (standard input, or
:meth:`FaultSet.set` in tests).
"""

from __future__ import annotations

import enum

from firmware_sim import faults
from firmware_sim.faults import FaultError

__all__ = ["DEFAULT_ARGS", "EVENT_FAULTS", "Fault", "FaultError", "FaultSet", "OfflineKind", "parse_fault"]


class Fault(enum.StrEnum):
    PAPER_NEAR_END = "paper-near-end"  # still prints; DLE EOT 4 reports near end
    PAPER_OUT = "paper-out"  # offline; print data is held until the paper returns
    COVER_OPEN = "cover-open"  # offline; print data is held until the cover closes
    OFFLINE = "offline"  # offline for ARG (an error or the feed button); data is held
    SLOW = "slow"  # every receipt takes ARG seconds (default 2) to come out
    DISCONNECT = "disconnect"  # the line drops after ARG bytes of print data (default 16)


class OfflineKind(enum.StrEnum):
    """Why ``offline`` takes the printer offline; each sets the bits a real one would."""

    OVERHEAT = "overheat"  # auto-recoverable error (head temperature)
    CUTTER = "cutter"  # autocutter error (recoverable: waits for online recovery)
    UNRECOVERABLE = "unrecoverable"  # needs service or a power cycle
    FEED = "feed"  # the paper feed button is held


EVENT_FAULTS = frozenset({Fault.SLOW, Fault.DISCONNECT})

DEFAULT_ARGS: dict[Fault, str] = {
    Fault.SLOW: "2",
    Fault.DISCONNECT: "16",
    Fault.OFFLINE: OfflineKind.OVERHEAT.value,
}


def parse_fault(text: str) -> tuple[Fault, str | None, int | None]:
    """``"paper-out"``, ``"slow=1.5"``, ``"disconnect=40*1"`` -> (fault, arg, times)."""
    return faults.parse_fault(Fault, text, _check)


def _check(fault: Fault, arg: str | None, times: int | None) -> None:
    if times is not None and fault not in EVENT_FAULTS:
        raise FaultError(f"{fault.value} is a condition that stays until cleared; it takes no *count")
    if arg is None:
        return
    if fault is Fault.SLOW:
        try:
            if not float(arg) >= 0:
                raise ValueError
        except ValueError:
            raise FaultError(f"slow needs a delay in seconds >= 0, got {arg!r}") from None
    elif fault is Fault.DISCONNECT:
        if not arg.isdigit() or int(arg) < 1:
            raise FaultError(f"disconnect needs a byte count >= 1, got {arg!r}")
    elif fault is Fault.OFFLINE:
        try:
            OfflineKind(arg)
        except ValueError:
            kinds = ", ".join(k.value for k in OfflineKind)
            raise FaultError(f"offline cause must be one of {kinds}, got {arg!r}") from None
    else:
        raise FaultError(f"fault {fault.value} takes no argument")


class FaultSet(faults.FaultSet[Fault]):
    """The printer's faults switched on now."""

    def __init__(self) -> None:
        super().__init__(Fault, _check, DEFAULT_ARGS)
