"""A whole number written with a point (``125.0``) is that whole number, as JSON Schema and the
OpenAPI document count it; a number with a fraction (``22.5``) is still refused, naming the field."""

from __future__ import annotations

from gateway.api.reading import json_number
from tests.api.conftest import Api


def test_a_whole_number_written_with_a_point_or_an_exponent_is_an_integer() -> None:
    assert json_number("2316.0") == 2316 and isinstance(json_number("2316.0"), int)
    assert json_number("1e3") == 1000 and isinstance(json_number("1e3"), int)
    assert isinstance(json_number("22.5"), float)
    assert isinstance(json_number("1e300"), float)  # no field takes it: not written out


async def test_a_receipt_with_whole_numbers_written_with_a_point_is_registered(api: Api) -> None:
    body = {
        "id": "whole-numbers",
        "lines": [{"text": "Kaffe", "quantity": 2.0, "unit_price": 32.0, "vat_rate": 12.0}],
        "payments": [{"method": "card", "amount": 64.0}],
    }
    status, answer = await api.call("POST", "/v1/receipts", body)
    assert status == 201, answer
    assert answer["receipt"]["lines"][0]["quantity"] == "2"
    assert answer["totals"]["to_pay"] == "64.00"


async def test_a_number_with_a_fraction_is_still_refused(api: Api) -> None:
    body = {
        "id": "fraction",
        "lines": [{"text": "Kaffe", "quantity": 1, "unit_price": 22.5, "vat_rate": 25}],
        "payments": [{"method": "card", "amount": "22.50"}],
    }
    status, answer = await api.call("POST", "/v1/receipts", body)
    assert status == 422
    assert answer["error"]["field"] == "lines[0].unit_price"
