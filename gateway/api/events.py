"""The event stream (``GET /v1/events``): a hub that fans events out to WebSocket clients.

Whoever has news calls :meth:`EventHub.publish` — the API's handlers after a receipt,
a copy, a drawer opening or a report; the device drivers' health listeners on every
change of state; the scanner on every scan (:mod:`gateway.api.scans`). ``publish`` is
plain synchronous code: it encodes the event once and puts it, without waiting, on each
client's own bounded queue. The till is therefore never held up by a client.

Each client's connection has a pump that takes from its queue and sends. A client whose
queue is full when an event arrives is too slow to follow the till: it is taken off the
hub at once (it gets nothing more) and disconnected — with a close frame (1008, "events
not read in time") when its connection can still take one, by aborting the connection
when the pump is stuck writing to it or the close does not get through in 5 s. It
reconnects and reads ``GET /v1/status`` (or the ``hello`` event) to learn where things
stand; events are news, not a log (the journal is the log).

Every message is a JSON object ``{"type": …, "at": …, "data": {…}}``. The first on every
connection is ``hello`` with the devices' states, sent before any other event: once a
client has it, it receives every event published after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, web

__all__ = ["DEFAULT_QUEUE_SIZE", "Closing", "EventHub", "Subscriber", "stream_events"]

log = logging.getLogger("tillgw.api.events")

DEFAULT_QUEUE_SIZE = 256
CLOSE_SECONDS = 5.0  # a close that takes longer (a client that does not read) becomes an abort


@dataclass(frozen=True, slots=True)
class Closing:
    """Put on a queue instead of an event: close the connection with ``code``."""

    code: int
    reason: str


class Subscriber:
    """One client of the hub: its queue, and how to cut it off if it cannot keep up."""

    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[str | Closing] = asyncio.Queue(queue_size)
        self.sending = False  # the pump is inside a send (it may be stuck on a full socket)
        self.closing = False  # the pump is closing the connection (it waits for the client's reply)
        self.abort: Callable[[], None] | None = None  # cut the connection at once

    def end(self, closing: Closing) -> None:
        """Nothing more for this client: empty its queue and tell its pump to close."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(closing)
        if self.sending and self.abort is not None:
            self.abort()


def message(kind: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {"type": kind, "at": datetime.now(UTC).isoformat(timespec="milliseconds"), "data": data},
        ensure_ascii=False,
    )


class EventHub:
    """The clients of the event stream and what is published to them."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size {queue_size} must be at least 1")
        self.queue_size = queue_size
        self._subscribers: list[Subscriber] = []
        self.published = 0
        self.dropped = 0  # clients disconnected for being too slow, since start
        self._closed = False

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    def subscribe(self, first: str | None = None) -> Subscriber:
        """A new client; ``first`` (an encoded message) is queued before any event."""
        subscriber = Subscriber(self.queue_size + (1 if first is not None else 0))
        if first is not None:
            subscriber.queue.put_nowait(first)
        if self._closed:
            subscriber.end(Closing(WSCloseCode.GOING_AWAY, "the gateway is shutting down"))
        else:
            self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Queue an event for every client; never waits, never raises for a client's sake."""
        self.published += 1
        if not self._subscribers:
            return
        encoded = message(kind, data)
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(encoded)
            except asyncio.QueueFull:
                self.unsubscribe(subscriber)
                self.dropped += 1
                log.warning("event stream: a client fell %d events behind; disconnecting it", self.queue_size)
                subscriber.end(Closing(WSCloseCode.POLICY_VIOLATION, "events not read in time"))

    def close(self) -> None:
        """The gateway stops: every client is told so and disconnected."""
        self._closed = True
        for subscriber in list(self._subscribers):
            self.unsubscribe(subscriber)
            subscriber.end(Closing(WSCloseCode.GOING_AWAY, "the gateway is shutting down"))


async def _pump(ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    while True:
        item = await subscriber.queue.get()
        if isinstance(item, Closing):
            subscriber.closing = True
            try:
                async with asyncio.timeout(CLOSE_SECONDS):
                    await ws.close(code=item.code, message=item.reason.encode())
            except TimeoutError:
                if subscriber.abort is not None:
                    subscriber.abort()
            return
        subscriber.sending = True
        try:
            await ws.send_str(item)
        except (ConnectionError, RuntimeError):  # the client went away (RuntimeError: closing)
            return
        finally:
            subscriber.sending = False


async def stream_events(
    request: web.Request, hub: EventHub, hello: Callable[[], Awaitable[dict[str, Any]]]
) -> web.WebSocketResponse:
    """Serve one client of the event stream until it or the gateway goes away.

    The caller has checked that ``request`` is a WebSocket upgrade. ``hello`` gives the
    first message's data (the till's status); the client joins the hub as soon as that
    snapshot is taken, and so gets every event published after it. What the client
    sends is read (so that its close and pings are answered) and otherwise ignored.
    """
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    first = message("hello", await hello())
    subscriber = hub.subscribe(first=first)
    transport = request.transport

    def abort() -> None:
        if transport is not None:
            transport.abort()

    subscriber.abort = abort
    pump = asyncio.create_task(_pump(ws, subscriber), name="event stream pump")
    try:
        async for _ in ws:
            pass
    finally:
        hub.unsubscribe(subscriber)
        if not subscriber.closing:  # else the pump's close finishes (it has its own deadline)
            pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    return ws
