"""The master-data engine on real parts: export files in a folder (the file source), real
SQLite, a real Mosquitto, and a test client that plays a till — it receives the catalog
revisions and asks for what it missed. Sales reach the stock merge as real receipt
messages of a real till, processed by the sync module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.messages.catalog import CatalogRequest, CatalogTopics, CatalogUpdate, decode_update
from gateway.messages.envelope import BusMessage
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, ReceiptType
from gateway.sync.config import SyncConfig
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.masterdata.config import MasterDataConfig
from gateway.sync.masterdata.customers import CustomerAdapter
from gateway.sync.masterdata.engine import MasterDataEngine
from gateway.sync.masterdata.file_source import FileSource
from gateway.sync.masterdata.pricing import price_incl_vat
from gateway.sync.masterdata.publisher import CatalogBus, catalog_client, publish_updates
from gateway.sync.masterdata.schedule import Schedule, interval_warning
from gateway.sync.masterdata.stock import StockRecorder, prepare_merge
from gateway.sync.service import SyncService
from tests.sync.conftest import ORGNR, POS_ID, STORE, Broker, TillBus, TillFactory, run_tillgw
from tests.sync.payloads import sale_payload

TOPICS = CatalogTopics(ORGNR, STORE)
HEADER = "number;name;price;vat;barcodes;unit;group;stock_goods;active;modified"


def write_articles(folder: Path, *rows: str, header: str = HEADER) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "articles.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def md_config(folder: Path, **changes: object) -> MasterDataConfig:
    base = MasterDataConfig(source="file", orgnr=ORGNR, store=STORE, folder=folder, prices_include_vat=False)
    return replace(base, **changes)  # type: ignore[arg-type]


class TillSide:
    """A till's end of the catalog: every update it receives, and requests it makes."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.updates: asyncio.Queue[CatalogUpdate] = asyncio.Queue()

    async def next(self) -> CatalogUpdate:
        return await asyncio.wait_for(self.updates.get(), 30)  # a hang guard only

    async def revision(self) -> list[CatalogUpdate]:
        """Every part of the next revision."""
        first = await self.next()
        parts = [first]
        while len(parts) < first.parts:
            parts.append(await self.next())
        assert {p.revision for p in parts} == {first.revision}
        return parts

    async def request(self, holds: int, reason: str = "gap") -> None:
        await self.client.publish(
            TOPICS.request(POS_ID), CatalogRequest(POS_ID, holds, reason).to_bytes(), qos=1
        )


@pytest.fixture
async def till(broker: Broker) -> AsyncIterator[TillSide]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-till-catalog") as client:
        await client.subscribe(TOPICS.updates, qos=1)
        side = TillSide(client)

        async def read() -> None:
            async for m in client.messages:
                await side.updates.put(decode_update(bytes(m.payload)))

        task = asyncio.create_task(read())
        yield side
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def engine_of(
    config: MasterDataConfig, db_path: Path, broker: Broker, inbox: Path | None = None
) -> AsyncIterator[MasterDataEngine]:
    catalog = await CatalogDb.open(db_path)
    assert config.folder is not None
    source = FileSource(
        config.folder, prices_include_vat=config.prices_include_vat, price_list=config.price_list
    )
    try:
        async with catalog_client(broker.mqtt, "test-engine") as client:

            async def publish(updates: list[CatalogUpdate]) -> None:
                await publish_updates(client, TOPICS, updates)

            yield MasterDataEngine(config, catalog, source, inbox or db_path.with_name("inbox.db"), publish)
    finally:
        await catalog.close()


def items(parts: list[CatalogUpdate], section: str) -> dict[str, Any]:
    return {i.number: i for p in parts if p.section == section for i in p.items}


def removed(parts: list[CatalogUpdate], section: str) -> set[str]:
    return {n for p in parts if p.section == section for n in p.removed}


# -- prices -------------------------------------------------------------------------------


def test_prices_excl_vat_become_incl_vat_rounded_half_away_and_optionally_up_to_krona() -> None:
    assert price_incl_vat(12_00, 2500, includes_vat=False, round_up_to_krona=False) == 15_00
    assert price_incl_vat(99, 1200, includes_vat=False, round_up_to_krona=False) == 1_11  # 110.88
    assert price_incl_vat(2, 2500, includes_vat=False, round_up_to_krona=False) == 3  # 2.5 -> 3
    assert price_incl_vat(1_00, 600, includes_vat=False, round_up_to_krona=False) == 1_06
    assert price_incl_vat(12_01, 2500, includes_vat=False, round_up_to_krona=True) == 16_00  # 15.0125
    assert price_incl_vat(15_00, 2500, includes_vat=True, round_up_to_krona=True) == 15_00
    assert price_incl_vat(15_01, 2500, includes_vat=True, round_up_to_krona=True) == 16_00


# -- syncs on the bus ----------------------------------------------------------------------


async def test_full_sync_hides_e_articles_and_imports_a_shared_barcode_for_neither(
    tmp_path: Path, broker: Broker, till: TillSide, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "export"
    write_articles(
        folder,
        "1001;Kaffe;20,00;12;7310000000011;st;Dryck;0;1;",
        "1002;Te;16,00;12;7310000000028,7310000000011;st;Dryck;0;1;",
        "1003;Personalrabatt #E#;10,00;25;;st;;0;1;",
        "1004;Gammal mugg;50,00;25;;st;;0;0;",
        "1005;Mugg;47,99;25;7310000000035;st;;1;1;",
    )
    config = md_config(folder, round_up_to_krona=True)
    caplog.set_level(logging.WARNING, "tillgw.sync")
    async with engine_of(config, tmp_path / "catalog.db", broker) as engine:
        result = await engine.sync(full=True)
    parts = await till.revision()
    assert result.published and parts[0].revision == 1 and parts[0].full
    arts = items(parts, "articles")
    assert sorted(arts) == ["1001", "1002", "1005"]  # #E# hidden, inactive not there
    kaffe, te, mugg = arts["1001"], arts["1002"], arts["1005"]
    assert kaffe.price == 23_00 and kaffe.barcodes == ()  # 22,40 rounded up; the shared code dropped
    assert te.barcodes == ("7310000000028",)
    assert mugg.price == 60_00  # 47,99 × 1,25 = 59,99 -> 60
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("7310000000011" in w and "1001" in w and "1002" in w and "neither" in w for w in warnings)


async def test_changes_sync_sends_only_what_changed_and_removes_the_inactive(
    tmp_path: Path, broker: Broker, till: TillSide
) -> None:
    folder = tmp_path / "export"
    write_articles(
        folder,
        "1001;Kaffe;20,00;12;;st;;0;1;2026-01-01 08:00",
        "1002;Te;16,00;12;;st;;0;1;2026-01-01 08:00",
    )
    config = md_config(folder)
    async with engine_of(config, tmp_path / "catalog.db", broker) as engine:
        await engine.sync(full=True)
        assert {p.revision for p in await till.revision()} == {1}
        later = (datetime.now().astimezone() + timedelta(minutes=1)).replace(microsecond=0).isoformat(sep=" ")
        write_articles(
            folder,
            f"1001;Kaffe;21,00;12;;st;;0;1;{later}",
            f"1002;Te;16,00;12;;st;;0;0;{later}",
            "1003;Bulle;10,00;12;;st;;0;1;2026-01-01 08:00",  # old: a changes sync does not see it
        )
        result = await engine.sync(full=False)
        parts = await till.revision()
        assert (parts[0].revision, parts[0].base, parts[0].full) == (2, 1, False)
        assert sorted(items(parts, "articles")) == ["1001"] and removed(parts, "articles") == {"1002"}
        assert items(parts, "articles")["1001"].price == 23_52  # 21 × 1,12
        assert result.articles == ["1001"] and result.articles_removed == ["1002"]
        await engine.sync(full=True)  # a full sync sees the old row too
        assert sorted(items(await till.revision(), "articles")) == ["1001", "1003"]


async def test_a_gap_is_answered_with_the_revisions_after_it_and_a_pruned_one_with_a_full(
    tmp_path: Path, broker: Broker, till: TillSide
) -> None:
    folder = tmp_path / "export"
    config = md_config(folder, keep_revisions=3)
    async with engine_of(config, tmp_path / "catalog.db", broker) as engine:
        for n in range(1, 6):
            write_articles(folder, f"1001;Kaffe;{20 + n},00;12;;st;;0;1;")
            await engine.sync(full=n == 1)
            assert (await till.revision())[0].revision == n
        from gateway.sync.masterdata.publisher import CatalogBus

        bus = CatalogBus(broker.mqtt, "test-catalog-bus", engine)
        stop = asyncio.Event()
        running = asyncio.create_task(bus.run(stop))
        await asyncio.wait_for(bus.connected.wait(), 30)
        await till.request(3)
        got = [await till.revision(), await till.revision()]
        assert [(p[0].revision, p[0].base, p[0].full) for p in got] == [(4, 3, False), (5, 4, False)]
        await till.request(1)  # revision 2 is no longer kept
        full = await till.revision()
        assert (full[0].revision, full[0].full) == (5, True)
        assert items(full, "articles")["1001"].price == 28_00  # 25 × 1,12
        stop.set()
        await running


async def test_customers_from_the_erp_and_delete_missing_on_a_full_sync(
    tmp_path: Path, broker: Broker, till: TillSide
) -> None:
    folder = tmp_path / "export"
    write_articles(folder)
    (folder / "customers.csv").write_text(
        "number;name;orgnr;email\n10;Kalles Bygg AB;5566778899;kalle@example.se\n11;Lisa;;\n",
        encoding="utf-8",
    )
    config = md_config(folder, delete_missing_customers=True)
    async with engine_of(config, tmp_path / "catalog.db", broker) as engine:
        await engine.sync(full=True)
        assert sorted(items(await till.revision(), "customers")) == ["10", "11"]
        (folder / "customers.csv").write_text("number;name\n10;Kalles Bygg AB\n", encoding="utf-8")
        await engine.sync(full=True)
        assert sorted(items(await till.revision(), "customers")) == ["10"]


@pytest.mark.parametrize("master", ["erp", "till"])
async def test_a_customer_created_at_a_till_goes_to_the_erp_and_comes_back_with_its_number(
    tmp_path: Path, broker: Broker, till: TillSide, sync_config: SyncConfig, master: str
) -> None:
    folder = tmp_path / "export"
    write_articles(folder)
    (folder / "customers.csv").write_text("number;name\n10;Kalles Bygg AB\n", encoding="utf-8")
    config = md_config(folder, customer_master=master)
    async with engine_of(config, tmp_path / "catalog.db", broker) as engine:
        await engine.sync(full=True)
        await till.revision()
        adapter = CustomerAdapter(engine.catalog, engine.source, master)
        payload = {
            "number": "T-KASSA1-3",
            "name": "Nya Caféet",
            "email": "hej@cafe.se",
            "address": ["Gatan 1"],
        }
        message = BusMessage(
            f"{ORGNR}/{STORE}/{POS_ID}/7", "customer.change", ORGNR, STORE, POS_ID, 7, 70, "h", "", payload
        )
        from gateway.sync.inbox import Inbox

        inbox = await Inbox.open(sync_config.inbox)
        try:
            for _ in range(2):  # processed again (a crash before the inbox commit): saved once
                async with inbox.transaction() as db:
                    assert await adapter.process(db, message) == "customer T-KASSA1-3 saved in file as 11"
        finally:
            await inbox.close()
        assert (folder / "customers.csv").read_text(encoding="utf-8").count("Nya Caféet") == 1
        await engine.sync(full=False)
        parts = await till.revision()
        assert sorted(items(parts, "customers")) == ["11"] and removed(parts, "customers") == {"T-KASSA1-3"}
        # The ERP changes the customer: with the ERP as master the tills get it, else not.
        text = (folder / "customers.csv").read_text(encoding="utf-8").replace("Nya Caféet", "Caféet AB")
        lines = text.splitlines()
        lines[-1] = ";".join([*lines[-1].split(";")[:-1], "2999-01-01 00:00"])
        (folder / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        await engine.sync(full=False)
        sent = items(await till.revision(), "customers")
        if master == "erp":
            assert sent["11"].name == "Caféet AB"
        else:
            assert sent == {}


# -- stock ---------------------------------------------------------------------------------


def sale(article: str, qty: int, price: int = 20_00) -> Receipt:
    return Receipt(
        (Line("Mugg", Decimal(qty), price, 2500, article=article),),
        (Payment(PaymentMethod.CARD, qty * price),),
    )


async def sell_through_sync(
    make_till: TillFactory, till_bus: TillBus, config: SyncConfig, *receipts: Receipt
) -> None:
    """Real receipts from a real till, through the broker, processed by the sync module."""
    till = await make_till()
    for n, receipt in enumerate(receipts):
        await till.pipeline.submit(f"r{n}", receipt)
    for topic, data in await till.messages():
        await till_bus.publish(topic, data)
    assert await SyncService(config, []).run(once=True) == 0


async def ten_mugs(
    tmp_path: Path, sync_config: SyncConfig, broker: Broker, till: TillSide
) -> tuple[Path, MasterDataConfig, SyncConfig, list[CatalogUpdate]]:
    """An export folder (the file source) of one article, mugs (2001), 10 in stock; the sync module
    configured on it, its session at the broker made, a full sync done: (folder, master data,
    sync module, the revision the till received)."""
    folder = tmp_path / "export"
    write_articles(folder, "2001;Mugg;40,00;25;;st;;1;1;")
    (folder / "stock.csv").write_text("number;quantity\n2001;10\n", encoding="utf-8")
    config = md_config(folder)
    sync = replace(sync_config, masterdata=config)
    assert await SyncService(sync, []).run(once=True) == 0  # the module's session at the broker
    async with engine_of(config, sync.catalog_db, broker, sync.inbox) as engine:
        await engine.sync(full=True)
        first = await till.revision()
    return folder, config, sync, first


async def test_stock_merge_adds_the_tills_sales_to_the_erps_value_and_writes_both_ways(
    tmp_path: Path,
    broker: Broker,
    till: TillSide,
    make_till: TillFactory,
    till_bus: TillBus,
    sync_config: SyncConfig,
) -> None:
    folder, config, sync, first = await ten_mugs(tmp_path, sync_config, broker, till)
    assert items(first, "stock")["2001"].quantity == 10
    await sell_through_sync(make_till, till_bus, sync, sale("2001", 3), sale("2001", -1))
    (folder / "stock.csv").write_text("number;quantity\n2001;30\n", encoding="utf-8")  # a delivery of 20
    async with engine_of(config, sync.catalog_db, broker, sync.inbox) as engine:
        result = await engine.sync(full=False)
        assert items(await till.revision(), "stock")["2001"].quantity == 28
        assert result.stock_written == {"2001": Decimal(28)}
        assert (folder / "stock.csv").read_text(encoding="utf-8").splitlines()[1] == "2001;28"
        await engine.sync(full=False)  # nothing new: the sales are not counted again
        assert "stock" not in {p.section for p in await till.revision()}
        assert "2001;28" in (folder / "stock.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("write_landed", [True, False])
async def test_a_crash_between_the_erp_write_and_the_local_record_counts_each_sale_once(
    tmp_path: Path,
    broker: Broker,
    till: TillSide,
    make_till: TillFactory,
    till_bus: TillBus,
    sync_config: SyncConfig,
    write_landed: bool,
) -> None:
    folder, config, sync, _ = await ten_mugs(tmp_path, sync_config, broker, till)
    await sell_through_sync(make_till, till_bus, sync, sale("2001", 2))
    async with engine_of(config, sync.catalog_db, broker, sync.inbox) as engine:
        # The merge's first half: intent recorded, the ERP written — then the process dies.
        merge = await prepare_merge(engine.catalog, engine.source, sync.inbox, ["2001"])
        assert merge.written == {"2001": Decimal(8)}
    if not write_landed:  # the crash came before the write reached the ERP
        (folder / "stock.csv").write_text("number;quantity\n2001;10\n", encoding="utf-8")
    async with engine_of(config, sync.catalog_db, broker, sync.inbox) as engine:
        await engine.sync(full=False)
        assert items(await till.revision(), "stock")["2001"].quantity == 8
        await engine.sync(full=False)
        await till.revision()
    assert "2001;8" in (folder / "stock.csv").read_text(encoding="utf-8")


async def test_the_stock_recorder_counts_normal_receipts_only(sync_config: SyncConfig) -> None:
    from gateway.sync.inbox import Inbox

    inbox = await Inbox.open(sync_config.inbox)
    recorder = StockRecorder()
    await recorder.setup(inbox.conn)
    sale = Receipt(
        (Line("Mugg", Decimal(2), 60_00, 2500, article="2001"), Line("Fri text", Decimal(1), 10_00, 2500)),
        (Payment(PaymentMethod.CARD, 130_00),),
    )

    def receipt(n: int, kind: ReceiptType) -> BusMessage:
        payload = sale_payload(sale, n, type=kind, copy_of=1 if kind == ReceiptType.COPY else None)
        return BusMessage(f"o/s/r/{n}", "receipt", "o", "s", "r", n, n, "h", payload["at"], payload)

    try:
        async with inbox.transaction() as db:
            assert await recorder.process(db, receipt(1, ReceiptType.NORMAL)) == "1 stock line recorded"
            assert await recorder.process(db, receipt(2, ReceiptType.TRAINING)) is None
            assert await recorder.process(db, receipt(3, ReceiptType.COPY)) is None
        rows = await inbox.fetchall("SELECT article, change FROM stock_changes")
        assert [(r[0], r[1]) for r in rows] == [("2001", "-2")]
    finally:
        await inbox.close()


# -- the schedule -------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_schedule_runs_changes_within_days_and_hours_and_a_daily_full_sync() -> None:
    s = Schedule(15, frozenset(range(6)), (7, 20), (3, 0))  # Mon-Sat 07-20, full at 03:00
    full_done = at("2026-11-20 03:00")  # a Friday
    assert s.due(at("2026-11-20 06:59"), None, full_done) is None  # before the hours
    assert s.due(at("2026-11-20 07:00"), None, full_done) == "changes"
    assert s.due(at("2026-11-20 07:10"), at("2026-11-20 07:00"), full_done) is None
    assert s.due(at("2026-11-20 07:15"), at("2026-11-20 07:00"), full_done) == "changes"
    assert s.due(at("2026-11-20 20:00"), at("2026-11-20 19:30"), full_done) is None  # after the hours
    assert s.due(at("2026-11-22 12:00"), at("2026-11-21 19:45"), at("2026-11-22 03:00")) is None  # Sunday
    assert s.due(at("2026-11-21 03:00"), at("2026-11-20 19:45"), full_done) == "full"
    assert s.due(at("2026-11-21 02:59"), at("2026-11-20 19:45"), full_done) is None
    assert s.due(at("2026-11-21 14:00"), None, None) == "full"  # not run yet: made up at start
    assert Schedule(0, frozenset(range(7)), (0, 24), None).due(at("2026-11-21 14:00"), None, None) is None


def test_an_interval_shorter_than_a_full_sync_is_warned_about() -> None:
    warning = interval_warning(5, 400.0)
    assert warning is not None and "should exceed how long a full sync takes" in warning
    assert interval_warning(10, 400.0) is None and interval_warning(5, None) is None


# -- the command line ---------------------------------------------------------------------


async def test_tillgw_sync_all_and_changes_run_once_and_print_what_changed(
    tmp_path: Path, broker: Broker, till: TillSide
) -> None:
    folder = tmp_path / "export"
    write_articles(folder, "1001;Kaffe;20,00;12;;st;;0;1;2026-01-01 08:00")
    config = tmp_path / "sync.toml"
    config.write_text(
        f"""
[mqtt]
url = "mqtt://127.0.0.1:{broker.port}"

[sync]
data_dir = "{tmp_path / "data"}"
client_id = "sync-md-cli"

[sync.masterdata]
source = "file"
folder = "{folder}"
prices_include_vat = false
orgnr = "{ORGNR}"
store = "{STORE}"
""",
        encoding="utf-8",
    )

    # The summary in the default language, Swedish (the log's lines stay English).
    code, out = await run_tillgw("sync", "--all", "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert (
        "revision 1 (komplett synk): 1 artiklar, 0 borttagna; 0 kunder" in out and "articles: 1001" not in out
    )
    assert f"publicerad på tillgw/{ORGNR}/{STORE}/catalog/updates i " in out
    assert (await till.revision())[0].full
    code, out = await run_tillgw("sync", "--changes", "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    assert "revision 2 (ändringar): 0 artiklar" in out
    assert (await till.revision())[0].revision == 2


async def test_a_full_sync_of_thousands_of_articles_prints_a_summary_not_the_articles(
    tmp_path: Path, broker: Broker, till: TillSide
) -> None:
    count = 5000
    folder = tmp_path / "export"
    write_articles(folder, *(f"{10000 + n};Artikel {n};20,00;25;;st;;0;1;" for n in range(count)))
    config = tmp_path / "sync.toml"
    config.write_text(
        f"""
[mqtt]
url = "mqtt://127.0.0.1:{broker.port}"

[sync]
data_dir = "{tmp_path / "data"}"
client_id = "sync-md-summary"

[sync.masterdata]
source = "file"
folder = "{folder}"
prices_include_vat = false
orgnr = "{ORGNR}"
store = "{STORE}"
""",
        encoding="utf-8",
    )
    code, out = await run_tillgw("--language", "en", "sync", "--all", "--config", str(config), cwd=tmp_path)
    assert code == 0, out
    printed = [line for line in out.splitlines() if not line.startswith("tillgw sync: ")]  # the log's lines
    assert len(printed) == 3, out
    summary, sent, where = printed
    assert summary.startswith(f"revision 1 (full sync): {count} article(s), 0 removed; 0 customer(s)")
    parts = (await till.revision())[0].parts
    assert re.fullmatch(
        rf"published on tillgw/{ORGNR}/{STORE}/catalog/updates in {parts} message\(s\); \d+\.\d s", sent
    )
    assert where.startswith(f"catalog {tmp_path / 'data' / 'sync' / 'catalog.db'}, log {tmp_path / 'data'}")
    assert "10001" not in out and "\x1b" not in out  # no article, and no bar in a pipe


async def test_the_service_syncs_when_due_and_the_tills_get_the_revision(
    tmp_path: Path, broker: Broker, till: TillSide, sync_config: SyncConfig
) -> None:
    folder = tmp_path / "export"
    write_articles(folder, "1001;Kaffe;20,00;12;;st;;0;1;")
    config = replace(sync_config, masterdata=md_config(folder))
    service = SyncService(config, [])
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(once=False, stop=stop))
    parts = await till.revision()  # never synced: a sync is due at once
    assert parts[0].revision == 1 and items(parts, "articles")["1001"].price == 22_40
    stop.set()
    assert await running == 0


async def test_a_stop_while_a_revision_goes_out_waits_for_the_broker_to_have_it(
    tmp_path: Path,
    broker: Broker,
    till: TillSide,
    sync_config: SyncConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service told to stop as the revision's parts are being published: the catalog's
    connection stays until the broker has them all, so the revision is published (not left
    for the next start after waiting out the publish timeout) and the run ends with 0."""
    folder = tmp_path / "export"
    write_articles(folder, "1001;Kaffe;20,00;12;;st;;0;1;")
    config = replace(sync_config, masterdata=md_config(folder))
    service = SyncService(config, [])
    stop = asyncio.Event()
    publish = CatalogBus.publish

    async def stopped_while_publishing(bus: CatalogBus, updates: list[CatalogUpdate]) -> None:
        stop.set()
        # A connection told to stop lets go of its client within a few turns of the loop.
        for _ in range(100):
            if not bus.connected.is_set():
                break
            await asyncio.sleep(0)
        await publish(bus, updates)

    monkeypatch.setattr(CatalogBus, "publish", stopped_while_publishing)
    assert await service.run(once=False, stop=stop) == 0
    assert (await till.revision())[0].revision == 1
    catalog = await CatalogDb.open(config.catalog_db)
    try:
        rows = await catalog.fetchall("SELECT revision, published_at FROM revisions")
    finally:
        await catalog.close()
    assert [(r[0], r[1] is not None) for r in rows] == [(1, True)]
