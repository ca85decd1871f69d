"""The receipt model's rules: line amounts, discounts, VAT per rate, cash rounding, limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.receipts.model import (
    Line,
    LineKind,
    Payment,
    PaymentMethod,
    Receipt,
    ReceiptError,
    VatAmount,
    compute,
    round_half_away,
)

CASH, CARD = PaymentMethod.CASH, PaymentMethod.CARD


def line(price: int, qty: str = "1", rate: int = 2500, **kw: object) -> Line:
    return Line(text=kw.pop("text", "vara"), quantity=Decimal(qty), unit_price=price, vat_rate=rate, **kw)  # type: ignore[arg-type]


def test_round_half_away_from_zero() -> None:
    assert [round_half_away(Decimal(x)) for x in ("0.5", "1.49", "-0.5", "-1.5", "2.5")] == [1, 1, -1, -2, 3]


def test_vat_is_computed_per_rate_on_the_rate_sum() -> None:
    # Three lines of 0,99 at 25 %: per line VAT would be 0,20 each (0,60); on the sum it is 0,59.
    totals = compute(Receipt(tuple(line(99) for _ in range(3)), (Payment(CARD, 297),)))
    assert totals.vat == (VatAmount(2500, 297, 59),)
    mixed = compute(
        Receipt((line(12500), line(4500, rate=1200), line(1000, rate=600)), (Payment(CARD, 18000),))
    )
    assert [(v.rate, v.gross, v.vat, v.net) for v in mixed.vat] == [
        (2500, 12500, 2500, 10000),
        (1200, 4500, 482, 4018),
        (600, 1000, 57, 943),
    ]


def test_weighed_goods_round_the_line_to_ore_and_count_as_one_item() -> None:
    totals = compute(Receipt((line(3990, "0.347", rate=1200),), (Payment(CARD, 1385),)))
    assert totals.total == 1385  # 0.347 kg x 39,90 = 13,8453
    assert totals.items == 1


def test_line_and_receipt_discounts_spread_exactly_over_rates() -> None:
    receipt = Receipt(
        (line(10000, discount=1000), line(5000, rate=1200), line(3333, rate=600)),
        (Payment(CARD, 16333),),
        discount=1000,
    )
    totals = compute(receipt)
    assert totals.total == 18333 - 2000
    assert sum(totals.line_amounts) == totals.total
    assert totals.discount_total == 2000
    assert sum(v.gross for v in totals.vat) == totals.total


@given(st.integers(0, 100_000), st.lists(st.integers(1, 1_000_000), min_size=1, max_size=30))
def test_receipt_discount_shares_always_add_up(discount: int, prices: list[int]) -> None:
    discount = min(discount, sum(prices))
    due = sum(prices) - discount
    receipt = Receipt(tuple(line(p) for p in prices), (Payment(CARD, due),) if due else (), discount=discount)
    totals = compute(receipt)
    assert totals.total == sum(prices) - discount
    assert all(a >= 0 for a in totals.line_amounts)


def test_cash_is_rounded_to_whole_kronor_and_kept_apart() -> None:
    totals = compute(Receipt((line(18740),), (Payment(CASH, 20000),)))
    assert (totals.total, totals.rounding, totals.to_pay, totals.change) == (18740, -40, 18700, 1300)
    up = compute(Receipt((line(18750),), (Payment(CASH, 18800),)))
    assert (up.rounding, up.to_pay, up.change) == (50, 18800, 0)
    assert up.paid == {CASH: 18800}


def test_card_pays_to_the_ore_and_only_the_cash_part_is_rounded() -> None:
    totals = compute(Receipt((line(18740),), (Payment(CARD, 10000), Payment(CASH, 8700))))
    assert (totals.rounding, totals.to_pay, totals.paid) == (-40, 18700, {CARD: 10000, CASH: 8700})
    words = "payments: the payments come to 187,00 kr but the receipt to 187,40 kr"
    with pytest.raises(ReceiptError, match=words):
        compute(Receipt((line(18740),), (Payment(CARD, 18700),)))


@pytest.mark.parametrize(
    ("price", "cash", "to_pay", "change"),
    [
        (2540, 2540, 2500, 0),  # the exact total handed over: no "Växel 0,40"
        (2550, 2550, 2600, 0),
        (2540, 3000, 2500, 500),
        (2540, 2960, 2500, 500),  # 29,60 kr cannot be handed over: it is 30,00 kr
        (18740, 20000, 18700, 1300),
    ],
)
def test_cash_tendered_is_rounded_like_the_total_and_change_is_whole_kronor(
    price: int, cash: int, to_pay: int, change: int
) -> None:
    totals = compute(Receipt((line(price),), (Payment(CASH, cash),)))
    assert (totals.to_pay, totals.change, totals.paid) == (to_pay, change, {CASH: to_pay})
    assert totals.change % 100 == 0


def test_messages_for_people_give_amounts_in_kronor() -> None:
    with pytest.raises(ReceiptError) as info:
        compute(Receipt((line(3200),), (Payment(CASH, 2000),)))
    assert info.value.reason == "cash 20,00 kr is less than the 32,00 kr due in cash"
    with pytest.raises(ReceiptError) as info:
        compute(Receipt((line(3200),), (Payment(CASH, 3140),)))
    assert info.value.reason == "cash 31,40 kr (rounded: 31,00 kr) is less than the 32,00 kr due in cash"
    with pytest.raises(ReceiptError) as info:
        compute(Receipt((line(3200, "-1"),), (Payment(CARD, 3200),)))
    assert info.value.reason == "must be a refund (negative) on this receipt, got 32,00 kr"
    with pytest.raises(ReceiptError) as info:
        compute(Receipt((line(3200, discount=5000),), (Payment(CARD, 3200),)))
    assert info.value.reason == "50,00 kr is more than the line's 32,00 kr"
    with pytest.raises(ReceiptError) as info:
        compute(Receipt((line(123456),), (Payment(CARD, 123456),), discount=200000))
    assert info.value.reason == "2 000,00 kr is more than the receipt's 1 234,56 kr"


def test_a_return_receipt() -> None:
    totals = compute(Receipt((line(14200, "-1"),), (Payment(CASH, -14200),)))
    assert (totals.is_return, totals.total, totals.return_total) == (True, -14200, 14200)
    assert totals.vat == (VatAmount(2500, -14200, -2840),)
    with pytest.raises(ReceiptError, match="cash refund must be exactly"):
        compute(Receipt((line(14200, "-1"),), (Payment(CASH, -15000),)))


def test_items_and_services_are_counted_apart() -> None:
    totals = compute(Receipt((line(100, "3"), line(5000, kind=LineKind.SERVICE)), (Payment(CARD, 5300),)))
    assert (totals.items, totals.services) == (3, 1)


@pytest.mark.parametrize(
    ("receipt", "field", "words"),
    [
        (Receipt((), (Payment(CARD, 1),)), "lines", "at least one line"),
        (Receipt((line(100, rate=2000),), (Payment(CARD, 100),)), "lines[0].vat_rate", "not a Swedish rate"),
        (Receipt((line(100), line(100, "-1")), (Payment(CARD, 0),)), "lines[1].quantity", "cannot be mixed"),
        (Receipt((line(100, "0"),), (Payment(CARD, 1),)), "lines[0].quantity", "is zero"),
        (Receipt((line(100, "1.2345"),), (Payment(CARD, 123),)), "lines[0].quantity", "more than 3 decimals"),
        (Receipt((line(-100),), (Payment(CARD, 100),)), "lines[0].unit_price", "negative"),
        (Receipt((line(100, discount=200),), (Payment(CARD, 100),)), "lines[0].discount", "more than"),
        (Receipt((line(100, text=""),), (Payment(CARD, 100),)), "lines[0].text", "empty"),
        (Receipt((line(100, text="a\x1bp"),), (Payment(CARD, 100),)), "lines[0].text", "control character"),
        (Receipt((line(100),), ()), "payments", "at least one payment"),
        (Receipt((line(100),), (Payment(CARD, -100),)), "payments[0].amount", "must be positive"),
        (Receipt((line(100),), (Payment(CASH, 40),)), "payments", "less than"),
        (Receipt((line(100),), (Payment(CARD, 200), Payment(CASH, 100))), "payments", "exceed the total"),
        (Receipt((line(100),), (Payment(CARD, 100),), discount=300), "discount", "more than"),
        (Receipt((line(10**13),), (Payment(CARD, 10**13),)), "lines[0].unit_price", "longer than 14"),
        (Receipt((line(100),), (Payment(CARD, 100.0),)), "payments[0].amount", "whole number of öre"),  # type: ignore[arg-type]
    ],
)
def test_bad_receipts_name_the_field(receipt: Receipt, field: str, words: str) -> None:
    with pytest.raises(ReceiptError) as info:
        compute(receipt)
    assert info.value.field == field
    assert words in info.value.reason
