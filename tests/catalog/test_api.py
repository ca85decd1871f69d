"""The catalog through the till's HTTP API: articles, customers, account sales — over real HTTP,
with the bus a real Mosquitto where the test needs one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway.catalog.store import MAX_SEARCH
from gateway.fiscal.journal import open_readonly
from gateway.messages.catalog import Customer
from gateway.messages.envelope import decode_message

from .conftest import (
    COFFEE,
    DEADLINE,
    ORGNR,
    POS_ID,
    STORE,
    ApiFactory,
    Mosquitto,
    article,
    coffee_json,
    mqtt_config,
    revision,
    stock,
    sync_stand_in,
)

SALE: dict[str, Any] = {
    "id": "pos-1",
    "lines": [{"text": "Kaffe", "quantity": 1, "unit_price": "25.00", "vat_rate": 25, "article": "1001"}],
    "payments": [{"method": "other", "amount": "25.00"}],
    "customer": "K1",
}


async def test_articles_by_barcode_by_number_and_by_name(make_api: ApiFactory) -> None:
    api = await make_api()
    for part in revision(
        1,
        0,
        full=True,
        articles=(
            COFFEE,
            article("2001", "Kaffebröd", 3250, vat_rate=1200, service=False, stock_goods=True),
            *(article(f"K{n:03d}", f"Kaffekopp {n}", 9900) for n in range(120)),
        ),
        stock=(stock("2001", "-2"),),
    ):
        await api.till.catalog.apply(part)

    status, found = await api.call("GET", "/v1/articles?barcode=7310865004703")
    assert status == 200
    assert found == coffee_json(None)
    status, by_number = await api.call("GET", "/v1/articles?barcode=2001")  # a number used as a barcode
    assert (status, by_number["name"], by_number["vat_rate"], by_number["stock"]) == (
        200,
        "Kaffebröd",
        "12",
        "-2",
    )
    status, error = await api.call("GET", "/v1/articles?barcode=7300000000000")
    assert (status, error) == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "no article has the barcode '7300000000000'",
                "field": "barcode",
            }
        },
    )
    status, direct = await api.call("GET", "/v1/articles/2001")
    assert (status, direct) == (200, by_number)
    status, error = await api.call("GET", "/v1/articles/nope")
    assert (status, error["error"]["message"]) == (404, "there is no article number 'nope'")

    status, listed = await api.call("GET", "/v1/articles?q=KAFFE&limit=3")
    assert status == 200 and listed["limit"] == 3
    assert [a["name"] for a in listed["articles"]] == ["Kaffe bryggt", "Kaffebröd", "Kaffekopp 0"]
    status, bounded = await api.call("GET", "/v1/articles?q=kaffekopp")
    assert (status, len(bounded["articles"])) == (200, 20)
    status, error = await api.call("GET", f"/v1/articles?q=kaffe&limit={MAX_SEARCH + 1}")
    assert (status, error["error"]["field"]) == (400, "limit")
    status, error = await api.call("GET", "/v1/articles")
    assert (status, error["error"]["code"]) == (400, "bad_request")
    status, error = await api.call("GET", "/v1/articles?barcode=1&q=kaffe")
    assert status == 400

    async with api.session.get(api.url + "/v1/articles?barcode=7310865004703") as response:
        assert response.status == 401  # the same token as the rest

    status, till = await api.call("GET", "/v1/status")
    assert status == 200
    catalog = till["catalog"]
    assert (catalog["revision"], catalog["articles"], catalog["updates"]) == (1, 122, None)


async def test_customers_made_and_changed_at_the_till_are_journaled(make_api: ApiFactory) -> None:
    api = await make_api()
    await api.till.catalog.apply(revision(1, 0, full=True, customers=(Customer("K1", "Anna AB"),))[0])

    status, made = await api.call(
        "POST", "/v1/customers", {"name": "Bertil Bygg HB", "orgnr": "9696001111", "address": ["Box 1"]}
    )
    assert status == 201 and made["created"] is True
    assert made["customer"] == {
        "number": f"T-{POS_ID}-1",
        "name": "Bertil Bygg HB",
        "orgnr": "9696001111",
        "email": None,
        "phone": None,
        "address": ["Box 1"],
        "price_list": None,
        "provisional": True,
    }
    status, changed = await api.call(
        "POST", "/v1/customers", {"number": "K1", "name": "Anna AB", "email": "anna@example.se"}
    )
    assert (status, changed["created"], changed["customer"]["provisional"]) == (200, False, False)
    status, fetched = await api.call("GET", "/v1/customers/K1")
    assert (status, fetched["email"]) == (200, "anna@example.se")
    status, searched = await api.call("GET", "/v1/customers?q=bygg")
    assert [c["number"] for c in searched["customers"]] == [f"T-{POS_ID}-1"]
    status, error = await api.call("GET", "/v1/customers/K9")
    assert (status, error["error"]["code"]) == (404, "not_found")

    status, error = await api.call("POST", "/v1/customers", {"name": "X", "email": "not an address"})
    assert (status, error["error"]["field"], error["error"]["code"]) == (422, "email", "invalid")
    status, error = await api.call("POST", "/v1/customers", {"orgnr": "1"})
    assert (status, error["error"]["field"]) == (422, "name")
    status, error = await api.call("POST", "/v1/customers", {"name": "X", "colour": "red"})
    assert (status, error["error"]["field"]) == (422, "colour")

    with open_readonly(api.till.files.database) as conn:
        bodies = [
            json.loads(row[0])
            for row in conn.execute("SELECT body FROM journal WHERE kind = 'customer.change' ORDER BY seq")
        ]
    assert [(b["number"], b["name"], b["pos_id"]) for b in bodies] == [
        (f"T-{POS_ID}-1", "Bertil Bygg HB", POS_ID),
        ("K1", "Anna AB", POS_ID),
    ]


async def test_the_bus_brings_the_catalog_and_takes_customers_and_account_sales(
    make_api: ApiFactory, mosquitto: Mosquitto
) -> None:
    register = f"tillgw/{ORGNR}/{STORE}/{POS_ID}"
    async with sync_stand_in(mosquitto, f"{register}/customers", f"{register}/receipts") as sync:
        api = await make_api(mqtt_config(mosquitto))
        updates = api.till.catalog_updates
        assert updates is not None
        _, request = await sync.request()
        assert (request.holds, request.reason) == (0, "start")
        await sync.send(
            *revision(1, 0, full=True, articles=(article("1001", "Kaffe", 2500, "7310865004703"),))
        )
        async with asyncio.timeout(DEADLINE):
            await updates.wait_until(lambda: api.till.catalog.revision == 1)
        status, found = await api.call("GET", "/v1/articles?barcode=7310865004703")
        assert (status, found["number"]) == (200, "1001")
        status, till = await api.call("GET", "/v1/status")
        assert (till["catalog"]["revision"], till["catalog"]["updates"]["state"]) == (1, "ready")

        status, made = await api.call("POST", "/v1/customers", {"name": "Anna AB"})
        assert status == 201
        topic, data = await sync.message()
        message = decode_message(data)
        assert (topic, message.kind) == (f"{register}/customers", "customer.change")
        assert message.payload == {**Customer(f"T-{POS_ID}-1", "Anna AB").to_json(), "pos_id": POS_ID}

        # A sale on account: the customer travels with the receipt, to the journal, the POS and the bus.
        status, sold = await api.call(
            "POST", "/v1/receipts", {**SALE, "customer": made["customer"]["number"]}
        )
        assert status == 201, sold
        assert sold["receipt"]["customer"] == f"T-{POS_ID}-1"
        while True:
            topic, data = await sync.message()
            if topic.endswith("/receipts"):
                break
        receipt = decode_message(data)
        assert receipt.payload["sale"]["customer"] == f"T-{POS_ID}-1"
        status, again = await api.call("GET", f"/v1/receipts/{sold['receipt_no']}")
        assert again["receipt"]["customer"] == f"T-{POS_ID}-1"
        with open_readonly(api.till.files.database) as conn:
            pending = conn.execute("SELECT body FROM journal WHERE kind = 'receipt.pending'").fetchone()
        assert json.loads(pending[0])["receipt"]["customer"] == f"T-{POS_ID}-1"

    # A restart (without the bus, even) keeps the catalog, and the till's numbers go on.
    api = await make_api(None)
    status, found = await api.call("GET", "/v1/articles?barcode=7310865004703")
    assert (status, found["name"]) == (200, "Kaffe")
    assert api.till.catalog.revision == 1
    status, made = await api.call("POST", "/v1/customers", {"name": "Bertil HB"})
    assert made["customer"]["number"] == f"T-{POS_ID}-2"


async def test_a_receipt_without_a_customer_keeps_its_json_as_before(make_api: ApiFactory) -> None:
    api = await make_api()
    plain = {k: v for k, v in SALE.items() if k != "customer"}
    status, sold = await api.call("POST", "/v1/receipts", plain)
    assert status == 201 and "customer" not in sold["receipt"]
    status, error = await api.call("POST", "/v1/receipts", {**SALE, "id": "pos-2", "customer": "x" * 61})
    assert (status, error["error"]["field"]) == (422, "customer")
