"""gateway.receipts.money: every form money takes at the edges, and reading it back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.receipts.money import (
    grouped_text,
    kronor_decimal,
    kronor_number,
    kronor_text,
    money_text,
    parse_ore,
    shortest_text,
)
from protocols import skv

# Far beyond any till's total, and both signs (returns, refunds, a Z report's rounding).
AMOUNTS = st.integers(min_value=-(10**15), max_value=10**15)


@pytest.mark.parametrize(
    ("ore", "money", "grouped", "shortest"),
    [
        (0, "0.00", "0,00", "0"),
        (5, "0.05", "0,05", "0.05"),
        (-5, "-0.05", "-0,05", "-0.05"),
        (-50, "-0.50", "-0,50", "-0.5"),
        (100, "1.00", "1,00", "1"),
        (1250, "12.50", "12,50", "12.5"),
        (-123450, "-1234.50", "-1 234,50", "-1234.5"),
        (123456789, "1234567.89", "1 234 567,89", "1234567.89"),
    ],
)
def test_each_form(ore: int, money: str, grouped: str, shortest: str) -> None:
    assert money_text(ore) == money
    assert grouped_text(ore) == grouped
    assert kronor_text(ore) == f"{grouped} kr"
    assert shortest_text(ore) == shortest


@given(AMOUNTS)
def test_money_text_reads_back(ore: int) -> None:
    assert parse_ore(money_text(ore)) == ore


@given(AMOUNTS)
def test_shortest_text_reads_back(ore: int) -> None:
    text = shortest_text(ore)
    assert parse_ore(text) == ore
    assert not text.endswith("0") or "." not in text  # no trailing zero after the point


@given(AMOUNTS)
def test_the_paper_form_is_the_json_form_grouped_with_a_comma(ore: int) -> None:
    grouped = grouped_text(ore)
    assert grouped.replace(" ", "").replace(",", ".") == money_text(ore)
    assert kronor_text(ore) == f"{grouped} kr"


@given(AMOUNTS)
def test_kronor_as_numbers_are_exact(ore: int) -> None:
    assert kronor_decimal(ore) * 100 == ore
    assert Decimal(repr(kronor_number(ore))) == kronor_decimal(ore)


@given(st.integers(min_value=-(10**12) + 1, max_value=10**13 - 1))
def test_the_control_units_field_form_is_the_json_form_with_a_comma(ore: int) -> None:
    # protocols.skv keeps its own formatter (protocols imports nothing of the gateway):
    # within the field's 14 characters the two agree.
    assert skv.format_amount(ore) == money_text(ore).replace(".", ",")


@pytest.mark.parametrize("text", ["", "-", "1.", ".5", "1,50", "1.505", " 1.50", "1.50 ", "+1", "١٢", "1e3"])
def test_parse_ore_takes_only_kronor_with_a_point(text: str) -> None:
    with pytest.raises(ValueError, match="is not an amount"):
        parse_ore(text)
