"""In-store (restricted circulation) codes: EAN-13s that carry a price or a weight.

Money is integer öre, weight integer grams.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from protocols.scanner.gtin import DIGITS_RE, GtinError, gtin_check_digit, require_digits, validate_gtin


class MeasureKind(enum.StrEnum):
    PRICE = "price"
    WEIGHT = "weight"


class InStoreError(ValueError):
    """An in-store code does not fit its layout; ``field`` names the part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True, slots=True)
class ValueRule:
    """How to read the value digits: price in öre or weight in grams per unit of value."""

    kind: MeasureKind
    unit: int

    def __post_init__(self) -> None:
        if self.unit < 1:
            raise ValueError(f"unit must be a positive integer, got {self.unit}")


_SWEDISH_RULES = {
    "20": ValueRule(MeasureKind.PRICE, 1),  # kronor with two decimals: value is öre
    "21": ValueRule(MeasureKind.PRICE, 10),  # kronor with one decimal
    "22": ValueRule(MeasureKind.PRICE, 100),  # whole kronor
    "23": ValueRule(MeasureKind.WEIGHT, 1),  # kg with three decimals: value is grams
    "24": ValueRule(MeasureKind.WEIGHT, 10),  # kg with two decimals
    "25": ValueRule(MeasureKind.WEIGHT, 100),  # kg with one decimal
}


@dataclass(frozen=True)
class InStoreLayout:
    """Where an EAN-13 in-store code keeps its value (0-based digit positions).

    ``rules`` maps a two-digit prefix to how its value reads; prefixes not listed are not
    variable-measure codes. The digits between the prefix and the value (the verifier
    digit excluded) identify the article. ``verifier_position`` is the index of a GS1
    price/weight verifier digit (GS1 General Specifications 7.9.3) for layouts that have
    one; ``None`` for the Swedish layout, which has none.
    """

    rules: Mapping[str, ValueRule]
    value_start: int = 8
    value_length: int = 4
    verifier_position: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))
        for prefix in self.rules:
            if not re.fullmatch(r"2[0-9]", prefix):
                raise ValueError(f"prefix {prefix!r} is not an in-store prefix 20..29")
        if self.value_length not in (4, 5):
            raise ValueError(f"value_length must be 4 or 5, got {self.value_length}")
        if self.value_start < 3 or self.value_start + self.value_length > 12:
            raise ValueError("the value must lie between the prefix and the check digit")
        vp = self.verifier_position
        if vp is not None and not (2 <= vp < 12 and not self._in_value(vp)):
            raise ValueError("verifier_position must be an article position before digit 12")

    def _in_value(self, position: int) -> bool:
        return self.value_start <= position < self.value_start + self.value_length

    def article_positions(self) -> list[int]:
        """Digit positions that identify the article (prefix included)."""
        return [i for i in range(12) if not self._in_value(i) and i != self.verifier_position]


SWEDISH_IN_STORE = InStoreLayout(rules=_SWEDISH_RULES)
"""GS1 Sweden viktvarunummer: ``2X IIIIII VVVV C``.

``2X`` (X = 0..5) with the rest of the GS1 Variable Weight Prefix and the sequence number
make six item digits ``IIIIII``; ``VVVV`` is the value; ``C`` the ordinary EAN-13 check
digit; there is no price verifier digit. X says how to read VVVV: 0 = kronor with two
decimals, 1 = one decimal, 2 = whole kronor, 3 = kg with three decimals, 4 = two,
5 = one (source: GS1 Sweden, "Hur skapar jag mina viktvarunummer?"). Prefixes 26..29
are not variable-measure codes in Sweden and are looked up as they are.
"""


@dataclass(frozen=True, slots=True)
class InStoreCode:
    """A decoded in-store code.

    ``article_key`` is the code with the value (and any verifier) digits set to zero and
    the check digit recomputed, which is how GS1 Sweden says to store the article in the
    item register (as GTIN-14 with a leading 0: :attr:`article_gtin14`).
    """

    code: str
    article_key: str
    kind: MeasureKind
    price_ore: int | None = None
    weight_g: int | None = None

    @property
    def article_gtin14(self) -> str:
        return "0" + self.article_key


_TWO_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_THREE = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_FIVE_PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)
_FIVE_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def price_verifier_digit(value: str) -> int:
    """GS1 price/weight verifier digit for a 4- or 5-digit value (GS1 GenSpecs 7.9.3)."""
    require_digits(value, "value")
    d = [int(ch) for ch in value]
    if len(d) == 4:
        total = _TWO_MINUS[d[0]] + _TWO_MINUS[d[1]] + _THREE[d[2]] + _FIVE_MINUS[d[3]]
        return total * 3 % 10
    if len(d) == 5:
        total = (
            _FIVE_PLUS[d[0]] + _TWO_MINUS[d[1]] + _FIVE_MINUS[d[2]]
            + _FIVE_PLUS[d[3]] + _TWO_MINUS[d[4]]
        )  # fmt: skip
        return _FIVE_MINUS.index((10 - total % 10) % 10)
    raise GtinError("value", f"{value!r} has {len(value)} digits; a verifier needs 4 or 5")


def decode_in_store(code: str, layout: InStoreLayout = SWEDISH_IN_STORE) -> InStoreCode | None:
    """Decode a variable-measure EAN-13; ``None`` if the code is not one under ``layout``.

    Raises :class:`GtinError` for a 13-digit code with a bad check digit and
    :class:`InStoreError` when a verifier digit does not match the value.
    """
    if len(code) != 13 or not DIGITS_RE.fullmatch(code):
        return None
    rule = layout.rules.get(code[:2])
    if rule is None:
        return None
    validate_gtin(code)
    value_text = code[layout.value_start : layout.value_start + layout.value_length]
    if layout.verifier_position is not None:
        expected = price_verifier_digit(value_text)
        actual = int(code[layout.verifier_position])
        if actual != expected:
            raise InStoreError(
                "verifier digit",
                f"{code!r} has {actual} at position {layout.verifier_position + 1}, "
                f"but the value {value_text} needs {expected}",
            )
    value = int(value_text) * rule.unit
    return InStoreCode(
        code=code,
        article_key=_article_key(code, layout),
        kind=rule.kind,
        price_ore=value if rule.kind is MeasureKind.PRICE else None,
        weight_g=value if rule.kind is MeasureKind.WEIGHT else None,
    )


def _article_key(code: str, layout: InStoreLayout) -> str:
    keep = set(layout.article_positions())
    body = "".join(ch if i in keep else "0" for i, ch in enumerate(code[:12]))
    return body + str(gtin_check_digit(body))
