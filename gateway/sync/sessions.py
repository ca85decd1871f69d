"""A chain's sync workers and their sessions at the broker: a stopped worker's queue is taken over.

Each worker of a shared subscription has a persistent session at the broker, and Mosquitto
hands a shared subscription's messages round-robin to every session of the group — also
to one whose worker is gone. A worker SIGKILLed (or stopped for good when a chain runs one
worker fewer) would keep its share queued at the broker for up to ``session_expiry``
(a week), reaching the inbox only as its tills resend. So, with PostgreSQL:

* every worker holds a session-level advisory lock of its own (:func:`worker_lock`, on a
  connection of its own) for as long as it runs; a second worker started with the same
  ``client_id`` waits for it (two would take the broker session from each other in turn),
  and says so;
* every :data:`CHECK_EVERY` seconds each running worker looks at the other client ids that
  have subscribed to its share group (the ``subscriptions`` table): one whose lock has been
  free for ``[sync] take_over_after`` seconds (30) has no worker. Taking its lock, a live
  worker connects *as* that client id — the broker resumes the session and delivers what it queued —
  with a session expiry of 0, drops the session's subscriptions (from then on the broker
  hands the group's messages to the live workers only), stores and acks everything up to
  its own marker, and disconnects: the session ends (:meth:`Subscriber.take_over`). Then it
  forgets the client id's subscriptions and lets the lock go;
* a worker restarting under that client id waits for the lock, so it never takes the broker
  session away from a worker draining it; once it has the lock it starts a new session.

The time a lock must stay free is what a restart (systemd's ``RestartSec``, a PostgreSQL
restart after which every worker takes its lock again) needs, with room: a worker back in
time keeps its own session. Nothing here decides what is stored or booked: the inbox's
``UNIQUE(msg_id)`` and the register claims do, so a queue taken over twice doubles nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

import aiomqtt
import psycopg

from gateway.messages.ack_proof import AckSigner
from gateway.sync.config import SyncConfig
from gateway.sync.inbox import Inbox
from gateway.sync.postgres import lock_key, public_url
from gateway.sync.runlog import LOGGER
from gateway.sync.subscriber import Subscriber

__all__ = ["CHECK_EVERY", "WorkerSessions", "worker_lock"]

log = logging.getLogger(LOGGER)

CHECK_EVERY = 5.0
"""Seconds between a worker's looks for sessions without a worker (and checks of its own lock)."""
_CONNECT_TIMEOUT = 10


def worker_lock(client_id: str) -> int:
    """The advisory lock a running worker with ``client_id`` holds."""
    return lock_key("tillgw sync worker", client_id)


class WorkerSessions:
    """This worker's lock, and the taking over of sessions whose worker is gone."""

    def __init__(
        self,
        config: SyncConfig,
        inbox: Inbox,
        signer: AckSigner,
        on_stored: Callable[[], None],
    ) -> None:
        assert config.database is not None
        self.config = config
        self.inbox = inbox
        self.signer = signer
        self.on_stored = on_stored
        self.check_every = min(CHECK_EVERY, config.take_over_after / 2)
        self.take_over_after = config.take_over_after
        self.held = asyncio.Event()  # set while this worker holds its lock: its subscriber connects only then
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._free_since: dict[str, float] = {}

    @property
    def group_prefix(self) -> str:
        return f"$share/{self.config.share_group}/"

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Take this worker's lock, waiting while another process holds it; False if ``stop`` came first."""
        assert self.config.database is not None
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.config.database,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT,
                application_name="tillgw sync lock",
            )
        key = worker_lock(self.config.client_id)
        said = False
        while not stop.is_set():
            row = await (await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
            if row is not None and row[0]:
                if said:
                    log.info("sync worker %s: the other process let it go; starting", self.config.client_id)
                self.held.set()
                return True
            if not said:
                log.warning(
                    "sync worker %s: another process holds this client_id at %s (a worker with the same "
                    "client_id, or one taking over this worker's queue at the broker): waiting for it",
                    self.config.client_id,
                    public_url(self.config.database),
                )
                said = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        return False

    async def close(self) -> None:
        self.held.clear()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: keep this worker's lock, and take over sessions left without a worker."""
        failed: str | None = None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_every)
            if stop.is_set():
                return
            try:
                await self._check(stop)
                failed = None
            except Exception as exc:  # the database (or a bug): said once, tried again at the next check
                self.held.clear()  # the lock may have gone with its connection: take it again first
                if self._conn is not None:
                    await self._conn.close()
                text = f"{type(exc).__name__}: {exc}"
                if text != failed:
                    log.error("sync worker %s: its lock at the database is lost: %s; taking it again",
                              self.config.client_id, text)  # fmt: skip
                    failed = text

    async def _check(self, stop: asyncio.Event) -> None:
        lost = self._conn is None or self._conn.closed or not self.held.is_set()
        if lost and not await self.acquire(stop):
            return
        assert self._conn is not None
        await self._conn.execute("SELECT 1")  # the lock's connection is alive
        rows = await self.inbox.fetchall(
            "SELECT DISTINCT client_id FROM subscriptions WHERE client_id <> ? AND filter LIKE ?",
            (self.config.client_id, self.group_prefix.replace("%", r"\%").replace("_", r"\_") + "%"),
        )
        now = time.monotonic()
        others = {str(r[0]) for r in rows}
        for gone in set(self._free_since) - others:
            del self._free_since[gone]
        for client_id in sorted(others):
            key = worker_lock(client_id)
            row = await (await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
            if row is None or not row[0]:
                self._free_since.pop(client_id, None)  # its worker runs
                continue
            try:
                since = self._free_since.setdefault(client_id, now)
                if now - since >= self.take_over_after:
                    await self.take_over(client_id)
                    del self._free_since[client_id]
            except (aiomqtt.MqttError, TimeoutError) as exc:  # the broker: tried again at the next check
                log.error("sync worker %s: could not take over its session at the broker: %s", client_id, exc)
            finally:
                await self._conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    async def take_over(self, client_id: str) -> None:
        """Connect as ``client_id`` (holding its lock), store and ack what its session queued, end
        the session."""
        config = dataclasses.replace(self.config, client_id=client_id, session_expiry=0)
        subscriber = Subscriber(config, self.inbox, self.on_stored, self.signer)
        await subscriber.take_over(self.config.once_timeout)
        await self.inbox.forget_subscriptions(client_id)
        s = subscriber.stats
        log.warning(
            "sync worker %s has been gone %.0f s or more: took over its session at the broker — stored %d "
            "message(s) it had queued (%d already stored, %d held) — and ended it, so the broker hands its "
            "share to the running workers",
            client_id,
            self.take_over_after,
            s.stored,
            s.duplicates,
            s.held,
        )
