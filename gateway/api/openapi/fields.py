"""The API's scalar fields as JSON Schema: what the readers of a request accept, what an
answer writes — each an ``Annotated`` type that :mod:`msgspec` turns into its schema.

A request's amounts, quantities and VAT rates are read by the receipt codec
(:mod:`gateway.receipts.codec`), whose patterns are copied here as JSON Schema patterns
(``^…$``): a decimal string with ASCII digits only, or a whole number — never a
float, never ``true``. A text a request carries is refused when it holds a control
character (:mod:`gateway.api.text_check`); the schema says so with a pattern, so a
client generated from it refuses such a text before it is sent.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

__all__ = [
    "ID_PATTERN",
    "NOT_BLANK",
    "AmountIn",
    "DateTime",
    "MoneyOut",
    "NameText",
    "PlainText",
    "QuantityIn",
    "QuantityOut",
    "RateIn",
    "RateOut",
    "RequestId",
    "UnsignedAmountIn",
]

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"  # gateway.api.receipts.REQUEST_ID
_PLAIN = r"^[^\u0000-\u001f\u007f-\u009f]*$"  # no control character (C0, DEL, C1)
# The same, and not blank: the readers strip a name and refuse what is left empty.
_CONTROL = r"\u0000-\u001f\u007f-\u009f"
NOT_BLANK = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
# The control unit's 14 characters of an amount ("99999999999,99", "-9999999999,99"):
# protocols.skv.format_amount, which the model checks every amount against.
_MAX_KRONOR = 99_999_999_999
_MIN_KRONOR = -9_999_999_999

RequestId = Annotated[
    str,
    Meta(
        pattern=ID_PATTERN,
        description="The POS's own name for it: 1-64 characters of A-Z a-z 0-9 . _ : -",
        examples=["pos1-2026-11-21-0042"],
    ),
]
PlainText = Annotated[str, Meta(pattern=_PLAIN, description="Text without control characters")]
NameText = Annotated[
    str,
    Meta(
        pattern=NOT_BLANK,
        min_length=1,
        max_length=60,
        description="1-60 characters, not only spaces, without control characters",
    ),
]
DateTime = Annotated[
    str,
    Meta(
        description="ISO 8601 with the offset of the shop's time zone",
        extra_json_schema={"format": "date-time"},
        examples=["2026-11-21T12:42:08+01:00"],
    ),
]

_MONEY_TEXT = Annotated[
    str,
    Meta(
        pattern=r"^(-?[0-9]{1,10}|[0-9]{11})(\.[0-9]{1,2})?$",
        description=(
            'Kronor as a decimal string: a point, at most two decimals ("22.50", "-12.50"); '
            "at most 14 characters as the control unit writes it (99999999999,99)"
        ),
        examples=["125.00"],
    ),
]
_MONEY_WHOLE = Annotated[int, Meta(ge=_MIN_KRONOR, le=_MAX_KRONOR, description="Whole kronor (22 is 22.00)")]
AmountIn = _MONEY_TEXT | _MONEY_WHOLE
"""An amount a request sends: the codec's ``parse_money``."""

_UNSIGNED_TEXT = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{1,11}(\.[0-9]{1,2})?$",
        description='Kronor as a decimal string, not negative: a point, at most two decimals ("32.00")',
        examples=["32.00"],
    ),
]
_UNSIGNED_WHOLE = Annotated[int, Meta(ge=0, le=_MAX_KRONOR, description="Whole kronor (32 is 32.00)")]
UnsignedAmountIn = _UNSIGNED_TEXT | _UNSIGNED_WHOLE
"""A price or a discount: an amount the model refuses below zero (a return is a negative quantity)."""

_QUANTITY_TEXT = Annotated[
    str,
    Meta(
        pattern=r"^-?[0-9]{1,9}(\.[0-9]{1,3})?$",
        description='A decimal string with at most three decimals ("0.347"); negative on a return; not zero',
        examples=["0.347"],
        extra_json_schema={"not": {"pattern": r"^-?0*(\.0*)?$"}},
    ),
]
_QUANTITY_WHOLE = Annotated[
    int,
    Meta(
        ge=-999_999_999,
        le=999_999_999,
        description="A whole number; negative on a return; not zero",
        extra_json_schema={"not": {"const": 0}},
    ),
]
QuantityIn = _QUANTITY_TEXT | _QUANTITY_WHOLE

_RATE_TEXT = Annotated[
    str,
    Meta(
        pattern=r"^(25|12|0?6|0?0)(\.0{1,2})?$",
        description='A Swedish VAT rate in percent as a string: "25", "12", "6" or "0"',
        examples=["25"],
    ),
]
_RATE_WHOLE = Annotated[
    int, Meta(description="A Swedish VAT rate in percent", extra_json_schema={"enum": [25, 12, 6, 0]})
]
RateIn = _RATE_TEXT | _RATE_WHOLE

MoneyOut = Annotated[
    str,
    Meta(
        pattern=r"^-?[0-9]+\.[0-9]{2}$",
        description="Kronor with a point and two decimals",
        examples=["113.35"],
    ),
]
QuantityOut = Annotated[
    str, Meta(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="A decimal string", examples=["0.347"])
]
RateOut = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{1,2}(\.[0-9]{2})?$",
        description="A VAT rate in percent: 25, 12, 6 or 0",
        examples=["25"],
    ),
]
