"""The Visma eEkonomi / Spiris fake and adapter held to Visma's API definition
(tests/sync/contracts/visma/): what the checker refuses, how the fake refuses it, the token
endpoint's HTTP Basic and both kinds of refresh token, and one company per orgnr.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.visma.api import VismaApi, visma_tokens
from gateway.sync.adapters.visma.config import parse_visma
from gateway.sync.http.oauth import store_initial
from gateway.sync.sql import SqlConnection
from tests.sync.conftest import ORGNR, TillFactory, process_one
from tests.sync.contracts.visma_check import contract
from tests.sync.fakes.visma import VismaFake
from tests.sync.test_visma import Visma, dashed, day_messages, visma  # noqa: F401 - the fixture

# -- the checker ------------------------------------------------------------------------------


def test_the_checker_refuses_what_the_adapter_once_sent() -> None:
    c = contract()
    # A customer as the till once made it: three required properties missing.
    problems = c.check_request(
        "POST", "/v2/customers", {}, {"Name": "Kalle", "IsPrivatePerson": True, "IsActive": True}
    )
    assert problems == [
        "POST /v2/customers body: InvoiceCity is required",
        "POST /v2/customers body: InvoicePostalCode is required",
        "POST /v2/customers body: TermsOfPaymentId is required",
    ]
    # IsService is no property of an article; the service flag is IsServiceArticle.
    article = {
        "IsActive": True,
        "Number": "1",
        "Name": "x",
        "CodingId": "c",
        "UnitId": "u",
        "IsService": True,
    }
    assert c.check_request("PUT", "/v2/articles/abc", {}, article) == [
        "PUT /v2/articles/{articleId} body: 'IsService' is not a property of ArticleApi"
    ]
    assert c.check_request("GET", "/v2/prices", {}, None) == [
        "GET /v2/prices: no such operation in Visma's API definition"
    ]
    assert c.check_request("DELETE", "/v2/vouchers", {}, None)
    assert c.check_request("GET", "/v2/articles", {"$top": "5"}, None) == [
        "GET /v2/articles: query parameter '$top' is not in the definition"
    ]
    assert c.check_request("GET", "/v2/articles", {"$filter": "IsService eq true"}, None) == [
        "GET /v2/articles: $filter names 'IsService', not a property of ArticleApi"
    ]
    assert c.check_request("GET", "/v2/articles", {"$pagesize": "5000"}, None) == [
        "GET /v2/articles: $pagesize must be 1-1000, not 5000"
    ]
    # A row's account is an integer, its text at most 60 characters.
    voucher = {
        "VoucherDate": "2026-06-01",
        "VoucherText": "Z",
        "Rows": [{"AccountNumber": "1910", "DebitAmount": 1.0, "TransactionText": "x" * 61}],
    }
    assert c.check_request("POST", "/v2/vouchers", {}, voucher) == [
        "POST /v2/vouchers body.Rows[0].AccountNumber: '1910' is not of type integer",
        "POST /v2/vouchers body.Rows[0].TransactionText: longer than 60 characters",
    ]
    # What the adapter sends now is allowed.
    good = {**voucher, "Rows": [{"AccountNumber": 1910, "DebitAmount": 1.0, "CreditAmount": 0.0}]}
    assert c.check_request("POST", "/v2/vouchers", {}, good) == []
    assert c.check_request("GET", "/v2/vouchers", {"$page": "1", "$pagesize": "100"}, None) == []


@pytest.fixture
async def fake() -> AsyncIterator[VismaFake]:
    fake = VismaFake()
    await fake.start()
    yield fake
    await fake.stop()


async def _token(fake: VismaFake) -> str:
    async with aiohttp.ClientSession() as session:
        basic = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
        form = {"grant_type": "refresh_token", "refresh_token": fake.first_refresh_token()}
        async with session.post(
            fake.token_url, data=form, headers={"Authorization": f"Basic {basic}"}
        ) as resp:
            assert resp.status == 200
            return str((await resp.json())["access_token"])


async def test_the_fake_refuses_as_visma_does_and_records_each_violation(fake: VismaFake) -> None:
    token = await _token(fake)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{fake.api_url}/prices/sublist/A") as resp:
            assert resp.status == 404
            assert (await resp.json())["ErrorCode"] == 4004
        body = {"Name": "Kalle", "IsPrivatePerson": True, "IsActive": True, "Nickname": "K"}
        async with session.post(f"{fake.api_url}/customers", json=body) as resp:
            assert resp.status == 400
            error = await resp.json()
            assert set(error) == {"ErrorCode", "DeveloperErrorMessage", "ErrorId"}
            assert "'Nickname' is not a property of CustomerApi" in error["DeveloperErrorMessage"]
            assert "TermsOfPaymentId is required" in error["DeveloperErrorMessage"]
        async with session.get(f"{fake.api_url}/articles", params={"$top": "1"}) as resp:
            assert resp.status == 400
    assert len(fake.violations) == 6 and fake.customers == []  # one per problem

    # A token without the sales scope reaches no article: 403.
    fake.granted.discard("ea:sales")
    limited = await _token(fake)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {limited}"}) as session,
        session.get(f"{fake.api_url}/articles") as resp,
    ):
        assert resp.status == 403
        assert "ea:sales" in (await resp.json())["DeveloperErrorMessage"]


async def test_the_token_endpoint_takes_http_basic_only(fake: VismaFake) -> None:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": fake.first_refresh_token(),
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    async with aiohttp.ClientSession() as session, session.post(fake.token_url, data=form) as resp:
        assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    assert fake.refreshes == 0


@pytest.mark.parametrize(
    ("rotated", "answered"),
    [(True, True), (False, True), (False, False)],
    ids=["rotated", "reusable, answered again", "reusable, left out"],
)
async def test_rotated_and_reusable_refresh_tokens_both_work(
    tmp_path: Path, rotated: bool, answered: bool
) -> None:
    fake = VismaFake(rotate_refresh_tokens=rotated, answer_reused_refresh_token=answered)
    await fake.start()
    try:
        config = parse_visma(
            {
                "base_url": fake.api_url,
                "token_url": fake.token_url,
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
            }
        )
        tokens = tmp_path / "tokens.db"
        first = fake.first_refresh_token()
        await store_initial(tokens, "visma", "", visma_tokens(config, tokens).endpoint, refresh_token=first)
        for _ in range(3):  # three runs, each a fresh process with the token file
            auth = visma_tokens(config, tokens)
            api = VismaApi(config, auth, backoff=0.001)
            try:
                assert (await api.request("GET", "companysettings"))["Name"] == "Butiken AB"
                fake.expire_tokens()  # the next run must refresh again
            finally:
                await api.close()
        assert fake.refreshes == 3
        if rotated:
            assert first in fake.spent_refresh_tokens and len(fake.spent_refresh_tokens) == 3
        else:
            assert fake.refresh_tokens == {first} and not fake.spent_refresh_tokens
    finally:
        await fake.stop()
    assert fake.violations == []


async def test_a_z_of_another_organisation_number_is_never_booked_here(
    make_till: TillFactory,
    visma: Visma,  # noqa: F811
    db: SqlConnection,
) -> None:
    z = (await day_messages(make_till))[-1]
    other = msgspec.structs.replace(z, orgnr="5591234567")
    adapter = visma.adapter()
    await adapter.setup(db)
    with pytest.raises(AdapterError, match=rf"is organisation number 5591234567, but this .* is {ORGNR}"):
        await process_one(db, adapter, other)
    assert visma.fake.vouchers == []
    done = await process_one(db, adapter, z)
    assert done is not None and "as voucher A1" in done
    assert visma.fake.settings["CorporateIdentityNumber"] == dashed(ORGNR)


def test_the_fake_cannot_hold_or_answer_a_field_visma_does_not_have() -> None:
    fake = VismaFake()
    with pytest.raises(AssertionError, match="'IsService' is not a property of ArticleApi"):
        fake.add_article("1", "Montering", "400.00", IsService=True)
    with pytest.raises(AssertionError, match="'PriceList' is not a property of CustomerApi"):
        fake.add_customer("1", "Bygg AB", PriceList="B")
    with pytest.raises(AssertionError, match="IsStock exists only with the stock module"):
        fake.add_article("2", "Lampa", "100.00", stock=True)
    # A list item is the whole record in Visma's definition: what the fake lists is checked as one.
    assert contract().check_record("ArticleApi", fake.add_article("3", "Mugg", "48.00")) == []
