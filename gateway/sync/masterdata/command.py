"""``tillgw sync --all`` / ``--changes``: one master-data sync now, its revision published, then exit.

What it prints is a summary — the revision, how many articles, customers and stock levels
it holds, how many messages it went out in, how long it took and where the catalog and the
log are — never the records themselves: a full sync of 30,000 articles is as short to read
as one of three. While it works, ``progress`` is told of each article and customer read
and each part published (a bar at a terminal: :mod:`gateway.cli.progress`).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import aiomqtt

from gateway.common.i18n import tr
from gateway.common.progress import NO_PROGRESS, Progress
from gateway.config import ConfigError
from gateway.messages.catalog import CatalogTopics, CatalogUpdate
from gateway.sync.config import SyncConfig
from gateway.sync.erp import connect
from gateway.sync.masterdata.engine import SyncResult
from gateway.sync.masterdata.publisher import catalog_client, publish_updates
from gateway.sync.masterdata.runner import MasterData
from gateway.sync.runlog import LOGGER, RunLog

__all__ = ["sync_once"]

log = logging.getLogger(LOGGER)


async def sync_once(config: SyncConfig, *, full: bool, progress: Progress = NO_PROGRESS) -> int:
    """0 when the revision was made and published, 1 when not, 2 without a source configured."""
    md = config.masterdata
    if not md.enabled:
        print(tr('error: [sync.masterdata].source is "none": there is no ERP to sync master data from'))
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
    started = time.monotonic()
    try:
        runlog.begin(f"pid {os.getpid()}, catalog {config.catalog_db}, source {masterdata.source.name}")
        async with catalog_client(config.mqtt, f"{config.client_id}-catalog-{os.getpid()}") as client:

            async def publish(updates: list[CatalogUpdate]) -> None:
                for update in updates:  # one at a time, so that the display counts the parts
                    await publish_updates(client, topics, [update])
                    progress.advance()

            masterdata.use_publisher(publish)
            result = await masterdata.sync(full=full, progress=progress)
        if result is None:
            runlog.end("the sync failed")
            return 1
        print(
            outcome_words(result, topics.updates, time.monotonic() - started, config, runlog.path),
            flush=True,
        )
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


def outcome_words(result: SyncResult, topic: str, seconds: float, config: SyncConfig, log_file: Path) -> str:
    """What ``--all`` / ``--changes`` prints at the end: counts, time and where, in three lines,
    in the till's language (the log keeps :meth:`SyncResult.summary`, in English)."""
    counts = tr(
        "revision {revision} ({kind}): {articles} article(s), {articles_removed} removed; "
        "{customers} customer(s), {customers_removed} removed; stock of {stock} article(s), "
        "{stock_written} written to the ERP"
    ).format(
        revision=result.revision,
        # Not the log's "full": that word is in the catalog already, as a memory that is full.
        kind=tr("full sync") if result.full else tr("changes"),
        articles=len(result.articles),
        articles_removed=len(result.articles_removed),
        customers=len(result.customers),
        customers_removed=len(result.customers_removed),
        stock=len(result.stock),
        stock_written=len(result.stock_written),
    )
    if result.published:
        sent = tr("published on {topic} in {parts} message(s)").format(topic=topic, parts=result.parts)
    else:
        sent = tr(
            "not published yet: it goes out at the next sync, or when tillgw sync runs and the broker answers"
        )
    where = tr("catalog {catalog}, log {log_file}").format(catalog=config.catalog_db, log_file=log_file)
    return f"{counts}\n{sent}; {seconds:.1f} s\n{where}"
