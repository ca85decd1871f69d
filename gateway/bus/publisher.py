"""The bus publisher: the outbox's messages to the MQTT broker, in order, until each is acked.

One task per till (:class:`Publisher`). It connects to the broker (credentials and TLS
from ``[mqtt]``), subscribes to the register's ``…/acks`` topic and publishes the
outbox's unacked rows at QoS 1 in sequence order. A QoS 1 PUBACK only says the broker
has the message; the row is done when the sync module's application ack names it
(:meth:`Outbox.acked <gateway.bus.outbox.Outbox.acked>`), which it sends once the
message is in its inbox. At most ``window`` messages (``[mqtt] in_flight``) await their ack
at once; when no ack comes for the ack wait, the oldest of them is sent again, under one
jittered backoff for the whole till, not a timer per message (:class:`~gateway.bus.flight.Resend`).

The broker down: the publisher tries again after a random wait of up to 1 s, 2 s, 4 s …
30 s (:mod:`gateway.common.backoff`); sales go on, and the outbox grows. The broker back:
everything unacked is sent again from the oldest, at most ``window`` messages awaiting
their ack at once, so a long backlog drains in order without flooding the broker.

New rows are noticed at once, and are in hand: the store's commit listener takes the
rows a commit wrote from the outbox (:meth:`Outbox.committed
<gateway.bus.outbox.Outbox.committed>`) and wakes the sender, which publishes them
without reading them back. Only committed rows are handed over — a message whose receipt
was rolled back (or lost in a crash before the commit) is never published — and the
outbox table stays the record: whatever is not in hand, in order from the last row sent
(after a start or a reconnection, rows written by another process, or more rows than the
window holds), is read from it on the store's database thread, where a transaction runs
whole.

Acks are read, proven and recorded by :mod:`gateway.bus.acks`. A ``held`` ack stops the
resending; the message stays in the outbox, listed under ``held`` with the sync module's
reason, until a ``stored`` ack.

Health, in the words of the device drivers (:mod:`gateway.common.health`, the words from
:mod:`gateway.bus.status`): ``ready``;
``degraded: 120 messages waiting, oldest 14:02 — the ERP sync module has not
acknowledged them …``; ``failed: no answer from the MQTT broker at mqtt://… — check that
Mosquitto runs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiomqtt
from aiomqtt import MqttError

from gateway.bus.acks import IgnoredAcks, record_acks
from gateway.bus.flight import Flight, InHand, PublisherSettings, Resend
from gateway.bus.outbox import HeldMessage, Outbox, OutboxRow
from gateway.bus.status import (
    BusStatus,
    CaFileUnusable,
    acks_note,
    bus_status,
    explain,
    held_words,
    waiting_words,
)
from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, HealthReporter, HealthTracker
from gateway.common.i18n import tr
from gateway.config import MqttConfig
from gateway.fiscal.journal import Entry
from gateway.messages.ack_proof import AckVerifier
from gateway.messages.envelope import KIND_TOPICS, Topics
from gateway.mqtt.client import (
    ConnectionLost,
    SubscriptionRefused,
    mqtt_client,
    reconnecting,
    refused,
    stop_task,
)

# BusStatus and PublisherSettings are named here too: what a caller of the publisher
# passes in and gets back.
__all__ = ["BusStatus", "Publisher", "PublisherSettings"]

log = logging.getLogger("tillgw.bus.publisher")


class Publisher(HealthReporter):
    """Publishes one register's outbox; ``await start()``, ``await close()``."""

    def __init__(
        self,
        outbox: Outbox,
        topics: Topics,
        config: MqttConfig,
        *,
        settings: PublisherSettings | None = None,
        client_id: str | None = None,
        verifier: AckVerifier | None = None,
    ) -> None:
        """``verifier``: the sync module's public key, which every ack's proof must verify
        against; None takes acks unauthenticated (and says so)."""
        self.outbox = outbox
        self.verifier = verifier
        self.ignored = IgnoredAcks()
        self.topics = topics
        self.config = config
        self.settings = settings or PublisherSettings()
        self.client_id = client_id or f"tillgw-{topics.orgnr}-{topics.store}-{topics.register}"
        self._url = config.url
        self._health = HealthTracker("bus", tr("to the MQTT broker at {url}").format(url=config.url))
        self._prefix = f"{topics.orgnr}/{topics.store}/{topics.register}/"
        self._wake = asyncio.Event()
        self._acked = asyncio.Event()  # set, and replaced, whenever an ack is recorded
        self._flight: dict[int, Flight] = {}
        self._in_hand = InHand()
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        # The first held message and how many there are; None: read them again.
        self._held: tuple[HeldMessage | None, int] | None = None  # the first held, how many; None: read it
        self._held_version = 0  # counts the acks that changed what is held
        self._health_at = 0.0  # loop time the degraded words were last renewed
        self.resend = Resend(self.settings)  # the till's one resend timer

    # -- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start publishing in the background; returns at once (the health says how it goes)."""
        if self._task is not None:
            return
        self.outbox.hand_over(True)
        self.outbox.store.commit_listeners.append(self._on_commit)
        self._task = asyncio.create_task(self._run(), name=f"bus publisher {self.client_id}")

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.outbox.store.commit_listeners.remove(self._on_commit)
        self.outbox.hand_over(False)
        self._in_hand.clear()
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        self._connected = False

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def acks_ignored(self) -> dict[str, int]:
        """Cause -> how many acks were ignored for it."""
        return self.ignored.counts

    @property
    def acks_note(self) -> str:
        return acks_note(self.verifier)

    async def status(self) -> BusStatus:
        health = self.health
        return bus_status(
            await self.outbox.state(),
            health.state,
            health.reason,
            self.url,
            self.verifier,
            self.acks_ignored,
            self.outbox.store.clock.now(),
        )

    async def wait_ignored(self, cause: str, count: int = 1) -> None:
        """Return once ``count`` acks have been ignored for ``cause`` (for tests and tools)."""
        await self.ignored.wait(cause, count)

    async def wait_acked(self, sequence: int) -> None:
        """Return once the message ``sequence`` is acked (at once if it is)."""
        while True:
            changed = self._acked
            row = await self.outbox.store.fetchone(
                "SELECT acked_at FROM outbox WHERE sequence = ?", (sequence,)
            )
            if row is not None and row[0] is not None:
                return
            await changed.wait()

    async def wait_ack_status(self, sequence: int, status: str) -> None:
        """Return once the message ``sequence`` is acked ``status`` (``stored`` after ``held``)."""
        while True:
            changed = self._acked
            row = await self.outbox.store.fetchone(
                "SELECT ack_status FROM outbox WHERE sequence = ?", (sequence,)
            )
            if row is not None and row[0] == status:
                return
            await changed.wait()

    # -- the hook -----------------------------------------------------------------------

    def _on_commit(self, entries: list[Entry]) -> None:
        if any(entry.kind in KIND_TOPICS for entry in entries):
            self._in_hand.add(self.outbox.committed(entries), self.settings.window)
            self._wake.set()

    # -- connection ---------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        try:
            client = mqtt_client(
                self.config,
                self.client_id,
                # A session the broker keeps: acks sent while the till was away arrive when it is back.
                clean_session=False,
                keepalive=self.settings.keepalive,
                timeout=self.settings.timeout,
                max_inflight=self.settings.max_inflight,
            )
        except (OSError, ssl.SSLError) as exc:  # the CA file
            raise CaFileUnusable(getattr(exc, "strerror", None) or str(exc)) from exc
        client.pending_calls_threshold = 2 * self.settings.batch + 10  # a batch in flight is no warning
        return client

    async def _run(self) -> None:
        backoff = Backoff(self.settings.reconnect_initial, self.settings.reconnect_max)

        async def connection() -> None:
            async with contextlib.AsyncExitStack() as stack:
                # Connected whole: a stop during the connect waits for its outcome (milliseconds,
                # at most ``timeout``), so that aiomqtt is never cut off half-way.
                client = await _whole(stack.enter_async_context(self._client()))
                await _whole(self._subscribe(client))
                backoff.reset()
                self._connected = True
                log.info("connected to the MQTT broker at %s as %s", self.url, self.client_id)
                self._health.set(DeviceState.READY)
                try:
                    await self._serve(client)
                except (MqttError, OSError) as exc:
                    raise ConnectionLost(str(exc)) from exc

        await reconnecting(connection, backoff, self._failed, log=log, what="bus publisher")

    def _failed(self, exc: Exception) -> None:
        self._connected = False
        self._flight.clear()
        self._health.set(DeviceState.FAILED, explain(exc, self.config, self.topics.acks))

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        granted = await client.subscribe(self.topics.acks, qos=1)
        for code in granted:
            if refused(code):
                raise SubscriptionRefused(f"SUBACK {code}")

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Acks in, messages out, until the connection fails (the error ends both)."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read_acks(client))
                group.create_task(self._send(client))
        except BaseExceptionGroup as errors:
            first = next(
                (e for e in errors.exceptions if not isinstance(e, asyncio.CancelledError)),
                errors.exceptions[0],
            )
            raise first from None

    # -- acks ---------------------------------------------------------------------------

    async def _read_acks(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        async for first in messages:
            # The acks already received are recorded together: one transaction, one fsync.
            batch = [first]
            while len(messages) > 0 and len(batch) < self.settings.batch:
                batch.append(await anext(messages))
            await self._on_acks([(str(m.topic), m.payload) for m in batch])

    async def _on_acks(self, received: list[tuple[str, Any]]) -> None:
        recorded = await record_acks(
            received, self.outbox, self.verifier, self._prefix, self.topics.base, self.ignored
        )
        if recorded is None:
            return
        now = asyncio.get_running_loop().time()
        for sequence, outcome in recorded:
            if outcome in ("held", "released"):
                self._forget_held()
            if self._flight.pop(sequence, None) is not None:
                self.resend.acked(sequence, now, len(self._flight))
        self._acked.set()
        self._acked = asyncio.Event()
        self._wake.set()

    def _forget_held(self) -> None:
        """What is held changed: read it again (and discard a read under way)."""
        self._held = None
        self._held_version += 1

    # -- sending ------------------------------------------------------------------------

    async def _send(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        self._flight.clear()
        self.resend.reset()
        self._health_at = 0.0
        read_up_to = 0  # the highest sequence read from the outbox on this connection
        refill_below = settings.window - settings.window // 4
        while True:
            self._wake.clear()
            now = loop.time()
            due: list[int] = []
            if self._flight and self.resend.due_at is not None and self.resend.due_at <= now:
                # No ack for the ack wait: the oldest of the window again, the rest waits.
                oldest = list(itertools.islice(self._flight, settings.batch))
                due = oldest[: self.resend.stalled(now, oldest)]
            room = min(settings.window - len(self._flight), settings.batch - len(due))
            # A full window refills once a good part of it is acked, not one ack at a time.
            refill = room >= min(settings.batch, settings.window // 4) or len(self._flight) < refill_below
            fresh: list[OutboxRow] = []
            if room > 0 and refill and not self.resend.recovering:
                in_hand = self._in_hand.take(read_up_to, room)
                if in_hand is None:  # not in hand: from the outbox, and what is in hand of it let go
                    fresh = await self.outbox.unacked(read_up_to, room)
                    self._in_hand.take(fresh[-1].sequence if fresh else read_up_to, 0)
                else:
                    fresh = in_hand
            if fresh:
                read_up_to = fresh[-1].sequence
            rows = [self._flight[s].row for s in due] + fresh
            if rows:
                await self._publish(client, rows)
            if fresh:
                self.resend.sent(loop.time())
            more = room > 0 and len(fresh) == room
            await self._update_health(loop.time())
            if not more:
                await self._wait_for_wake(self._next_deadline(loop.time()))

    async def _publish(self, client: aiomqtt.Client, rows: list[OutboxRow]) -> None:
        """Publish ``rows`` at QoS 1, in this order, and wait for their PUBACKs.

        The publishes are started in order as tasks: each hands its message to paho before
        its first await, so they leave (and reach the broker) in sequence order while many
        await their PUBACK at once. Each row is in flight from before its publish, so an ack
        that overtakes the PUBACK finds it (and takes it out for good).
        """
        now = asyncio.get_running_loop().time()
        for row in rows:
            flight = self._flight.get(row.sequence)
            if flight is None:
                self._flight[row.sequence] = Flight(row, now, now)
            else:
                flight.last_sent = now
                flight.sends += 1
        results = await asyncio.gather(
            *(client.publish(row.topic, row.message, qos=1) for row in rows), return_exceptions=True
        )
        sent = [row.sequence for row, result in zip(rows, results, strict=True) if result is None]
        await self.outbox.sent(sent, self.outbox.store.clock.now().isoformat())
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _next_deadline(self, now: float) -> float | None:
        """Seconds until the next resend or health check is due, None if nothing is."""
        if not self._flight:
            return None
        deadlines = [] if self.resend.due_at is None else [self.resend.due_at]
        oldest = next(iter(self._flight.values()))
        if self.state is DeviceState.DEGRADED:
            deadlines.append(self._health_at + self.settings.health_refresh)
        else:
            deadlines.append(oldest.first_sent + self.settings.degraded_after)
        return max(0.0, min(deadlines) - now)

    async def _wait_for_wake(self, seconds: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _update_health(self, now: float) -> None:
        oldest = next(iter(self._flight.values()), None)  # in the order of first sends
        if oldest is None or now - oldest.first_sent < self.settings.degraded_after:
            held = self._held
            while held is None:
                # An ack that comes while the outbox is read makes what was read stale: read
                # again, or "holds 3" would stay after the last held message was taken.
                version = self._held_version
                fresh = await self.outbox.held_first()
                if version == self._held_version:
                    self._held = held = fresh
            if held[1]:
                self._health.set(DeviceState.DEGRADED, held_words(*held))
            else:
                self._health.set(DeviceState.READY)
            return
        if self.state is DeviceState.DEGRADED and now - self._health_at < self.settings.health_refresh:
            return
        self._health_at = now
        waiting = waiting_words(await self.outbox.state(), self.outbox.store.clock.now())
        self._health.set(DeviceState.DEGRADED, waiting)


_T = TypeVar("_T")


async def _whole(work: Coroutine[Any, Any, _T]) -> _T:
    """``await work``, which a cancellation does not cut short: it waits for ``work`` to end.

    For connecting and subscribing: the publisher is cancelled when the till stops, and
    aiomqtt cut off half-way through its handshake can leave its client's tasks behind.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
