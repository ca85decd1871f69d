"""Fault injection, the same way for every simulator.

A fault is switched on with an optional argument and an optional count: ``times=None``
keeps it on until cleared, ``times=N`` lets it strike the next N times it applies. The
text form is ``NAME[=ARG][*TIMES]`` (``slow=1.5``, ``no-reply*1``), set at start with
``--fault`` and at run time on the simulator's standard input, or with :meth:`FaultSet.set`
in tests. Each simulator names its faults (a ``StrEnum``), their default arguments, and a
function that refuses a bad argument or count with words.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ActiveFault", "FaultError", "FaultSet", "parse_fault"]

F = TypeVar("F", bound=enum.StrEnum)

ArgCheck = Callable[[F, str | None, int | None], None]


class FaultError(ValueError):
    """A fault name, argument or count that does not exist."""


@dataclass
class ActiveFault(Generic[F]):
    fault: F
    arg: str | None
    times: int | None  # strikes left; None = until cleared


def parse_fault(kind: type[F], text: str, check: ArgCheck[F]) -> tuple[F, str | None, int | None]:
    """``"slow=2.5"``, ``"nak=7"``, ``"no-reply*1"`` -> (fault, arg, times)."""
    times: int | None = None
    if "*" in text:
        text, _, count = text.partition("*")
        if not count.isdigit() or int(count) < 1:
            raise FaultError(f"fault count {count!r} must be a whole number >= 1")
        times = int(count)
    name, _, arg = text.partition("=")
    try:
        fault = kind(name.strip())
    except ValueError:
        known = ", ".join(f.value for f in kind)
        raise FaultError(f"unknown fault {name!r}; known: {known}") from None
    value = arg.strip() or None
    check(fault, value, times)
    return fault, value, times


class FaultSet(Generic[F]):
    """The faults currently switched on. Safe to change from another thread."""

    def __init__(self, kind: type[F], check: ArgCheck[F], defaults: Mapping[F, str]) -> None:
        self._kind = kind
        self._check = check
        self._defaults = dict(defaults)
        self._lock = threading.Lock()
        self._active: dict[F, ActiveFault[F]] = {}

    def set(self, fault: F | str, arg: str | float | int | None = None, times: int | None = None) -> None:
        which = self._kind(fault)
        text = None if arg is None else str(arg)
        self._check(which, text, times)
        with self._lock:
            self._active[which] = ActiveFault(which, text, times)

    def clear(self, fault: F | str | None = None) -> None:
        with self._lock:
            if fault is None:
                self._active.clear()
            else:
                self._active.pop(self._kind(fault), None)

    def is_on(self, fault: F) -> bool:
        with self._lock:
            return fault in self._active

    def arg(self, fault: F) -> str | None:
        """The argument (or its default) of a fault that is on, without using a strike."""
        with self._lock:
            active = self._active.get(fault)
            return None if active is None else self._value(active)

    def strike(self, fault: F) -> str | None:
        """If ``fault`` is on, use one of its strikes and return its argument (or default)."""
        with self._lock:
            active = self._active.get(fault)
            if active is None:
                return None
            if active.times is not None:
                active.times -= 1
                if active.times <= 0:
                    del self._active[fault]
            return self._value(active)

    def describe(self) -> list[str]:
        with self._lock:
            out = []
            for a in self._active.values():
                text = a.fault.value + (f"={a.arg}" if a.arg is not None else "")
                out.append(text + (f" (x{a.times})" if a.times is not None else ""))
            return out

    def _value(self, active: ActiveFault[F]) -> str:
        return active.arg if active.arg is not None else self._defaults.get(active.fault, "")
