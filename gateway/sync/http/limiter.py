"""A client-side rate limit: at most ``max_requests`` in any ``window`` seconds.

ERP APIs count requests over a sliding window (Fortnox: 25 in any 5 s per client and
tenant) and answer 429 beyond it. Staying under the limit is cheaper than being told:
every request waits here first. The window slides — a request may go when fewer than
``max_requests`` were sent in the last ``window`` seconds — rather than resetting at fixed
ticks, because a fixed tick lets twice the limit through around its edge.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """Shared by every request to one API account; ``acquire()`` before each request."""

    def __init__(self, max_requests: int, window: float) -> None:
        if max_requests < 1:
            raise ValueError(f"max_requests: {max_requests} is not 1 or more")
        if window <= 0:
            raise ValueError(f"window: {window} is not a positive number of seconds")
        self.max_requests = max_requests
        self.window = window
        self._sent: deque[float] = deque()  # loop times of the requests let through, oldest first
        self._paused_until = 0.0
        self._lock = asyncio.Lock()  # one waiter at a time: requests go in the order they asked

    async def acquire(self) -> None:
        """Return when one more request keeps within the window (and no penalty is running)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if self._paused_until > now:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                if len(self._sent) < self.max_requests:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + self.window - now)

    def penalise(self, seconds: float) -> None:
        """After a 429: nobody sends for ``seconds`` from now (a longer running pause stays)."""
        until = asyncio.get_running_loop().time() + seconds
        self._paused_until = max(self._paused_until, until)

    def in_window(self) -> int:
        """How many requests were let through in the last ``window`` seconds."""
        now = asyncio.get_running_loop().time()
        return sum(1 for t in self._sent if t > now - self.window)
