"""The Fortnox adapter against the fake Fortnox over real sockets: a real till's day through a
real Mosquitto into the inbox and on to Fortnox, exactly once whatever crashes; errors in
the log and the mail; invoices of account customers; master data; the configuration.

The fake keeps Fortnox's 25 requests per window but with a 0.5 s window (the client's
limiter scaled alike), so these tests take seconds; test_fortnox_http.py checks the real
5 s window.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.config import ConfigError
from gateway.messages.envelope import BusMessage, decode_message
from gateway.sync.adapters import Adapter, AdapterError
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter
from gateway.sync.adapters.fortnox.api import fortnox_client
from gateway.sync.adapters.fortnox.config import FortnoxConfig, parse_fortnox
from gateway.sync.adapters.fortnox.source import FortnoxSource
from gateway.sync.booking import book_z, z_figures
from gateway.sync.config import SyncConfig
from gateway.sync.http import ApiClient, SlidingWindowLimiter
from gateway.sync.inbox import Inbox
from gateway.sync.masterdata.source import SourceCustomer
from gateway.sync.references import FORTNOX_EXTERNAL_INVOICE_REFERENCE, voucher_tag
from gateway.sync.service import SyncService
from gateway.sync.settings import AccountsConfig
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import (
    ORGNR,
    POS_ID,
    STORE,
    TOPICS,
    Collect,
    Till,
    TillBus,
    TillFactory,
    a_day,
    inbox_rows,
    mail_config,
    our_reference,
    text_of,
    with_,
)
from tests.sync.fakes.fortnox import FakeFortnox, config_for, running
from tests.sync.payloads import as_bus_v1, z_of

WINDOW = 0.5


def client_for(fake: FakeFortnox, config: FortnoxConfig, tmp_path: Path, window: float = WINDOW) -> ApiClient:
    return fortnox_client(config, tmp_path / "tokens.db", limiter=SlidingWindowLimiter(25, window * 1.1))


@contextlib.asynccontextmanager
async def fortnox(tmp_path: Path, **over: Any) -> AsyncIterator[tuple[FakeFortnox, FortnoxConfig, ApiClient]]:
    fake_settings = {"window": WINDOW, **over.pop("fake", {})}
    async with running(**fake_settings) as fake:
        config = config_for(fake, **over)
        async with client_for(fake, config, tmp_path, fake_settings["window"]) as client:
            yield fake, config, client


async def run_once(config: SyncConfig, adapters: list[Adapter]) -> int:
    return await SyncService(config, adapters).run(once=True)


def log_text(config: SyncConfig) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(config.log_dir.glob("sync-*.log")))


async def a_day_with_z(till: Till) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    await a_day(till.pipeline)
    report = await till.pipeline.report("z")
    return await till.messages(), report.body()


async def publish_all(bus: TillBus, messages: list[tuple[str, bytes]]) -> None:
    for topic, data in messages:
        await bus.publish(topic, data)


def rows_by_account(voucher: dict[str, Any]) -> dict[str, Decimal]:
    """Debit positive, credit negative, per account, as the fake holds the voucher."""
    out: dict[str, Decimal] = {}
    for row in voucher["VoucherRows"]:
        amount = Decimal(str(row["Debit"])) - Decimal(str(row["Credit"]))
        out[str(row["Account"])] = out.get(str(row["Account"]), Decimal(0)) + amount
    return out


class CrashAfterFortnox:
    """Delegates, then dies once before the inbox commits: as if the process crashed there."""

    def __init__(self, inner: FortnoxAdapter) -> None:
        self.inner = inner
        self.name = inner.name
        self.crashed = False

    def handles(self, kind: str) -> bool:
        return self.inner.handles(kind)

    async def setup(self, db: SqlConnection) -> None:
        await self.inner.setup(db)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        done = await self.inner.process(db, message)
        if not self.crashed and message.kind == "report.z":
            self.crashed = True
            raise RuntimeError("the process died here")
        return done


# -- Z reports as vouchers, end to end ---------------------------------------------------------


async def test_a_day_of_receipts_and_its_z_report_become_one_voucher_once(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path
) -> None:
    async with fortnox(tmp_path, voucher_series="K") as (fake, config, client):
        adapter = FortnoxAdapter(config, sync_config.accounts, client)
        till = await make_till()
        await run_once(sync_config, [adapter])
        sent, z = await a_day_with_z(till)
        await publish_all(till_bus, sent)
        assert await run_once(sync_config, [adapter]) == 0

        [voucher] = fake.vouchers
        assert voucher["VoucherSeries"] == "K"
        assert voucher["TransactionDate"] == z["at"][:10]
        tag = f"tillgw {ORGNR}/{STORE}/{POS_ID} Z{z['z_no']}"
        assert voucher["Description"].endswith(f"({tag})")
        expected = {t.account: Decimal(t.amount) / 100 for t in book_z(z_figures(z_of(z)), AccountsConfig())}
        assert rows_by_account(voucher) == expected
        assert expected["1910"] == Decimal("105.00") and expected["3740"] == Decimal("0.40")

        # The same Z again under another msg_id, and a second run: nothing more in Fortnox.
        again = decode_message(sent[-1][1])
        again = msgspec.structs.replace(
            again, msg_id=f"{ORGNR}/{STORE}/{POS_ID}/{len(sent) + 1}", sequence=len(sent) + 1
        )
        await till_bus.publish(TOPICS.for_kind("report.z"), again.to_bytes())
        assert await run_once(sync_config, [adapter]) == 0
        assert len(fake.vouchers) == 1
        assert fake.calls("POST", "/3/vouchers") == 1
        assert "already is voucher K 1" in log_text(sync_config)
        assert fake.max_in_window() <= 25


async def test_a_crash_between_fortnox_and_the_commit_books_nothing_twice(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path
) -> None:
    async with fortnox(tmp_path) as (fake, config, client):
        crashing = CrashAfterFortnox(FortnoxAdapter(config, sync_config.accounts, client))
        till = await make_till()
        await run_once(sync_config, [crashing])
        sent, _ = await a_day_with_z(till)
        await publish_all(till_bus, sent)
        assert await run_once(sync_config, [crashing]) == 1  # the run with the crash: one error
        assert len(fake.vouchers) == 1  # Fortnox has it ...
        assert inbox_rows(sync_config, "SELECT kind FROM inbox WHERE processed_at IS NULL") == [("report.z",)]

        # ... the restarted module finds it by its reference instead of booking it again.
        assert await run_once(sync_config, [crashing]) == 0
        assert len(fake.vouchers) == 1
        assert fake.calls("POST", "/3/vouchers") == 1
        rows = inbox_rows(sync_config, "SELECT kind, number, found FROM fortnox_documents")
        assert rows == [("voucher", "A 1", 1)]
        assert "found already made as voucher A 1" in log_text(sync_config)


async def test_a_connection_lost_after_fortnox_made_the_voucher_is_searched_not_resent(
    make_till: TillFactory, tmp_path: Path
) -> None:
    async with fortnox(tmp_path) as (fake, config, client):
        till = await make_till()
        sent, _ = await a_day_with_z(till)
        z_message = decode_message(sent[-1][1])
        inbox = await Inbox.open(tmp_path / "inbox.db")
        adapter = FortnoxAdapter(config, AccountsConfig(), client)
        await adapter.setup(inbox.conn)
        fake.drop_after_commit("POST", "/3/vouchers")
        async with inbox.transaction() as db:
            done = await adapter.process(db, z_message)
        assert done is not None and "found already made as voucher A 1" in done
        assert len(fake.vouchers) == 1

        # A 503 before Fortnox did anything: the search finds nothing and it is sent again.
        fake.fail("POST", "/3/vouchers", times=1)
        other = msgspec.structs.replace(z_message, register="KASSA2", msg_id=f"{ORGNR}/{STORE}/KASSA2/1")
        async with inbox.transaction() as db:
            done = await adapter.process(db, other)
        assert done is not None and "booked as voucher A 2" in done
        assert len(fake.vouchers) == 2
        await inbox.close()


async def test_a_wrong_account_is_an_error_quoting_fortnox_in_the_log_and_the_mail(
    make_till: TillFactory,
    till_bus: TillBus,
    sync_config: SyncConfig,
    smtp: tuple[Any, Collect],
    tmp_path: Path,
) -> None:
    controller, mailbox = smtp
    accounts = AccountsConfig(cash="3999")
    config = with_(sync_config, accounts=accounts, mail=mail_config(int(controller.port)))
    async with fortnox(tmp_path) as (fake, fortnox_config, client):
        adapter = FortnoxAdapter(fortnox_config, accounts, client)
        till = await make_till()
        await run_once(config, [adapter])
        sent, _ = await a_day_with_z(till)
        await publish_all(till_bus, sent)
        await run_once(config, [adapter])
        assert fake.vouchers == []

    errors = [ln for ln in log_text(config).splitlines() if ln.startswith("ERROR")]
    [error] = errors
    assert f"Fortnox: {ORGNR}/{STORE}/{POS_ID}/{len(sent)} (report.z) not processed" in error
    assert "Kontot 3999 finns inte i kontoplanen." in error  # Fortnox's own words
    [envelope] = mailbox.messages
    mail = message_from_bytes(envelope.content)
    attached = [text_of(p) for p in mail.walk() if p.get_filename()]
    assert any("Kontot 3999 finns inte i kontoplanen." in text for text in attached)


async def test_a_missing_financial_year_or_an_old_z_is_said_so(
    make_till: TillFactory, tmp_path: Path
) -> None:
    till = await make_till()
    sent, z = await a_day_with_z(till)
    z_message = decode_message(sent[-1][1])
    inbox = await Inbox.open(tmp_path / "inbox.db")
    try:
        async with fortnox(tmp_path, fake={"years": ()}) as (fake, config, client):
            adapter = FortnoxAdapter(config, AccountsConfig(), client)
            await adapter.setup(inbox.conn)
            with pytest.raises(AdapterError, match=f"Fortnox has no financial year for {z['at'][:10]}"):
                async with inbox.transaction() as db:
                    await adapter.process(db, z_message)
            later = replace(config, from_date=date.fromisoformat(z["at"][:10]).replace(year=2100))
            async with inbox.transaction() as db:
                done = await FortnoxAdapter(later, AccountsConfig(), client).process(db, z_message)
            assert done is not None and "before from_date 2100" in done
            assert fake.vouchers == []
    finally:
        await inbox.close()


async def test_a_z_of_a_day_without_sales_sends_fortnox_nothing(
    make_till: TillFactory, tmp_path: Path
) -> None:
    till = await make_till()
    await till.pipeline.report("z")  # opened and closed, nothing sold
    z_message = decode_message((await till.messages())[-1][1])
    inbox = await Inbox.open(tmp_path / "inbox.db")
    try:
        async with fortnox(tmp_path) as (fake, config, client):
            adapter = FortnoxAdapter(config, AccountsConfig(), client)
            await adapter.setup(inbox.conn)
            async with inbox.transaction() as db:
                done = await adapter.process(db, z_message)
            assert done is not None and "no sales, so no voucher" in done
            assert fake.vouchers == [] and fake.calls("POST", "/3/vouchers") == 0
    finally:
        await inbox.close()


async def test_a_z_of_last_year_is_booked_in_its_own_year_and_found_there(
    make_till: TillFactory, tmp_path: Path
) -> None:
    till = await make_till()
    sent, z = await a_day_with_z(till)
    message = decode_message(sent[-1][1])
    day = date.fromisoformat(z["at"][:10])
    old_day = date(day.year - 1, day.month, min(day.day, 28))
    payload = json.loads(json.dumps(message.payload))
    payload["at"] = old_day.isoformat() + z["at"][10:]
    last_years_z = msgspec.structs.replace(message, payload=payload)
    years = (
        (date(day.year - 1, 1, 1), date(day.year - 1, 12, 31)),
        (date(day.year, 1, 1), date(day.year, 12, 31)),
    )
    inbox = await Inbox.open(tmp_path / "inbox.db")
    try:
        async with fortnox(tmp_path, fake={"years": years}) as (fake, config, client):
            adapter = FortnoxAdapter(config, AccountsConfig(), client)
            await adapter.setup(inbox.conn)
            # Fortnox makes it and the answer is lost: only a search in last year finds it.
            fake.drop_after_commit("POST", "/3/vouchers")
            async with inbox.transaction() as db:
                done = await adapter.process(db, last_years_z)
            assert done is not None and "found already made as voucher A 1" in done
            [voucher] = fake.vouchers
            assert (voucher["Year"], voucher["TransactionDate"]) == (1, old_day.isoformat())
            assert fake.calls("POST", "/3/vouchers") == 1
            assert all(s.status < 400 for s in fake.seen if s.path.startswith("/3/vouchers"))
    finally:
        await inbox.close()


# -- invoices of account customers ----------------------------------------------------------


def with_customer(message: BusMessage, customer: str) -> BusMessage:
    payload = json.loads(json.dumps(message.payload))
    payload["sale" if "sale" in payload else "receipt"]["customer"] = customer
    return msgspec.structs.replace(message, payload=payload)


@pytest.mark.parametrize("schema", ["tillgw.bus/2", "tillgw.bus/1"])
async def test_an_account_customers_receipt_becomes_a_booked_paid_invoice_left_out_of_the_z(
    make_till: TillFactory, tmp_path: Path, schema: str
) -> None:
    """The same whether the receipts come as a till writes them now (``tillgw.bus/2``) or as an
    older till wrote them (``tillgw.bus/1``)."""
    till = await make_till()
    sent, z = await a_day_with_z(till)
    messages = [decode_message(data) for _, data in sent]
    if schema == "tillgw.bus/1":
        messages = [await as_bus_v1(till.store, m) if m.kind == "receipt" else m for m in messages]
    receipts = [m for m in messages if m.kind == "receipt"]
    # The second receipt (card, 374.00: 25 % and 6 %) was an account customer's.
    messages[messages.index(receipts[1])] = with_customer(receipts[1], "1001")
    inbox = await Inbox.open(tmp_path / "inbox.db")
    try:
        async with fortnox(tmp_path, mode="full", invoices="account_customers") as (fake, config, client):
            fake.add_customer("1001", "Bygg AB")
            adapter = FortnoxAdapter(config, AccountsConfig(), client)
            await adapter.setup(inbox.conn)
            crashed = False
            for m in messages:
                if not adapter.handles(m.kind):
                    continue
                if (m.payload.get("sale") or m.payload.get("receipt") or {}).get("customer") and not crashed:
                    crashed = True  # the first time, the process dies before the commit
                    with pytest.raises(RuntimeError):
                        async with inbox.transaction() as db:
                            await adapter.process(db, m)
                            raise RuntimeError("the process died here")
                async with inbox.transaction() as db:
                    await adapter.process(db, m)

        [invoice] = fake.invoices.values()
        assert invoice["ExternalInvoiceReference1"] == our_reference(
            receipts[1].payload["receipt_no"], FORTNOX_EXTERNAL_INVOICE_REFERENCE
        )
        assert invoice["CustomerNumber"] == "1001"
        assert invoice["Total"] == 374.0 and invoice["Booked"] and invoice["Balance"] == 0
        [payment] = fake.payments.values()
        assert (payment["ModeOfPayment"], payment["Amount"], payment["Booked"]) == ("KORT", 374.0, True)

        # The Z's voucher leaves that sale out: the day's only 6 % sale is gone from it.
        [voucher] = fake.vouchers
        booked = rows_by_account(voucher)
        assert "3003" not in booked and "2631" not in booked
        whole = {t.account: Decimal(t.amount) / 100 for t in book_z(z_figures(z_of(z)), AccountsConfig())}
        assert booked["1580"] == whole["1580"] - Decimal("374.00")
        assert sum(booked.values()) == 0
    finally:
        await inbox.close()


# -- master data ------------------------------------------------------------------------------


def answered(fake: FakeFortnox, path_prefix: str) -> int:
    """GETs of ``path_prefix`` Fortnox answered (a 429 of a window's edge is sent again)."""
    return sum(
        1 for s in fake.seen if s.method == "GET" and s.path.startswith(path_prefix) and s.status == 200
    )


async def test_articles_customers_and_stock_full_and_by_changes(tmp_path: Path) -> None:
    # a window of 0.05 s: the full sync reads 2,400 records and prices
    async with fortnox(tmp_path, mode="full", price_list="B", fake={"window": 0.05}) as (
        fake,
        config,
        client,
    ):
        for n in range(1, 1201):  # three pages of 500
            fake.add_article(f"{n:05d}", f"Artikel {n}", "10.00", LastModified="2024-01-01 10:00")
            fake.prices[("B", f"{n:05d}")] = Decimal("8.00")
        fake.add_article(
            "KAFFE",
            "Kaffe 500 g",
            "89.60",
            vat=12,
            EAN="7310000000017",
            StockGoods=True,
            QuantityInStock=12.0,
        )
        fake.prices[("B", "KAFFE")] = Decimal("79.20")
        old: dict[str, Any] = {"LastModified": "2024-01-01 10:00"}
        fake.add_article("MONT", "Montering", "500.00", Type="SERVICE", **old)
        fake.add_article("GAMMAL", "Utgången", "5.00", Active=False, **old)
        fake.add_customer("1001", "Bygg AB", OrganisationNumber="556036-0793", ZipCode="352 30", City="Växjö")
        fake.add_customer("1002", "Stängd AB", Active=False)
        fake.customers["1001"]["PriceList"] = "B"
        source = FortnoxSource(config, client)

        full = {a.number: a async for a in source.articles(None)}
        assert len(full) == 1203
        kaffe = full["KAFFE"]
        assert (kaffe.number, kaffe.name, kaffe.price, kaffe.vat_rate) == (
            "KAFFE",
            "Kaffe 500 g",
            79_20,
            1200,
        )
        assert kaffe.barcodes == ("7310000000017",) and kaffe.stock_goods and not kaffe.price_includes_vat
        assert full["00001"].price == 8_00 and not full["00001"].stock_goods
        assert full["MONT"].service and full["MONT"].price == 500_00  # no price in list B: list A's
        assert not full["GAMMAL"].active and full["KAFFE"].active
        # inactive: one page; active: three pages, then each active article's record and price
        assert answered(fake, "/3/articles") == 1 + 3 + 1202
        assert answered(fake, "/3/prices/sublist/B/") == 1202

        fake.articles["KAFFE"]["LastModified"] = "2025-06-01 10:00"
        fake.articles["GAMMAL"]["LastModified"] = "2025-06-01 10:00"
        before = answered(fake, "/3/articles")
        changed = [a async for a in source.articles(datetime(2025, 1, 1))]
        assert [(a.number, a.active) for a in changed] == [("GAMMAL", False), ("KAFFE", True)]
        assert answered(fake, "/3/articles") - before == 2 + 1  # two list pages, one record

        customers = {c.number: c async for c in source.customers(None)}
        customer = customers["1001"]
        assert (customer.number, customer.orgnr, customer.address, customer.price_list) == (
            "1001",
            "556036-0793",
            ("352 30 Växjö",),
            "B",
        )
        assert not customers["1002"].active and customer.active

        assert await source.stock(["KAFFE"]) == {"KAFFE": Decimal("12")}
        await source.set_stock({"KAFFE": Decimal("9")})
        assert await source.stock(["KAFFE"]) == {"KAFFE": Decimal("9")}
        many = [f"{n:05d}" for n in range(1, 101)] + ["KAFFE"]
        before = answered(fake, "/3/articles")
        levels = await source.stock(many)
        assert levels["KAFFE"] == Decimal("9") and levels["00001"] == 0 and len(levels) == 101
        assert answered(fake, "/3/articles") - before == 3  # the list's pages, not 101 records
        with pytest.raises(AdapterError, match="Lagerantal kan bara anges för lagerartiklar"):
            await source.set_stock({"00001": Decimal("1")})

        number = await source.save_customer(SourceCustomer("", "Ny Kund", email="ny@kund.example"))
        assert fake.customers[number]["Email"] == "ny@kund.example"
        assert await source.save_customer(SourceCustomer(number, "Ny Kund AB")) == number
        assert fake.customers[number]["Name"] == "Ny Kund AB"
        assert [c.number async for c in source.customers(datetime(2000, 1, 1))] == ["1002", "1001", number]


# -- configuration ------------------------------------------------------------------------------


def test_the_configuration_has_defaults_and_names_the_wrong_key() -> None:
    c = parse_fortnox({"client_id": "id", "client_secret": "secret"})
    assert (c.base_url, c.token_url) == (
        "https://api.fortnox.se/3/",
        "https://apps.fortnox.se/oauth-v1/token",
    )
    assert (c.mode, c.voucher_series, c.invoices, c.price_list, c.from_date) == (
        "start",
        "A",
        "none",
        "A",
        None,
    )
    ids = {"client_id": "i", "client_secret": "s"}
    assert parse_fortnox({**ids, "from_date": "2026-01-01"}).from_date == date(2026, 1, 1)
    bad = [
        ({"client_secret": "s"}, r"\[sync.fortnox\].client_id: missing"),
        (
            {**ids, "voucher_series": "A B"},
            r"\[sync.fortnox\].voucher_series",
        ),
        ({**ids, "grant": "client_credentials"}, r"\].tenant_id: missing"),
        ({**ids, "invoices": "account_customers"}, r'needs mode = "full"'),
        ({**ids, "mode": "full", "invoices": "all"}, r"\].cash_customer"),
        ({**ids, "from_date": "1/1"}, r"\].from_date: '1/1' is not a date"),
        (
            {**ids, "invoice_bookkeep": "yes"},
            r"\].invoice_bookkeep: must be",
        ),
        ({**ids, "colour": "red"}, r"\].colour: not a known key"),
    ]
    for table, pattern in bad:
        with pytest.raises(ConfigError, match=pattern):
            parse_fortnox(table)
    assert (
        voucher_tag(BusMessage("m", "report.z", ORGNR, STORE, POS_ID, 1, 1, "h", "t", {}), 12)
        == f"tillgw {ORGNR}/{STORE}/{POS_ID} Z12"
    )
