"""Each item of a registration with Skatteverket, and what it may be.

The e-service "Anmäl, ändra, felanmäl och avanmäl kassaregister" takes each item as
text; a check here turns a person's answer into the form that is registered, or raises
:class:`RegistrationError` naming the item and saying what is wrong in words a shop
owner can act on. :data:`CHECKS` names them by the item names of ``tillgw register``'s
flags and ``--from`` files.

A company is known by its organisationsnummer; a sole trader (enskild firma) by the
owner's personnummer (:class:`BusinessForm`). The register's model designation must
contain "SE" (:func:`check_model`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from gateway.config import validate_manufacturing_number
from protocols.skv import FieldError, luhn_check_digit, luhn_valid, normalise_orgnr, validate_pos_id

__all__ = [
    "CHECKS",
    "MODEL_MARK",
    "TEXT_MAX",
    "BusinessForm",
    "RegistrationError",
    "check_business_form",
    "check_designation",
    "check_model",
    "check_orgnr",
    "check_postcode",
    "check_register_number",
    "check_text",
    "check_town",
    "check_unit_number",
    "infer_business_form",
    "lacks_model_mark",
    "model_mark_advice",
]

_POSTCODE_RE = re.compile(r"^([1-9]\d{2}) ?(\d{2})$")  # Swedish postcodes run from 100 00 to 984 99
_TOWN_RE = re.compile(r"^[^\W\d_]+(?:[ -][^\W\d_]+)*$")  # letters (å ä ö too), words by space or hyphen
TEXT_MAX = 100  # a line in the e-service's forms; longer is a mistake, not a name
# SKVFS 2014:9 4 kap. 6 §: "Modellbeteckningen ska innehålla beteckningen 'SE'". The
# transitional rules spared registers made before then; from 2027-01-01 every register in
# use must meet SKVFS 2021:17, so every register's model designation carries it.
MODEL_MARK = "SE"


class BusinessForm(enum.StrEnum):
    """Whose number identifies the business to Skatteverket."""

    COMPANY = "company"  # a company, partnership or association: its organisationsnummer
    SOLE_TRADER = "sole-trader"  # enskild firma: the owner's personnummer

    @property
    def number_name(self) -> str:
        return "personnummer" if self is BusinessForm.SOLE_TRADER else "organisationsnummer"


class RegistrationError(ValueError):
    """One item that cannot be registered: ``field`` names it, ``reason`` says what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_text(field: str, value: object, *, what: str, limit: int = TEXT_MAX) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegistrationError(field, f"missing: give {what}")
    text = value.strip()
    if len(text) > limit:
        raise RegistrationError(field, f"{len(text)} characters is too long for {what} (at most {limit})")
    if any(ord(ch) < 0x20 for ch in text):
        raise RegistrationError(field, f"{text!r} holds a control character")
    return text


def infer_business_form(number: str) -> BusinessForm:
    """A company's organisationsnummer has 2 or more as its third digit; a personnummer's third
    and fourth digits are the month of birth, so its third is 0 or 1."""
    try:
        digits = normalise_orgnr(number)
    except FieldError:
        return BusinessForm.COMPANY
    return BusinessForm.COMPANY if int(digits[2]) >= 2 else BusinessForm.SOLE_TRADER


def check_business_form(text: str, field: str = "business_form") -> BusinessForm:
    words = text.strip().lower().replace("_", "-").replace(" ", "-")
    aliases = {"enskild-firma": BusinessForm.SOLE_TRADER, "sole-trader": BusinessForm.SOLE_TRADER}
    aliases |= {"company": BusinessForm.COMPANY, "bolag": BusinessForm.COMPANY}
    if words not in aliases:
        raise RegistrationError(
            field,
            f"{text!r} is not a form of business: answer company (an organisationsnummer) or "
            "sole-trader (enskild firma: the owner's personnummer)",
        )
    return aliases[words]


def check_orgnr(text: str, field: str = "orgnr", form: BusinessForm | None = None) -> str:
    """The number the business is known by, written ``NNNNNN-NNNN``: a company's
    organisationsnummer (the third digit 2 or more), or a sole trader's personnummer (the
    date of birth, ``YYMMDD``, first; ``YYYYMMDD-NNNN`` is taken too). The Luhn check digit
    is right in both. ``form`` None: the number's third digit tells which it is."""
    try:
        digits = normalise_orgnr(text)
    except FieldError:
        raise RegistrationError(
            field,
            f"{text!r} is not 10 digits written NNNNNN-NNNN (a sole trader's personnummer: "
            "YYMMDD-NNNN or YYYYMMDD-NNNN)",
        ) from None
    form = form or infer_business_form(digits)
    should_be = luhn_check_digit(digits[:9])
    if form is BusinessForm.SOLE_TRADER:
        month, day = int(digits[2:4]), int(digits[4:6])
        if not 1 <= month <= 12:
            hint = " (a company's organisationsnummer: answer company)" if month >= 20 else ""
            raise RegistrationError(
                field,
                f"{text!r} is not a valid personnummer: its third and fourth digits, the month of "
                f"birth, must be 01-12{hint}",
            )
        # A samordningsnummer (for one who is not registered in Sweden) adds 60 to the day.
        if not (1 <= day <= 31 or 61 <= day <= 91):
            raise RegistrationError(
                field,
                f"{text!r} is not a valid personnummer: its fifth and sixth digits, the day of "
                "birth, must be 01-31 (61-91 in a samordningsnummer)",
            )
        if not luhn_valid(digits):
            raise RegistrationError(
                field, f"{text!r} is not a valid personnummer: its check digit should be {should_be}"
            )
    else:
        if not luhn_valid(digits):
            raise RegistrationError(
                field,
                f"{text!r} has a wrong check digit (the last digit, Luhn): it should be {should_be}",
            )
        if int(digits[2]) < 2:
            raise RegistrationError(
                field,
                f"{text!r} is not a company's organisationsnummer: its third digit must be 2 or more "
                "(a sole trader, enskild firma, registers with the owner's personnummer: answer "
                "sole-trader to business_form)",
            )
    return f"{digits[:6]}-{digits[6:]}"


def check_postcode(text: str, field: str = "postcode") -> str:
    """A Swedish postcode, five digits; returned as ``NNN NN``."""
    match = _POSTCODE_RE.match(text.strip())
    if match is None:
        raise RegistrationError(field, f"{text!r} is not a Swedish postcode: five digits written NNN NN")
    return f"{match[1]} {match[2]}"


def check_town(text: str, field: str = "town") -> str:
    town = check_text(field, text, what="the town (postort)")
    if not _TOWN_RE.match(town):
        raise RegistrationError(field, f"{town!r} must be letters only, words split by space or hyphen")
    return town


def check_designation(text: str, field: str = "designation") -> str:
    """The kassabeteckning: the POS id the control unit knows the register by."""
    try:
        return validate_pos_id(text.strip())
    except FieldError as exc:
        raise RegistrationError(field, exc.reason) from None


def lacks_model_mark(model: str) -> bool:
    """True when the model designation does not contain "SE", as every register's must."""
    return MODEL_MARK not in model


def model_mark_advice(model: str) -> tuple[str, str]:
    """What is wrong with a configured model designation that lacks "SE", and what to do."""
    return (
        f'[register].model {model!r} does not contain "{MODEL_MARK}", which a register\'s model '
        "designation must (SKVFS 2014:9 4 kap. 6 §; every register in use from 2027-01-01)",
        f'set model = "{model} {MODEL_MARK}" (or another with {MODEL_MARK}) under [register], then report '
        "the new designation in Skatteverket's e-service and run tillgw register",
    )


def check_model(text: str, field: str = "model") -> str:
    """The register's model designation (modellbeteckning): it must contain "SE"."""
    model = check_text(field, text, what="the register's model designation")
    if lacks_model_mark(model):
        raise RegistrationError(
            field,
            f'{model!r} does not contain "{MODEL_MARK}": a register\'s model designation must '
            f"(SKVFS 2014:9 4 kap. 6 §; every register in use from 2027-01-01), e.g. '{model} SE'",
        )
    return model


def check_register_number(text: str, field: str = "manufacturing_number") -> str:
    """The register's tillverkningsnummer, exactly as SKVFS 2014:9 2 kap. 23 § allows it."""
    if not text:
        raise RegistrationError(field, "missing: give the register's manufacturing number")
    try:
        return validate_manufacturing_number(text)
    except ValueError as exc:
        raise RegistrationError(field, str(exc)) from None


def check_unit_number(text: str, field: str = "unit_number") -> str:
    """The control unit's manufacturing number as it shows it (17 characters on a CleanCash unit)."""
    number = check_text(field, text, what="the control unit's manufacturing number")
    if not re.fullmatch(r"[A-Za-z0-9-]+", number):
        raise RegistrationError(
            field, f"{number!r} must be letters a-z, A-Z, digits and hyphens, as the unit shows it"
        )
    return number


CHECKS: dict[str, Callable[[str], str]] = {
    "orgnr": check_orgnr,
    "name": lambda text: check_text("name", text, what="the business's name"),
    "street": lambda text: check_text("street", text, what="the street address"),
    "postcode": check_postcode,
    "town": check_town,
    "designation": check_designation,
    "manufacturing_number": check_register_number,
    "model": check_model,
    "program": lambda text: check_text("program", text, what="the register's program"),
    "unit_maker": lambda text: check_text("unit_maker", text, what="the control unit's maker"),
    "unit_model": lambda text: check_text("unit_model", text, what="the control unit's model"),
    "unit_number": check_unit_number,
    "business_form": lambda text: check_business_form(text).value,
}
"""Each item a person answers, by its name in flags, ``--from`` files and errors: its check."""
