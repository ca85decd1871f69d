"""What a register is registered as with Skatteverket, checked item by item, and kept.

Skatteverket's e-service "Anmäl, ändra, felanmäl och avanmäl kassaregister" asks, for
each register with its control unit: the control unit's maker, model, manufacturing
number and the address where it is; the register's designation (kassabeteckning), model
or program, manufacturing number, and whether it keeps a paper roll or a journal memory;
the business's name and address. :class:`Registration` holds exactly those, every item
checked when it is made (:class:`RegistrationError` names the item); ``tillgw register``
fills it in and :mod:`tools.registration.sheet` writes it out.

Each item is checked as :mod:`gateway.registration.items` says; a sole trader
(enskild firma) is registered with the owner's personnummer (:class:`Business`'s ``form``).

What was registered is kept in ``<data_dir>/registration.json``, written whole or not at
all, so that a till can tell at start when its identity no longer matches
(:mod:`gateway.registration.check`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gateway.common.i18n import tr
from gateway.registration.items import (
    CHECKS,
    BusinessForm,
    RegistrationError,
    check_business_form,
    check_designation,
    check_orgnr,
    check_postcode,
    check_register_number,
    check_text,
    check_town,
    check_unit_number,
    infer_business_form,
)

__all__ = [
    "REGISTRATION_FILE",
    "Business",
    "ControlUnitEntry",
    "PlaceOfSale",
    "RegisterEntry",
    "Registration",
    "RegistrationError",
    "load_registration",
    "parse_address",
    "save_registration",
]

REGISTRATION_FILE = "registration.json"


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
        object.__setattr__(
            self, "model", check_text("model", self.model, what="the register's model designation")
        )
        object.__setattr__(self, "program", CHECKS["program"](self.program))
        object.__setattr__(
            self, "journal", check_text("journal", self.journal, what="where the journal is kept", limit=4096)
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
            raise RegistrationError(
                "registration", tr("not a registration document ({exc})").format(exc=exc)
            ) from None


def load_registration(data_dir: Path) -> Registration | None:
    """What ``tillgw register`` last recorded under ``data_dir``; None when it never ran there."""
    path = data_dir / REGISTRATION_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistrationError(
            "registration", tr("{path} cannot be read ({exc})").format(path=path, exc=exc)
        ) from None
    if not isinstance(document, dict):
        raise RegistrationError("registration", tr("{path} is not a registration document").format(path=path))
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
