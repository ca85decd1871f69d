"""The till's questions about the ERP's open sales orders, asked over the bus.

One task per till (:class:`OrderQueries`). It connects as
``tillgw-{orgnr}-{store}-{register}-orders`` with a clean session (a question nobody
heard in time is asked again by the cashier, not by the broker), subscribes to its
register's ``…/order-answer`` and keeps it subscribed, reconnecting after a random wait of up
to 1 s, 2 s, 4 s … 30 s. :meth:`OrderQueries.ask` publishes an :class:`~gateway.messages.orders.OrderRequest`
on ``…/order-request`` and returns the answer with the same ``request_id``; the caller
bounds the wait (the API: 10 s), since only the sync module can answer.

A question is not a fiscal event: nothing is journaled, and an answer that comes after
the caller stopped waiting is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import aiomqtt
from aiomqtt import MqttError

from gateway.common.backoff import Backoff
from gateway.config import MqttConfig
from gateway.messages.envelope import MessageError
from gateway.messages.orders import OrderAnswer, OrderRequest, OrderTopics, decode_answer
from gateway.mqtt.client import mqtt_client, reconnecting, stop_task

__all__ = ["NotConnected", "OrderQueries"]

log = logging.getLogger("tillgw.orders")


class NotConnected(Exception):
    """The till has no connection to the broker just now; ``str()`` says why in words."""


class OrderQueries:
    """Asks the sync module for orders; ``await start()``, ``await ask(…)``, ``await close()``."""

    def __init__(
        self,
        topics: OrderTopics,
        register: str,
        config: MqttConfig,
        *,
        reconnect_initial: float = 1.0,
        reconnect_max: float = 30.0,
    ) -> None:
        self.topics = topics
        self.register = register
        self.config = config
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.client_id = f"tillgw-{topics.orgnr}-{topics.store}-{register}-orders"
        self.request_topic = topics.request(register)
        self.answer_topic = topics.answer(register)
        self.rejected = 0  # answers that were not ours to read
        self._client: aiomqtt.Client | None = None
        self._waiting: dict[str, asyncio.Future[OrderAnswer]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_error = "not connected yet"
        self.connected = asyncio.Event()  # set while subscribed to the answers

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"order queries {self.client_id}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        for waiting in self._waiting.values():
            waiting.cancel()

    async def ask(self, customer: str | None = None, number: str | None = None) -> OrderAnswer:
        """Publish a request and wait for its answer (unbounded: the caller bounds it)."""
        client = self._client
        if client is None:
            raise NotConnected(f"no connection to the MQTT broker at {self.config.url}: {self._last_error}")
        request = OrderRequest(uuid.uuid4().hex, customer, number)
        answered: asyncio.Future[OrderAnswer] = asyncio.get_running_loop().create_future()
        self._waiting[request.request_id] = answered
        try:
            try:
                await client.publish(self.request_topic, request.to_bytes(), qos=1)
            except MqttError as exc:
                raise NotConnected(
                    f"the MQTT broker at {self.config.url} did not take the request: {exc}"
                ) from None
            return await answered
        finally:
            self._waiting.pop(request.request_id, None)

    async def _run(self) -> None:
        backoff = Backoff(self.reconnect_initial, self.reconnect_max)

        async def connection() -> None:
            async with mqtt_client(self.config, self.client_id, clean_session=True) as client:
                await client.subscribe(self.answer_topic, qos=1)
                self._client = client
                backoff.reset()
                self.connected.set()
                try:
                    async for message in client.messages:
                        payload = message.payload
                        self._on_answer(payload if isinstance(payload, bytes) else b"")
                finally:
                    self._client = None
                    self.connected.clear()

        await reconnecting(connection, backoff, self._failed, log=log, what="order queries")

    def _failed(self, exc: Exception) -> None:
        self._last_error = str(exc) or type(exc).__name__

    def _on_answer(self, payload: bytes) -> None:
        try:
            answer = decode_answer(payload)
        except MessageError as exc:
            self.rejected += 1
            log.warning("orders: skipped an answer that is not one: %s", exc)
            return
        waiting = self._waiting.get(answer.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)
