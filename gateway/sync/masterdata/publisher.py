"""The master-data engine on the bus: revisions out, the tills' requests in.

The client is built like the sync module's others (:mod:`gateway.sync.subscriber`):
credentials and TLS from ``[mqtt]``, ``TCP_NODELAY``. Revisions go out at QoS 1 on
``tillgw/{orgnr}/{store}/catalog/updates``; ``publish`` returns when the broker has
every part. :class:`CatalogBus` (the service) stays connected, publishes what was
committed while it was away, and answers each :class:`~gateway.bus.catalog.CatalogRequest`
heard on ``tillgw/{orgnr}/{store}/+/catalog-request`` with the revisions after the one
the till holds — or a full revision when those are no longer kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

import aiomqtt

from gateway.bus.catalog import CatalogTopics, CatalogUpdate, decode_request
from gateway.bus.messages import NO_DELAY, MessageError
from gateway.config import MqttConfig
from gateway.sync.masterdata.engine import MasterDataEngine
from gateway.sync.runlog import LOGGER

__all__ = ["CatalogBus", "catalog_client", "publish_updates"]

log = logging.getLogger(LOGGER)
_MQTT_LOG = logging.getLogger("tillgw.mqtt.catalog")


def catalog_client(mqtt: MqttConfig, identifier: str) -> aiomqtt.Client:
    tls = None
    if mqtt.tls:
        tls = ssl.create_default_context(cafile=None if mqtt.ca_file is None else str(mqtt.ca_file))
    return aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=mqtt.password,
        identifier=identifier,
        clean_session=True,  # requests made while we are away are made again by the tills
        tls_context=tls,
        timeout=10,
        logger=_MQTT_LOG,
        socket_options=NO_DELAY,
    )


async def publish_updates(
    client: aiomqtt.Client, topics: CatalogTopics, updates: list[CatalogUpdate]
) -> None:
    """Every part, in order, at QoS 1 (each awaited: the broker has it when this returns)."""
    for update in updates:
        await client.publish(topics.updates, update.to_bytes(), qos=1)


class CatalogBus:
    """The service's connection for the catalog: publishing and answering requests."""

    def __init__(self, mqtt: MqttConfig, identifier: str, engine: MasterDataEngine) -> None:
        self.mqtt = mqtt
        self.identifier = identifier
        self.engine = engine
        self.topics = CatalogTopics(engine.config.orgnr, engine.config.store)
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.answered = 0

    async def publish(self, updates: list[CatalogUpdate]) -> None:
        client = self._client
        if client is None:
            raise aiomqtt.MqttError(f"not connected to {self.mqtt.url}")
        await publish_updates(client, self.topics, updates)

    async def answer(self, payload: bytes) -> None:
        try:
            request = decode_request(payload)
        except MessageError as exc:
            log.warning("catalog: a request that is not one: %s", exc)
            return
        updates = await self.engine.answer(request.holds, request.reason)
        revisions = sorted({u.revision for u in updates})
        kind = "a full revision" if updates and updates[0].full else "revisions"
        if updates:
            await self.publish(updates)
        self.answered += 1
        log.info(
            "catalog: %s holds revision %d (%s): %s",
            request.register,
            request.holds,
            request.reason,
            "nothing newer" if not updates else f"sent {kind} {revisions[0]}-{revisions[-1]}",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: connected (reconnecting with backoff), answering requests."""
        backoff = 1.0
        while not stop.is_set():
            try:
                async with catalog_client(self.mqtt, self.identifier) as client:
                    await client.subscribe(self.topics.requests, qos=1)
                    self._client, backoff = client, 1.0
                    self.connected.set()
                    await self.engine.publish_pending()
                    reading = asyncio.create_task(self._read(client))
                    stopping = asyncio.create_task(stop.wait())
                    try:
                        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        self._client = None
                        self.connected.clear()
                        for task in (reading, stopping):
                            task.cancel()
                        await asyncio.gather(reading, stopping, return_exceptions=True)
                    if reading.done() and not reading.cancelled() and reading.exception() is not None:
                        raise reading.exception()  # type: ignore[misc]
            except aiomqtt.MqttError as exc:
                log.warning("catalog: no connection to %s: %s; trying again", self.mqtt.url, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 30.0)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            await self.answer(payload if isinstance(payload, bytes) else str(payload).encode())
