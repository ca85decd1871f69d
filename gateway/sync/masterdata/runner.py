"""The master-data engine in the running service: the schedule, the bus, "sync now".

:func:`open_source` builds the configured source: the file source, or the source of an
ERP connected from its own configuration section (:mod:`gateway.sync.erp`). :class:`MasterData`
opens ``catalog.db``, gives the processor its two adapters (stock sales from receipts,
customers from the tills) and, while the service runs, syncs when the schedule says
(:mod:`.schedule`), checking every ``tick`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from gateway.common.progress import NO_PROGRESS, Progress
from gateway.common.waiting import first_of
from gateway.sync.adapters import Adapter
from gateway.sync.config import SyncConfig
from gateway.sync.erp import ErpConnections
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.masterdata.customers import CustomerAdapter
from gateway.sync.masterdata.engine import MasterDataEngine, Publish, SyncResult
from gateway.sync.masterdata.file_source import FileSource
from gateway.sync.masterdata.publisher import CatalogBus
from gateway.sync.masterdata.schedule import Schedule, interval_warning
from gateway.sync.masterdata.source import MasterDataSource
from gateway.sync.masterdata.stock import StockRecorder
from gateway.sync.runlog import LOGGER

__all__ = ["MasterData", "open_source"]

log = logging.getLogger(LOGGER)


def open_source(config: SyncConfig, erp: ErpConnections) -> MasterDataSource:
    md = config.masterdata
    if md.source == "file":
        assert md.folder is not None  # the parser requires it
        return FileSource(md.folder, prices_include_vat=md.prices_include_vat, price_list=md.price_list)
    return erp.source(md.source)  # ConfigError when its ERP is not configured


class MasterData:
    def __init__(self, config: SyncConfig, source: MasterDataSource, catalog: CatalogDb) -> None:
        self.config = config
        self.source = source
        self.catalog = catalog
        self.schedule = Schedule.of(config.masterdata)
        self.bus: CatalogBus | None = None
        self.engine = MasterDataEngine(config.masterdata, catalog, source, config.inbox)
        self.last_changes: datetime | None = None
        self.last_full: datetime | None = None
        self._now: asyncio.Queue[bool] = asyncio.Queue()

    @classmethod
    async def open(
        cls, config: SyncConfig, erp: ErpConnections | None = None, source: MasterDataSource | None = None
    ) -> MasterData:
        """The engine on ``catalog.db``, reading from ``source`` or the configured one (of ``erp``)."""
        source = source or open_source(config, erp or ErpConnections())
        return cls(config, source, await CatalogDb.open(config.catalog_db))

    async def close(self) -> None:
        await self.catalog.close()

    def adapters(self) -> list[Adapter]:
        return [
            StockRecorder(),
            CustomerAdapter(self.catalog, self.source, self.config.masterdata.customer_master),
        ]

    def use_publisher(self, publish: Publish) -> None:
        self.engine.publish = publish

    def sync_now(self, *, full: bool) -> None:
        """Ask the running service for a sync at once, beside the schedule."""
        self._now.put_nowait(full)

    async def sync(self, *, full: bool, progress: Progress = NO_PROGRESS) -> SyncResult | None:
        try:
            result = await self.engine.sync(full=full, progress=progress)
        except Exception as exc:
            log.error("master data: the %s sync failed: %s", "full" if full else "changes", exc)
            return None
        if full:
            self.last_full = datetime.now().astimezone()
            warning = interval_warning(self.schedule.interval_minutes, result.seconds)
            if warning:
                log.warning("%s", warning)
        else:
            self.last_changes = datetime.now().astimezone()
        return result

    async def run(self, stop: asyncio.Event, tick: float = 30.0) -> None:
        """Until ``stop``: the catalog's bus connection, and syncs when due or asked for."""
        self.bus = CatalogBus(self.config.mqtt, f"{self.config.client_id}-catalog", self.engine)
        self.use_publisher(self.bus.publish)
        # The last syncs of earlier runs count: a restart at noon makes up no night's full sync.
        for full in (True, False):
            rows = await self.catalog.fetchall(
                "SELECT MAX(made_at) FROM revisions WHERE full = ?", (int(full),)
            )
            if rows and rows[0][0] is not None:
                made = datetime.fromisoformat(str(rows[0][0]))
                if full:
                    self.last_full = made
                else:
                    self.last_changes = made
        warning = interval_warning(self.schedule.interval_minutes, await self.engine.last_full_seconds())
        if warning:
            log.warning("%s", warning)
        # The bus stops after the loop, so a sync under way when ``stop`` comes still has its
        # connection for its last parts' PUBACKs (the connection closed under it, its publish
        # would wait out the timeout and leave the revision for the next start).
        bus_stop = asyncio.Event()
        bus = asyncio.create_task(self.bus.run(bus_stop))
        try:
            while not stop.is_set():
                await first_of(self.bus.connected.wait(), stop.wait(), within=tick)
                if stop.is_set():
                    break
                due = self.schedule.due(datetime.now().astimezone(), self.last_changes, self.last_full)
                if due is not None and self.bus.connected.is_set():
                    await self.sync(full=due == "full")
                    continue
                asked, _ = await first_of(self._now.get(), stop.wait(), within=tick)
                if asked.done() and not asked.cancelled():
                    await self.sync(full=asked.result())
        finally:
            stop.set()
            bus_stop.set()
            await bus
