"""The OpenAPI checker itself, on Fortnox's extract: what it lets through and what not."""

from __future__ import annotations

from tests.sync.contracts.fortnox import CONTRACT


def test_a_documented_request_passes() -> None:
    query = {"limit": "500", "page": "2", "filter": "active", "lastmodified": "2026-12-01 10:00"}
    assert CONTRACT.check_request("GET", "/3/articles", query) == []
    voucher = {
        "Voucher": {
            "VoucherSeries": "A",
            "Description": "Z 1",
            "TransactionDate": "2026-12-07",
            "VoucherRows": [{"Account": 1910, "Debit": 10.0}, {"Account": 3001, "Credit": 10.0}],
        }
    }
    assert CONTRACT.check_request("POST", "/3/vouchers", {"financialyear": "3"}, voucher) == []


def test_unknown_paths_parameters_and_properties_are_named() -> None:
    assert CONTRACT.check_request("GET", "/3/prices/sublist/B", {}) == [
        "GET /3/prices/sublist/B: no such operation"
    ]
    assert CONTRACT.check_request("DELETE", "/3/vouchers", {}) != []
    (problem,) = CONTRACT.check_request("GET", "/3/customers", {"active": "true"})
    assert "'active' is not defined" in problem
    # fromdate is global only for invoices, orders, offers and vouchers
    assert CONTRACT.check_request("GET", "/3/articles", {"fromdate": "2026-01-01"}) != []
    body = {"Article": {"QuantityInStock": "7"}}
    (problem,) = CONTRACT.check_request("PUT", "/3/articles/A1", {}, body)
    assert "is not number" in problem
    voucher = {"Voucher": {"VoucherSeries": "A", "TransactionDate": "2026-13-01", "Rows": []}}
    problems = CONTRACT.check_request("POST", "/3/vouchers", {"financialyear": "x"}, voucher)
    assert any("financialyear" in p for p in problems)
    assert any("not a date" in p for p in problems)
    assert any("Rows: not a property" in p for p in problems)
    assert any("Description: required" in p for p in problems)


def test_an_answer_with_fields_the_list_does_not_have_is_named() -> None:
    answer = {"Articles": [{"ArticleNumber": "1", "Description": "Kaffe", "Active": True}]}
    (problem,) = CONTRACT.check_response("GET", "/3/articles", 200, answer)
    assert "Active: not a property of fortnox_ArticleListItem" in problem
    error = {"ErrorInformation": {"error": 1, "message": "Kan inte hitta artikeln.", "code": 2000428}}
    assert CONTRACT.check_response("GET", "/3/articles/9", 404, error) == []
