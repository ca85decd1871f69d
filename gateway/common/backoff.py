"""How long to wait before the next try to reach something that failed: one policy for all.

Exponential with a cap and full jitter: after the n-th failure in a row the wait is drawn
uniformly from ``[0, min(maximum, initial * factor**(n-1))]`` ("Exponential Backoff And
Jitter", AWS Architecture Blog, 2015). The ceiling grows as plain exponential backoff
does, so a dead port or broker is not hammered; the draw below it spreads the tries, so
that when a store's broker restarts every till does not reconnect in the same instant.
A success (:meth:`Backoff.reset`) starts the ceiling over at ``initial``.

Used for the bus's reconnects (:mod:`gateway.mqtt.client`) and the devices' reopens
(:mod:`gateway.devices.links.port`, the scanners). Tests give it a seeded ``random.Random``
for draws that repeat.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """The waits between tries: each drawn from zero up to a ceiling that grows to ``maximum``.

    The ceiling is ``initial`` after the first failure and ``factor`` times the last one
    after each further failure, never more than ``maximum``. ``rng`` is the random source
    (a fresh ``random.Random``, seeded by the system, unless given).
    """

    __slots__ = ("_ceiling", "_rng", "factor", "initial", "maximum")

    def __init__(
        self, initial: float, maximum: float, factor: float = 2.0, *, rng: random.Random | None = None
    ) -> None:
        if initial <= 0:
            raise ValueError(f"initial {initial} must be positive")
        if maximum < initial:
            raise ValueError(f"maximum {maximum} must be at least initial {initial}")
        if factor < 1:
            raise ValueError(f"factor {factor} must be at least 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rng = rng if rng is not None else random.Random()
        self._ceiling = 0.0  # 0: no failure since the last success

    @property
    def ceiling(self) -> float:
        """The most the last wait could have been (0 before the first failure)."""
        return self._ceiling

    def next_delay(self) -> float:
        """The wait before the next try, after one more failure."""
        # The ceiling itself is kept, not a failure count: a port left unplugged all night
        # fails tens of thousands of times, and factor ** count would overflow a float.
        if self._ceiling == 0:
            self._ceiling = self.initial
        else:
            self._ceiling = min(self._ceiling * self.factor, self.maximum)
        return self._rng.uniform(0.0, self._ceiling)

    def reset(self) -> None:
        """A try succeeded: the next failure waits up to ``initial`` again."""
        self._ceiling = 0.0

    def __repr__(self) -> str:
        return f"Backoff(initial={self.initial:g}, maximum={self.maximum:g}, factor={self.factor:g})"
