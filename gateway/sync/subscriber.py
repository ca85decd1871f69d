"""The sync module's side of the bus: subscribe, store in the inbox, then ack.

The connection uses a stable client id and a persistent session (MQTT 5: clean start
off and a session expiry; MQTT 3.1.1: clean session off), so QoS 1 messages published
while the module is away are queued by the broker and delivered when it comes back.

It subscribes, at QoS 1, to the ``receipts``, ``reports`` and ``events`` of the stores
its configuration serves (:mod:`gateway.sync.routing`) — ``tillgw/<orgnr>/<store>/+/receipts``
— and to nothing else: a message of a store it does not serve is never stored or acked
(one that still comes, through a subscription an older configuration left in the
session, is ignored and logged once). Filters an earlier configuration of this client id
subscribed to are unsubscribed at the next connection. With an MQTT 5 broker
(Mosquitto) the subscriptions are shared — ``$share/<share_group>/tillgw/<orgnr>/<store>/+/receipts``
— so several sync workers with the same group split the messages between them; a shared
subscription's group is per topic filter, so two stores' modules with the default group
never take each other's messages. A broker that speaks only MQTT 3.1.1 (amqtt, the
embedded broker) refuses the MQTT 5 CONNECT; the module then connects with 3.1.1 and
plain subscriptions, and says so in the log. A broker that speaks MQTT 5 but refuses
shared subscriptions gets plain ones, also logged.

Flow control: the module tells the broker it has taken a message (the MQTT PUBACK) only
after the transaction that stored it has committed, and with MQTT 5 it allows the broker
:data:`IN_FLIGHT` messages not yet acknowledged (the CONNECT's receive maximum). However
deep the backlog the broker holds for it, the module holds at most that many messages in
memory, and a worker killed mid-batch leaves what it had not stored with the broker.

Each batch of messages is stored in one inbox transaction and only after its commit are
the acks (:class:`~gateway.messages.envelope.Ack`, signed: :mod:`gateway.messages.ack_proof`)
published, QoS 1, on each register's ``acks`` topic: ``stored`` (also for a message
already there), or ``held`` with the reason for a message it cannot take whose
``msg_id`` could be read, so the till stops resending it and shows it as something to
act on. Acks owed for held messages that ``--reprocess`` has since taken are sent at
each connection.

``--once`` needs to know when it has what the broker queued: after subscribing it
publishes a marker to ``tillgw-sync/<client_id>/drained`` (subscribed too); the broker
delivers a client's messages in order, so the marker comes back after everything queued
before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.common.waiting import first_of, raised
from gateway.messages.ack_proof import AckSigner
from gateway.messages.envelope import KIND_TOPICS
from gateway.mqtt.client import NO_DELAY, publish_in_order
from gateway.sync.config import SyncConfig
from gateway.sync.inbox import Inbox, Intake, OwedAck
from gateway.sync.runlog import LOGGER

__all__ = ["IN_FLIGHT", "IntakeStats", "Subscriber"]

log = logging.getLogger(LOGGER)

_LEAVES = tuple(sorted(set(KIND_TOPICS.values())))  # events, receipts, reports
IN_FLIGHT = 1000
"""Messages the broker may send before the module has stored (and acknowledged) the earlier ones."""
_BATCH = 500  # messages stored in one transaction at most
_ACKS_BEHIND = 2  # bursts whose tills' acks may still be under way while the next is stored
_UNSUPPORTED_PROTOCOL = (1, 0x84)
# The MQTT library's own chatter: not under tillgw.sync, so it never becomes a line of the
# day's log (or an error mail); what matters is logged by this module in its own words.
_MQTT_LOG = logging.getLogger("tillgw.mqtt.sync")  # MQTT 3.1.1 "unacceptable protocol version", MQTT 5 0x84


class IntakeStats:
    def __init__(self) -> None:
        self.stored = 0
        self.duplicates = 0
        self.held = 0
        self.ignored = 0


def _payload(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if value is None:
        return b""
    return str(value).encode()


def _summary(intakes: Sequence[Intake]) -> str:
    by_register: dict[str, list[int]] = {}
    for i in intakes:
        if i.message is not None:
            key = f"{i.message.orgnr}/{i.message.store}/{i.message.register}"
            by_register.setdefault(key, []).append(i.message.sequence)
    return "; ".join(f"{key} {ranges(seqs)}" for key, seqs in sorted(by_register.items()))


def ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5, 7, 8]`` -> ``"1-3, 5, 7-8"``."""
    out: list[str] = []
    ordered = sorted(set(numbers))
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


class Subscriber:
    def __init__(
        self,
        config: SyncConfig,
        inbox: Inbox,
        on_stored: Callable[[], None],
        signer: AckSigner,
        *,
        subscribed: asyncio.Event | None = None,
    ) -> None:
        self.config = config
        self.inbox = inbox
        self.on_stored = on_stored
        self.signer = signer
        self.routing = config.routing
        self.filters = self.routing.filters(_LEAVES)
        self._ignored_stores: set[str] = set()
        self.stats = IntakeStats()
        self.protocol: aiomqtt.ProtocolVersion | None = None  # found on the first connection
        self.shared: bool | None = None
        self.marker_topic = f"tillgw-sync/{config.client_id}/drained"
        # Set while this worker may hold its broker session (gateway.sync.sessions: its lock in the
        # shared database); None: always.
        self.ready: asyncio.Event | None = None
        self.subscribed = subscribed or asyncio.Event()  # set while connected and subscribed (run)

    # -- connecting ---------------------------------------------------------------------

    def _client(self, protocol: aiomqtt.ProtocolVersion) -> aiomqtt.Client:
        mqtt = self.config.mqtt
        tls = None
        if mqtt.tls:
            tls = ssl.create_default_context(cafile=None if mqtt.ca_file is None else str(mqtt.ca_file))
        if protocol is aiomqtt.ProtocolVersion.V5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.config.session_expiry
            properties.ReceiveMaximum = IN_FLIGHT
            client = aiomqtt.Client(
                mqtt.host,
                mqtt.port,
                username=mqtt.username,
                password=mqtt.password,
                identifier=self.config.client_id,
                protocol=protocol,
                clean_start=False,
                properties=properties,
                tls_context=tls,
                timeout=10,
                logger=_MQTT_LOG,
                socket_options=NO_DELAY,
            )
        else:
            client = aiomqtt.Client(
                mqtt.host,
                mqtt.port,
                username=mqtt.username,
                password=mqtt.password,
                identifier=self.config.client_id,
                protocol=protocol,
                clean_session=False,
                tls_context=tls,
                timeout=10,
                logger=_MQTT_LOG,
                socket_options=NO_DELAY,
            )
        # Acks go out concurrently, a few bursts at a time (consume): that many pending calls is no warning.
        client.pending_calls_threshold = (_ACKS_BEHIND + 1) * _BATCH + 10
        # The PUBACK waits for the inbox's commit (consume): the broker keeps what is not stored.
        client._client.manual_ack_set(True)
        return client

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[aiomqtt.Client]:
        """A connection with the protocol the broker speaks (MQTT 5, else 3.1.1), subscribed."""
        if self.protocol is not None:
            client = self._client(self.protocol)
            async with client:
                await self._subscribe(client)
                yield client
            return
        client = self._client(aiomqtt.ProtocolVersion.V5)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as v5_error:
            code = getattr(v5_error, "rc", None)
            refused = code in _UNSUPPORTED_PROTOCOL or getattr(code, "value", None) in _UNSUPPORTED_PROTOCOL
            client = self._client(aiomqtt.ProtocolVersion.V311)
            try:
                await client.__aenter__()
            except aiomqtt.MqttError:
                if refused:
                    raise
                raise v5_error from None
            self.protocol = aiomqtt.ProtocolVersion.V311
            log.warning(
                "MQTT: the broker at %s does not speak MQTT 5 (%s); connected with MQTT 3.1.1 and plain "
                "subscriptions: one sync worker only, no load sharing",
                self.config.mqtt.url,
                v5_error,
            )
        else:
            self.protocol = aiomqtt.ProtocolVersion.V5
        try:
            await self._subscribe(client)
            yield client
        except BaseException as exc:
            await client.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await client.__aexit__(None, None, None)

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        filters = self.filters
        shared = self.protocol is aiomqtt.ProtocolVersion.V5 and self.shared is not False
        if shared:
            wanted = [f"$share/{self.config.share_group}/{f}" for f in filters]
            codes: list[object] = []
            for f in wanted:
                granted = await client.subscribe(f, qos=1)
                codes.extend(getattr(c, "value", c) for c in granted)
            if all(isinstance(c, int) and c < 0x80 for c in codes):
                self.shared = True
            else:
                self.shared = False
                log.warning(
                    "MQTT: the broker refused shared subscriptions (reason codes %s); plain subscriptions: "
                    "one sync worker only",
                    codes,
                )
        if not self.shared:
            wanted = list(filters)
            for f in wanted:
                await client.subscribe(f, qos=1)
            if self.protocol is aiomqtt.ProtocolVersion.V5 and self.shared is None:
                self.shared = False
        await self._unsubscribe_stale(client, wanted)
        await self._send_owed(client)

    async def _unsubscribe_stale(self, client: aiomqtt.Client, wanted: list[str]) -> None:
        """The filters this client id's session holds from an earlier configuration (recorded in
        the inbox, and the every-store filters of versions before routing) are dropped."""
        group = self.config.share_group
        legacy = {f"tillgw/+/+/+/{leaf}" for leaf in _LEAVES}
        legacy |= {f"$share/{group}/{f}" for f in legacy}
        stale = sorted((await self.inbox.subscribed(self.config.client_id) | legacy) - set(wanted))
        if stale:
            await client.unsubscribe(stale)
        await self.inbox.record_subscriptions(self.config.client_id, wanted)

    async def _send_owed(self, client: aiomqtt.Client) -> None:
        """Acks owed to tills for held messages ``--reprocess`` has taken since."""
        while owed := await self.inbox.owed_acks():
            await publish_owed(client, self.signer, owed)
            await self.inbox.acks_sent(owed)
            log.info("sent %d ack(s) stored for messages held before", len(owed))

    @property
    def mode(self) -> str:
        if self.protocol is None:
            return "not connected"
        if self.protocol is aiomqtt.ProtocolVersion.V5:
            if self.shared:
                return f"MQTT 5, shared subscriptions $share/{self.config.share_group}/ {self._scopes}"
            return f"MQTT 5, plain subscriptions to {self._scopes}"
        return f"MQTT 3.1.1, plain subscriptions to {self._scopes}"

    @property
    def _scopes(self) -> str:
        return ", ".join(f"tillgw/{scope}/+/…" for scope in self.routing.scopes())

    # -- taking messages ----------------------------------------------------------------

    async def consume(self, client: aiomqtt.Client, marker: str | None = None) -> None:
        """Store and ack messages as they come; with ``marker``, return once it has come back.

        The tills' acks of a burst go out while the next burst is stored: waiting for the
        broker's PUBACK of every ack before the next transaction would add a round trip per
        burst. At most :data:`_ACKS_BEHIND` bursts' acks are under way (a burst is acked
        only after its commit, as before); an ack lost with the connection is sent again
        when its till resends the message."""
        acking: list[asyncio.Task[None]] = []
        try:
            await self._consume(client, marker, acking)
            await asyncio.gather(*acking)
        finally:
            for task in acking:
                task.cancel()
            await asyncio.gather(*acking, return_exceptions=True)

    async def _consume(
        self, client: aiomqtt.Client, marker: str | None, acking: list[asyncio.Task[None]]
    ) -> None:
        messages = client.messages
        async for first in messages:
            batch = [first]
            while len(messages) > 0 and len(batch) < _BATCH:
                batch.append(await anext(messages))
            items: list[tuple[str, bytes]] = []
            done = False
            for m in batch:
                topic = str(m.topic)
                if topic == self.marker_topic:
                    done = done or (marker is not None and _payload(m.payload) == marker.encode())
                    continue
                items.append((topic, _payload(m.payload)))

            def taken(batch: list[aiomqtt.Message] = batch) -> None:
                for m in batch:  # stored and committed (or not ours): the broker may forget them
                    if m.qos > 0:
                        client._client.ack(m.mid, m.qos)

            if items:
                acks = await self.store(items, taken)
                if acks:
                    acking.append(asyncio.create_task(self._publish_acks(client, acks)))
                    while len(acking) > _ACKS_BEHIND:
                        await acking.pop(0)
            else:
                taken()
            if done:
                return

    async def take(
        self,
        client: aiomqtt.Client,
        items: Sequence[tuple[str, bytes]],
        committed: Callable[[], None] | None = None,
    ) -> None:
        """Store ``items``, then ack them; ``committed`` is called as soon as they are stored (the
        broker is told before the tills' acks are out: the next batch need not wait for them)."""
        await self._publish_acks(client, await self.store(items, committed))

    async def store(
        self, items: Sequence[tuple[str, bytes]], committed: Callable[[], None] | None = None
    ) -> list[Intake]:
        """Store ``items`` in one transaction and log what became of them; the intakes that owe
        their till an ack (to be sent now: the transaction has committed)."""
        source = str(self.config.source or "the configuration")
        intakes = await self.inbox.take(items, self.routing, source)  # committed: now the acks may go
        if committed is not None:
            committed()
        stored = [i for i in intakes if i.outcome == "stored"]
        again = [i for i in intakes if i.outcome == "duplicate"]
        self.stats.stored += len(stored)
        self.stats.duplicates += len(again)
        if stored:
            log.info("stored %s", _summary(stored))
        if again:
            log.info("already stored, acked again: %s", _summary(again))
        for i in intakes:
            if i.outcome == "held":
                self.stats.held += 1
                level = logging.ERROR if i.conflict else logging.WARNING
                log.log(
                    level,
                    "held a message on %s%s: %s%s",
                    i.topic,
                    f" ({i.msg_id})" if i.msg_id else "",
                    i.reason,
                    "; acked as held" if i.ack_status else "",
                )
            elif i.outcome == "ignored":
                self.stats.ignored += 1
                store = "/".join(i.topic.split("/")[1:3])
                if store not in self._ignored_stores:
                    self._ignored_stores.add(store)
                    log.warning(
                        "MQTT: ignored a message of store %s, which this sync module does not serve "
                        "([sync] stores/registers: %s); never acked, so its till keeps it for the module "
                        "that serves it",
                        store,
                        self.routing.describe(),
                    )
        if stored or any(i.outcome == "held" for i in intakes):
            # A held message wakes processing too: the pass after it tells the tills what is held.
            self.on_stored()
        return [i for i in intakes if i.ack_status and i.ack_topic and i.msg_id]

    async def _publish_acks(self, client: aiomqtt.Client, intakes: Sequence[Intake]) -> None:
        """The tills' acks of committed intakes (QoS 1); returns once the broker has them all."""
        acks = []
        for i in intakes:
            assert i.ack_topic is not None and i.msg_id is not None and i.ack_status is not None
            reason = i.reason if i.ack_status == "held" else None
            acks.append(
                (i.ack_topic, self.signer.ack(i.msg_id, i.ack_status, reason, i.entry_hash).to_bytes())
            )
        await publish_in_order(client, acks)

    async def take_queued(self, wait: float) -> None:
        """``--once``: connect, take what the broker has queued for us, disconnect."""
        async with self.connected() as client:
            log.info(
                "MQTT: connected to %s as %s (%s)", self.config.mqtt.url, self.config.client_id, self.mode
            )
            try:
                await self._drain(client, wait)
            except TimeoutError:
                log.warning(
                    "MQTT: the marker on %s did not come back within %.0f s, so the broker's queue may not "
                    "be through (the rest comes on the next run); if this repeats, check that the broker's "
                    "ACL lets this user read and write %s",
                    self.marker_topic,
                    wait,
                    self.marker_topic,
                )

    async def take_over(self, wait: float) -> None:
        """Resume the session of this client id — a worker gone (gateway.sync.sessions) — store and
        ack what it holds, and end it. Its filters are dropped first, so the broker routes nothing
        more to it; what it had queued comes before the marker, and the session (expiry 0 in this
        configuration) ends when the connection does. :class:`TimeoutError` when the marker does
        not come back within ``wait``: what was not taken is sent again by its tills."""
        client = self._client(aiomqtt.ProtocolVersion.V5)  # shared subscriptions are MQTT 5 sessions
        async with client:
            self.protocol = aiomqtt.ProtocolVersion.V5
            group = self.config.share_group
            filters = await self.inbox.subscribed(self.config.client_id)
            filters |= {f"$share/{group}/{f}" for f in self.filters}
            await client.unsubscribe(sorted(filters))
            await self._drain(client, wait)

    async def _drain(self, client: aiomqtt.Client, wait: float) -> None:
        """Store and ack what the session holds: everything up to a marker published now (the
        broker delivers a client's messages in order); :class:`TimeoutError` after ``wait``."""
        await client.subscribe(self.marker_topic, qos=1)
        marker = uuid.uuid4().hex
        await client.publish(self.marker_topic, marker.encode(), qos=1)
        await asyncio.wait_for(self.consume(client, marker), wait)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: stay connected (reconnecting with backoff), store and ack."""
        backoff = 1.0
        down = False
        failed: str | None = None
        while not stop.is_set():
            if self.ready is not None and not self.ready.is_set():
                await first_of(self.ready.wait(), stop.wait())
                continue
            try:
                async with self.connected() as client:
                    log.info(
                        "MQTT: %s %s as %s (%s)",
                        "connected again to" if down else "connected to",
                        self.config.mqtt.url,
                        self.config.client_id,
                        self.mode,
                    )
                    down, backoff = False, 1.0
                    self.subscribed.set()
                    try:
                        consuming, _ = await first_of(self.consume(client), stop.wait())
                    finally:
                        self.subscribed.clear()
                    error = raised(consuming)
                    if error is not None:
                        raise error
            except aiomqtt.MqttError as exc:
                if not down:
                    log.error("MQTT: no connection to %s: %s; trying again", self.config.mqtt.url, exc)
                    down = True
            except Exception as exc:  # the inbox (disk full, …): nothing acked, the tills resend
                text = f"{type(exc).__name__}: {exc}"
                if text != failed:
                    log.error("intake: messages not stored: %s; trying again", text)
                    failed = text
            else:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 30.0)


async def publish_owed(client: aiomqtt.Client, signer: AckSigner, owed: Sequence[OwedAck]) -> None:
    """Publish owed acks (QoS 1), signed; returns once the broker has them all."""
    await publish_in_order(
        client, [(a.ack_topic, signer.ack(a.msg_id, a.status, None, a.entry_hash).to_bytes()) for a in owed]
    )
