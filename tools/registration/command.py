"""``tillgw register``: fill in what Skatteverket asks for this register, check it, keep it, print it.

Interactive by default: each item is asked with the config's value (or the last
registration's) as its default and checked at once, the sheet is shown, and nothing is
kept until it is confirmed. ``--yes`` asks nothing: it takes the flags, then a
``--from FILE.json`` document, then the config. The control unit's manufacturing number
and firmware (and an XCCSP unit's model) are read from the unit itself; ``--no-device``
takes them from ``--unit-number`` and friends, with a warning.

A sole trader (enskild firma) answers the owner's personnummer where a company answers
its organisationsnummer; the form of business is asked (``--business-form``), its
default told by the number. The register's model designation must contain "SE": an
answer without it is refused, and a config whose ``[register].model`` lacks it is
registered as it is, with a warning.

On success ``<data_dir>/registration.json`` holds what was registered and the sheet
(Markdown, JSON, PDF) is written next to it (or to ``--output``). Exit codes: 0
registered; 1 not registered (the unit did not answer, or the answer was no); 2 a usage
error or an item that is wrong (the message names it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from gateway.cli.options import add_data_arguments, config_from_args
from gateway.config import Config, ConfigError
from gateway.registration.record import (
    CHECKS,
    Business,
    BusinessForm,
    ControlUnitEntry,
    PlaceOfSale,
    RegisterEntry,
    Registration,
    RegistrationError,
    check_business_form,
    check_orgnr,
    infer_business_form,
    lacks_model_mark,
    load_registration,
    parse_address,
    save_registration,
)
from gateway.till_files import TillFiles
from tools.registration.sheet import sheet_markdown, write_sheet
from tools.registration.unit import CLEANCASH_MAKER, UnitAnswer, UnitUnreadable, read_unit

__all__ = ["add_parser", "run"]

EXIT_OK, EXIT_NOT_REGISTERED, EXIT_USAGE = 0, 1, 2

# The items in the order they are asked, with the words the question uses.
QUESTIONS: list[tuple[str, str]] = [
    ("name", "Business name"),
    ("orgnr", "Organisationsnummer, or a sole trader's personnummer (NNNNNN-NNNN)"),
    ("business_form", "Form of business: company, or sole-trader (enskild firma)"),
    ("street", "Place of sale: street address"),
    ("postcode", "Place of sale: postcode (NNN NN)"),
    ("town", "Place of sale: town"),
    ("designation", "Register designation (kassabeteckning)"),
    ("manufacturing_number", "Register manufacturing number (tillverkningsnummer)"),
    ("model", 'Register model designation (must contain "SE")'),
    ("program", "Register program"),
    ("unit_maker", "Control unit maker"),
    ("unit_model", "Control unit model"),
    ("unit_number", "Control unit manufacturing number"),
]
FILE_KEYS = {key for key, _ in QUESTIONS} | {"address", "unit_firmware"}


class Refused(Exception):
    """Nothing is registered; ``str()`` says why."""


def _defaults(config: Config, previous: Registration | None) -> dict[str, str | None]:
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


def _form_of(values: dict[str, Any]) -> BusinessForm:
    """The form given (flag, file, answer), else the one the number tells."""
    given = values.get("business_form")
    if given:
        return check_business_form(str(given))
    return infer_business_form(str(values.get("orgnr") or ""))


def _check_given(values: dict[str, str]) -> None:
    """Each item given by flag or file checked before anything is asked; the number against
    the form of business when that is given too."""
    for key, value in values.items():
        if key == "orgnr":
            form = check_business_form(values["business_form"]) if "business_form" in values else None
            check_orgnr(value, form=form)
        elif key in CHECKS:
            CHECKS[key](value)


def _model_warning(model: str) -> str:
    return (
        f'warning: [register].model {model!r} does not contain "SE", which a register\'s model '
        "designation must (SKVFS 2014:9 4 kap. 6 §; every register in use from 2027-01-01): set "
        f'model = "{model} SE" (or another with SE) under [register], then register again and '
        "report the new designation in the e-service"
    )


def _from_file(path: Path) -> dict[str, str]:
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


def _given(args: argparse.Namespace) -> dict[str, str]:
    """The flags, by item name, those given only."""
    names = [*FILE_KEYS]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _split_address(values: dict[str, Any]) -> None:
    """An ``address`` ("STREET, NNN NN TOWN") stands for street, postcode and town."""
    address = values.pop("address", None)
    if address is not None:
        place = parse_address(address)
        values.update(street=place.street, postcode=place.postcode, town=place.town)


def _build(values: dict[str, Any], unit: UnitAnswer | None, files: TillFiles) -> Registration:
    def item(key: str) -> str:
        value = values.get(key)
        if value is None or not str(value).strip():
            flag = "--" + key.replace("_", "-")
            raise RegistrationError(key, f"missing: give {flag} (or answer it without --yes)")
        return str(value)

    unit_number = unit.unit_id if unit is not None else item("unit_number")
    return Registration(
        Business(item("name"), item("orgnr"), _form_of(values)),
        PlaceOfSale(item("street"), item("postcode"), item("town")),
        ControlUnitEntry(
            item("unit_maker"),
            item("unit_model"),
            unit_number,
            unit.firmware if unit is not None else values.get("unit_firmware") or "",
            read_from_device=unit is not None,
        ),
        RegisterEntry(
            item("designation"),
            item("model"),
            item("program"),
            _version(),
            item("manufacturing_number"),
            f"journal memory (journalminne): this till's database, {files.database.resolve()}",
        ),
        date.today(),
    )


def _version() -> str:
    import importlib.metadata  # reads the installed packages' records: only when a sheet is made

    try:
        return importlib.metadata.version("tillgateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _ask(values: dict[str, Any], skip: set[str], read: Callable[[str], str], config_model: str) -> None:
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
            answer = read(f"{words_of[key]} [{default or ''}]: ").strip()
        except EOFError:
            raise Refused(f"no answer for {key}: nothing registered") from None
        text = answer or (default or "")
        try:
            if key == "model" and text == config_model and lacks_model_mark(text):
                # The config's own designation: registered as the till is set up, with a warning.
                print(f"  {_model_warning(text)}", flush=True)
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


def _confirm(registration: Registration, read: Callable[[str], str]) -> bool:
    print()
    print(sheet_markdown(registration))
    try:
        return read("Register with these answers? [y/N]: ").strip().lower() in ("y", "yes", "j", "ja")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    interactive = not args.yes and args.from_file is None
    files = TillFiles(config.data_dir)
    try:
        file_values = _from_file(args.from_file) if args.from_file is not None else {}
        _split_address(file_values)
        flags = _given(args)
        _split_address(flags)
        _check_given({**file_values, **flags})  # wrong before any question is asked
        values: dict[str, Any] = _defaults(config, load_registration(config.data_dir))
    except RegistrationError as exc:
        print(f"error: {exc.field}: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE

    unit: UnitAnswer | None = None
    if args.no_device:
        print(
            "warning: --no-device: the control unit's manufacturing number is typed in, not read from "
            "the unit — check it against the unit's type plate and a receipt before you register",
            file=sys.stderr,
        )
    else:
        try:
            unit = asyncio.run(read_unit(config, args.control_unit))
        except UnitUnreadable as exc:
            print(
                f"error: {exc} — check the unit's cable and power, or enter its identity by hand with "
                "--no-device --unit-number NUMBER",
                file=sys.stderr,
            )
            return EXIT_NOT_REGISTERED
        print(
            f"control unit at {unit.url}: manufacturing number {unit.unit_id}, firmware {unit.firmware}, "
            f"{unit.protocol}",
            flush=True,
        )
        # The unit's own answer over the defaults; what is given (file, flags) over both.
        values.update(unit_maker=values.get("unit_maker") or CLEANCASH_MAKER)
        if unit.model is not None:
            values["unit_model"] = unit.model
    values.update(file_values)
    values.update(flags)
    if unit is not None:  # the number the unit answers is the one on its receipts: never typed over
        values.update(unit_number=unit.unit_id, unit_firmware=unit.firmware)

    if not interactive and values.get("model") == config.model and lacks_model_mark(config.model):
        print(_model_warning(config.model), file=sys.stderr)
    try:
        if interactive:
            skip = {"unit_number"} if unit is not None else set()
            _ask(values, skip, input, config.model)
        registration = _build(values, unit, files)
        if registration.register.model != config.model:
            print(
                f"warning: the model designation registered, {registration.register.model!r}, is not "
                f"[register].model {config.model!r}, which the journal export writes: set it the same",
                file=sys.stderr,
            )
        if interactive and not _confirm(registration, input):
            print("nothing registered", file=sys.stderr)
            return EXIT_NOT_REGISTERED
    except RegistrationError as exc:
        print(f"error: {exc.field}: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_REGISTERED

    record = save_registration(config.data_dir, registration)
    sheet = write_sheet(registration, args.output or config.data_dir)
    if not interactive:
        print(sheet_markdown(registration))
    print(f"registered: {record}", flush=True)
    for kind, path in sheet.items():
        print(f"sheet ({kind}): {path}", flush=True)
    print(
        "next: enter these answers in Skatteverket's e-service \"Anmäl, ändra, felanmäl och avanmäl "
        'kassaregister"; keep the printed sheet with the till',
        flush=True,
    )
    return EXIT_OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    register = subparsers.add_parser(
        "register",
        help="fill in the register's registration with Skatteverket, and print the sheet",
        description=(
            "Ask each item Skatteverket's e-service asks (the config's values are the defaults), read "
            "the control unit's identity from the unit, check everything, and keep it in "
            "<data_dir>/registration.json with a sheet to print (Markdown, JSON, PDF). "
            "Exits 0 when registered, 1 when not, 2 for a usage error or a wrong item."
        ),
    )
    add_data_arguments(register)
    register.add_argument(
        "--yes", action="store_true", help="ask nothing: take the flags, --from and the config"
    )
    register.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        metavar="FILE.json",
        help="the items as one JSON object (implies --yes)",
    )
    register.add_argument(
        "--orgnr",
        metavar="NNNNNN-NNNN",
        help="the business's organisationsnummer, or a sole trader's personnummer (YYMMDD-NNNN)",
    )
    register.add_argument(
        "--business-form",
        dest="business_form",
        metavar="{company,sole-trader}",
        help="company (an organisationsnummer) or sole-trader (enskild firma: the owner's personnummer); "
        "default: what the number tells",
    )
    register.add_argument("--name", help="the business's name")
    register.add_argument("--address", metavar="'STREET, NNN NN TOWN'", help="the place of sale's address")
    register.add_argument("--street", help="the place of sale's street address")
    register.add_argument("--postcode", metavar="NNN NN", help="the place of sale's postcode")
    register.add_argument("--town", help="the place of sale's town")
    register.add_argument(
        "--designation", metavar="POS_ID", help="the register's designation (kassabeteckning)"
    )
    register.add_argument(
        "--manufacturing-number", dest="manufacturing_number", help="the register's manufacturing number"
    )
    register.add_argument("--model", help='the register\'s model designation; it must contain "SE"')
    register.add_argument("--program", help="the register's program")
    register.add_argument("--unit-maker", dest="unit_maker", help="the control unit's maker (its type plate)")
    register.add_argument("--unit-model", dest="unit_model", help="the control unit's model (its type plate)")
    register.add_argument(
        "--unit-number", dest="unit_number", help="with --no-device: the control unit's manufacturing number"
    )
    register.add_argument(
        "--unit-firmware", dest="unit_firmware", help="with --no-device: its firmware version"
    )
    register.add_argument(
        "--no-device", action="store_true", help="do not ask the control unit: its identity is typed in"
    )
    register.add_argument(
        "--control-unit",
        metavar="URL",
        help="ask the control unit here instead of the config's [control_unit].url",
    )
    register.add_argument(
        "--output", type=Path, metavar="DIR", help="where the sheet goes (default: the data dir)"
    )
    register.set_defaults(handler=run)
