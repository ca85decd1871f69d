"""Money as text and back, once: öre inside, kronor at the edges.

Every amount inside the gateway is an integer number of öre (:mod:`gateway.receipts.model`).
These are the forms it takes where it leaves, one function for each::

    money_text(-123450)       "-1234.50"             JSON (the API, the bus, the journal), SIE files
    grouped_text(-123450)     "-1 234,50"            the printed receipt and reports
    kronor_text(-123450)      "-1 234,50 kr"         a message for a person (a refusal's reason)
    shortest_text(-123450)    "-1234.5"              Skatteverket's XML export: no trailing zeros
    kronor_number(-123450)    -1234.5                an ERP's JSON number
    kronor_decimal(-123450)   Decimal("-1234.5")     arithmetic in kronor, exact

and :func:`parse_ore` reads ``"-1234.50"`` (or ``"-1234.5"``, ``"-1234"``) back.

The control unit's field form, ``"-1234,50"`` with at most 14 characters, stays
:func:`protocols.skv.format_amount`: it is a field of the codec, checked against the
field's length, and ``protocols`` imports nothing of the gateway. The gateway calls it
where it fills or checks that field and writes its own text with the functions here.

Pure: no I/O.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = [
    "grouped_text",
    "kronor_decimal",
    "kronor_number",
    "kronor_text",
    "money_text",
    "parse_ore",
    "shortest_text",
]

# ASCII digits only, the whole text (fullmatch): ``\d`` would take other scripts' digits.
_ORE_TEXT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?")


def money_text(ore: int) -> str:
    """Kronor with a point and two decimals: ``-1250`` -> ``"-12.50"``, ``-5`` -> ``"-0.05"``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor}.{rest:02d}"


def grouped_text(ore: int) -> str:
    """As a person reads kronor on paper: thousands apart, a decimal comma: ``-123456`` ->
    ``"-1 234,56"``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor:,}".replace(",", " ") + f",{rest:02d}"


def kronor_text(ore: int) -> str:
    """An amount in a message for a person: ``-123450`` -> ``"-1 234,50 kr"``."""
    return f"{grouped_text(ore)} kr"


def shortest_text(ore: int) -> str:
    """Kronor with a point and no trailing zeros: ``12350`` -> ``"123.5"``, ``100`` -> ``"1"``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor}" if rest == 0 else f"{sign}{kronor}.{rest:02d}".rstrip("0")


def kronor_decimal(ore: int) -> Decimal:
    """The amount in kronor, exactly: ``1250`` -> ``Decimal("12.5")``."""
    return Decimal(ore) / 100


def kronor_number(ore: int) -> float:
    """The amount in kronor as a JSON number for an ERP's API: ``1250`` -> ``12.5``. (A float
    prints as the shortest text that reads back as itself, so two decimals stay two.)"""
    return float(kronor_decimal(ore))


def parse_ore(text: str) -> int:
    """``"-12.50"``, ``"-12.5"`` or ``"-12"`` in öre (``-1250``); :class:`ValueError` for any
    other text (a comma, a third decimal, spaces)."""
    if not _ORE_TEXT_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not an amount in kronor like 12.50")
    return int(Decimal(text) * 100)
