"""What a scanner tells, and who hears it: scan events and their subscribers.

Every code a scanner reads becomes a :class:`ScanEvent` (the code, its kind, whether its
check digit holds, the in-store price or weight it carries, the source and the time);
every line that does not become a code (too long, without the configured prefix, cut off
by an unplug, waiting from before the port opened) becomes a :class:`ScanRejected`, so
nothing is dropped without a word. A scanner's :class:`ScanHub` gives both to every
subscriber, in order: as an async iterator (a :class:`ScanSubscription`, what the
``/v1/events`` WebSocket uses) or as a callback. A subscriber that falls behind loses its
oldest events (counted in :attr:`ScanSubscription.dropped`); it never holds up the
scanner or the other subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from protocols.scanner import (
    SWEDISH_IN_STORE,
    GtinError,
    InStoreCode,
    InStoreError,
    InStoreLayout,
    ScanKind,
    classify,
    decode_in_store,
)

__all__ = [
    "ScanEvent",
    "ScanHub",
    "ScanRejected",
    "ScanSubscription",
    "ScannerEvent",
    "ScannerEventListener",
    "make_scan_event",
]

log = logging.getLogger("tillgw.devices.scanner")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One code read by a scanner.

    ``valid`` is whether the code's check digits hold: ``True`` for a valid EAN-13,
    EAN-8, UPC-A or GTIN-14 (``kind`` names which); ``False`` for a digit string of GTIN
    length (8, 12, 13, 14) whose check digit is wrong — a misread or a code that is not a
    GTIN, so it must not be looked up as one — or an in-store code whose price verifier
    digit does not match; ``None`` for any other code (Code 128 text, a QR payload), which
    carries no check digit we know. ``in_store`` is the decoded Swedish in-store price or
    weight code (article key and öre or grams) when the code is one. ``source`` is the
    scanner's URL; ``at`` is when the gateway completed the code (UTC).
    """

    code: str
    kind: ScanKind
    valid: bool | None
    in_store: InStoreCode | None
    source: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        in_store = self.in_store
        return {
            "type": "scan",
            "code": self.code,
            "kind": self.kind.value,
            "valid": self.valid,
            "in_store": None
            if in_store is None
            else {
                "article_key": in_store.article_key,
                "article_gtin14": in_store.article_gtin14,
                "measure": in_store.kind.value,
                "price_ore": in_store.price_ore,
                "weight_g": in_store.weight_g,
            },
            "source": self.source,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ScanRejected:
    """Input from a scanner that did not become a code, and why.

    ``head`` holds at most the first 32 bytes of what was discarded (UTF-8 for a
    keyboard-wedge scanner), enough to recognise it without letting a runaway device
    fill a log.
    """

    reason: str
    head: bytes
    source: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "scan_rejected",
            "reason": self.reason,
            "head": self.head.decode("utf-8", errors="backslashreplace"),
            "source": self.source,
            "at": self.at.isoformat(),
        }


ScannerEvent = ScanEvent | ScanRejected
ScannerEventListener = Callable[[ScannerEvent], None]


def _check_digits_valid(code: str, kind: ScanKind) -> bool | None:
    if kind is not ScanKind.OTHER:
        return True
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14):
        return False  # GTIN-shaped, but the check digit is wrong
    return None


def make_scan_event(
    code: str, source: str, *, layout: InStoreLayout = SWEDISH_IN_STORE, at: datetime | None = None
) -> ScanEvent:
    """Classify ``code``, check its digits and decode it as an in-store code if it is one."""
    kind = classify(code)
    valid = _check_digits_valid(code, kind)
    in_store: InStoreCode | None = None
    if kind is ScanKind.EAN13:
        try:
            in_store = decode_in_store(code, layout)
        except (InStoreError, GtinError) as exc:
            log.warning("%s: %s is no valid in-store code: %s", source, code, exc)
            valid = False
    return ScanEvent(code, kind, valid, in_store, source, at if at is not None else _now())


class ScanSubscription:
    """A scanner's events, in order, as an async iterator; ends when the scanner closes.

    ``async with scanner.subscribe() as scans: async for event in scans: ...``. Holds at
    most ``maxsize`` events for a reader that is behind; past that the oldest is dropped
    and counted in :attr:`dropped`.
    """

    def __init__(self, remove: Callable[[ScanSubscription], None], maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._remove = remove
        self._events: deque[ScannerEvent] = deque()
        self._arrived = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def pending(self) -> int:
        """Events received and not yet read."""
        return len(self._events)

    def put(self, event: ScannerEvent) -> None:
        if self._closed:
            return
        if len(self._events) >= self.maxsize:
            self._events.popleft()
            self.dropped += 1
            log.warning("a scan subscriber is %d events behind: dropped the oldest", self.maxsize)
        self._events.append(event)
        self._arrived.set()

    def close(self) -> None:
        """Stop receiving; events already received are still read, then iteration ends."""
        if not self._closed:
            self._closed = True
            self._remove(self)
            self._arrived.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ScannerEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._arrived.clear()
            await self._arrived.wait()
        return self._events.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ScanHub:
    """Fans a scanner's events out to its subscriptions and callbacks."""

    def __init__(self) -> None:
        self._subscriptions: list[ScanSubscription] = []
        self._listeners: list[ScannerEventListener] = []

    def subscribe(self, maxsize: int) -> ScanSubscription:
        subscription = ScanSubscription(self._remove, maxsize)
        self._subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: ScanSubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def on_event(self, listener: ScannerEventListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def publish(self, event: ScannerEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription.put(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the scanner
                log.exception("scan listener %r failed", listener)

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        self._listeners.clear()
