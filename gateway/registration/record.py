"""What a register is registered as with Skatteverket, checked item by item, and kept.

Skatteverket's e-service "Anmäl, ändra, felanmäl och avanmäl kassaregister" asks, for
each register with its control unit: the control unit's maker, model, manufacturing
number and the address where it is; the register's designation (kassabeteckning), model
or program, manufacturing number, and whether it keeps a paper roll or a journal memory;
the business's name and address. :class:`Registration` holds exactly those, every item
checked when it is made (:class:`RegistrationError` names the item); ``tillgw register``
fills it in and :mod:`tools.registration.sheet` writes it out.

A company is known by its organisationsnummer; a sole trader (enskild firma) by the
owner's personnummer (:class:`BusinessForm`). The register's model designation must
contain "SE" (:func:`check_model`).

What was registered is kept in ``<data_dir>/registration.json``, written whole or not at
all, so that a till can tell at start when its identity no longer matches
(:mod:`gateway.registration.check`).
"""

from __future__ import annotations

import enum
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gateway.config import validate_manufacturing_number
from protocols.skv import FieldError, luhn_check_digit, luhn_valid, normalise_orgnr, validate_pos_id

__all__ = [
    "CHECKS",
    "MODEL_MARK",
    "REGISTRATION_FILE",
    "Business",
    "BusinessForm",
    "ControlUnitEntry",
    "PlaceOfSale",
    "RegisterEntry",
    "Registration",
    "RegistrationError",
    "check_business_form",
    "check_designation",
    "check_model",
    "check_orgnr",
    "check_postcode",
    "check_register_number",
    "check_town",
    "check_unit_number",
    "infer_business_form",
    "lacks_model_mark",
    "load_registration",
    "parse_address",
    "save_registration",
]

REGISTRATION_FILE = "registration.json"
_POSTCODE_RE = re.compile(r"^([1-9]\d{2}) ?(\d{2})$")  # Swedish postcodes run from 100 00 to 984 99
_TOWN_RE = re.compile(r"^[^\W\d_]+(?:[ -][^\W\d_]+)*$")  # letters (å ä ö too), words by space or hyphen
_TEXT_MAX = 100  # a line in the e-service's forms; longer is a mistake, not a name
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


def _text(field: str, value: object, *, what: str, limit: int = _TEXT_MAX) -> str:
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
    town = _text(field, text, what="the town (postort)")
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


def check_model(text: str, field: str = "model") -> str:
    """The register's model designation (modellbeteckning): it must contain "SE"."""
    model = _text(field, text, what="the register's model designation")
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
    number = _text(field, text, what="the control unit's manufacturing number")
    if not re.fullmatch(r"[A-Za-z0-9-]+", number):
        raise RegistrationError(
            field, f"{number!r} must be letters a-z, A-Z, digits and hyphens, as the unit shows it"
        )
    return number


CHECKS: dict[str, Callable[[str], str]] = {
    "orgnr": check_orgnr,
    "name": lambda text: _text("name", text, what="the business's name"),
    "street": lambda text: _text("street", text, what="the street address"),
    "postcode": check_postcode,
    "town": check_town,
    "designation": check_designation,
    "manufacturing_number": check_register_number,
    "model": check_model,
    "program": lambda text: _text("program", text, what="the register's program"),
    "unit_maker": lambda text: _text("unit_maker", text, what="the control unit's maker"),
    "unit_model": lambda text: _text("unit_model", text, what="the control unit's model"),
    "unit_number": check_unit_number,
    "business_form": lambda text: check_business_form(text).value,
}
"""Each item a person answers, by its name in flags, ``--from`` files and errors: its check."""


@dataclass(frozen=True, slots=True)
class PlaceOfSale:
    """The address where the register and its control unit are."""

    street: str
    postcode: str  # NNN NN
    town: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "street", CHECKS["street"](self.street))
        object.__setattr__(self, "postcode", check_postcode(self.postcode or ""))
        object.__setattr__(self, "town", check_town(self.town))

    @property
    def one_line(self) -> str:
        return f"{self.street}, {self.postcode} {self.town}"

    @property
    def lines(self) -> tuple[str, str]:
        return self.street, f"{self.postcode} {self.town}"


def parse_address(text: str, field: str = "address") -> PlaceOfSale:
    """``"Storgatan 1, 352 30 Växjö"`` (or the two lines of ``[shop].address``) as a :class:`PlaceOfSale`."""
    street, comma, rest = text.replace("\n", ",").rpartition(",")
    match = re.match(r"^\s*(\d{3} ?\d{2})\s+(.+?)\s*$", rest)
    if not comma or match is None:
        raise RegistrationError(field, f"{text!r} must be written 'STREET, NNN NN TOWN'")
    try:
        return PlaceOfSale(street.strip().rstrip(","), match[1], match[2])
    except RegistrationError as exc:
        raise RegistrationError(field, f"{exc.field}: {exc.reason}") from None


@dataclass(frozen=True, slots=True)
class Business:
    """Who uses the register: the name, and the organisationsnummer or, for a sole trader,
    the owner's personnummer (NNNNNN-NNNN either way). ``form`` left empty: the number tells."""

    name: str
    orgnr: str
    form: BusinessForm | str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", CHECKS["name"](self.name))
        form = check_business_form(self.form) if self.form else infer_business_form(self.orgnr or "")
        object.__setattr__(self, "form", form)
        object.__setattr__(self, "orgnr", check_orgnr(self.orgnr or "", form=form))

    @property
    def number_name(self) -> str:
        """ "organisationsnummer" or "personnummer": what the number is."""
        return BusinessForm(self.form).number_name


@dataclass(frozen=True, slots=True)
class ControlUnitEntry:
    """The certified control unit, as it said who it is (or as typed in, ``read_from_device`` false)."""

    maker: str
    model: str
    manufacturing_number: str  # the unit id it answers with; printed on every receipt
    firmware: str
    read_from_device: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "maker", CHECKS["unit_maker"](self.maker))
        object.__setattr__(self, "model", CHECKS["unit_model"](self.model))
        object.__setattr__(self, "manufacturing_number", check_unit_number(self.manufacturing_number))
        firmware = self.firmware.strip() if isinstance(self.firmware, str) else ""
        object.__setattr__(self, "firmware", firmware)


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """The register itself: this till."""

    designation: str  # kassabeteckning: the POS id
    model: str
    program: str
    version: str
    manufacturing_number: str  # tillverkningsnummer, SKVFS 2014:9 2 kap. 23 §
    journal: str  # where the journal memory is kept

    def __post_init__(self) -> None:
        object.__setattr__(self, "designation", check_designation(self.designation or ""))
        object.__setattr__(
            self, "manufacturing_number", check_register_number(self.manufacturing_number or "")
        )
        # Not check_model: a register registered before "SE" was asked for is still read;
        # tillgw register and tillgw diag warn about it.
        object.__setattr__(self, "model", _text("model", self.model, what="the register's model designation"))
        object.__setattr__(self, "program", CHECKS["program"](self.program))
        object.__setattr__(
            self, "journal", _text("journal", self.journal, what="where the journal is kept", limit=4096)
        )


@dataclass(frozen=True, slots=True)
class Registration:
    """One register with its control unit, as reported to Skatteverket on ``registered_on``."""

    business: Business
    place_of_sale: PlaceOfSale  # also where the control unit is
    control_unit: ControlUnitEntry
    register: RegisterEntry
    registered_on: date

    def identity(self) -> dict[str, str]:
        """The items whose change must be reported: see :mod:`gateway.registration.check`."""
        return {
            "control_unit.manufacturing_number": self.control_unit.manufacturing_number,
            "register.manufacturing_number": self.register.manufacturing_number,
            "register.designation": self.register.designation,
            "business.orgnr": self.business.orgnr,
        }

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["registered_on"] = self.registered_on.isoformat()
        document["place_of_sale"]["one_line"] = self.place_of_sale.one_line
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Registration:
        """The document :meth:`to_json` wrote; :class:`RegistrationError` names what is wrong."""
        try:
            place = dict(document["place_of_sale"])
            place.pop("one_line", None)
            return cls(
                Business(**document["business"]),
                PlaceOfSale(**place),
                ControlUnitEntry(**document["control_unit"]),
                RegisterEntry(**document["register"]),
                date.fromisoformat(document["registered_on"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RegistrationError):
                raise
            raise RegistrationError("registration", f"not a registration document ({exc})") from None


def load_registration(data_dir: Path) -> Registration | None:
    """What ``tillgw register`` last recorded under ``data_dir``; None when it never ran there."""
    path = data_dir / REGISTRATION_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistrationError("registration", f"{path} cannot be read ({exc})") from None
    if not isinstance(document, dict):
        raise RegistrationError("registration", f"{path} is not a registration document")
    return Registration.from_json(document)


def save_registration(data_dir: Path, registration: Registration) -> Path:
    """Write ``registration.json`` whole or not at all: a temporary file, flushed, then renamed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / REGISTRATION_FILE
    text = json.dumps(registration.to_json(), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".registration-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
