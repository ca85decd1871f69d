"""Fault injection for the simulated control unit.

A fault is switched on with an optional argument and an optional count: ``times=None``
keeps it on until cleared, ``times=N`` lets it strike the next N requests it applies to.
Faults are set at start (``--fault``) and at run time (the simulator's standard input or
:meth:`FaultSet.set` in tests).
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

from protocols.ccsp import NakCode


class Fault(enum.StrEnum):
    NO_REPLY = "no-reply"  # the request is swallowed: nothing is processed or answered
    CORRUPT_LRC = "corrupt-lrc"  # the reply goes out with a wrong LRC
    SLOW = "slow"  # the reply waits ARG seconds (default 2)
    NAK = "nak"  # receipt requests are refused with NAK code ARG (default 8)
    BUSY = "busy"  # receipt requests get NAK 006 and SIQ says main status 5 (busy)
    STORAGE_HIGH = "storage-high"  # journal memory reports the high-level warning
    STORAGE_FULL = "storage-full"  # journal memory is full: NAK 010
    POWER_CUT = "power-cut"  # ARG after-store|before-store: the unit dies mid-request
    NOISE = "noise"  # ARG bytes of line noise go out before the reply (default 16)


class PowerCutMode(enum.StrEnum):
    AFTER_STORE = "after-store"  # the receipt reached journal memory; the reply is lost
    BEFORE_STORE = "before-store"  # the unit died before storing anything


DEFAULT_ARGS: dict[Fault, str] = {
    Fault.SLOW: "2",
    Fault.NAK: "8",
    Fault.POWER_CUT: PowerCutMode.AFTER_STORE.value,
    Fault.NOISE: "16",
}


@dataclass
class ActiveFault:
    fault: Fault
    arg: str | None
    times: int | None  # strikes left; None = until cleared


class FaultError(ValueError):
    """A fault name or argument that does not exist."""


def parse_fault(text: str) -> tuple[Fault, str | None, int | None]:
    """``"slow=2.5"``, ``"nak=7"``, ``"no-reply*1"`` (once) -> (fault, arg, times)."""
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
    _check_arg(fault, value)
    return fault, value, times


def _check_arg(fault: Fault, arg: str | None) -> None:
    if arg is None:
        return
    if fault is Fault.SLOW:
        try:
            if float(arg) < 0:
                raise ValueError
        except ValueError:
            raise FaultError(f"slow needs a delay in seconds >= 0, got {arg!r}") from None
    elif fault is Fault.NAK:
        if not arg.isdigit() or int(arg) not in NakCode.__members__.values():
            codes = ", ".join(f"{int(c)} ({c.text})" for c in NakCode)
            raise FaultError(f"nak needs a known error code, got {arg!r}; known: {codes}")
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


class FaultSet:
    """The faults currently switched on. Safe to change from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[Fault, ActiveFault] = {}

    def set(self, fault: Fault | str, arg: str | float | int | None = None, times: int | None = None) -> None:
        fault = Fault(fault)
        text = None if arg is None else str(arg)
        _check_arg(fault, text)
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
