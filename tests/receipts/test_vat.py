"""gateway.receipts.vat: the Swedish VAT rates, once."""

from __future__ import annotations

import pytest

from gateway.receipts.vat import VAT_PERCENTS, VAT_RATES, rate_text
from protocols import tcs


def test_the_rates_in_both_units() -> None:
    assert VAT_RATES == (2500, 1200, 600, 0)
    assert VAT_PERCENTS == (25, 12, 6, 0)


def test_the_protocols_copy_agrees() -> None:
    # protocols imports nothing of the gateway, so the TCS codec keeps its own four slots.
    assert tcs.VAT_RATES == VAT_RATES


@pytest.mark.parametrize(
    ("rate", "text"), [(2500, "25"), (1200, "12"), (600, "6"), (0, "0"), (1250, "12.50")]
)
def test_rate_text(rate: int, text: str) -> None:
    assert rate_text(rate) == text
