"""The sync module tells the tills how its last pass or run went (:mod:`gateway.messages.sync_status`).

:class:`StatusReporter` publishes a retained :class:`~gateway.messages.sync_status.SyncStatus` on
``tillgw/{orgnr}/{store}/sync/status`` for every store it serves: the stores named in
``[sync].stores``, ``registers`` and ``[sync.masterdata]``, and every served store the inbox
has messages from — with the messages it holds for that store, and what to do, and where
each of its registers' series stands in the inbox (:mod:`gateway.sync.last_stored`). It
publishes at the end of each run, and after a pass of a running module when the state,
its errors or what it holds changed, or at least ``interval`` seconds after the last status
(so that a busy module does not open a connection per batch of receipts).

The errors are the ERROR lines of the day's log (:attr:`RunLog.status_errors
<gateway.sync.runlog.RunLog.status_errors>`) since the last status of a pass in which
nothing failed: an adapter that keeps failing keeps its lines on the tills' pages until
a pass goes through. The status goes over a short connection of its own (client id
``{client_id}-status``, clean session), not the intake's: that one holds a persistent
session whose messages must all reach the inbox. A status that cannot be published is a
WARNING in the log (the broker's absence is an ERROR of its own already).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

import aiomqtt

from gateway.messages.sync_status import SyncStatus, status_topic
from gateway.mqtt.client import mqtt_client
from gateway.sync.config import SyncConfig
from gateway.sync.inbox import Inbox
from gateway.sync.last_stored import last_stored
from gateway.sync.runlog import LOGGER, RunLog

__all__ = ["DEFAULT_INTERVAL", "StatusReporter"]

log = logging.getLogger(LOGGER)
_MQTT_LOG = logging.getLogger("tillgw.mqtt.status")

DEFAULT_INTERVAL = 30.0
PUBLISH_SECONDS = 10.0  # the deadline for connecting and publishing every store's status


def configured_stores(config: SyncConfig) -> set[tuple[str, str]]:
    stores = config.routing.named_stores()
    if config.masterdata.enabled:
        stores.add((config.masterdata.orgnr, config.masterdata.store))
    return stores


class StatusReporter:
    def __init__(self, config: SyncConfig, runlog: RunLog, interval: float = DEFAULT_INTERVAL) -> None:
        self.config = config
        self.runlog = runlog
        self.interval = interval
        self.stores = configured_stores(config)
        self.published: list[SyncStatus] = []  # the statuses of the last publication
        self._last: tuple[object, ...] | None = None  # the condition and errors last published
        self._last_time = 0.0
        self.held: dict[tuple[str, str], list[dict[str, Any]]] = {}  # store -> its held messages
        self.registers: dict[tuple[str, str], list[dict[str, Any]]] = {}  # store -> where its registers stand
        self._inbox: Inbox | None = None  # the inbox the stores were learnt from

    async def learn_stores(self, inbox: Inbox) -> None:
        """Add the stores the inbox has messages from, and read what each holds. Where each of
        their registers stands is read when a status is published (:meth:`report`): it is
        two statements a register, and a running module's passes come many times a second
        while a status goes out at most every ``interval`` unless something changed."""
        self._inbox = inbox
        rows = await inbox.fetchall("SELECT DISTINCT orgnr, store FROM registers")
        routing = self.config.routing
        self.stores.update((str(r[0]), str(r[1])) for r in rows if routing.serves(str(r[0]), str(r[1])))
        held: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in await inbox.held():
            held.setdefault((row.orgnr, row.store), []).append(row.to_json())
        self.stores.update(s for s in held if routing.serves(*s))
        self.held = held

    async def inbox_closing(self) -> None:
        """The inbox is about to close: where its registers stand is read one last time, for the
        run's last status (sent after it closes); never raises."""
        await self._learn_registers()
        self._inbox = None

    async def _learn_registers(self) -> None:
        """Where each register of the inbox last learnt from stands; a failure is a WARNING and
        the status goes out without it."""
        if self._inbox is None:
            return
        try:
            marks = await last_stored(self._inbox)
        except Exception as exc:  # the database
            log.warning("status: where the registers stand could not be read: %s", exc)
            return
        registers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for mark in marks:
            registers.setdefault((mark.orgnr, mark.store), []).append(mark.to_json())
        self.registers = registers

    async def report(
        self, summary: str, *, clear: bool, force: bool, condition: tuple[bool, ...] = ()
    ) -> None:
        """Publish the status now (``force``) or when it changed or is due; never raises.

        ``clear``: nothing failed in this pass, so the errors published are not shown again.
        ``condition``: what else makes a status news when it changes (a register failing,
        one waiting for a message), beside the errors.
        """
        errors = list(self.runlog.status_errors)
        held_key = tuple((s, tuple(h["msg_id"] for h in items)) for s, items in sorted(self.held.items()))
        key = (*condition, *errors, held_key)
        due = time.monotonic() - self._last_time >= self.interval
        if not self.stores or (not force and not due and key == self._last):
            return
        await self._learn_registers()
        now = datetime.now().astimezone()
        worker = self.config.client_id
        statuses = [
            SyncStatus.make(
                orgnr,
                store,
                worker,
                now,
                summary,
                errors,
                self.held.get((orgnr, store)),
                self.registers.get((orgnr, store)),
            )
            for orgnr, store in sorted(self.stores)
        ]
        try:
            async with asyncio.timeout(PUBLISH_SECONDS):
                async with mqtt_client(
                    self.config.mqtt, f"{worker}-status", clean_session=True, logger=_MQTT_LOG
                ) as client:
                    for status in statuses:
                        topic = status_topic(status.orgnr, status.store)
                        await client.publish(topic, status.to_bytes(), qos=1, retain=True)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            log.warning("status: not published to %s: %s", self.config.mqtt.url, exc or type(exc).__name__)
            return
        self.published = statuses
        self._last, self._last_time = key, time.monotonic()
        if clear:
            sent = len(errors)
            kept = self.runlog.status_errors
            # Lines logged while publishing stay for the next status.
            if kept[:sent] == errors:
                self.runlog.status_errors = kept[sent:]
            else:
                self.runlog.status_errors = [line for line in kept if line not in errors]
