"""``tillgw diag --config`` on Business Central: one token and one read of the company's
information tell whether the credentials, the app's permissions and the company (its orgnr)
are right. Real HTTP to the fake on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from gateway.sync.adapters.business_central.config import BusinessCentralConfig, parse_business_central
from gateway.sync.config import SyncConfig
from tests.sync.fakes.business_central import BusinessCentralFake, settings_for
from tools.diag.checks import Verdict
from tools.diag.checks.erp_business_central import (
    check_business_central,
    check_erp_business_central,
    orgnr_of,
)
from tools.diag.checks.erp_shared import served_orgnrs

ORGNR = "5560360793"


@pytest.fixture
async def fake() -> AsyncIterator[BusinessCentralFake]:
    fake = BusinessCentralFake()
    await fake.start()
    yield fake
    await fake.stop()


def config_of(fake: BusinessCentralFake) -> BusinessCentralConfig:
    return parse_business_central(settings_for(fake))


def test_the_orgnr_is_read_from_the_registration_number(sync_config: SyncConfig) -> None:
    assert orgnr_of("SE556036079301") == orgnr_of("556036-0793") == ORGNR
    assert orgnr_of("") is None and orgnr_of("DE123456789") is None
    assert served_orgnrs(sync_config) == {ORGNR}
    every = dataclasses.replace(sync_config, registers=None, stores=frozenset({"*", "5569999999/malmo"}))
    assert served_orgnrs(every) == {"5569999999"}


async def test_the_right_company_with_working_credentials(fake: BusinessCentralFake) -> None:
    check = await check_business_central(config_of(fake), {ORGNR})
    assert check.verdict is Verdict.OK, check
    assert (
        check.summary
        == f"company CRONUS Sverige AB, orgnr {ORGNR}: credentials, permissions and company right"
    )
    api_calls = [p for m, p in fake.requests if "/api/" in p]
    assert len(api_calls) == 1 and fake.token_requests == 1  # one token, one cheap read


async def test_each_wrong_setting_is_named(fake: BusinessCentralFake) -> None:
    config = config_of(fake)
    wrong = await check_business_central(dataclasses.replace(config, client_secret="nope"), {ORGNR})
    assert (wrong.verdict, wrong.summary) == (Verdict.PROBLEM, "credentials refused: client id or secret")
    wrong = await check_business_central(dataclasses.replace(config, scope="api://other/.default"), {ORGNR})
    assert wrong.summary == "scope refused" and "AADSTS70011" in wrong.details["error"]
    wrong = await check_business_central(
        dataclasses.replace(config, company_id="00000000-0000-0000-0000-0"), {ORGNR}
    )
    assert wrong.summary == "no company 00000000-0000-0000-0000-0 in this environment"
    wrong = await check_business_central(config, {"5569999999"})
    assert wrong.summary == f"company CRONUS Sverige AB is orgnr {ORGNR}, the stores are 5569999999"
    wrong = await check_business_central(config, {ORGNR, "5569999999"})
    assert wrong.summary.startswith("one company (CRONUS Sverige AB) for 2 organisations")
    fake.permitted = False
    wrong = await check_business_central(config, {ORGNR})
    assert (
        wrong.summary == "not allowed: permissions or licence"
        and "Authorization_InsufficientPermissions" in (wrong.details["error"])
    )
    fake.app_enabled = False
    wrong = await check_business_central(config, {ORGNR})
    assert wrong.summary == "token not accepted by Business Central"
    fake.app_enabled = fake.permitted = True
    fake.tax_registration_number = ""
    unknown = await check_business_central(config, {ORGNR})
    assert unknown.verdict is Verdict.WARNING and "has no orgnr" in unknown.summary
    await fake.stop()
    gone = await check_business_central(config, {ORGNR}, timeout_seconds=5)
    assert gone.verdict is Verdict.PROBLEM and gone.summary == "the token endpoint does not answer"


async def test_the_sync_config_gives_the_company_and_the_orgnrs(
    fake: BusinessCentralFake, sync_config: SyncConfig
) -> None:
    assert (
        await check_erp_business_central(sync_config)
    ).summary == "not configured: no [sync.business_central]"
    check = await check_erp_business_central(
        dataclasses.replace(sync_config, business_central=config_of(fake))
    )
    assert check.ok and check.details["orgnr"] == ORGNR
