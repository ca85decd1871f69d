"""The catalog's subscriber: the sync module's revisions from the MQTT broker into the catalog.

One task per till (:class:`CatalogSubscriber`). It connects as
``tillgw-{orgnr}-{store}-{register}-catalog`` with a persistent session (revisions sent
while the till was away wait for it at the broker), subscribes at QoS 1 to the store's
``…/catalog/updates`` and hands every message to :meth:`Catalog.apply
<gateway.catalog.store.Catalog.apply>`, one at a time, in the order received.

It asks for what it lacks with a :class:`~gateway.messages.catalog.CatalogRequest` on its
register's ``…/catalog-request``: at every connect (``start``: the revision held, so the
sync module sends what followed it — aiomqtt acknowledges a message before the till has
applied it, so a message in hand at a crash is fetched again this way), and whenever a
revision arrives whose base the catalog does not hold (``gap``), once per such revision.

The same connection also subscribes to the store's ``…/sync/status``: the sync module's
last pass or run, a retained message (:mod:`gateway.messages.sync_status`) the till keeps in
:attr:`CatalogSubscriber.sync_status` for ``GET /v1/status`` and the status page. It
rides here rather than on a connection of its own because it comes from the same sender
to the same store-wide level, needs no state of its own, and one connection per till is
one client id, one login and one reconnect loop less. Its subscription is at QoS 0: the
broker hands the retained message over at every (re)subscription, so nothing is missed
by not queueing it in the session.

A bad message is logged with what is wrong with it, counted in the status and skipped;
nothing a message holds stops the till. The broker down: the subscriber tries again
after a random wait of up to 1 s, 2 s, 4 s … 30 s, and the catalog answers from what it holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
from aiomqtt import MqttError

from gateway.catalog.store import Catalog, Outcome
from gateway.common.backoff import Backoff
from gateway.common.health import DeviceState, HealthReporter, HealthTracker
from gateway.common.i18n import tr
from gateway.config import MqttConfig
from gateway.messages.catalog import CatalogRequest, CatalogTopics, decode_update
from gateway.messages.envelope import MessageError
from gateway.messages.sync_status import SyncStatus, decode_status, status_topic
from gateway.mqtt.client import (
    BAD_LOGIN,
    NOT_AUTHORISED,
    ConnectionLost,
    SubscriptionRefused,
    connack_code,
    mqtt_client,
    reconnecting,
    refused,
    stop_task,
)

__all__ = ["CatalogSubscriber", "SubscriberSettings"]

log = logging.getLogger("tillgw.catalog")


@dataclass(frozen=True, slots=True)
class SubscriberSettings:
    """The subscriber's numbers; tests make them small."""

    reconnect_initial: float = 1.0
    reconnect_max: float = 30.0
    keepalive: int = 20
    timeout: float = 10.0  # deadline for CONNACK, SUBACK and the request's PUBACK


class CatalogSubscriber(HealthReporter):
    """Keeps ``catalog`` up to date from the bus; ``await start()``, ``await close()``."""

    def __init__(
        self,
        catalog: Catalog,
        topics: CatalogTopics,
        register: str,
        config: MqttConfig,
        *,
        settings: SubscriberSettings | None = None,
    ) -> None:
        self.catalog = catalog
        self.topics = topics
        self.register = register
        self.config = config
        self.settings = settings or SubscriberSettings()
        self.client_id = f"tillgw-{topics.orgnr}-{topics.store}-{register}-catalog"
        self.request_topic = topics.request(register)
        self.sync_topic = status_topic(topics.orgnr, topics.store)
        self.sync_status: SyncStatus | None = None  # the sync module's last status heard
        self.on_sync_status: Callable[[SyncStatus], None] | None = None  # told of each new one
        self._url = config.url
        self._health = HealthTracker("catalog", tr("to the MQTT broker at {url}").format(url=config.url))
        self.rejected = 0  # bad messages skipped
        self.last_rejected: str | None = None  # what was wrong with the last of them
        self.requests: list[CatalogRequest] = []  # requests published, oldest first (the last 100)
        self._asked: set[tuple[int, int]] = set()  # (revision held, revision seen) already asked about
        self._handled = asyncio.Event()  # set, and replaced, after every message handled
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start in the background; returns at once (the health says how it goes)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"catalog subscriber {self.client_id}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/status`` shows of the updates."""
        return {
            "broker": self.url,
            "state": self.state.value,
            "reason": self.reason,
            "rejected": self.rejected,
            "last_rejected": self.last_rejected,
        }

    async def wait_until(self, check: Callable[[], bool]) -> None:
        """Return once ``check()`` holds, looking again after every message handled."""
        while not check():
            handled = self._handled
            await handled.wait()

    # -- connection ---------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(self.settings.reconnect_initial, self.settings.reconnect_max)

        async def connection() -> None:
            client = mqtt_client(
                self.config,
                self.client_id,
                clean_session=False,  # revisions sent while the till is away wait for it
                keepalive=self.settings.keepalive,
                timeout=self.settings.timeout,
            )
            async with client:
                granted = await client.subscribe(self.topics.updates, qos=1)
                if any(refused(code) for code in granted):
                    raise SubscriptionRefused(f"SUBACK {granted}")
                await self._subscribe_sync_status(client)
                self._asked.clear()
                await self._request(client, "start")
                backoff.reset()
                log.info("catalog: subscribed to %s as %s", self.topics.updates, self.client_id)
                self._health.set(DeviceState.READY)
                try:
                    async for message in client.messages:
                        if str(message.topic) == self.sync_topic:
                            self._on_sync_status(message.payload)
                        else:
                            await self._on_message(client, str(message.topic), message.payload)
                except (MqttError, OSError) as exc:
                    raise ConnectionLost(str(exc)) from exc

        await reconnecting(connection, backoff, self._failed, log=log, what="catalog subscriber")

    def _failed(self, exc: Exception) -> None:
        self._health.set(DeviceState.FAILED, self._explain(exc))

    async def _request(self, client: aiomqtt.Client, reason: str) -> None:
        request = CatalogRequest(self.register, self.catalog.revision, reason)
        await client.publish(self.request_topic, request.to_bytes(), qos=1)
        self.requests = [*self.requests[-99:], request]
        log.info("catalog: asked for the revisions after %d (%s)", request.holds, reason)

    async def _on_message(self, client: aiomqtt.Client, topic: str, payload: Any) -> None:
        try:
            if not isinstance(payload, bytes):
                raise MessageError("not a message of bytes")
            update = decode_update(payload)
            if (update.orgnr, update.store) != (self.topics.orgnr, self.topics.store):
                ours = f"{self.topics.orgnr}/{self.topics.store}"
                raise MessageError(f"for {update.orgnr}/{update.store}, not this till's {ours}")
            result = await self.catalog.apply(update, payload)
        except MessageError as exc:
            self.rejected += 1
            self.last_rejected = f"{topic}: {exc}"
            log.warning("catalog: skipped a bad message on %s: %s", topic, exc)
            self._notify()
            return
        if result.applied:
            log.info("catalog: applied revision %s", ", ".join(str(r) for r in result.applied))
        if result.outcome is Outcome.GAP and (result.revision, update.revision) not in self._asked:
            self._asked.add((result.revision, update.revision))
            await self._request(client, "gap")
        self._notify()

    async def _subscribe_sync_status(self, client: aiomqtt.Client) -> None:
        """The sync module's status: a refusal is logged, and the catalog goes on without it."""
        granted = await client.subscribe(self.sync_topic, qos=0)
        if any(refused(code) for code in granted):
            log.warning(
                "catalog: the MQTT broker refused the subscription to %s — "
                "the till cannot show the sync module's status; check the broker's ACL (docs/mosquitto.md)",
                self.sync_topic,
            )

    def _on_sync_status(self, payload: Any) -> None:
        try:
            if not isinstance(payload, bytes):
                raise MessageError("not a message of bytes")
            status = decode_status(payload)
            if (status.orgnr, status.store) != (self.topics.orgnr, self.topics.store):
                ours = f"{self.topics.orgnr}/{self.topics.store}"
                raise MessageError(f"for {status.orgnr}/{status.store}, not this till's {ours}")
        except MessageError as exc:
            self.rejected += 1
            self.last_rejected = f"{self.sync_topic}: {exc}"
            log.warning("catalog: skipped a bad sync status on %s: %s", self.sync_topic, exc)
            self._notify()
            return
        self.sync_status = status
        if self.on_sync_status is not None:
            self.on_sync_status(status)
        self._notify()

    def _notify(self) -> None:
        self._handled.set()
        self._handled = asyncio.Event()

    def _explain(self, exc: BaseException) -> str:
        """The failure in a shop owner's words, and what to do."""
        url = self.url
        user = (
            tr("user {username!r}").format(username=self.config.username)
            if self.config.username
            else tr("no user name")
        )
        if isinstance(exc, ConnectionLost):
            return tr(
                "lost the connection to the MQTT broker at {url} — the catalog keeps what it holds"
            ).format(url=url)
        if isinstance(exc, SubscriptionRefused):
            return tr(
                "the MQTT broker at {url} refused {user} the subscription to "
                "{updates} — check the broker's ACL (docs/mosquitto.md)"
            ).format(url=url, user=user, updates=self.topics.updates)
        if connack_code(exc) in BAD_LOGIN | NOT_AUTHORISED:
            return tr("the MQTT broker at {url} refused the till's login ({user}) — check [mqtt]").format(
                url=url, user=user
            )
        if not isinstance(exc, MqttError | OSError):
            return tr("catalog updates stopped on an unexpected error ({exc!r}) — see the till's log").format(
                exc=exc
            )
        return tr("no answer from the MQTT broker at {url} — the catalog keeps what it holds").format(url=url)
