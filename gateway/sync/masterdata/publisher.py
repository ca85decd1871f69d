"""The master-data engine on the bus: revisions out, the tills' requests in.

The client is built like every other of ours (:func:`gateway.mqtt.client.mqtt_client`):
credentials and TLS from ``[mqtt]``, ``TCP_NODELAY``. Revisions go out at QoS 1 on
``tillgw/{orgnr}/{store}/catalog/updates``; ``publish`` returns when the broker has
every part. :class:`CatalogBus` (the service, a :class:`~gateway.mqtt.client.Listener`)
stays connected, publishes what was committed while it was away, and answers each
:class:`~gateway.messages.catalog.CatalogRequest` heard on
``tillgw/{orgnr}/{store}/+/catalog-request`` with the revisions after the one the till
holds — or a full revision when those are no longer kept.
"""

from __future__ import annotations

import logging

import aiomqtt

from gateway.config import MqttConfig
from gateway.messages.catalog import CatalogTopics, CatalogUpdate, decode_request
from gateway.messages.envelope import MessageError
from gateway.mqtt.client import Listener, mqtt_client
from gateway.sync.masterdata.engine import MasterDataEngine
from gateway.sync.runlog import LOGGER

__all__ = ["CatalogBus", "catalog_client", "publish_updates"]

log = logging.getLogger(LOGGER)
_MQTT_LOG = logging.getLogger("tillgw.mqtt.catalog")


def catalog_client(mqtt: MqttConfig, identifier: str) -> aiomqtt.Client:
    """A client of the sync module's that keeps no session (clean: requests made while it is
    away are made again by the tills)."""
    return mqtt_client(mqtt, identifier, clean_session=True, logger=_MQTT_LOG)


async def publish_updates(
    client: aiomqtt.Client, topics: CatalogTopics, updates: list[CatalogUpdate]
) -> None:
    """Every part, in order, at QoS 1 (each awaited: the broker has it when this returns)."""
    for update in updates:
        await client.publish(topics.updates, update.to_bytes(), qos=1)


class CatalogBus(Listener):
    """The service's connection for the catalog: publishing and answering requests."""

    def __init__(self, mqtt: MqttConfig, identifier: str, engine: MasterDataEngine) -> None:
        self.engine = engine
        self.topics = CatalogTopics(engine.config.orgnr, engine.config.store)
        super().__init__(mqtt, identifier, self.topics.requests, name="catalog", log=log, mqtt_log=_MQTT_LOG)
        self.answered = 0

    async def publish(self, updates: list[CatalogUpdate]) -> None:
        client = self.client
        if client is None:
            raise aiomqtt.MqttError(f"not connected to {self.mqtt.url}")
        await publish_updates(client, self.topics, updates)

    async def on_connect(self, client: aiomqtt.Client) -> None:
        await self.engine.publish_pending()  # what was committed while the bus was away

    async def answer(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        try:
            request = decode_request(payload)
        except MessageError as exc:
            log.warning("catalog: a request that is not one: %s", exc)
            return
        updates = await self.engine.answer(request.holds, request.reason)
        revisions = sorted({u.revision for u in updates})
        kind = "a full revision" if updates and updates[0].full else "revisions"
        if updates:
            await publish_updates(client, self.topics, updates)
        self.answered += 1
        log.info(
            "catalog: %s holds revision %d (%s): %s",
            request.register,
            request.holds,
            request.reason,
            "nothing newer" if not updates else f"sent {kind} {revisions[0]}-{revisions[-1]}",
        )
