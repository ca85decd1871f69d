"""``tillgw sync``: the sync module as one run — the inbox, the bus, the adapters, the log, the mail.

:meth:`SyncService.run` with ``once=True`` connects, takes what the broker has queued,
processes everything processable in the inbox and returns; with ``once=False`` it keeps
taking and processing until ``stop`` is set (SIGINT/SIGTERM from the command line). Either
way the run is one section of the day's log, and ERROR lines not yet mailed are mailed
with the day's log attached — at the end of a ``--once`` run, at most every
``[sync.mail].interval`` seconds while running. The return value is the exit status: 0,
or 1 when the run logged an ERROR. After the run, and after the passes of a running
module, the tills are told how it went (:mod:`gateway.sync.status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime

import aiomqtt
import psycopg

from gateway.common.waiting import first_of
from gateway.messages.ack_proof import AckSigner, SigningKeyError
from gateway.sync.adapters import Adapter
from gateway.sync.adapters.sie.adapter import SieAdapter
from gateway.sync.config import SyncConfig
from gateway.sync.erp import ErpConnections, connect
from gateway.sync.inbox import Inbox
from gateway.sync.mail import error_mail, send_mail
from gateway.sync.masterdata.runner import MasterData
from gateway.sync.orders.responder import OrderResponder
from gateway.sync.processor import Processor
from gateway.sync.pruning import PRUNE_EVERY, prune_logs
from gateway.sync.reprocess import HeldFilter, ReprocessOutcome, reprocess_held
from gateway.sync.runlog import LOGGER, RunLog
from gateway.sync.sessions import WorkerSessions
from gateway.sync.status import StatusReporter
from gateway.sync.subscriber import Subscriber

__all__ = ["SyncService", "default_adapters"]

log = logging.getLogger(LOGGER)

PASS_GAP = 0.2
"""Seconds between two passes that both find messages: a busy module books in bigger runs."""


def default_adapters(config: SyncConfig) -> list[Adapter]:
    """The SIE files' adapter; the ERPs' own come with their connections (:mod:`gateway.sync.erp`)."""
    return [SieAdapter(config.sie_dir, config.accounts, config.sie)]


class SyncService:
    def __init__(self, config: SyncConfig, adapters: Sequence[Adapter] | None = None) -> None:
        """``adapters`` replace the configured ones (the SIE files and every ERP configured)."""
        self.config = config
        self._configured = adapters is None
        self.adapters = list(adapters) if adapters is not None else default_adapters(config)
        self._last_mail = 0.0
        self.runlog: RunLog | None = None
        self.subscriber: Subscriber | None = None
        self.processor: Processor | None = None
        self.masterdata: MasterData | None = None
        self.orders: OrderResponder | None = None  # answers the tills' questions about open orders
        self.answering_orders = asyncio.Event()  # set while the order responder is subscribed
        self.receiving = asyncio.Event()  # set while the intake is subscribed to the tills' messages
        self.status: StatusReporter | None = None
        self.reprocess: HeldFilter | None = None
        self.unbooked: list[str] | None = None  # --reprocess: the msg_ids it could not book
        self.reprocessed: ReprocessOutcome | None = None  # --reprocess: what it did, for the CLI to say

    async def run(
        self, *, once: bool, stop: asyncio.Event | None = None, reprocess: HeldFilter | None = None
    ) -> int:
        """``reprocess``: take the held messages it names (:mod:`gateway.sync.reprocess`) instead of
        the bus; exit status 0 only when every one of them is booked."""
        logger = logging.getLogger(LOGGER)
        logger.setLevel(logging.INFO)
        title = "tillgw sync --once" if once else "tillgw sync"
        if reprocess is not None:
            title = f"tillgw sync --reprocess{reprocess.describe()}"
        self.reprocess = reprocess
        self.unbooked = None
        self.reprocessed = None
        self.config.check_routing()  # ConfigError: a module that serves no till does not start
        runlog = RunLog(self.config.log_dir, title)
        self.runlog = runlog
        status = StatusReporter(self.config, runlog)
        self.status = status
        logger.addHandler(runlog)
        try:
            runlog.begin(
                f"pid {os.getpid()}, inbox {self.config.store_name}, broker {self.config.mqtt.url}, "
                f"SIE files in {self.config.sie_dir}"
            )
            summary = "nothing done"
            try:
                summary = await self._run(once, stop or asyncio.Event())
            finally:
                await self.mail(force=True)
                await status.report(f"run ended: {summary}", clear=False, force=True)
                runlog.end(f"{summary}; {runlog.errors} error{'' if runlog.errors == 1 else 's'}")
        finally:
            logger.removeHandler(runlog)
            runlog.close()
        return 1 if runlog.errors or self.unbooked else 0

    async def _run(self, once: bool, stop: asyncio.Event) -> str:
        try:
            inbox = await Inbox.open(self.config.store)
        except Exception as exc:
            log.error("inbox: cannot open %s: %s", self.config.store_name, exc)
            return "the inbox could not be opened"
        try:
            signer = AckSigner.of_inbox(self.config.inbox)
        except (SigningKeyError, OSError) as exc:
            await inbox.close()
            log.error("acks: cannot use the signing key %s: %s", self.config.ack_key, exc)
            return "the acks' signing key could not be used"
        log.info(
            "serving %s; acks signed with key %s (tillgw sync --export-key prints it for the tills)",
            self.config.routing.describe(),
            signer.key_id,
        )
        erp = connect(self.config) if self._configured else ErpConnections()
        adapters = [*self.adapters, *erp.adapters]
        if self.config.masterdata.enabled:
            try:
                self.masterdata = await MasterData.open(self.config, erp)
            except Exception as exc:
                await inbox.close()
                await erp.close()
                log.error("master data: cannot open %s: %s", self.config.catalog_db, exc)
                return "the catalog could not be opened"
            adapters.extend(self.masterdata.adapters())
        try:
            for adapter in adapters:
                try:
                    await adapter.setup(inbox.conn)
                except Exception as exc:
                    log.error(
                        "%s: cannot set up its tables in %s: %s", adapter.name, self.config.store_name, exc
                    )
                    return "an adapter could not be set up"
            await self.prune(inbox)
            wake = asyncio.Event()
            subscriber = Subscriber(self.config, inbox, wake.set, signer, subscribed=self.receiving)
            processor = Processor(inbox, adapters)
            self.subscriber, self.processor = subscriber, processor
            if self.reprocess is not None:
                outcome = await reprocess_held(self.config, inbox, processor, signer, self.reprocess)
                self.unbooked = outcome.unbooked
                self.reprocessed = outcome
                if self.status is not None:
                    await self.status.learn_stores(inbox)
                return outcome.summary
            if once:
                try:
                    await subscriber.take_queued(self.config.once_timeout)
                except aiomqtt.MqttError as exc:  # the broker down, refused, TLS: process what is here
                    log.error("MQTT: no connection to %s: %s", self.config.mqtt.url, exc)
                except Exception as exc:  # the inbox: nothing acked, the tills resend
                    log.error("intake: messages not stored: %s: %s", type(exc).__name__, exc)
                await processor.run_pass()
                if self.status is not None:
                    await self.status.learn_stores(inbox)
            else:
                await inbox.open_processing()
                sessions = None
                if inbox.dialect == "postgresql":
                    sessions = WorkerSessions(self.config, inbox, signer, wake.set)
                    try:
                        acquired = await sessions.acquire(stop)
                    except psycopg.Error as exc:
                        await sessions.close()
                        log.error("database: the worker's lock at %s could not be taken: %s", inbox.name, exc)
                        return "the worker's lock could not be taken"
                    if not acquired:
                        await sessions.close()
                        return "stopped while another process held this client_id"
                    subscriber.ready = sessions.held
                keeping = None if sessions is None else asyncio.create_task(sessions.run(stop))
                receiving = asyncio.create_task(subscriber.run(stop))
                catalog = None if self.masterdata is None else asyncio.create_task(self.masterdata.run(stop))
                pruning = asyncio.create_task(self._prune_until(stop, inbox))
                answering = None
                if erp.orders is not None:
                    identifier = f"{self.config.client_id}-orders"
                    self.orders = OrderResponder(
                        self.config.mqtt,
                        identifier,
                        erp.orders,
                        self.config.knows,
                        connected=self.answering_orders,
                    )
                    answering = asyncio.create_task(self.orders.run(stop))
                try:
                    await self._process_until(stop, processor, wake)
                finally:
                    stop.set()
                    await receiving
                    if keeping is not None:
                        await keeping
                    if sessions is not None:
                        await sessions.close()
                    await pruning
                    if catalog is not None:
                        await catalog
                    if answering is not None:
                        await answering
                await processor.run_pass()
            counts = await inbox.counts()
            s = subscriber.stats
            return (
                f"stored {s.stored}, already stored {s.duplicates}, held {s.held}, "
                f"processed {processor.total}; inbox {counts['messages']} messages, "
                f"{counts['messages'] - counts['processed']} not processed, {counts['held']} held"
                + (f", {counts['set_aside']} set aside (no till's message)" if counts["set_aside"] else "")
            )
        finally:
            if self.status is not None:
                await self.status.inbox_closing()
            await inbox.close()
            if self.masterdata is not None:
                await self.masterdata.close()
            await erp.close()

    async def _process_until(self, stop: asyncio.Event, processor: Processor, wake: asyncio.Event) -> None:
        retry = self.config.retry_interval
        while not stop.is_set():
            wake.clear()
            result = await processor.run_pass()
            await self.mail(force=False)
            if self.status is not None:
                await self.status.learn_stores(processor.inbox)
                await self.status.report(
                    _pass_summary(
                        result.processed,
                        processor.total,
                        result.failed,
                        len(result.waiting),
                        len(result.held),
                    ),
                    clear=not result.failed,
                    force=False,
                    condition=(result.failed > 0, bool(result.waiting), bool(result.held)),
                )
            if result.processed:
                # Busy: let the intake store more before the next pass. A pass costs statements
                # per register, whether it finds two new messages there or two hundred.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), PASS_GAP)
            # Wait for new messages; a failed or waiting register is tried again after a while.
            # Workers sharing PostgreSQL pass every retry_interval anyway: a register another
            # worker held when it died (its messages stored, not processed) is taken on then.
            shared = processor.inbox.dialect == "postgresql"
            timeout = retry if result.failed or result.waiting or shared else None
            await first_of(wake.wait(), stop.wait(), within=timeout)

    async def prune(self, inbox: Inbox) -> None:
        """Delete the logs older than ``[sync] keep_logs_days`` (:mod:`gateway.sync.pruning`);
        a failure is an ERROR line, and the run goes on."""
        keep = self.config.keep_logs_days
        try:
            pruned = await prune_logs(self.config.log_dir, inbox, keep, datetime.now().astimezone())
        except (OSError, sqlite3.Error) as exc:
            log.error("logs: the logs older than %d day(s) could not be deleted: %s", keep, exc)
            return
        if pruned.files or pruned.set_aside:
            log.info("%s", pruned.summary(keep))

    async def _prune_until(self, stop: asyncio.Event, inbox: Inbox) -> None:
        """A running module prunes every :data:`PRUNE_EVERY` seconds until ``stop``."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PRUNE_EVERY)
            if not stop.is_set():
                await self.prune(inbox)

    async def mail(self, *, force: bool) -> None:
        """Mail the ERROR lines not yet mailed, with the day's log attached; never raises."""
        runlog = self.runlog
        if runlog is None or not runlog.unmailed:
            return
        config = self.config.mail
        if config is None:
            runlog.unmailed.clear()
            return
        if not force and time.monotonic() - self._last_mail < config.interval:
            return
        errors = list(runlog.unmailed)
        runlog.unmailed.clear()
        self._last_mail = time.monotonic()
        try:
            await send_mail(config, error_mail(config, runlog.path, errors))
        except Exception as exc:
            log.error(
                "mail: the error mail to %s via %s:%d was not sent: %s",
                ", ".join(config.to),
                config.host,
                config.port,
                exc or type(exc).__name__,
                extra={"no_mail": True},
            )
        else:
            log.info(
                "mail: sent %d error line(s) and %s to %s",
                len(errors),
                runlog.path.name,
                ", ".join(config.to),
            )


def _pass_summary(processed: int, total: int, failed: int, waiting: int, held: int = 0) -> str:
    """A running module's pass, for the tills' status pages."""
    text = f"pass: processed {processed} ({total} since start)"
    if failed:
        text += f"; {failed} register(s) stopped by a failure"
    if waiting:
        text += f"; {waiting} register(s) waiting for a missing message"
    if held:
        text += f"; {held} register(s) stopped at a held message (tillgw sync --reprocess once it is fixed)"
    return text
