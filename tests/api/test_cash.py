"""Cash over the API: tendered cash rounded like the total, change in whole kronor, messages in kronor."""

from __future__ import annotations

from tests.api.conftest import Api, sale


async def test_the_exact_total_in_cash_gives_no_change_in_ore(api: Api) -> None:
    status, answer = await api.call("POST", "/v1/receipts", sale("cash-1", price="25.40", method="cash"))
    assert status == 201, answer
    totals = answer["totals"]
    assert (totals["total"], totals["rounding"], totals["to_pay"]) == ("25.40", "-0.40", "25.00")
    assert (totals["paid"], totals["change"]) == ({"cash": "25.00"}, "0.00")
    assert "Växel" not in answer["text"]
    assert "Öresavrundning" in answer["text"]


async def test_change_is_whole_kronor(api: Api) -> None:
    body = sale("cash-2", price="25.40", method="cash")
    body["payments"][0]["amount"] = "50.00"
    status, answer = await api.call("POST", "/v1/receipts", body)
    assert status == 201, answer
    assert answer["totals"]["change"] == "25.00"
    assert any(line.startswith("Växel") and line.endswith("25,00") for line in answer["text"].splitlines())


async def test_too_little_cash_is_told_in_kronor(api: Api) -> None:
    body = sale("cash-3", price="32.00", method="cash")
    body["payments"][0]["amount"] = "20.00"
    status, answer = await api.call("POST", "/v1/receipts", body)
    assert status == 422
    assert answer["error"] == {
        "code": "invalid",
        "message": "cash 20,00 kr is less than the 32,00 kr due in cash",
        "field": "payments",
    }
