"""Our MQTT connections, made one way on both sides of the bus.

The till's (the publisher, the catalog subscriber, the order queries) and the sync
module's that answer the tills (the catalog's, the orders') use these; the sync module's
intake (:mod:`gateway.sync.subscriber`, MQTT 5 with a fallback) builds its own.

* :func:`mqtt_client` — an aiomqtt client for ``[mqtt]`` (:class:`~gateway.config.MqttConfig`):
  its broker, user name and password, TLS with its CA file, and ``TCP_NODELAY``
  (:data:`NO_DELAY`); the caller says the session and the timings.
* the waits between tries are a :class:`~gateway.common.backoff.Backoff`: a random wait
  of up to 1 s, 2 s, 4 s … 30 s (or the numbers given), from the start again once a
  connection is made, so that the tills of a store do not all come back at once after
  its broker restarts.
* :func:`reconnecting` — the till's connection loop (the publisher, the catalog
  subscriber, the order queries): connect, and after a failure say so and wait.
* :class:`Listener` — the sync module's side of the tills' questions (catalog requests,
  order requests): stays connected until stopped and answers each request heard.
* What a broker's refusal means: :data:`BAD_LOGIN`, :data:`NOT_AUTHORISED`
  (:func:`connack_code`), :func:`refused` (a SUBACK code), and the errors the till's
  loops raise for their health to explain (:class:`SubscriptionRefused`,
  :class:`ConnectionLost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from aiomqtt import MqttCodeError, MqttError

from gateway.common.backoff import Backoff
from gateway.common.waiting import first_of, raised
from gateway.config import MqttConfig
from gateway.mqtt.properties import share_tables

__all__ = [
    "BAD_LOGIN",
    "NOT_AUTHORISED",
    "NO_DELAY",
    "ConnectionLost",
    "Listener",
    "SubscriptionRefused",
    "connack_code",
    "mqtt_client",
    "publish_in_order",
    "reconnecting",
    "refused",
    "stop_task",
    "tls_context",
]

# paho builds its MQTT 5 property tables anew for every packet read: once is enough.
share_tables()

# Socket options for every MQTT client of ours: without TCP_NODELAY each small publish
# or ack may wait for a delayed TCP ACK (up to 40 ms a hop; p50 126 ms end to end vs 5 ms).
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)

# CONNACK reason codes (MQTT 5 numbering, which paho also uses for 3.1.1's 4 and 5).
BAD_LOGIN = {4, 134}
NOT_AUTHORISED = {5, 135}

LISTENER_RETRY_INITIAL = 1.0  # the sync module's listeners: a random wait of up to 1 s,
LISTENER_RETRY_MAXIMUM = 30.0  # then up to 2 s, 4 s … 30 s between tries


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    """The TLS context of ``[mqtt]`` (its CA file, else the system's), None without TLS.

    Raises ``OSError`` or ``ssl.SSLError`` when the CA file cannot be used."""
    if not config.tls:
        return None
    return ssl.create_default_context(cafile=None if config.ca_file is None else str(config.ca_file))


def mqtt_client(
    config: MqttConfig,
    identifier: str,
    *,
    clean_session: bool,
    keepalive: int = 60,
    timeout: float = 10.0,
    max_inflight: int | None = None,
    logger: logging.Logger | None = None,
) -> aiomqtt.Client:
    """A client (not yet connected) of ``identifier`` to ``[mqtt]``'s broker, with TCP_NODELAY.

    ``clean_session``: False keeps the session at the broker (what is sent to us while we
    are away waits for us), True starts afresh each time. ``timeout`` bounds CONNACK,
    SUBACK and each PUBACK. Raises as :func:`tls_context` does."""
    return aiomqtt.Client(
        config.host,
        config.port,
        username=config.username,
        password=config.password,
        identifier=identifier,
        clean_session=clean_session,
        keepalive=keepalive,
        timeout=timeout,
        max_inflight_messages=max_inflight,
        tls_context=tls_context(config),
        logger=logger,
        socket_options=NO_DELAY,
    )


async def publish_in_order(client: aiomqtt.Client, messages: Sequence[tuple[str, bytes]]) -> None:
    """Publish ``messages`` (topic, payload) at QoS 1, in order; return once the broker has them all.

    Only the last is awaited: a broker sends its PUBACKs in the order the PUBLISHes came
    (MQTT 5.0 §4.6, 3.1.1 §4.6) and paho sends what it queued in order, so the last one's
    PUBACK says the broker has every one. Awaiting each (aiomqtt's ``publish``: an event, a
    task and a timeout per message) was a seventh of a sync worker's CPU for its acks. A
    publication paho refuses (the connection gone) raises as aiomqtt's would."""
    if not messages:
        return
    paho = client._client
    for topic, payload in messages[:-1]:
        info = paho.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise MqttCodeError(info.rc, "Could not publish message")
    topic, payload = messages[-1]
    await client.publish(topic, payload, qos=1)


class SubscriptionRefused(MqttError):
    """The broker refused a subscription (its ACL)."""


class ConnectionLost(MqttError):
    """A connection that worked and was then lost (wraps the error that ended it)."""


def connack_code(exc: BaseException) -> int | None:
    """The CONNACK reason code of a refused connection, else None."""
    if isinstance(exc, MqttCodeError) and exc.rc is not None:
        return exc.rc if isinstance(exc.rc, int) else int(exc.rc.value)
    return None


def refused(code: Any) -> bool:
    """A SUBACK code that refuses the subscription (a reason code object, or a bare int)."""
    return bool(code >= 0x80) if isinstance(code, int) else bool(code.is_failure)


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it to end.

    On Python 3.11, ``asyncio.wait_for`` (which aiomqtt awaits CONNACK and PUBACK with)
    swallows a cancellation that comes as its future completes: cancel again, then."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def reconnecting(
    connection: Callable[[], Awaitable[None]],
    backoff: Backoff,
    failed: Callable[[Exception], None],
    *,
    log: logging.Logger,
    what: str,
) -> None:
    """The till's connection loop, until cancelled: ``await connection()`` again and again.

    ``connection`` connects, resets ``backoff`` once it is connected, and serves until the
    connection fails. A failure is told to ``failed`` (for the health or the status) and,
    unless it is the network's or the broker's, logged with its traceback; then the next
    wait of ``backoff``."""
    while True:
        try:
            await connection()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed(exc)
            if not isinstance(exc, MqttError | OSError):
                log.exception("%s: unexpected error", what)
        delay = backoff.next_delay()
        log.debug("%s: next try to reach the MQTT broker in %.1f s", what, delay)
        await asyncio.sleep(delay)


class Listener:
    """The sync module's side of the tills' questions: hears ``subscription`` and answers each.

    :meth:`run` stays connected until ``stop``, with a clean session (a request made while
    the module is away is asked again by its till, not kept by the broker), subscribed at
    QoS 1; ``connected`` is set and ``client`` is the connection while subscribed. Each new
    connection first does :meth:`on_connect`, then every request is handed to
    :meth:`answer`, one at a time in the order heard. A connection that fails or cannot be
    made is logged (``name`` says whose) and tried again after a random wait of up to 1 s, 2 s, 4 s … 30 s.
    """

    def __init__(
        self,
        mqtt: MqttConfig,
        identifier: str,
        subscription: str,
        *,
        name: str,
        log: logging.Logger,
        mqtt_log: logging.Logger | None = None,
        connected: asyncio.Event | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.identifier = identifier
        self.subscription = subscription
        self.name = name
        self.log = log
        self.mqtt_log = mqtt_log
        self.connected = connected or asyncio.Event()
        self.client: aiomqtt.Client | None = None

    async def on_connect(self, client: aiomqtt.Client) -> None:
        """What to do first on each connection, once subscribed: nothing, unless said."""

    async def answer(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        """Answer one request heard on ``topic``."""
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: connected (reconnecting with backoff), answering requests."""
        backoff = Backoff(LISTENER_RETRY_INITIAL, LISTENER_RETRY_MAXIMUM)
        while not stop.is_set():
            try:
                client = mqtt_client(self.mqtt, self.identifier, clean_session=True, logger=self.mqtt_log)
                async with client:
                    await client.subscribe(self.subscription, qos=1)
                    backoff.reset()
                    self.client = client
                    self.connected.set()
                    try:
                        await self.on_connect(client)
                        await self._serve(client, stop)
                    finally:
                        self.client = None
                        self.connected.clear()
            except MqttError as exc:
                self.log.warning("%s: no connection to %s: %s; trying again", self.name, self.mqtt.url, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff.next_delay())

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Answer until ``stop`` or until the connection fails (its error is raised)."""
        reading, _ = await first_of(self._read(client), stop.wait())
        error = raised(reading)
        if error is not None:
            raise error

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            await self.answer(client, str(message.topic), payload if isinstance(payload, bytes) else b"")
