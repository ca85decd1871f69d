"""Stock: the tills' sales and the ERP's own changes merged, neither lost nor counted twice.

The tills sell from stock while the ERP books deliveries and stocktakes. Per stock
article a merge takes three values:

* ``L`` — the quantity last synced (``stock.quantity`` in ``catalog.db``),
* the tills' change since then — the sum over the receipts processed since, of minus
  each line's quantity for that ``article`` (a sale of 2 is −2, a return of 1 is +1),
  recorded by :class:`StockRecorder` in the inbox as each receipt is processed,
* ``E`` — what the ERP says now (``E − L`` is the ERP's own change since),

and the result is ``L + (E − L) + change = E + change``, written to the ERP
(``set_stock``) and sent to the tills in the next revision; then ``L`` becomes it.

Why nothing is lost or doubled, whatever moment a crash comes:

* A sale is recorded in ``stock_changes`` (inbox) in the very transaction that marks
  its receipt processed, so each receipt is counted once (the processor hands a message
  to the adapters until that transaction commits, and never after).
* ``stock_changes`` only grows; ``marks.stock_through`` (catalog) names the last row
  counted. A merge reads the rows after it up to a snapshot ``M``; sales processed
  meanwhile get higher ids and wait for the next merge.
* Before the ERP is written, the merge records its intent (``stock_merge``: per article
  ``E``, the result, and ``M``) and commits. Then ``set_stock``. Then one transaction sets
  ``L``, ``stock_through = M`` and deletes the intent — together, so they cannot part.
* A crash before the intent commits: nothing happened; the next merge starts again.
* A crash after it (before, during or after ``set_stock``): the next sync finds the
  intent and finishes it — writes the recorded result again (the same absolute value:
  written twice is written once) and then records it. The sales up to ``M`` are in that
  value exactly once, and ``stock_through`` moves past them in the same commit that
  clears the intent. Had the merge started afresh instead, a write that had landed
  would count those sales a second time (``E`` would already hold them).
* If the ERP's value at that point is neither ``E`` nor the result, someone changed
  the stock in the ERP while the merge was interrupted; whether it happened before or
  after our write cannot be known, so the result is written (the sales stay counted
  once) and a WARNING names the article, for a person to check the ERP's value.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiosqlite

from gateway.messages.envelope import BusMessage
from gateway.receipts.model import ReceiptType
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.masterdata.source import MasterDataSource
from gateway.sync.payloads import receipt_payload, sale_of
from gateway.sync.runlog import LOGGER
from gateway.sync.sql import SqlConnection

__all__ = [
    "STOCK_SCHEMA",
    "StockMerge",
    "StockRecorder",
    "prepare_merge",
    "record_merge",
    "recover_merge",
    "tills_change",
]

log = logging.getLogger(LOGGER)

STOCK_SCHEMA = """
CREATE TABLE IF NOT EXISTS stock_changes (
    id INTEGER PRIMARY KEY,           -- only grows: catalog.db's stock_through names the last counted
    msg_id TEXT NOT NULL,             -- the receipt message
    line INTEGER NOT NULL,
    article TEXT NOT NULL,
    change TEXT NOT NULL,             -- minus the line's quantity (a sale is negative)
    UNIQUE (msg_id, line)
);
"""

_COUNTED_TYPES = (ReceiptType.NORMAL,)  # not training (ovning), pro forma (profo) or copies (kopia)


class StockRecorder:
    """An adapter: each processed receipt's article lines as stock changes, in the inbox."""

    name = "stock"

    def handles(self, kind: str) -> bool:
        return kind == "receipt"

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(STOCK_SCHEMA)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        payload = receipt_payload(message)
        if payload.type not in _COUNTED_TYPES:
            return None
        rows = [
            (message.msg_id, n, line.article, str(-line.quantity))
            for n, line in enumerate(sale_of(message, payload).lines)
            if line.article
        ]
        if not rows:
            return None
        await db.executemany(
            "INSERT INTO stock_changes (msg_id, line, article, change) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
        return f"{len(rows)} stock line{'' if len(rows) == 1 else 's'} recorded"


def _read_changes(inbox: Path, after: int) -> tuple[dict[str, Decimal], int]:
    if not inbox.exists():
        return {}, after
    conn = sqlite3.connect(f"file:{inbox}?mode=ro", uri=True, timeout=30)
    try:
        try:
            rows = conn.execute(
                "SELECT id, article, change FROM stock_changes WHERE id > ? ORDER BY id", (after,)
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}, after
            raise
    finally:
        conn.close()
    total: dict[str, Decimal] = {}
    through = after
    for row_id, article, change in rows:
        total[article] = total.get(article, Decimal(0)) + Decimal(change)
        through = max(through, int(row_id))
    return total, through


async def tills_change(inbox: Path, after: int) -> tuple[dict[str, Decimal], int]:
    """Per article the tills' change recorded after row ``after``, and the last row read."""
    return await asyncio.to_thread(_read_changes, inbox, after)


@dataclass(frozen=True, slots=True)
class StockMerge:
    """A merge's result, to be recorded with the revision that sends it to the tills."""

    levels: dict[str, Decimal]  # the new quantity of every stock article merged
    through: int  # the last stock_changes row counted in it
    written: dict[str, Decimal]  # what was written to the ERP


async def recover_merge(catalog: CatalogDb, source: MasterDataSource) -> StockMerge | None:
    """Finish a merge a crash interrupted (see the module's docstring), or None."""
    rows = await catalog.fetchall("SELECT number, erp, merged, through FROM stock_merge")
    if not rows:
        return None
    intent = {str(r[0]): (Decimal(r[1]), Decimal(r[2])) for r in rows}
    through = max(int(r[3]) for r in rows)
    now = await source.stock(sorted(intent))
    for number, (erp, merged) in sorted(intent.items()):
        current = now.get(number)
        if current is not None and current not in (erp, merged):
            log.warning(
                "stock of article %s: an interrupted merge is finished with %s, but %s says %s (it said %s "
                "before); the stock was changed in %s meanwhile: check the quantity there",
                number,
                merged,
                source.name,
                current,
                erp,
                source.name,
            )
    written = {number: merged for number, (_, merged) in intent.items()}
    await source.set_stock(written)
    log.info("stock: finished an interrupted merge of %d article(s)", len(written))
    return StockMerge(dict(written), through, written)


async def prepare_merge(
    catalog: CatalogDb, source: MasterDataSource, inbox: Path, numbers: list[str]
) -> StockMerge:
    """Read the three values, record the intent, write the ERP; the caller records the result."""
    through_text = await catalog.mark("stock_through")
    after = 0 if through_text is None else int(through_text)
    change, through = await tills_change(inbox, after)
    wanted = sorted(set(numbers) | {n for n in change if n in set(numbers)})
    erp = await source.stock(wanted) if wanted else {}
    levels: dict[str, Decimal] = {}
    written: dict[str, Decimal] = {}
    for number in wanted:
        e = erp.get(number, Decimal(0))
        d = change.get(number, Decimal(0))
        levels[number] = e + d
        if d != 0:
            written[number] = e + d
    if written:
        async with catalog.transaction() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO stock_merge (number, erp, merged, through) VALUES (?, ?, ?, ?)",
                [(n, str(erp.get(n, Decimal(0))), str(v), through) for n, v in written.items()],
            )
        await source.set_stock(written)
    return StockMerge(levels, through, written)


async def record_merge(db: aiosqlite.Connection, merge: StockMerge) -> None:
    """Inside the revision's transaction: ``L`` = the result, the sales counted, the intent gone."""
    await db.executemany(
        "INSERT INTO stock (number, quantity) VALUES (?, ?) "
        "ON CONFLICT (number) DO UPDATE SET quantity = excluded.quantity",
        [(n, str(q)) for n, q in merge.levels.items()],
    )
    current = await CatalogDb.get_mark(db, "stock_through")
    if current is None or int(current) < merge.through:
        await CatalogDb.set_mark(db, "stock_through", str(merge.through))
    await db.execute("DELETE FROM stock_merge")
