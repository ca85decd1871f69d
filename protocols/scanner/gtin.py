"""GTIN check digits (GS1 mod 10), and what kind of code a scan is."""

from __future__ import annotations

import enum
import re


class GtinError(ValueError):
    """A code is not a valid GTIN. ``field`` names what is wrong, ``reason`` says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class GtinKind(enum.StrEnum):
    EAN8 = "ean8"
    UPCA = "upca"
    EAN13 = "ean13"
    GTIN14 = "gtin14"


class ScanKind(enum.StrEnum):
    """What a scanned code is, as far as the code itself tells."""

    EAN13 = "ean13"
    EAN8 = "ean8"
    UPCA = "upca"
    GTIN14 = "gtin14"
    OTHER = "other"


_GTIN_KIND_BY_LENGTH = {8: GtinKind.EAN8, 12: GtinKind.UPCA, 13: GtinKind.EAN13, 14: GtinKind.GTIN14}
DIGITS_RE = re.compile(r"[0-9]+")


def require_digits(text: str, field: str) -> None:
    for i, ch in enumerate(text):
        if not ("0" <= ch <= "9"):
            raise GtinError(field, f"character {ch!r} at position {i + 1} is not a digit")


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (a GTIN without its last digit).

    Weights 3, 1, 3, ... from the right, so the same function serves EAN-8 (7-digit
    body), UPC-A (11), EAN-13 (12), GTIN-14 (13) and longer GS1 keys.
    """
    if not body:
        raise GtinError("body", "is empty")
    require_digits(body, "body")
    total = sum(int(ch) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(code: str) -> GtinKind:
    """Check a GTIN's length, digits and check digit; return which kind it is."""
    if len(code) not in _GTIN_KIND_BY_LENGTH:
        raise GtinError("length", f"{code!r} has {len(code)} characters; a GTIN has 8, 12, 13 or 14 digits")
    require_digits(code, "digits")
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise GtinError(
            "check digit", f"{code!r} ends in {code[-1]}, but the check digit should be {expected}"
        )
    return _GTIN_KIND_BY_LENGTH[len(code)]


def classify(code: str) -> ScanKind:
    """EAN-13/EAN-8/UPC-A/GTIN-14 for a valid GTIN, OTHER for anything else.

    A digit string of GTIN length with a wrong check digit is OTHER: it is not a GTIN
    (it may be an internal number printed as Code 128), so it must not be looked up as one.
    """
    if not DIGITS_RE.fullmatch(code):
        return ScanKind.OTHER
    try:
        return ScanKind(validate_gtin(code).value)
    except GtinError:
        return ScanKind.OTHER
