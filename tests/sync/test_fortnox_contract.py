"""What the fake Fortnox holds every adapter to: Fortnox's OpenAPI definition (the extract in
tests/sync/contracts/fortnox/), over real HTTP, as the adapter's own client sends it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from gateway.sync.adapters.fortnox.api import fortnox_client
from gateway.sync.http import ApiClient, ApiError
from tests.sync.contracts.fortnox import CONTRACT
from tests.sync.fakes.fortnox import FakeFortnox, config_for, running


@pytest.fixture
async def fortnox(tmp_path: Path) -> AsyncIterator[tuple[FakeFortnox, ApiClient]]:
    this = date.today().year
    years = ((date(this - 1, 1, 1), date(this - 1, 12, 31)), (date(this, 1, 1), date(this, 12, 31)))
    async with (
        running(allow_violations=True, years=years) as fake,
        fortnox_client(config_for(fake), tmp_path / "tokens.db") as client,
    ):
        yield fake, client


async def test_lists_answer_their_list_fields_records_their_record(
    fortnox: tuple[FakeFortnox, ApiClient],
) -> None:
    fake, client = fortnox
    fake.add_article("1", "Kaffe", "32.00", vat=12, StockGoods=True, Type="STOCK", Active=True)
    fake.add_customer("1001", "Bygg AB", PriceList="B")
    [listed] = (await client.request("GET", "articles"))["Articles"]
    assert set(listed) <= CONTRACT.properties("fortnox_ArticleListItem")
    assert not {"Active", "Type", "StockGoods", "LastModified"} & set(listed)
    assert (listed["SalesPrice"], listed["VAT"]) == ("32.0", "12")  # text in the list ...
    record = (await client.request("GET", "articles/1"))["Article"]
    assert (record["SalesPrice"], record["VAT"], record["StockGoods"]) == (
        32.0,
        12.0,
        True,
    )  # ... numbers here
    assert "LastModified" not in record  # no article carries one in Fortnox's definition
    [customer] = (await client.request("GET", "customers"))["Customers"]
    assert "PriceList" not in customer and "Active" not in customer
    assert (await client.request("GET", "customers/1001"))["Customer"]["PriceList"] == "B"
    assert fake.violations == []


async def test_what_the_definition_does_not_allow_is_refused_as_fortnox_refuses_it(
    fortnox: tuple[FakeFortnox, ApiClient],
) -> None:
    fake, client = fortnox
    fake.add_article("1", "Kaffe", "32.00")
    with pytest.raises(ApiError, match=r"HTTP 404 to GET prices/sublist/A: .*\(code"):
        await client.request("GET", "prices/sublist/A")
    with pytest.raises(ApiError, match=r"HTTP 400 .*'active' is not defined \(code 2000588\)"):
        await client.request("GET", "articles", params={"active": "true"})
    with pytest.raises(ApiError, match=r"HTTP 400 .*Article.Active: 'yes' is not boolean \(code 2001399\)"):
        await client.request("PUT", "articles/1", json={"Article": {"Active": "yes"}})
    with pytest.raises(ApiError, match=r"HTTP 400 .*Article.IsService: not a property .*\(code 2001399\)"):
        await client.request("PUT", "articles/1", json={"Article": {"IsService": True}})
    with pytest.raises(ApiError, match=r"HTTP 400 .*limit 501: at most 500"):
        await client.request("GET", "articles", params={"limit": 501})
    assert len(fake.violations) == 5 and fake.articles["1"]["Active"] is True  # nothing was done


async def test_a_voucher_belongs_to_the_financial_year_named_or_the_preselected_one(
    fortnox: tuple[FakeFortnox, ApiClient],
) -> None:
    fake, client = fortnox
    last_year = f"{date.today().year - 1}-12-30"
    voucher = {
        "Voucher": {
            "VoucherSeries": "A",
            "Description": "Z 1",
            "TransactionDate": last_year,
            "VoucherRows": [{"Account": 1910, "Debit": 10.0}, {"Account": 3001, "Credit": 10.0}],
        }
    }
    with pytest.raises(ApiError, match=f"Datumet {last_year} ligger utanför räkenskapsåret"):
        await client.request("POST", "vouchers", json=voucher)
    [year] = (await client.request("GET", "financialyears", params={"date": last_year}))["FinancialYears"]
    made = await client.request("POST", "vouchers", params={"financialyear": year["Id"]}, json=voucher)
    assert made["Voucher"]["Year"] == year["Id"] == 1
    sublist = "vouchers/sublist/A"
    assert (await client.request("GET", sublist))["Vouchers"] == []  # the preselected year: this one
    [found] = (await client.request("GET", sublist, params={"financialyear": 1}))["Vouchers"]
    assert found["TransactionDate"] == last_year
    assert fake.violations == []
