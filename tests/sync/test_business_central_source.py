"""Business Central as the master-data source, against the fake that enforces BC's API v2.0
contract (and the Item Journal page published as an OData v4 web service): real HTTP on
127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_tokens
from gateway.sync.adapters.business_central.config import BusinessCentralConfig, parse_business_central
from gateway.sync.adapters.business_central.source import BusinessCentralSource
from gateway.sync.http.client import ApiError
from gateway.sync.masterdata.source import SourceCustomer
from tests.sync.fakes.business_central import BusinessCentralFake, settings_for


@dataclass
class BC:
    fake: BusinessCentralFake
    config: BusinessCentralConfig
    tokens: Path
    sources: list[BusinessCentralSource] = field(default_factory=list)

    def source(self, config: BusinessCentralConfig | None = None) -> BusinessCentralSource:
        config = config or self.config
        api = BusinessCentralApi(config, bc_tokens(config, self.tokens), backoff=0.001)
        source = BusinessCentralSource(config, api)
        self.sources.append(source)
        return source


def settings(fake: BusinessCentralFake, **more: Any) -> dict[str, Any]:
    # A fake not started has no address yet: a config is read all the same.
    unstarted = {"base_url": "https://bc.example/api/v2.0", "token_url": "https://login.example/token"}
    vat_groups = {"25": 25, "12": 12, "6": 6, "0": 0}
    return {**settings_for(fake, vat_groups=vat_groups), **({} if fake.url else unstarted), **more}


@pytest.fixture
async def bc(tmp_path: Path) -> AsyncIterator[BC]:
    fake = BusinessCentralFake()
    await fake.start()
    bc = BC(fake, parse_business_central(settings(fake, odata_url=fake.odata_url)), tmp_path / "tokens.db")
    yield bc
    for source in bc.sources:
        await source.close()
        await source.api.close()
    await fake.stop()


def test_the_configuration_names_the_key_that_is_wrong() -> None:
    good = settings(BusinessCentralFake())
    with pytest.raises(ConfigError, match=r"\[sync.business_central\].vat_groups.MOMS: 26 is not one of"):
        parse_business_central({**good, "vat_groups": {"MOMS": 26}})
    with pytest.raises(
        ConfigError, match=r"\[sync.business_central\].odata_url: 'https://bc/ODataV4' is not"
    ):
        parse_business_central({**good, "odata_url": "https://bc/ODataV4"})
    with pytest.raises(
        ConfigError, match=r"\[sync.business_central\].item_references: must be true or false"
    ):
        parse_business_central({**good, "item_references": "yes"})
    # API v2.0 has no itemReferences entity: an older file that asks for it is told what to set.
    with pytest.raises(
        ConfigError, match=r"item_references: API v2.0 has no item references.*item_reference_page"
    ):
        parse_business_central({**good, "item_references": True})
    assert parse_business_central({**good, "item_references": False}).item_reference_page is None
    with pytest.raises(ConfigError, match=r"item_reference_page: 'itemReferences' is not"):
        parse_business_central({**good, "item_reference_page": "itemReferences"})
    with pytest.raises(ConfigError, match=r"\[sync.business_central\].company_id: missing"):
        parse_business_central({k: v for k, v in good.items() if k != "company_id"})
    config = parse_business_central(good)
    assert (
        config.vat_groups["12"] == 1200 and config.odata_url is None and config.item_journal == "ItemJournal"
    )


async def test_items_and_customers_in_full_and_by_changes(bc: BC) -> None:
    fake = bc.fake
    old = "2026-01-01T00:00:00.000Z"
    fake.add_item("1001", "Kaffe", "26.00", 12, lastModifiedDateTime=old, gtin="7310000000017")
    fake.add_item("1002", "Mugg", "60.00", 25, lastModifiedDateTime=old, blocked=True, priceIncludesTax=True,
                  itemCategoryCode="PORSLIN", inventory=7.0)  # fmt: skip
    fake.add_item("1003", "Montering", "150.00", 25, lastModifiedDateTime="2026-06-01T10:00:00.000Z",
                  type="Service")  # fmt: skip
    page = fake.publish_reference_page("contoso/pos/v1.0")
    fake.add_reference("1001", "7310000000024")
    fake.add_reference("1001", "7310000000017")  # the gtin again: once
    fake.add_reference("1002", "LEV-77", kind="Vendor")
    fake.add_customer("20000", "Anna Andersson", lastModifiedDateTime=old, email="anna@example.se",
                      addressLine1="Storgatan 1", postalCode="352 30", city="Växjö")  # fmt: skip
    fake.add_customer("30000", "Bygg AB", lastModifiedDateTime="2026-06-02T00:00:00.000Z", blocked="All")
    source = bc.source(replace(bc.config, item_reference_page=page))

    articles = [a async for a in source.articles(None)]
    assert [a.number for a in articles] == ["1001", "1002", "1003"]
    kaffe, mugg, montering = articles
    assert (kaffe.price, kaffe.price_includes_vat, kaffe.vat_rate) == (26_00, False, 1200)
    assert kaffe.barcodes == ("7310000000017", "7310000000024") and kaffe.stock_goods is True
    assert (mugg.active, mugg.price_includes_vat, mugg.group, mugg.barcodes) == (False, True, "PORSLIN", ())
    assert montering.service is True and montering.stock_goods is False
    assert kaffe.modified_at == datetime(2026, 1, 1, tzinfo=UTC)
    pages = [p for m, p in fake.requests if m == "GET" and "/items" in p]
    assert len(pages) == 2  # three items, two a page (@odata.nextLink)

    since = datetime(2026, 3, 1, tzinfo=UTC)
    assert [a.number async for a in source.articles(since)] == ["1003"]
    customers = [c async for c in source.customers(None)]
    assert [(c.number, c.active) for c in customers] == [("20000", True), ("30000", False)]
    assert customers[0].address == ("Storgatan 1", "352 30 Växjö") and customers[0].email == "anna@example.se"
    assert [c.number async for c in source.customers(since)] == ["30000"]
    assert await source.stock(None) == {"1001": Decimal(0), "1002": Decimal(7)}

    without = bc.source()  # no partner page: the gtin only
    assert {a.number: a.barcodes async for a in without.articles(None)}["1001"] == ("7310000000017",)
    # A page the partner has not published (a wrong name) is BC's 404, quoted; nothing is read.
    unpublished = bc.source(replace(bc.config, item_reference_page="other/pos/v1.0/itemReferences"))
    with pytest.raises(AdapterError, match=r"HTTP 404 .*No API is published at api/other/pos/v1.0"):
        [a async for a in unpublished.articles(None)]
    assert [v.split(": ", 1)[1] for v in fake.violations] == ["No API is published at api/other/pos/v1.0"]
    fake.violations.clear()
    fake.add_item("1004", "Okänd", "1.00", 99)
    with pytest.raises(AdapterError, match=r"item 1004: tax group '99' is not in"):
        [a async for a in source.articles(None)]


async def test_set_stock_writes_item_journal_adjustments_once(bc: BC) -> None:
    fake = bc.fake
    fake.add_item("1001", "Kaffe", "26.00", 12, inventory=7.0)
    fake.add_item("1002", "Mugg", "48.00", 25)
    source = bc.source()
    await source.set_stock({"1001": Decimal(5), "1002": Decimal(3)})
    assert [(x["Item_No"], x["Entry_Type"], x["Quantity"]) for x in fake.item_journal] == [
        ("1001", "Negative Adjmt.", 2.0),
        ("1002", "Positive Adjmt.", 3.0),
    ]
    await source.set_stock({"1001": Decimal(5), "1002": Decimal(3)})  # not posted yet: nothing more
    assert len(fake.item_journal) == 2
    fake.post_item_journal()
    assert await source.stock(None) == {"1001": Decimal(5), "1002": Decimal(3)}
    with pytest.raises(AdapterError, match="no inventory item 9999"):
        await source.set_stock({"9999": Decimal(1)})
    unset = bc.source(replace(bc.config, odata_url=None))
    with pytest.raises(AdapterError, match=r"odata_url is not set"):
        await unset.set_stock({"1001": Decimal(1)})


async def test_save_customer_creates_and_updates_with_the_etag(bc: BC) -> None:
    fake = bc.fake
    fake.add_customer("20000", "Anna Andersson")
    source = bc.source()
    number = await source.save_customer(SourceCustomer("", "Kalle Karlsson", email="kalle@example.se"))
    assert number == "C10001" and fake.customers[-1]["email"] == "kalle@example.se"
    etag = fake.customers[0]["@odata.etag"]
    assert await source.save_customer(SourceCustomer("20000", "Anna Berg", address=("Gatan 2",))) == "20000"
    assert fake.customers[0]["displayName"] == "Anna Berg" and fake.customers[0]["addressLine1"] == "Gatan 2"
    # A stale etag (changed in BC meanwhile) is refused, not overwritten.
    api = source.api
    with pytest.raises(ApiError, match=r"HTTP 412 .*Another user has already changed the record"):
        await api.client.patch(
            f"{api.company}/customers({fake.customers[0]['id']})", {"displayName": "X"}, etag
        )
    assert fake.customers[0]["displayName"] == "Anna Berg"
    with pytest.raises(AdapterError, match="Business Central has no customer 77777"):
        await source.save_customer(SourceCustomer("77777", "Ingen"))
    with pytest.raises(AdapterError, match=r"save customer '': HTTP 400 .*displayName must have a value"):
        await source.save_customer(SourceCustomer("", ""))
