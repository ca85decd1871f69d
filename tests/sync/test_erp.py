"""The ERPs as a shop connects them: configured in TOML, authorised once with ``tillgw sync
--authorize``, then used by ``tillgw sync --all`` and the service — against the fake Fortnox
over real sockets and a real Mosquitto, the commands as subprocesses."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest

from gateway.config import ConfigError
from gateway.messages.envelope import decode_message
from gateway.sync.adapters import Adapter
from gateway.sync.adapters.business_central.adapter import BusinessCentralAdapter
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter
from gateway.sync.adapters.fortnox.config import parse_fortnox
from gateway.sync.adapters.nav.adapter import NavAdapter
from gateway.sync.adapters.visma.adapter import VismaAdapter
from gateway.sync.config import SyncConfig, load_sync_config
from gateway.sync.erp import OneCompany, SinceConnected, connect
from gateway.sync.service import SyncService
from tests.sync.conftest import (
    ORGNR,
    POS_ID,
    STORE,
    TOPICS,
    Broker,
    TillBus,
    TillFactory,
    a_day,
    run_tillgw,
)
from tests.sync.fakes.fortnox import FakeFortnox, config_for, running

ROOT = Path(__file__).resolve().parents[2]


def fortnox_toml(tmp_path: Path, broker: Broker, fake: FakeFortnox) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(
        f"""
[mqtt]
url = "mqtt://127.0.0.1:{broker.port}"

[sync]
data_dir = "{tmp_path / "data"}"
client_id = "sync-erp-test"

[sync.fortnox]
client_id = "{fake.client_id}"
client_secret = "{fake.client_secret}"
base_url = "{fake.api_url}"
token_url = "{fake.token_url}"
mode = "full"

[sync.masterdata]
source = "fortnox"
orgnr = "{ORGNR}"
store = "{STORE}"
""",
        encoding="utf-8",
    )
    return path


async def test_a_shop_authorises_fortnox_once_and_its_articles_reach_the_tills(
    tmp_path: Path, broker: Broker
) -> None:
    async with running() as fake:
        config = fortnox_toml(tmp_path, broker, fake)
        fake.add_article("1001", "Kaffe", "32.50", vat=12, EAN="7310000000011")
        fake.add_article("1002", "Tidning", "45.00", vat=6)

        code, out = await run_tillgw("sync", "--all", "--config", str(config), cwd=tmp_path)
        assert code == 1, out  # not authorised yet: Fortnox refuses, and it says so
        assert "fortnox" in out.lower()

        code, out = await run_tillgw(
            *("--language", "en", "sync"),
            "--authorize",
            "fortnox",
            # one word: a code may begin with "-", which argparse would take for an option
            f"--code={fake.issue_code()}",
            "--redirect-uri",
            "https://example.se/cb",
            "--config",
            str(config),
            cwd=tmp_path,
        )
        assert code == 0, out
        assert "fortnox authorised" in out

        code, out = await run_tillgw("sync", "--all", "--config", str(config), cwd=tmp_path)
        assert code == 0, out
        assert "2 article(s)" in out and "1001" not in out

        # An empty token is refused before anything stored is replaced.
        code, out = await run_tillgw(
            "sync", "--authorize", "fortnox", "--refresh-token", "", "--config", str(config), cwd=tmp_path
        )
        assert code == 2 and "refresh token is empty" in out


async def test_authorising_needs_a_code_or_a_refresh_token(tmp_path: Path, broker: Broker) -> None:
    async with running() as fake:
        config = fortnox_toml(tmp_path, broker, fake)
        code, out = await run_tillgw("sync", "--authorize", "fortnox", "--config", str(config), cwd=tmp_path)
        assert code == 2 and "--code" in out and "--refresh-token" in out


def innermost(adapter: Adapter) -> Adapter:
    """The adapter inside its guards (SinceConnected, OneCompany)."""
    while isinstance(adapter, SinceConnected | OneCompany):
        adapter = adapter.inner
    return adapter


def test_every_configured_erp_gets_its_booking_adapter_and_source(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(
        """
[sync.fortnox]
client_id = "c"
client_secret = "s"

[sync.visma]
client_id = "c"
client_secret = "s"

[sync.business_central]
base_url = "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0"
token_url = "https://login.microsoftonline.com/t/oauth2/v2.0/token"
client_id = "c"
client_secret = "s"
company_id = "00000000-0000-0000-0000-000000000001"
customer = "KONTANT"

[sync.nav]
base_url = "http://nav:7048/DynamicsNAV100/ODataV4/Company('CRONUS')"
username = "tillgw"
password = "key"
customer = "KONTANT"
vat_groups = { MOMS25 = 25, MOMS12 = 12, MOMS6 = 6, MOMS0 = 0 }
""",
        encoding="utf-8",
    )
    config = load_sync_config(path)
    erp = connect(config)
    kinds = {type(innermost(a)) for a in erp.adapters}
    assert {FortnoxAdapter, VismaAdapter, BusinessCentralAdapter, NavAdapter} <= kinds
    assert set(erp.sources) == {"fortnox", "visma", "business_central", "nav"}
    asyncio.run(erp.close())


def test_a_master_data_source_needs_its_erp_configured(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text('[sync.masterdata]\nsource = "visma"\norgnr = "5561234567"\nstore = "main"\n')
    with pytest.raises(
        ConfigError, match=r'\[sync.masterdata\].source: "visma" .* \[sync.visma\], which is missing'
    ):
        load_sync_config(path)


async def test_an_erp_connected_today_is_not_sent_the_tills_older_days(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path
) -> None:
    """A till that sold for months before its shop connected Fortnox: its outbox still holds
    those months. They are left alone — unless [sync.fortnox].from_date asks for them."""
    async with running() as fake:
        fortnox = config_for(fake)
        config = replace(sync_config, fortnox=fortnox, inbox=tmp_path / "sync" / "inbox.db")
        till = await make_till()
        assert await SyncService(config).run(once=True) == 0  # connected today; its session made
        await a_day(till.pipeline)
        report = await till.pipeline.report("z")
        sent = await till.messages()
        # Yesterday's Z (the same report, dated a day earlier), then today's under the next number.
        old = decode_message(sent[-1][1])
        yesterday = (date.fromisoformat(old.at[:10]) - timedelta(days=1)).isoformat()
        old = msgspec.structs.replace(old, at=yesterday + old.at[10:])
        today = msgspec.structs.replace(
            decode_message(sent[-1][1]),
            msg_id=f"{ORGNR}/{STORE}/{POS_ID}/{len(sent) + 1}",
            sequence=len(sent) + 1,
        )
        for topic, data in sent[:-1]:
            await till_bus.publish(topic, data)
        await till_bus.publish(TOPICS.for_kind("report.z"), old.to_bytes())
        await till_bus.publish(TOPICS.for_kind("report.z"), today.to_bytes())

        assert await SyncService(config).run(once=True) == 0
        assert len(fake.vouchers) == 1  # today's only
        assert fake.vouchers[0]["TransactionDate"] == report.at[:10]
        log = "".join(p.read_text(encoding="utf-8") for p in config.log_dir.glob("sync-*.log"))
        assert (
            f"report.z of {yesterday} left alone: before {report.at[:10]} "
            "(the day Fortnox was connected here)" in log
        )


def test_fortnox_with_its_stock_module_invoices_every_receipt() -> None:
    """Only an invoice moves stock in Fortnox: with the stock module, every receipt must be one."""
    ids = {"client_id": "i", "client_secret": "s"}
    every = {**ids, "stock_module": True, "mode": "full", "invoices": "all", "cash_customer": "KONTANT"}
    assert parse_fortnox(every).stock_module
    for missing in ({"mode": "start", "invoices": "none"}, {"invoices": "account_customers"}):
        with pytest.raises(ConfigError, match=r'\[sync.fortnox\].stock_module: true needs mode = "full"'):
            parse_fortnox({**every, **missing})


async def test_fortnox_books_only_its_own_companys_tills(
    make_till: TillFactory, till_bus: TillBus, sync_config: SyncConfig, tmp_path: Path
) -> None:
    """One Fortnox company per organisation number: another company's Z is refused, not booked."""
    async with running(orgnr="556677-8899") as fake:
        config = replace(sync_config, fortnox=config_for(fake), inbox=tmp_path / "sync" / "inbox.db")
        till = await make_till()
        assert await SyncService(config).run(once=True) == 0
        await a_day(till.pipeline)
        await till.pipeline.report("z")
        for topic, data in await till.messages():
            await till_bus.publish(topic, data)

        assert await SyncService(config).run(once=True) == 1  # an ERROR: nothing booked
        assert fake.vouchers == []
        assert fake.calls("POST", "/3/") == 0
        log = "".join(p.read_text(encoding="utf-8") for p in config.log_dir.glob("sync-*.log"))
        assert f"is organisation number {ORGNR}, but this Fortnox company is 5566778899" in log


async def test_diag_with_a_config_asks_each_erp_it_names(tmp_path: Path, broker: Broker) -> None:
    from tools.diag import diagnose as diag
    from tools.diag.checks import Verdict

    async with running() as fake:
        config = fortnox_toml(tmp_path, broker, fake)
        [check] = await diag.erp_checks(argparse.Namespace(config=config))
    assert check.name == "erp: fortnox"
    # Not authorised yet: the check says so, with the step, instead of a silent OK.
    assert check.verdict is Verdict.PROBLEM and check.next_step is not None
    assert "authorise" in check.next_step
    till_only = tmp_path / "till.toml"
    till_only.write_text('[shop]\nname = "x"\n', encoding="utf-8")
    assert await diag.erp_checks(argparse.Namespace(config=till_only)) == []  # no [sync]: no ERP to ask
