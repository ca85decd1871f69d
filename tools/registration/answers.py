"""The answers of ``tillgw register``: where each item's answer comes from, and the questions.

An item's answer is, from weakest to strongest: the config's value (or, for the control
unit, the last registration's), a ``--from FILE.json`` document, a flag; interactively the
person's answer to its question, the strongest answer so far offered as the default.
Every answer is checked as :mod:`gateway.registration.items` says, and a wrong one is
named (or, when asked, asked again).

The form of business is asked after the number, its default what the number tells; a
form the number does not fit asks the number again. The register's model designation
without "SE" is refused as an answer; the config's own is taken with a warning, since
it is what the till is and what its journal export writes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.common.i18n import N_, tr
from gateway.config import Config
from gateway.registration.items import (
    CHECKS,
    BusinessForm,
    RegistrationError,
    check_business_form,
    check_orgnr,
    infer_business_form,
    lacks_model_mark,
    model_mark_advice,
)
from gateway.registration.record import Registration, parse_address

__all__ = [
    "FILE_KEYS",
    "QUESTIONS",
    "Refused",
    "ask",
    "check_given",
    "defaults",
    "form_of",
    "from_file",
    "given_flags",
    "model_warning",
    "split_address",
]

# The items in the order they are asked, with the words the question uses (asked in the till's language).
QUESTIONS: list[tuple[str, str]] = [
    ("name", N_("Business name")),
    ("orgnr", N_("Organisationsnummer, or a sole trader's personnummer (NNNNNN-NNNN)")),
    ("business_form", N_("Form of business: company, or sole-trader (enskild firma)")),
    ("street", N_("Place of sale: street address")),
    ("postcode", N_("Place of sale: postcode (NNN NN)")),
    ("town", N_("Place of sale: town")),
    ("designation", N_("Register designation (kassabeteckning)")),
    ("manufacturing_number", N_("Register manufacturing number (tillverkningsnummer)")),
    ("model", N_('Register model designation (must contain "SE")')),
    ("program", N_("Register program")),
    ("unit_maker", N_("Control unit maker")),
    ("unit_model", N_("Control unit model")),
    ("unit_number", N_("Control unit manufacturing number")),
]
FILE_KEYS = {key for key, _ in QUESTIONS} | {"address", "unit_firmware"}


class Refused(Exception):
    """Nothing is registered; ``str()`` says why."""


def defaults(config: Config, previous: Registration | None) -> dict[str, str | None]:
    """What each question offers: the config's values, the last registration's for the unit."""
    orgnr = config.shop.orgnr
    values: dict[str, str | None] = {
        "name": config.shop.name,
        "orgnr": f"{orgnr[:6]}-{orgnr[6:]}",
        "designation": config.pos_id,
        "manufacturing_number": config.manufacturing_number,
        "model": config.model,
        "program": config.program,
        "street": None,
        "postcode": None,
        "town": None,
    }
    try:
        place = parse_address(", ".join(config.shop.address), "[shop].address")
        values.update(street=place.street, postcode=place.postcode, town=place.town)
    except RegistrationError:
        values["street"] = config.shop.address[0]
    if previous is not None:
        values.update(unit_maker=previous.control_unit.maker, unit_model=previous.control_unit.model)
    return values


def form_of(values: dict[str, Any]) -> BusinessForm:
    """The form given (flag, file, answer), else the one the number tells."""
    given = values.get("business_form")
    if given:
        return check_business_form(str(given))
    return infer_business_form(str(values.get("orgnr") or ""))


def check_given(values: dict[str, str]) -> None:
    """Each item given by flag or file checked before anything is asked; the number against
    the form of business when that is given too."""
    for key, value in values.items():
        if key == "orgnr":
            form = check_business_form(values["business_form"]) if "business_form" in values else None
            check_orgnr(value, form=form)
        elif key in CHECKS:
            CHECKS[key](value)


def model_warning(model: str) -> str:
    problem, fix = model_mark_advice(model)
    return f"warning: {problem}: {fix}"


def from_file(path: Path) -> dict[str, str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistrationError("--from", f"{path} cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise RegistrationError("--from", f"{path} is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise RegistrationError("--from", f"{path} must hold one JSON object")
    for key, value in document.items():
        if key not in FILE_KEYS:
            raise RegistrationError(
                key, f"not an item of the registration (known: {', '.join(sorted(FILE_KEYS))})"
            )
        if not isinstance(value, str):
            raise RegistrationError(key, f"must be a string, got {value!r}")
    return document


def given_flags(args: argparse.Namespace) -> dict[str, str]:
    """The flags, by item name, those given only."""
    names = [*FILE_KEYS]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def split_address(values: dict[str, Any]) -> None:
    """An ``address`` ("STREET, NNN NN TOWN") stands for street, postcode and town."""
    address = values.pop("address", None)
    if address is not None:
        place = parse_address(address)
        values.update(street=place.street, postcode=place.postcode, town=place.town)


def ask(values: dict[str, Any], skip: set[str], read: Callable[[str], str], config_model: str) -> None:
    """Ask each item with its default; an answer that fails its check is asked again. The
    form of business offers the one the number tells; a form the number does not fit asks
    the number again."""
    keys = [key for key, _ in QUESTIONS if key not in skip]
    words_of = dict(QUESTIONS)
    at = 0
    while at < len(keys):
        key = keys[at]
        default = values.get(key)
        if key == "business_form" and not default:
            default = infer_business_form(str(values.get("orgnr") or "")).value
        try:
            answer = read(f"{tr(words_of[key])} [{default or ''}]: ").strip()
        except EOFError:
            raise Refused(tr("no answer for {key}: nothing registered").format(key=key)) from None
        text = answer or (default or "")
        try:
            if key == "model" and text == config_model and lacks_model_mark(text):
                # The config's own designation: registered as the till is set up, with a warning.
                print(f"  {model_warning(text)}", flush=True)
                values[key] = text
            else:
                values[key] = CHECKS[key](text)
            if key == "business_form":
                check_orgnr(str(values.get("orgnr") or ""), form=BusinessForm(values[key]))
        except RegistrationError as exc:
            print(f"  {exc.field}: {exc.reason}", flush=True)
            if key == "business_form" and exc.field == "orgnr":
                values.pop("business_form", None)  # the number is asked again, and the form after it
                at = keys.index("orgnr")
            continue
        at += 1
