"""SKVFS 2009:2 field formats: the data a register sends to its control unit per receipt.

Every control-unit protocol (CCSP v1/v2, XCCSP) carries the same nine items in the same
textual formats. This module is the one place that knows those formats: it turns typed
values (integer öre, integer hundredths of a percent, :class:`datetime`) into the strings
a unit expects and back, and names the offending field when a value does not fit.

Pure: no I/O, imports nothing of ours.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "AMOUNT_MAX_CHARS",
    "POS_ID_MAX_CHARS",
    "RECEIPT_NO_MAX_DIGITS",
    "VAT_RATE_MAX_CHARS",
    "VAT_SLOTS",
    "ControlData",
    "FieldError",
    "ReceiptType",
    "VatSlot",
    "format_amount",
    "format_datetime",
    "format_rate",
    "luhn_check_digit",
    "luhn_valid",
    "normalise_orgnr",
    "parse_amount",
    "parse_datetime",
    "parse_rate",
    "validate_orgnr",
    "validate_pos_id",
    "validate_receipt_no",
]

AMOUNT_MAX_CHARS = 14
VAT_RATE_MAX_CHARS = 5
POS_ID_MAX_CHARS = 16
RECEIPT_NO_MAX_DIGITS = 12
VAT_SLOTS = 4

_AMOUNT_RE = re.compile(r"^(-?)(\d+),(\d\d)$")
_DATETIME_RE = re.compile(r"^\d{12}$")
# A whole VAT slot in one go: a rate of at most 5 characters, an amount of at most 14.
_VAT_SLOT_RE = re.compile(r"^(\d{1,2}),(\d\d);(-?)(\d{1,11}),(\d\d)$")
_ORGNR_RE = re.compile(r"^\d{10}$")
# How people write the number a business is known by: ten digits, the last four apart by
# "-" (or "+" in a personnummer of someone 100 or older), optionally with two digits in
# front: a personnummer's century, or the "16" some systems put before an organisationsnummer.
_WRITTEN_ORGNR_RE = re.compile(r"^(16|18|19|20)?(\d{6})[-+]?(\d{4})$")
# A POS id travels inside '#'-separated CCSP frames and ';'-separated VAT slots, so
# neither separator may appear in it; otherwise any printable ASCII is accepted.
_POS_ID_RE = re.compile(r"^[\x20-\x7e]{1,16}$")


class FieldError(ValueError):
    """A value does not fit its SKVFS 2009:2 format. ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class ReceiptType(enum.StrEnum):
    """Kvittotyp as the control unit expects it."""

    NORMAL = "normal"
    COPY = "kopia"
    TRAINING = "ovning"
    PRO_FORMA = "profo"


def format_amount(ore: int, field: str = "amount") -> str:
    """Integer öre to the decimal-comma form: ``123450`` -> ``"1234,50"``."""
    if not isinstance(ore, int) or isinstance(ore, bool):
        raise FieldError(field, f"must be an integer number of öre, got {ore!r}")
    sign = "-" if ore < 0 else ""
    kronor, ore_part = divmod(abs(ore), 100)
    text = f"{sign}{kronor},{ore_part:02d}"
    if len(text) > AMOUNT_MAX_CHARS:
        raise FieldError(field, f"{text!r} is longer than {AMOUNT_MAX_CHARS} characters")
    return text


def parse_amount(text: str, field: str = "amount") -> int:
    """The decimal-comma form to integer öre: ``"-12,50"`` -> ``-1250``."""
    if len(text) > AMOUNT_MAX_CHARS:
        raise FieldError(field, f"{text!r} is longer than {AMOUNT_MAX_CHARS} characters")
    m = _AMOUNT_RE.match(text)
    if m is None:
        raise FieldError(field, f"{text!r} is not an amount with a decimal comma and two decimals")
    value = int(m.group(2)) * 100 + int(m.group(3))
    return -value if m.group(1) else value


def format_rate(hundredths: int, field: str = "vat rate") -> str:
    """A VAT rate in hundredths of a percent to its text: ``2500`` -> ``"25,00"``."""
    if not isinstance(hundredths, int) or isinstance(hundredths, bool) or hundredths < 0:
        raise FieldError(field, f"must be a non-negative integer (hundredths of %), got {hundredths!r}")
    text = f"{hundredths // 100},{hundredths % 100:02d}"
    if len(text) > VAT_RATE_MAX_CHARS:
        raise FieldError(field, f"{text!r} is longer than {VAT_RATE_MAX_CHARS} characters")
    return text


def parse_rate(text: str, field: str = "vat rate") -> int:
    """``"12,00"`` -> ``1200`` (hundredths of a percent)."""
    if len(text) > VAT_RATE_MAX_CHARS:
        raise FieldError(field, f"{text!r} is longer than {VAT_RATE_MAX_CHARS} characters")
    m = _AMOUNT_RE.match(text)
    if m is None or m.group(1):
        raise FieldError(field, f"{text!r} is not a rate like 25,00")
    return int(m.group(2)) * 100 + int(m.group(3))


def format_datetime(moment: datetime) -> str:
    """Local date and time to ``YYYYMMDDhhmm`` (minutes, no seconds)."""
    if moment.year < 1000 or moment.year > 9999:
        raise FieldError("date", f"year {moment.year} does not fit four digits")
    return moment.strftime("%Y%m%d%H%M")


def parse_datetime(text: str) -> datetime:
    """``YYYYMMDDhhmm`` to a naive local :class:`datetime`."""
    if not _DATETIME_RE.match(text):
        raise FieldError("date", f"{text!r} is not 12 digits YYYYMMDDhhmm")
    try:
        # Slicing is several times faster than strptime, and this runs per frame.
        return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]))
    except ValueError as exc:
        raise FieldError("date", f"{text!r} is not a valid date and time ({exc})") from None


def luhn_valid(digits: str) -> bool:
    """The mod-10 (Luhn) check that the last digit of an organisationsnummer carries."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(digits: str) -> int:
    """The digit that makes ``digits`` followed by it pass :func:`luhn_valid`."""
    return next(d for d in range(10) if luhn_valid(f"{digits}{d}"))


def normalise_orgnr(text: str) -> str:
    """An organisationsnummer or a sole trader's personnummer, as written, in the unit's
    ten-digit field.

    Both fill the same field (SKVFS 2009:2; SKVFS 2014:9 says "organisationsnummer eller
    personnummer"), ten digits either way: ``NNNNNN-NNNN`` and ``YYYYMMDD-NNNN``, with or
    without the hyphen, come back as ``NNNNNNNNNN``. Neither the check digit nor whose
    number it is is looked at here.
    """
    match = _WRITTEN_ORGNR_RE.match(text.strip())
    if match is None:
        raise FieldError(
            "orgnr",
            f"{text!r} is not 10 digits written NNNNNN-NNNN (a personnummer may be written YYYYMMDD-NNNN)",
        )
    return match[2] + match[3]


def validate_orgnr(text: str) -> str:
    """The control-unit format: exactly ten digits, no hyphen.

    A hyphenated ``NNNNNN-NNNN`` is accepted and returned without the hyphen, since that
    is how people write it. The Luhn digit is not enforced here (the unit does not check
    it); the registration helper does.
    """
    compact = text.replace("-", "") if len(text) == 11 and text[6] == "-" else text
    if not _ORGNR_RE.match(compact):
        raise FieldError("orgnr", f"{text!r} is not a 10-digit organisationsnummer")
    return compact


def validate_pos_id(text: str) -> str:
    if not _POS_ID_RE.match(text) or "#" in text or ";" in text:
        raise FieldError(
            "pos_id",
            f"{text!r} must be 1 to {POS_ID_MAX_CHARS} printable ASCII characters without '#' or ';'",
        )
    return text


def validate_receipt_no(number: int) -> int:
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise FieldError("receipt_no", f"must be a non-negative integer, got {number!r}")
    if len(str(number)) > RECEIPT_NO_MAX_DIGITS:
        raise FieldError("receipt_no", f"{number} has more than {RECEIPT_NO_MAX_DIGITS} digits")
    return number


@dataclass(frozen=True, slots=True)
class VatSlot:
    """One of the four VAT slots: rate in hundredths of a percent, amount in öre."""

    rate: int
    amount: int

    def to_text(self, slot: int = 1) -> str:
        name = f"vat{slot}"
        return f"{format_rate(self.rate, name + ' rate')};{format_amount(self.amount, name + ' amount')}"

    @classmethod
    def from_text(cls, text: str, slot: int = 1) -> VatSlot | None:
        """``"25,00;20,00"`` -> ``VatSlot(2500, 2000)``; a blank slot -> ``None``."""
        m = _VAT_SLOT_RE.match(text)
        if m is not None and len(m.group(3)) + len(m.group(4)) <= AMOUNT_MAX_CHARS - 3:
            # The good path: one match; the field-by-field path below explains errors.
            ore = int(m.group(4)) * 100 + int(m.group(5))
            return cls(int(m.group(1)) * 100 + int(m.group(2)), -ore if m.group(3) else ore)
        if text.strip() == "":
            return None
        rate_text, sep, amount_text = text.partition(";")
        if not sep:
            raise FieldError(f"vat{slot}", f"{text!r} is not 'rate;amount'")
        name = f"vat{slot}"
        return cls(parse_rate(rate_text, name + " rate"), parse_amount(amount_text, name + " amount"))


@dataclass(frozen=True, slots=True)
class ControlData:
    """The data a register sends to its control unit for one receipt (SKVFS 2009:2).

    ``total`` is försäljningsbelopp (what the customer pays; negative on a return
    receipt), ``return_total`` is returbelopp (the absolute sum of the return lines).
    ``vat`` holds at most four slots; unused slots are sent blank.
    """

    moment: datetime
    orgnr: str
    pos_id: str
    receipt_no: int
    receipt_type: ReceiptType
    total: int
    return_total: int = 0
    vat: tuple[VatSlot, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        format_datetime(self.moment)
        validate_orgnr(self.orgnr)
        if self.orgnr != validate_orgnr(self.orgnr):
            raise FieldError("orgnr", f"{self.orgnr!r} must be written without a hyphen")
        validate_pos_id(self.pos_id)
        validate_receipt_no(self.receipt_no)
        if not isinstance(self.receipt_type, ReceiptType):
            raise FieldError("receipt_type", f"{self.receipt_type!r} is not a ReceiptType")
        format_amount(self.total, "total")
        format_amount(self.return_total, "return_total")
        if self.return_total < 0:
            raise FieldError("return_total", "is the absolute sum of returns and cannot be negative")
        if len(self.vat) > VAT_SLOTS:
            raise FieldError("vat", f"{len(self.vat)} VAT rates; a control unit takes at most {VAT_SLOTS}")
        rates = [slot.rate for slot in self.vat]
        if len(set(rates)) != len(rates):
            raise FieldError("vat", f"a VAT rate appears twice in {rates}")
        for i, slot in enumerate(self.vat, start=1):
            slot.to_text(i)

    # -- text forms shared by the protocols --------------------------------------------

    @property
    def date_text(self) -> str:
        return format_datetime(self.moment)

    @property
    def receipt_no_text(self) -> str:
        return str(self.receipt_no)

    @property
    def total_text(self) -> str:
        return format_amount(self.total, "total")

    @property
    def return_total_text(self) -> str:
        return format_amount(self.return_total, "return_total")

    def vat_texts(self, blank: str = " ") -> tuple[str, str, str, str]:
        """The four VAT slots as text; unused slots are ``blank``."""
        texts = [slot.to_text(i) for i, slot in enumerate(self.vat, start=1)]
        texts += [blank] * (VAT_SLOTS - len(texts))
        return (texts[0], texts[1], texts[2], texts[3])

    @classmethod
    def from_texts(
        cls,
        *,
        date: str,
        orgnr: str,
        pos_id: str,
        receipt_no: str,
        receipt_type: str,
        total: str,
        return_total: str,
        vat: tuple[str, ...],
    ) -> ControlData:
        """Parse the textual fields (as a unit receives them), naming any bad one."""
        if not receipt_no.isdigit() or len(receipt_no) > RECEIPT_NO_MAX_DIGITS:
            raise FieldError("receipt_no", f"{receipt_no!r} is not 1 to {RECEIPT_NO_MAX_DIGITS} digits")
        try:
            kind = ReceiptType(receipt_type)
        except ValueError:
            allowed = ", ".join(t.value for t in ReceiptType)
            raise FieldError("receipt_type", f"{receipt_type!r} is not one of {allowed}") from None
        if len(vat) > VAT_SLOTS:
            raise FieldError("vat", f"{len(vat)} VAT slots; at most {VAT_SLOTS}")
        slots = tuple(
            s for s in (VatSlot.from_text(t, i) for i, t in enumerate(vat, start=1)) if s is not None
        )
        rates = {slot.rate for slot in slots}
        if len(rates) != len(slots):
            raise FieldError("vat", f"a VAT rate appears twice in {vat}")
        if orgnr != validate_orgnr(orgnr):
            raise FieldError("orgnr", f"{orgnr!r} must be 10 digits without a hyphen")
        # A real client sends a plain "0" when there are no returns (the reference's RI log).
        return_ore = 0 if return_total.strip() == "0" else parse_amount(return_total, "return_total")
        if return_ore < 0:
            raise FieldError("return_total", "is the absolute sum of returns and cannot be negative")
        # Every field was parsed and checked above; skipping __post_init__'s re-check
        # halves the cost of reading a frame, which the unit does for every receipt.
        obj = object.__new__(cls)
        for name, value in (
            ("moment", parse_datetime(date)),
            ("orgnr", orgnr),
            ("pos_id", validate_pos_id(pos_id)),
            ("receipt_no", int(receipt_no)),
            ("receipt_type", kind),
            ("total", parse_amount(total, "total")),
            ("return_total", return_ore),
            ("vat", slots),
        ):
            object.__setattr__(obj, name, value)
        return obj
