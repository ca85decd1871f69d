"""``tillgw sync --all`` / ``--changes``: one master-data sync now, its revision published, then exit."""

from __future__ import annotations

import logging
import os

import aiomqtt

from gateway.config import ConfigError
from gateway.messages.catalog import CatalogTopics, CatalogUpdate
from gateway.sync.config import SyncConfig
from gateway.sync.erp import connect
from gateway.sync.masterdata.publisher import catalog_client, publish_updates
from gateway.sync.masterdata.runner import MasterData
from gateway.sync.runlog import LOGGER, RunLog

__all__ = ["sync_once"]

log = logging.getLogger(LOGGER)


async def sync_once(config: SyncConfig, *, full: bool) -> int:
    """0 when the revision was made and published, 1 when not, 2 without a source configured."""
    md = config.masterdata
    if not md.enabled:
        print('error: [sync.masterdata].source is "none": there is no ERP to sync master data from')
        return 2
    erp = connect(config)
    try:
        masterdata = await MasterData.open(config, erp)
    except ConfigError as exc:
        await erp.close()
        print(f"error: {exc}")
        return 2
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    runlog = RunLog(config.log_dir, f"tillgw sync --{'all' if full else 'changes'}")
    logger.addHandler(runlog)
    topics = CatalogTopics(md.orgnr, md.store)
    try:
        runlog.begin(f"pid {os.getpid()}, catalog {config.catalog_db}, source {masterdata.source.name}")
        async with catalog_client(config.mqtt, f"{config.client_id}-catalog-{os.getpid()}") as client:

            async def publish(updates: list[CatalogUpdate]) -> None:
                await publish_updates(client, topics, updates)

            masterdata.use_publisher(publish)
            result = await masterdata.sync(full=full)
        if result is None:
            runlog.end("the sync failed")
            return 1
        print(result.summary())
        for title, numbers in (
            ("articles", result.articles),
            ("articles removed", result.articles_removed),
            ("customers", result.customers),
            ("customers removed", result.customers_removed),
        ):
            if numbers:
                print(f"  {title}: {', '.join(numbers)}")
        if result.stock:
            print("  stock: " + ", ".join(f"{n} {q}" for n, q in sorted(result.stock.items())))
        runlog.end(result.summary())
        return 0 if result.published and not runlog.errors else 1
    except aiomqtt.MqttError as exc:
        log.error("MQTT: no connection to %s: %s", config.mqtt.url, exc)
        runlog.end("not synced: no broker")
        return 1
    finally:
        logger.removeHandler(runlog)
        runlog.close()
        await masterdata.close()
        await erp.close()
