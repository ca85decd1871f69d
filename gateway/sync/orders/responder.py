"""The tills' questions about open sales orders, answered from the ERP.

:class:`OrderResponder` stays connected (a :class:`~gateway.mqtt.client.Listener`, like the
catalog's :class:`~gateway.sync.masterdata.publisher.CatalogBus`), hears every register's
``tillgw/+/+/+/order-request`` and answers each on that register's ``…/order-answer``
with what the configured ERP's :class:`~gateway.sync.orders.source.OrderSource` finds —
or with the ERP's own words when it could not look. Requests are answered one at a time
in the order heard; a request that is not ours is logged and left unanswered (its till
says nobody answered). Nothing is stored: a question the module missed while it was
away is asked again by the cashier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiomqtt

from gateway.config import MqttConfig
from gateway.messages.envelope import MessageError, Topics
from gateway.messages.orders import OrderAnswer, OrderTopics, decode_request
from gateway.mqtt.client import Listener
from gateway.sync.orders.source import OrderLookupError, OrderSource
from gateway.sync.runlog import LOGGER

__all__ = ["OrderResponder"]

log = logging.getLogger(LOGGER)
_MQTT_LOG = logging.getLogger("tillgw.mqtt.orders")


class OrderResponder(Listener):
    def __init__(
        self,
        mqtt: MqttConfig,
        identifier: str,
        source: OrderSource,
        knows: Callable[[str, str, str], bool],
        *,
        connected: asyncio.Event | None = None,
    ) -> None:
        super().__init__(
            mqtt,
            identifier,
            OrderTopics.every_request(),
            name="orders",
            log=log,
            mqtt_log=_MQTT_LOG,
            connected=connected,  # set while subscribed to the requests
        )
        self.source = source
        self.knows = knows  # whether a register is one this module serves
        self.answered = 0

    async def answer(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        where = Topics.register_of(topic)
        if where is None:
            return
        orgnr, store, register, _ = where
        if not self.knows(orgnr, store, register):
            log.warning("orders: a request from %s/%s/%s, a register this module does not serve", *where[:3])
            return
        try:
            request = decode_request(payload)
        except MessageError as exc:
            log.warning("orders: a request from %s/%s/%s that is not one: %s", orgnr, store, register, exc)
            return
        try:
            orders = await self.source.open_orders(request.customer, request.number)
            answer = OrderAnswer(request.request_id, tuple(orders))
        except OrderLookupError as exc:
            log.warning(
                "orders: %s could not answer %s/%s/%s: %s", self.source.name, orgnr, store, register, exc
            )
            answer = OrderAnswer(request.request_id, (), str(exc))
        await client.publish(OrderTopics(orgnr, store).answer(register), answer.to_bytes(), qos=1)
        self.answered += 1
        asked = " and ".join(
            f"{what} {value}"
            for what, value in (("customer", request.customer), ("order", request.number))
            if value is not None
        )
        log.info(
            "orders: %s/%s/%s asked for %s: %s",
            orgnr,
            store,
            register,
            asked,
            answer.error or f"{len(answer.orders)} open order(s)",
        )
