"""The Business Central fake refuses what the API v2.0 pages do not allow, as BC refuses it,
and answers only the pages' fields; the extracted contract says what the adapters had wrong.
Real HTTP to the fake on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.sync.contracts.bc_contract import ApiV2Contract
from tests.sync.fakes.business_central import BusinessCentralFake

CONTRACT = ApiV2Contract.load()


def test_the_pages_name_what_the_adapters_had_wrong() -> None:
    invoices = CONTRACT.entities["salesInvoices"]
    assert "salesperson" in invoices.fields and "salespersonCode" not in invoices.fields
    assert "itemReferences" not in CONTRACT.entities and "itemReferences" not in CONTRACT.company_sets
    assert CONTRACT.entities["items"].fields["gtin"] == ("string", False)
    assert CONTRACT.entities["salesOrders"].actions == {"shipAndInvoice"}
    assert "post" in invoices.actions and "salesInvoiceLines" in invoices.parts
    assert CONTRACT.entities["salesOrderLines"].fields["invoiceQuantity"] == ("number", False)
    assert CONTRACT.entities["salesInvoices"].fields["number"] == ("string", True)


class Client:
    """Plain HTTP to the fake with a valid token: what the adapters send, and worse."""

    def __init__(self, fake: BusinessCentralFake, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.token = fake.issue_access_token()[0]

    async def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"{self.fake.api_url}/companies({self.fake.company}){path}"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    fake = BusinessCentralFake()
    await fake.start()
    fake.add_customer("KONTANT", "Kontantkund")
    fake.add_item("1001", "Kaffe", "26.00", 12, gtin="7310000000017")
    async with aiohttp.ClientSession() as session:
        yield Client(fake, session)
    fake.violations.clear()  # each test here sends what is refused on purpose
    await fake.stop()


async def test_requests_the_pages_do_not_allow_are_refused_as_bc_refuses_them(client: Client) -> None:
    fake = client.fake
    invoice = {"customerNumber": "KONTANT", "invoiceDate": "2026-12-07", "externalDocumentNumber": "X-1"}
    status, body = await client.send("POST", "/salesInvoices", {**invoice, "salespersonCode": "ANNA"})
    assert status == 400 and body["error"]["code"] == "BadRequest"
    assert body["error"]["message"].startswith(
        "The property 'salespersonCode' does not exist on type 'Microsoft.NAV.salesInvoice'."
    )
    status, body = await client.send("GET", "/itemReferences")
    assert (status, body["error"]["message"]) == (404, "Resource not found for the segment 'itemReferences'.")
    status, body = await client.send("POST", "/salesInvoices", {**invoice, "number": "S-1"})
    assert (status, body["error"]["message"]) == (400, "The property 'number' is read-only.")
    status, body = await client.send("POST", "/salesInvoices", {**invoice, "invoiceDate": "7/12/2026"})
    assert status == 400 and "'invoiceDate' must be a date" in body["error"]["message"]
    status, body = await client.send("GET", "/items?$filter=ean eq '7310000000017'")
    assert status == 400 and "Could not find a property named 'ean'" in body["error"]["message"]
    status, body = await client.send("GET", "/items?limit=10")
    assert status == 400 and "query parameter 'limit'" in body["error"]["message"]
    status, body = await client.send("DELETE", "/companyInformation(x)")
    assert status == 405
    status, body = await client.send("GET", "/salesInvoices(x)/dimensionSetLines")
    assert status == 404  # a part the adapters must not use is not in the extract
    assert len(fake.violations) == 8 and fake.invoices == []
    # What the contract allows goes through.
    status, body = await client.send("POST", "/salesInvoices", {**invoice, "salesperson": "ANNA"})
    assert status == 201 and body["salesperson"] == "ANNA"
    status, body = await client.send("GET", "/items?$filter=gtin eq '7310000000017'")
    assert status == 200 and [x["number"] for x in body["value"]] == ["1001"]


async def test_the_fake_answers_only_the_pages_fields(client: Client) -> None:
    fake = client.fake
    for path in ("/items", "/customers", "/companyInformation"):
        status, body = await client.send("GET", path)
        assert status == 200
        entity = CONTRACT.entities[path[1:]]
        for record in body["value"]:
            assert set(record) - {"@odata.etag"} <= set(entity.fields), path
    assert fake.violations == []
    fake.items[0]["ean"] = "7310000000017"  # a field the items page has not
    status, body = await client.send("GET", "/items")
    assert status == 500 and "items answered fields it has not: ['ean']" in body["error"]["message"]
    assert len(fake.violations) == 1


async def test_a_violation_left_in_the_fake_fails_the_test() -> None:
    fake = BusinessCentralFake()
    await fake.start()
    async with aiohttp.ClientSession() as session:
        await Client(fake, session).send("GET", "/itemReferences")
    with pytest.raises(AssertionError, match=r"itemReferences: Resource not found for the segment"):
        await fake.stop()
