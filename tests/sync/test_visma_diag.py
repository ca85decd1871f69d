"""``tillgw diag --config``'s check of [sync.visma], against the fake built from Visma's API
definition: one call, and in words whether credentials, scopes/licence and company are right."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import MqttConfig
from gateway.sync.adapters.visma.api import visma_tokens
from gateway.sync.adapters.visma.config import parse_visma
from gateway.sync.config import SyncConfig
from gateway.sync.http.oauth import store_initial
from tests.sync.conftest import ORGNR, POS_ID, STORE
from tests.sync.fakes.visma import VismaFake
from tools.diag.checks import Verdict
from tools.diag.checks.erp_visma import check_erp_visma


@pytest.fixture
async def fake() -> AsyncIterator[VismaFake]:
    fake = VismaFake(orgnr=f"{ORGNR[:6]}-{ORGNR[6:]}")
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == []


async def configured(tmp_path: Path, fake: VismaFake, **visma: str) -> SyncConfig:
    section = parse_visma(
        {
            "base_url": fake.api_url,
            "token_url": fake.token_url,
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            **visma,
        }
    )
    config = SyncConfig(
        inbox=tmp_path / "sync" / "inbox.db",
        sie_dir=tmp_path / "sync" / "sie",
        log_dir=tmp_path / "sync" / "logs",
        mqtt=MqttConfig(),
        registers=frozenset({f"{ORGNR}/{STORE}/{POS_ID}"}),
        visma=section,
    )
    config.inbox.parent.mkdir(parents=True, exist_ok=True)
    tokens = config.tokens_db
    endpoint = visma_tokens(section, tokens).endpoint
    await store_initial(tokens, "visma", "", endpoint, refresh_token=fake.first_refresh_token())
    return config


async def test_the_right_company_is_ok_in_one_call(tmp_path: Path, fake: VismaFake) -> None:
    config = await configured(tmp_path, fake)
    check = await check_erp_visma(config)
    assert check.verdict is Verdict.OK, check
    assert check.summary == f"company 'Butiken AB' ({ORGNR}), credentials and API access work"
    assert fake.requests == [("GET", "/v2/companysettings")]


async def test_another_company_is_named(tmp_path: Path, fake: VismaFake) -> None:
    config = await configured(tmp_path, fake)
    config = replace(config, registers=frozenset({f"5591234567/{STORE}/{POS_ID}"}))
    check = await check_erp_visma(config)
    assert check.verdict is Verdict.PROBLEM
    assert check.summary == (
        f"company: Visma eEkonomi / Spiris company 'Butiken AB' is {ORGNR}, but [sync] serves 5591234567"
    )
    assert check.next_step is not None and "one company per organisation number" in check.next_step


async def test_wrong_credentials_and_a_spent_refresh_token_are_credentials(
    tmp_path: Path, fake: VismaFake
) -> None:
    config = await configured(tmp_path, fake, client_secret="wrong")
    check = await check_erp_visma(config)
    assert check.verdict is Verdict.PROBLEM and check.summary.startswith("credentials:")
    assert "invalid_client" in check.summary and fake.requests == []

    config = await configured(tmp_path / "second", fake)
    fake.refresh_tokens.clear()  # revoked, or spent by another copy of the token file
    check = await check_erp_visma(config)
    assert check.verdict is Verdict.PROBLEM and "invalid_grant" in check.summary
    assert check.next_step is not None and "--authorize visma" in check.next_step


async def test_a_missing_scope_and_a_read_only_company_are_scopes_and_licence(
    tmp_path: Path, fake: VismaFake
) -> None:
    fake.granted.discard("ea:api")
    check = await check_erp_visma(await configured(tmp_path, fake))
    assert check.verdict is Verdict.PROBLEM and check.summary.startswith("scopes or licence:")
    assert check.next_step is not None and "ea:accounting" in check.next_step

    fake.granted.add("ea:api")
    fake.settings["CompanyStatus"] = 2
    check = await check_erp_visma(await configured(tmp_path / "second", fake))
    assert check.verdict is Verdict.PROBLEM
    assert (
        check.summary
        == "licence: the Visma eEkonomi / Spiris company 'Butiken AB' is read-only: nothing can be booked"
    )


async def test_no_visma_section_is_nothing_to_check(tmp_path: Path, fake: VismaFake) -> None:
    config = replace(await configured(tmp_path, fake), visma=None)
    check = await check_erp_visma(config)
    assert check.verdict is Verdict.OK and fake.requests == []


async def test_no_answer_is_said_in_words(tmp_path: Path, fake: VismaFake) -> None:
    config = await configured(tmp_path, fake)
    assert config.visma is not None
    # The token endpoint answers; the API's address does not.
    gone = replace(config, visma=replace(config.visma, base_url="http://127.0.0.1:9/v2"))
    check = await check_erp_visma(gone)
    assert check.verdict is Verdict.PROBLEM
    assert check.summary.startswith("no answer from http://127.0.0.1:9/v2")
    assert check.next_step == "check the network and [sync.visma].base_url"
