"""``tillgw diag --config``'s check of [sync.fortnox], against the fake built from Fortnox's
OpenAPI definition: one call, and in words whether credentials, scopes/licence and company
are right."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gateway.config import MqttConfig
from gateway.sync.adapters.fortnox.api import fortnox_token_endpoint
from gateway.sync.config import SyncConfig
from gateway.sync.http.oauth import store_initial
from tests.sync.conftest import ORGNR, POS_ID, STORE
from tests.sync.fakes.fortnox import FakeFortnox, config_for, running
from tools.diag.checks import Verdict
from tools.diag.checks.erp_fortnox import check_erp_fortnox


@pytest.fixture
async def fake() -> AsyncIterator[FakeFortnox]:
    async with running(orgnr=f"{ORGNR[:6]}-{ORGNR[6:]}") as fake:
        yield fake


def configured(tmp_path: Path, fake: FakeFortnox, **fortnox: Any) -> SyncConfig:
    config = SyncConfig(
        inbox=tmp_path / "sync" / "inbox.db",
        sie_dir=tmp_path / "sync" / "sie",
        log_dir=tmp_path / "sync" / "logs",
        mqtt=MqttConfig(),
        registers=frozenset({f"{ORGNR}/{STORE}/{POS_ID}"}),
        fortnox=config_for(fake, **fortnox),
    )
    config.inbox.parent.mkdir(parents=True, exist_ok=True)
    return config


async def test_the_right_company_is_ok_in_one_call(tmp_path: Path, fake: FakeFortnox) -> None:
    check = await check_erp_fortnox(configured(tmp_path, fake))
    assert check.verdict is Verdict.OK, check
    assert check.summary == f"company 'Kaffebaren i Växjö AB' ({ORGNR}), credentials and API access work"
    assert [(s.method, s.path) for s in fake.seen] == [("GET", "/3/companyinformation")]


async def test_another_company_is_named_with_the_one_served(tmp_path: Path) -> None:
    async with running(orgnr="556677-8899") as fake:
        check = await check_erp_fortnox(configured(tmp_path, fake))
    assert check.verdict is Verdict.PROBLEM
    assert check.summary.startswith("company: the Fortnox company 'Kaffebaren i Växjö AB' is 5566778899")
    assert ORGNR in check.summary and check.next_step is not None
    assert "one company per organisation number" in check.next_step


async def test_wrong_credentials_and_a_spent_refresh_token_say_authorise_again(
    tmp_path: Path, fake: FakeFortnox
) -> None:
    check = await check_erp_fortnox(configured(tmp_path, fake, client_secret="wrong"))
    assert check.verdict is Verdict.PROBLEM and check.summary.startswith("credentials:")
    assert "invalid_client" in check.summary

    config = configured(tmp_path, fake, grant="refresh_token", tenant_id=None)
    assert config.fortnox is not None
    spent = fake.issue_refresh_token()
    fake.issue_refresh_token()  # the first one is spent: a refresh elsewhere used it
    endpoint = fortnox_token_endpoint(config.fortnox)
    await store_initial(config.tokens_db, "fortnox", "", endpoint, refresh_token=spent)
    check = await check_erp_fortnox(config)
    assert check.verdict is Verdict.PROBLEM and "invalid_grant" in check.summary
    assert check.next_step is not None and "--authorize fortnox" in check.next_step


async def test_a_missing_scope_or_licence_is_named(tmp_path: Path, fake: FakeFortnox) -> None:
    config = configured(tmp_path, fake)
    fake.deny("/3/companyinformation", 403, "Har inte behörighet för scope.", 2000663)
    check = await check_erp_fortnox(config)
    assert check.verdict is Verdict.PROBLEM and check.summary.startswith("scopes:")
    assert "Har inte behörighet för scope. (code 2000663)" in check.summary

    fake.denied.clear()
    fake.deny("/3/", 403, "Api-licens saknas.", 2001103)
    check = await check_erp_fortnox(config)
    assert check.summary.startswith("licence:") and "Api-licens saknas." in check.summary
    assert check.details["code"] == 2001103


async def test_no_answer_and_no_fortnox_section(tmp_path: Path, fake: FakeFortnox) -> None:
    config = configured(tmp_path, fake)
    check = await check_erp_fortnox(replace(config, fortnox=None))
    assert check.verdict is Verdict.OK and check.summary == "not configured: no [sync.fortnox]"
    assert config.fortnox is not None
    gone = replace(config, fortnox=replace(config.fortnox, base_url="http://127.0.0.1:9/3/"))
    check = await check_erp_fortnox(gone, answer_seconds=5)
    assert check.verdict is Verdict.PROBLEM and check.summary.startswith(
        "no answer from http://127.0.0.1:9/3/"
    )
