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
import threading
from dataclasses import dataclass


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


class FaultError(ValueError):
    """A fault name, argument or count that does not exist."""


@dataclass
class ActiveFault:
    fault: Fault
    arg: str | None
    times: int | None  # strikes left (event faults only); None = until cleared


def parse_fault(text: str) -> tuple[Fault, str | None, int | None]:
    """``"paper-out"``, ``"slow=1.5"``, ``"disconnect=40*1"`` -> (fault, arg, times)."""
    times: int | None = None
    if "*" in text:
        text, _, count = text.partition("*")
        if not count.isdigit() or int(count) < 1:
            raise FaultError(f"fault count {count!r} must be a whole number >= 1")
        times = int(count)
    name, _, arg = text.partition("=")
    try:
        fault = Fault(name.strip())
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise FaultError(f"unknown fault {name!r}; known: {known}") from None
    value = arg.strip() or None
    _check(fault, value, times)
    return fault, value, times


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


class FaultSet:
    """The faults currently switched on. Safe to change from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[Fault, ActiveFault] = {}

    def set(self, fault: Fault | str, arg: str | float | int | None = None, times: int | None = None) -> None:
        fault = Fault(fault)
        text = None if arg is None else str(arg)
        _check(fault, text, times)
        with self._lock:
            self._active[fault] = ActiveFault(fault, text, times)

    def clear(self, fault: Fault | str | None = None) -> None:
        with self._lock:
            if fault is None:
                self._active.clear()
            else:
                self._active.pop(Fault(fault), None)

    def is_on(self, fault: Fault) -> bool:
        with self._lock:
            return fault in self._active

    def arg(self, fault: Fault) -> str | None:
        """The argument (or its default) of a fault that is on, without using a strike."""
        with self._lock:
            active = self._active.get(fault)
            if active is None:
                return None
            return active.arg if active.arg is not None else DEFAULT_ARGS.get(fault, "")

    def strike(self, fault: Fault) -> str | None:
        """If ``fault`` is on, use one of its strikes and return its argument (or default)."""
        with self._lock:
            active = self._active.get(fault)
            if active is None:
                return None
            if active.times is not None:
                active.times -= 1
                if active.times <= 0:
                    del self._active[fault]
            return active.arg if active.arg is not None else DEFAULT_ARGS.get(fault, "")

    def describe(self) -> list[str]:
        with self._lock:
            out = []
            for a in self._active.values():
                text = a.fault.value + (f"={a.arg}" if a.arg is not None else "")
                out.append(text + (f" (x{a.times})" if a.times is not None else ""))
            return out
