"""The Swedish VAT rates, once: 25, 12, 6 and 0 %.

Inside the gateway a rate is an integer in hundredths of a percent (``2500``), as a
receipt line carries it (:mod:`gateway.receipts.model`); the bus's ``vat`` lists, the
configuration's VAT group tables and the bookkeeping name it in whole percent
(``"25"``, ``MOMS25 = 25``, account ``sales_25``): :data:`VAT_PERCENTS`. The control unit's
four VAT slots are the same four rates; :mod:`protocols.tcs` keeps its own copy, since
``protocols`` imports nothing of the gateway.

Pure: no I/O.
"""

from __future__ import annotations

__all__ = ["VAT_PERCENTS", "VAT_RATES", "paper_rate_text", "rate_text"]

VAT_RATES = (2500, 1200, 600, 0)
"""The Swedish VAT rates in hundredths of a percent, highest first (the control unit's slot order)."""

VAT_PERCENTS = tuple(rate // 100 for rate in VAT_RATES)
"""The same rates in whole percent: (25, 12, 6, 0)."""


def rate_text(rate: int) -> str:
    """A rate in hundredths of a percent as the POS and the API write it: ``2500`` -> ``"25"``,
    ``1250`` -> ``"12.50"``."""
    return f"{rate // 100}" if rate % 100 == 0 else f"{rate / 100:.2f}"


def paper_rate_text(rate: int) -> str:
    """A rate as a receipt or report prints it, with a decimal comma and no trailing zeros:
    ``2500`` -> ``"25"``, ``1250`` -> ``"12,5"``."""
    return f"{rate / 100:g}".replace(".", ",")
