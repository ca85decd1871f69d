"""``tillgw register``: fill in what Skatteverket asks for this register, check it, keep it, print it.

Interactive by default: each item is asked with the config's value (or the last
registration's) as its default and checked at once, the sheet is shown, and nothing is
kept until it is confirmed. ``--yes`` asks nothing: it takes the flags, then a
``--from FILE.json`` document, then the config. The control unit's manufacturing number
and firmware (and an XCCSP unit's model) are read from the unit itself; ``--no-device``
takes them from ``--unit-number`` and friends, with a warning. Where each answer comes
from, and the questions, are :mod:`tools.registration.answers`.

A sole trader (enskild firma) answers the owner's personnummer where a company answers
its organisationsnummer; the form of business is asked (``--business-form``), its
default told by the number. The register's model designation must contain "SE": an
answer without it is refused, and a config whose ``[register].model`` lacks it is
registered as it is, with a warning.

``--fault-report`` instead makes the fault report (felanmälan) sheet of a control-unit
outage from the journal (:mod:`tools.registration.fault_report`).

On success ``<data_dir>/registration.json`` holds what was registered and the sheet
(Markdown, JSON, PDF) is written next to it (or to ``--output``). Exit codes: 0
registered; 1 not registered (the unit did not answer, or the answer was no); 2 a usage
error or an item that is wrong (the message names it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from gateway.cli.options import add_data_arguments, config_from_args
from gateway.common.clock import Clock
from gateway.common.i18n import tr
from gateway.config import ConfigError
from gateway.registration.items import RegistrationError, lacks_model_mark
from gateway.registration.record import (
    Business,
    ControlUnitEntry,
    PlaceOfSale,
    RegisterEntry,
    Registration,
    load_registration,
    save_registration,
)
from gateway.till_files import TillFiles
from tools.registration.answers import (
    Refused,
    ask,
    check_given,
    defaults,
    form_of,
    from_file,
    given_flags,
    model_warning,
    split_address,
)
from tools.registration.sheet import sheet_markdown, write_sheet
from tools.registration.unit import CLEANCASH_MAKER, UnitAnswer, UnitUnreadable, read_unit

__all__ = ["add_parser", "run"]

EXIT_OK, EXIT_NOT_REGISTERED, EXIT_USAGE = 0, 1, 2


def _build(values: dict[str, Any], unit: UnitAnswer | None, files: TillFiles, today: date) -> Registration:
    def item(key: str) -> str:
        value = values.get(key)
        if value is None or not str(value).strip():
            flag = "--" + key.replace("_", "-")
            raise RegistrationError(key, f"missing: give {flag} (or answer it without --yes)")
        return str(value)

    unit_number = unit.unit_id if unit is not None else item("unit_number")
    return Registration(
        Business(item("name"), item("orgnr"), form_of(values)),
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
        today,
    )


def _version() -> str:
    import importlib.metadata  # reads the installed packages' records: only when a sheet is made

    try:
        return importlib.metadata.version("tillgateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _confirm(registration: Registration, read: Callable[[str], str]) -> bool:
    print()
    print(sheet_markdown(registration))
    try:
        return read(tr("Register with these answers? [y/N]: ")).strip().lower() in ("y", "yes", "j", "ja")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.fault_report:  # the felanmälan of an outage: from the journal, the unit is not asked
        from tools.registration.fault_report import run_fault_report  # the journal's reader: only now

        return run_fault_report(config, args.outage, args.output)
    if args.outage is not None:
        print("error: --outage: only with --fault-report", file=sys.stderr)
        return EXIT_USAGE
    interactive = not args.yes and args.from_file is None
    files = TillFiles(config.data_dir)
    try:
        file_values = from_file(args.from_file) if args.from_file is not None else {}
        split_address(file_values)
        flags = given_flags(args)
        split_address(flags)
        check_given({**file_values, **flags})  # wrong before any question is asked
        values: dict[str, Any] = defaults(config, load_registration(config.data_dir))
    except RegistrationError as exc:
        print(f"error: {exc.field}: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE

    unit: UnitAnswer | None = None
    if args.no_device:
        print(
            tr(
                "warning: --no-device: the control unit's manufacturing number "
                "is typed in, not read from the unit — check it against the "
                "unit's type plate and a receipt before you register"
            ),
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
        print(model_warning(config.model), file=sys.stderr)
    try:
        if interactive:
            skip = {"unit_number"} if unit is not None else set()
            ask(values, skip, input, config.model)
        registration = _build(values, unit, files, Clock(config.shop.timezone).today())
        if registration.register.model != config.model:
            print(
                f"warning: the model designation registered, {registration.register.model!r}, is not "
                f"[register].model {config.model!r}, which the journal export writes: set it the same",
                file=sys.stderr,
            )
        if interactive and not _confirm(registration, input):
            print(tr("nothing registered"), file=sys.stderr)
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
        tr(
            "next: enter these answers in Skatteverket's e-service \"Anmäl, "
            'ändra, felanmäl och avanmäl kassaregister"; keep the printed '
            "sheet with the till"
        ),
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
    register.add_argument(
        "--fault-report",
        dest="fault_report",
        action="store_true",
        help="make the fault report (felanmälan) sheet of a control-unit outage from the journal",
    )
    register.add_argument(
        "--outage",
        metavar="ENTRY|YYYY-MM-DD",
        help="with --fault-report: the outage's journal entry number, or its day (default: the last)",
    )
    register.set_defaults(handler=run)
