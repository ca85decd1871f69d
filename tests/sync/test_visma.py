"""The Visma eEkonomi / Spiris adapter against a fake built from Visma's API definition
(tests/sync/contracts/visma/): real HTTP on 127.0.0.1, real SQLite, a real till's messages,
and once the whole sync module with a real Mosquitto and a real SMTP server. Every request
the adapter makes is checked against the definition: a test fails on any it does not allow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
import pytest

from gateway.config import ConfigError
from gateway.messages.envelope import BusMessage, decode_message
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.visma.adapter import VismaAdapter
from gateway.sync.adapters.visma.api import VismaApi, visma_tokens
from gateway.sync.adapters.visma.config import VismaConfig, parse_visma
from gateway.sync.adapters.visma.source import VismaSource
from gateway.sync.config import SyncConfig
from gateway.sync.http.client import ApiError
from gateway.sync.http.oauth import store_initial
from gateway.sync.masterdata.source import SourceCustomer
from gateway.sync.service import SyncService
from gateway.sync.settings import AccountsConfig
from gateway.sync.sql import SqlConnection, SqliteConnection
from tests.sync.conftest import (
    ORGNR,
    POS_ID,
    STORE,
    Collect,
    TillBus,
    TillFactory,
    a_day,
    mail_config,
    process_one,
    with_,
)
from tests.sync.fakes.visma import VismaFake


@dataclass
class Visma:
    fake: VismaFake
    config: VismaConfig
    tokens: Path
    apis: list[VismaApi] = field(default_factory=list)

    def api(self) -> VismaApi:
        """A fresh client, as a restarted module makes (the token file is shared)."""
        api = VismaApi(self.config, visma_tokens(self.config, self.tokens), backoff=0.001)
        self.apis.append(api)
        return api

    def adapter(self, accounts: AccountsConfig | None = None) -> VismaAdapter:
        return VismaAdapter(self.config, self.api(), accounts or AccountsConfig())


def dashed(orgnr: str) -> str:
    """An organisation number as Visma shows it (556036-0793)."""
    return f"{orgnr[:6]}-{orgnr[6:]}"


@pytest.fixture
async def visma(tmp_path: Path) -> AsyncIterator[Visma]:
    fake = VismaFake(orgnr=dashed(ORGNR))
    await fake.start()
    config = parse_visma(
        {
            "base_url": fake.api_url,
            "token_url": fake.token_url,
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "page_size": 2,
        }
    )
    tokens = tmp_path / "tokens.db"
    await store_initial(
        tokens, "visma", "", visma_tokens(config, tokens).endpoint, refresh_token=fake.first_refresh_token()
    )
    visma = Visma(fake, config, tokens)
    yield visma
    for api in visma.apis:
        await api.close()
    await fake.stop()
    assert fake.violations == [], "requests Visma's API definition does not allow"


async def day_messages(make_till: TillFactory) -> list[BusMessage]:
    till = await make_till()
    await a_day(till.pipeline)
    await till.pipeline.report("z")
    return [decode_message(data) for _, data in await till.messages()]


def booked(voucher: dict[str, Any]) -> dict[int, Decimal]:
    return {
        r["AccountNumber"]: Decimal(str(r["DebitAmount"])) - Decimal(str(r["CreditAmount"]))
        for r in voucher["Rows"]
    }


# -- configuration ----------------------------------------------------------------------


def test_the_configuration_names_the_key_that_is_wrong() -> None:
    with pytest.raises(ConfigError, match=r"\[sync.visma\].client_secret: missing"):
        parse_visma({"client_id": "x"})
    with pytest.raises(ConfigError, match=r"\[sync.visma\].from_date: '21/11' is not a date"):
        parse_visma({"client_id": "x", "client_secret": "y", "from_date": "21/11"})
    with pytest.raises(ConfigError, match=r"\[sync.visma\].prices: must be one of net, gross"):
        parse_visma({"client_id": "x", "client_secret": "y", "prices": "list"})
    with pytest.raises(ConfigError, match=r"\[sync.visma\].secret: not a known key"):
        parse_visma({"client_id": "x", "client_secret": "y", "secret": "z"})
    with pytest.raises(ConfigError, match=r"\[sync.visma\].page_size: at most 1000"):
        parse_visma({"client_id": "x", "client_secret": "y", "page_size": 5000})
    with pytest.raises(ConfigError, match=r"\[sync.visma\].customer_postal_code: '903 26 Umeå' must be 1-10"):
        parse_visma({"client_id": "x", "client_secret": "y", "customer_postal_code": "903 26 Umeå"})
    config = parse_visma({"client_id": "x", "client_secret": "y"})
    assert (config.customer_city, config.customer_postal_code, config.customer_terms_of_payment) == (
        None,
    ) * 3
    assert config.base_url == "https://eaccountingapi.vismaonline.com/v2"
    assert config.token_url == "https://identity.vismaonline.com/connect/token"


# -- booking ----------------------------------------------------------------------------


async def test_a_day_is_booked_as_one_balanced_voucher_once(
    make_till: TillFactory, visma: Visma, db: SqlConnection
) -> None:
    messages = await day_messages(make_till)
    adapter = visma.adapter()
    await adapter.setup(db)
    done = [await process_one(db, adapter, m) for m in messages if adapter.handles(m.kind)]
    assert len(done) == 1 and done[0] is not None and "as voucher A1" in done[0]
    [voucher] = visma.fake.vouchers
    z = messages[-1]
    assert voucher["VoucherDate"][:10] == z.payload["at"][:10]
    assert voucher["VoucherText"] == f"Z-dagrapport 1 kassa {POS_ID} tillgw {ORGNR}/{STORE}/{POS_ID} Z1"
    assert booked(voucher) == {
        1910: Decimal("105.00"), 1580: Decimal("195.00"), 2421: Decimal("100.00"),
        1930: Decimal("100.00"), 1689: Decimal("50.00"), 3001: Decimal("-200.34"),
        2611: Decimal("-50.08"), 3002: Decimal("-216.94"), 2621: Decimal("-26.04"),
        3003: Decimal("-42.45"), 2631: Decimal("-2.55"), 3004: Decimal("-12.00"), 3740: Decimal("0.40"),
    }  # fmt: skip

    # The same Z again: the local record answers, Visma is not even asked.
    before = len(visma.fake.requests)
    again = await process_one(db, adapter, z)
    assert again is not None and "already voucher A1" in again
    assert len(visma.fake.requests) == before and len(visma.fake.vouchers) == 1
    # Reprocessed with the local record lost (a new inbox): found in Visma, not made twice.
    fresh = SqliteConnection(await aiosqlite.connect(":memory:", isolation_level=None))
    try:
        await adapter.setup(fresh)
        found = await process_one(fresh, visma.adapter(), z)
    finally:
        await fresh.close()
    assert found is not None and "was already voucher A1" in found
    assert len(visma.fake.vouchers) == 1


class SimulatedCrash(BaseException):
    """The process dies here: the open transaction never commits."""


async def test_a_crash_after_the_post_and_a_lost_answer_book_nothing_twice(
    make_till: TillFactory, visma: Visma, db: SqlConnection
) -> None:
    z = (await day_messages(make_till))[-1]
    adapter = visma.adapter()
    await adapter.setup(db)

    async def crash_after(method: str, path: str, **kwargs: Any) -> Any:
        answer = await original(method, path, **kwargs)
        if method == "POST":
            raise SimulatedCrash
        return answer

    original = adapter.api.request
    adapter.api.request = crash_after  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrash):
        await process_one(db, adapter, z)
    assert len(visma.fake.vouchers) == 1  # in Visma, but not recorded here
    async with db.execute("SELECT COUNT(*) FROM visma_vouchers") as cur:
        assert await cur.fetchone() == (0,)

    restarted = visma.adapter()
    done = await process_one(db, restarted, z)
    assert done is not None and "was already voucher A1" in done
    assert len(visma.fake.vouchers) == 1

    # A POST carried out whose answer never came: the search finds it.
    z2 = msgspec.structs.replace(z, payload={**z.payload, "z_no": 2})
    visma.fake.faults.drop_after_commit.append(lambda r: r.method == "POST")
    done = await process_one(db, restarted, z2)
    assert visma.fake.dropped == 1
    assert done is not None and "was already voucher A2" in done
    assert len(visma.fake.vouchers) == 2


async def test_a_429_storm_503s_and_a_token_expiring_mid_run_are_ridden_out(
    make_till: TillFactory, visma: Visma, db: SqlConnection
) -> None:
    z = (await day_messages(make_till))[-1]
    adapter = visma.adapter()
    await adapter.setup(db)
    visma.fake.faults.storm = 4
    visma.fake.faults.expire_tokens_after = 5  # expires between the search and the POST
    done = await process_one(db, adapter, z)
    assert done is not None and "as voucher A1" in done
    assert len(visma.fake.vouchers) == 1
    assert sum(1 for status, _ in visma.fake.refused if status == 429) == 4
    assert sum(1 for status, _ in visma.fake.refused if status == 401) == 1
    assert visma.fake.refreshes == 2  # the first token, and one after the expiry
    assert len(visma.fake.spent_refresh_tokens) == 2  # each refresh token used once

    # A 503 burst: the search (a GET) is retried through it; a POST answered 503 was not
    # carried out, which the search after it shows, and it is sent again.
    z2 = msgspec.structs.replace(z, payload={**z.payload, "z_no": 2})
    visma.fake.faults.unavailable = 2  # the search, then its retry
    done = await process_one(db, adapter, z2)
    assert done is not None and "as voucher A2" in done
    z3 = msgspec.structs.replace(z, payload={**z.payload, "z_no": 3})
    visma.fake.faults.unavailable_when.append(lambda r: r.method == "POST")
    done = await process_one(db, adapter, z3)
    assert done is not None and "as voucher A3" in done
    assert len(visma.fake.vouchers) == 3
    assert [m for m, _ in visma.fake.requests[-4:]] == ["GET", "POST", "GET", "POST"]


async def test_an_unknown_account_is_refused_quoting_visma_logged_and_mailed(
    make_till: TillFactory,
    till_bus: TillBus,
    sync_config: SyncConfig,
    visma: Visma,
    smtp: tuple[Any, Collect],
) -> None:
    controller, mailbox = smtp
    config = with_(sync_config, mail=mail_config(int(controller.port)))
    accounts = AccountsConfig(cash="1911")  # not in the company's chart of accounts
    till = await make_till()
    assert await SyncService(config, [visma.adapter(accounts)]).run(once=True) == 0
    await a_day(till.pipeline)
    await till.pipeline.report("z")
    sent = await till.messages()
    for topic, data in sent:
        await till_bus.publish(topic, data)

    assert await SyncService(config, [visma.adapter(accounts)]).run(once=True) == 1
    log = "".join(p.read_text(encoding="utf-8") for p in sorted(config.log_dir.glob("sync-*.log")))
    [error] = [ln for ln in log.splitlines() if ln.startswith("ERROR")]
    assert f"Visma eEkonomi / Spiris: {ORGNR}/{STORE}/{POS_ID}/{len(sent)} (report.z) not processed" in error
    assert "Rows[0]: account 1911 does not exist in the fiscal year (ErrorCode 4000)" in error
    assert visma.fake.vouchers == []
    [envelope] = mailbox.messages
    mail = message_from_bytes(envelope.content)
    assert "1 error" in mail["Subject"]
    assert "account 1911 does not exist" in mail.as_string()

    # The chart gets the account: the next run books it.
    visma.fake.accounts.add("1911")
    assert await SyncService(config, [visma.adapter(accounts)]).run(once=True) == 0
    assert len(visma.fake.vouchers) == 1


async def test_a_z_report_before_from_date_is_not_booked(
    make_till: TillFactory, visma: Visma, db: SqlConnection
) -> None:
    z = (await day_messages(make_till))[-1]
    config = replace(visma.config, from_date=date(2999, 1, 1))
    adapter = VismaAdapter(config, visma.api(), AccountsConfig())
    await adapter.setup(db)
    done = await process_one(db, adapter, z)
    assert done is not None and "before from_date 2999-01-01" in done
    assert visma.fake.vouchers == [] and visma.fake.requests == []


# -- master data ------------------------------------------------------------------------


async def test_articles_and_customers_are_pulled_in_full_and_by_changes(visma: Visma) -> None:
    fake = visma.fake
    old = "2026-01-01T00:00:00.000Z"
    fake.add_article("1001", "Kaffe", "26.00", 12, ChangedUtc=old, barcode="7310000000017")
    fake.add_article("1002", "Mugg", "48.00", 25, ChangedUtc=old, StockBalance=7.0)
    fake.add_article("1003", "Tidning", "42.45", 6, ChangedUtc=old)
    fake.add_article("1004", "Frimärke", "12.00", 0, ChangedUtc=old, IsActive=False)
    fake.add_article(
        "1005", "Presentinslagning", "40.00", 25, ChangedUtc="2026-06-01T10:00:00.000Z", service=True
    )
    fake.add_customer("501", "Anna Andersson", ChangedUtc=old, EmailAddress="anna@example.se")
    fake.add_customer(
        "502", "Bygg AB", ChangedUtc="2026-06-02T00:00:00.000Z", CorporateIdentityNumber="5561234567"
    )
    source = VismaSource(visma.config, visma.api())

    articles = [a async for a in source.articles(None)]
    assert [a.number for a in articles] == ["1001", "1002", "1003", "1004", "1005"]
    assert (articles[0].price, articles[0].price_includes_vat, articles[0].vat_rate) == (26_00, False, 1200)
    assert articles[0].barcodes == ("7310000000017",) and articles[0].unit == "st"
    assert [a.vat_rate for a in articles] == [1200, 2500, 600, 0, 2500]
    assert articles[3].active is False
    # IsServiceArticle marks the service; without the stock module every other article keeps stock.
    assert [(a.service, a.stock_goods) for a in articles] == [(False, True)] * 4 + [(True, False)]
    assert articles[0].modified_at == datetime(2026, 1, 1, tzinfo=UTC)
    pages = [p for m, p in fake.requests if m == "GET" and p.startswith("/v2/articles?")]
    assert len(pages) == 3  # five articles, two a page

    since = datetime(2026, 3, 1, tzinfo=UTC)
    assert [a.number async for a in source.articles(since)] == ["1005"]
    assert any("ChangedUtc+gt+2026-03-01T00:00:00Z" in p or "ChangedUtc%20gt%202026-03-01T00:00:00Z" in p
               for _, p in fake.requests)  # fmt: skip
    customers = [c async for c in source.customers(None)]
    assert [(c.number, c.name, c.email) for c in customers] == [
        ("501", "Anna Andersson", "anna@example.se"),
        ("502", "Bygg AB", None),
    ]
    assert customers[0].address == ("903 26 Umeå",)
    assert [c.number async for c in source.customers(since)] == ["502"]


async def test_stock_is_written_back_only_without_the_stock_module(
    visma: Visma, caplog: pytest.LogCaptureFixture
) -> None:
    fake = visma.fake
    fake.add_article("1002", "Mugg", "48.00", StockBalance=7.0)
    fake.add_article("1005", "Tygkasse", "40.00")
    fake.add_article("1006", "Montering", "400.00", service=True)
    source = VismaSource(visma.config, visma.api())
    assert await source.stock(None) == {"1002": Decimal(7), "1005": Decimal(0)}
    await source.set_stock({"1002": Decimal(5)})
    assert await source.stock(["1002"]) == {"1002": Decimal(5)}

    # With the stock module StockBalance is read-only, and the fake refuses a write to it.
    fake.stock_module = True
    fake.articles.clear()
    fake.add_article("2001", "Lampa", "100.00", stock=True, StockBalance=3.0)
    fake.add_article("2002", "Skärm", "80.00")  # not a stock article of the module
    assert await source.stock(None) == {"2001": Decimal(3)}
    puts = sum(1 for m, _ in fake.requests if m == "PUT")
    with caplog.at_level("WARNING", logger="tillgw.sync"):
        await source.set_stock({"2001": Decimal(2)})
    assert sum(1 for m, _ in fake.requests if m == "PUT") == puts  # nothing written
    assert fake.articles[0]["StockBalance"] == 3.0
    assert "keeps the stock of article(s) 2001 with its stock module" in caplog.text
    assert "Visma eEkonomi / Spiris" in caplog.text


async def test_a_customer_made_at_the_till_gets_what_visma_requires(tmp_path: Path, visma: Visma) -> None:
    fake = visma.fake
    source = VismaSource(visma.config, visma.api())
    # The till knows a name and an e-mail; the city and postal code are required and there are none.
    with pytest.raises(AdapterError, match=r"requires a customer's postal code.*customer_postal_code"):
        await source.save_customer(SourceCustomer("", "Kalle Karlsson", email="kalle@example.se"))
    assert fake.customers == []

    # From the address's last line, and the company's default terms of payment.
    number = await source.save_customer(
        SourceCustomer(
            "", "Kalle Karlsson", email="kalle@example.se", address=("Storgatan 1", "352 30 Växjö")
        )
    )
    [made] = fake.customers
    assert number == made["CustomerNumber"] == "1001"
    assert (made["InvoiceAddress1"], made["InvoicePostalCode"], made["InvoiceCity"]) == (
        "Storgatan 1", "352 30", "Växjö",
    )  # fmt: skip
    assert made["TermsOfPaymentId"] == fake.settings["TermsOfPaymentId"] and made["IsPrivatePerson"] is True

    # From [sync.visma], with terms of payment by name.
    config = replace(
        visma.config, customer_city="Umeå", customer_postal_code="903 26", customer_terms_of_payment="Kontant"
    )
    source = VismaSource(config, visma.api())
    number = await source.save_customer(SourceCustomer("", "Bygg AB", orgnr="5561234567"))
    made = fake.customers[-1]
    assert (made["InvoicePostalCode"], made["InvoiceCity"]) == ("903 26", "Umeå")
    assert made["TermsOfPaymentId"] == fake.terms[1]["Id"] and made["IsPrivatePerson"] is False
    # An update keeps what Visma has and the till does not.
    assert await source.save_customer(SourceCustomer(number, "Bygg & Montage AB")) == number
    assert fake.customers[-1]["Name"] == "Bygg & Montage AB"
    assert fake.customers[-1]["CorporateIdentityNumber"] == "5561234567"

    wrong = VismaSource(replace(config, customer_terms_of_payment="Nästa år"), visma.api())
    with pytest.raises(AdapterError, match=r"customer_terms_of_payment: 'Nästa år' is not among"):
        await wrong.save_customer(SourceCustomer("", "Nils"))


async def test_a_visma_refusal_of_master_data_is_quoted(visma: Visma) -> None:
    config = replace(visma.config, customer_city="Umeå", customer_postal_code="903 26")
    source = VismaSource(config, visma.api())
    with pytest.raises(AdapterError, match=r"save customer '': HTTP 400 to POST customers: Name is required"):
        await source.save_customer(SourceCustomer("", ""))
    with pytest.raises(AdapterError, match="Visma eEkonomi / Spiris has no article 9999"):
        await source.set_stock({"9999": Decimal(1)})


# -- cost centre ------------------------------------------------------------------------


def test_the_cost_center_is_a_short_name_and_a_mistake_names_the_key() -> None:
    config = parse_visma({"client_id": "x", "client_secret": "y", "cost_center": "BUTIK1"})
    assert config.cost_center == "BUTIK1"
    assert parse_visma({"client_id": "x", "client_secret": "y"}).cost_center is None
    for wrong in ("", " BUTIK1", "BUTIKEN-VAXJO"):
        with pytest.raises(ConfigError, match=r"\[sync.visma\].cost_center: .* 1-9 characters"):
            parse_visma({"client_id": "x", "client_secret": "y", "cost_center": wrong})
    with pytest.raises(ConfigError, match=r"\[sync.visma\].cost_center: must be a non-empty string"):
        parse_visma({"client_id": "x", "client_secret": "y", "cost_center": 12})


async def test_every_row_carries_the_cost_center_item_looked_up_once_by_its_code(
    make_till: TillFactory, visma: Visma, db: SqlConnection
) -> None:
    visma.fake.add_cost_center_item("LAGER", "Lagret", number=1)
    item = visma.fake.add_cost_center_item("BUTIK1", "Butiken i Växjö", number=2)
    z = (await day_messages(make_till))[-1]
    adapter = VismaAdapter(replace(visma.config, cost_center="BUTIK1"), visma.api(), AccountsConfig())
    await adapter.setup(db)
    done = await process_one(db, adapter, z)
    assert done is not None and "as voucher A1" in done
    [voucher] = visma.fake.vouchers
    assert len(voucher["Rows"]) == 13
    # Cost centre 2's item: Visma's row field is named after the cost centre's number.
    assert all(row["CostCenterItemId2"] == item["Id"] for row in voucher["Rows"])
    assert not any("CostCenterItemId1" in row or "CostCenterItemId3" in row for row in voucher["Rows"])
    await process_one(db, adapter, msgspec.structs.replace(z, payload={**z.payload, "z_no": 2}))
    assert len(visma.fake.vouchers) == 2
    lookups = [p for m, p in visma.fake.requests if m == "GET" and p.startswith("/v2/costcenters")]
    assert len(lookups) == 1  # the id is kept, not asked for with every voucher


async def test_an_unknown_cost_center_is_refused_by_the_adapter_and_by_visma(
    make_till: TillFactory, visma: Visma, db: SqlConnection
) -> None:
    z = (await day_messages(make_till))[-1]
    item = visma.fake.add_cost_center_item("BUTIK1", "Butiken i Växjö")
    unknown = VismaAdapter(replace(visma.config, cost_center="BUTIK9"), visma.api(), AccountsConfig())
    await unknown.setup(db)
    with pytest.raises(
        AdapterError, match=r"\[sync.visma\].cost_center: the cost centre item 'BUTIK9' is not"
    ):
        await process_one(db, unknown, z)
    visma.fake.add_cost_center_item("BUTIK9", "Gamla butiken", active=False)
    with pytest.raises(AdapterError, match=r"cost centre item 'BUTIK9' is inactive"):
        await process_one(db, unknown, z)
    visma.fake.add_cost_center_item("BUTIK1", "Butiken, projekt", number=3)
    twice = VismaAdapter(replace(visma.config, cost_center="BUTIK1"), visma.api(), AccountsConfig())
    with pytest.raises(AdapterError, match=r"'BUTIK1' is an item of more than one cost centre"):
        await process_one(db, twice, z)
    assert visma.fake.vouchers == []

    # Visma itself refuses an id that is not a cost centre item, in its own error shape,
    # and the adapter quotes it: an item deleted in Visma after the adapter looked it up.
    api = visma.api()
    rows = [
        {"AccountNumber": 1910, "DebitAmount": 1.0, "CreditAmount": 0.0, "CostCenterItemId1": "no-such-id"},
        {"AccountNumber": 3001, "DebitAmount": 0.0, "CreditAmount": 1.0},
    ]
    with pytest.raises(ApiError) as refused:
        await api.request(
            "POST", "vouchers", json={"VoucherDate": "2026-03-02", "VoucherText": "x", "Rows": rows}
        )
    assert refused.value.status == 400
    assert refused.value.body["ErrorCode"] == 4000 and refused.value.body["ErrorId"]
    assert refused.value.body["DeveloperErrorMessage"] == (
        "Rows[0]: CostCenterItemId1 no-such-id is not an item of cost center 1"
    )
    visma.fake.cost_centers[0]["Items"] = [i for i in visma.fake.cost_centers[0]["Items"] if i is not item]
    stale = VismaAdapter(replace(visma.config, cost_center="BUTIK1"), visma.api(), AccountsConfig())
    stale._cost_center = ("CostCenterItemId1", item["Id"])  # looked up before the item went
    with pytest.raises(
        AdapterError,
        match=rf"CostCenterItemId1 {item['Id']} is not an item of cost center 1 \(ErrorCode 4000\)",
    ):
        await process_one(db, stale, z)
    assert visma.fake.vouchers == []
    # Looked up again after the refusal: now BUTIK1 is only cost centre 3's item.
    done = await process_one(db, stale, z)
    assert done is not None and "as voucher A1" in done
    [voucher] = visma.fake.vouchers
    [project] = visma.fake.cost_centers[1]["Items"]
    assert all(row["CostCenterItemId3"] == project["Id"] for row in voucher["Rows"])


async def test_a_customer_post_whose_answer_is_lost_is_not_sent_again(visma: Visma) -> None:
    config = replace(visma.config, customer_city="Umeå", customer_postal_code="903 26")
    source = VismaSource(config, visma.api())
    visma.fake.faults.drop_after_commit.append(lambda r: r.method == "POST")
    with pytest.raises(AdapterError, match="it may or may not have been carried out"):
        await source.save_customer(SourceCustomer("", "Kalle Karlsson", email="kalle@example.se"))
    # Made in Visma, and asked once: the customers module looks for it before it saves again.
    assert len(visma.fake.customers) == 1
    assert [m for m, _ in visma.fake.requests].count("POST") == 1
