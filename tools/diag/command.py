"""``tillgw diag``: its arguments, their usage errors, and the run.

Ask each device what it is and how it is, and say what to do next: the probes are
:mod:`~tools.diag.unit_probe`, :mod:`~tools.diag.printer_probe` and
:mod:`~tools.diag.scanner_watch`; :mod:`~tools.diag.diagnose` decides what to ask,
:mod:`~tools.diag.checks` holds the checks beside the devices, and the result is a
:class:`~tools.diag.report.Report`, printed as a table (:mod:`~tools.diag.table`) or, with
``--json``, as one JSON document. Exit codes are in :mod:`tools.diag.report`. See
docs/diag.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from gateway.cli.options import add_data_arguments, config_from_args, use_language_of
from gateway.config import ConfigError
from gateway.devices.control_units.kinds import CCSP_BAUDRATES, UnitKind
from gateway.devices.printer.settings import OpenLevel
from gateway.devices.scanner.input_devices import DeviceSelector
from protocols.skv import FieldError, normalise_orgnr, validate_orgnr, validate_pos_id
from tools.diag.finding import DEFAULT_POS_ID, PROBE_TIMEOUT, READ_SECONDS, SCAN_TIMEOUT
from tools.diag.report import EXIT_USAGE

__all__ = ["add_parser", "run"]


def _scanner_usage_error(args: argparse.Namespace) -> str | None:
    if (args.read is not None or args.count is not None) and not args.scanner:
        return "--read and --count go with --scanner URL"
    if args.read is not None and args.read <= 0:
        return "--read must be more than 0 seconds"
    if args.count is not None and args.count < 1:
        return "--count must be 1 or more"
    for url in args.scanner or ():
        if url.startswith("evdev:"):
            try:
                DeviceSelector.from_url(url)
            except ValueError as exc:
                return f"--scanner: {exc}"
    return None


def run(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout <= 0:
        print("error: --timeout must be more than 0 seconds", file=sys.stderr)
        return EXIT_USAGE
    try:
        validate_pos_id(args.pos_id)
    except FieldError as exc:
        print(f"error: --pos-id: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    xccsp = [u for u in args.control_unit or () if u.startswith(("http://", "https://"))]
    if xccsp and args.orgnr is None:
        print(
            f"error: {xccsp[0]} speaks XCCSP, which needs --orgnr (the shop's organisationsnummer)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.orgnr is not None:
        try:
            # a sole trader's personnummer may be written with its century (YYYYMMDD-NNNN)
            args.orgnr = validate_orgnr(normalise_orgnr(args.orgnr))
        except FieldError as exc:
            print(f"error: --orgnr: {exc.reason}", file=sys.stderr)
            return EXIT_USAGE
    if (args.test_print or args.kick) and not args.printer and not (args.all or args.config):
        print("error: --test-print and --kick go with --printer URL", file=sys.stderr)
        return EXIT_USAGE
    scanner_usage = _scanner_usage_error(args)
    if scanner_usage is not None:
        print(f"error: {scanner_usage}", file=sys.stderr)
        return EXIT_USAGE
    use_language_of(args)  # diag speaks the till's language, also without --all
    config = None
    if args.all or (args.config is not None and not (args.control_unit or args.printer or args.scanner)):
        try:
            config = config_from_args(args)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    # The probes, the drivers they open and rich load only when diag runs, not for --help.
    from rich.console import Console

    from tools.diag.diagnose import diagnose
    from tools.diag.table import render

    report = asyncio.run(diagnose(args, config))
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        render(report, Console(file=sys.stdout, soft_wrap=True))
    return report.exit_code


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diag = subparsers.add_parser(
        "diag",
        help="check the devices: who they are, how they are, what to do",
        description=(
            "Ask each device what it is and how it is. With no address, scan the serial ports "
            "this machine has (or those matching --scan-pattern) for a control unit. "
            "A scan sends a short CCSP identity query to each port. Exits 1 when nothing answers."
        ),
    )
    diag.add_argument(
        "--control-unit",
        action="append",
        metavar="URL",
        help=(
            "the control unit's address: /dev/ttyUSB0, /dev/pts/N, socket://HOST:PORT (CCSP), "
            "http://[USER:PASSWORD@]HOST:PORT/xccsp (XCCSP), https://HOST/tcsserver (Infrasec TCS), "
            "https://HOST/v45 (srv4pos) (repeatable)"
        ),
    )
    unit = diag.add_argument_group(
        "control unit settings", "as in [control_unit] (docs/configuration.md); with --config, its own"
    )
    unit.add_argument("--kind", choices=[k.value for k in UnitKind], help="when the address does not say it")
    unit.add_argument(
        "--baudrate", type=int, choices=CCSP_BAUDRATES, help="CCSP: this speed only (default: try each)"
    )
    unit.add_argument("--ca-cert", metavar="PEM", help="HTTPS: the CA to trust (default: the system's)")
    unit.add_argument("--client-cert", metavar="P12", help="TCS: the register's certificate (PKCS#12)")
    unit.add_argument("--client-cert-password", metavar="PASSWORD", help="TCS: the certificate's password")
    unit.add_argument("--application-id", help="TCS: the application's id at Infrasec")
    unit.add_argument("--register-id", help="TCS: ManRegisterID (default: the POS id)")
    unit.add_argument("--corporate-id", help="srv4pos: the corporate id")
    unit.add_argument("--cash-register-name", help="srv4pos: the cash register's name (default: the POS id)")
    unit.add_argument("--api-key", help="srv4pos: the API key")
    diag.add_argument(
        "--orgnr",
        metavar="NNNNNN-NNNN",
        help="the shop's organisationsnummer; needed for an XCCSP unit, whose every request carries it",
    )
    diag.add_argument(
        "--pos-id",
        default=DEFAULT_POS_ID,
        help=f"the register's POS id (default {DEFAULT_POS_ID}; probes never register a receipt)",
    )
    diag.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"per request (default {PROBE_TIMEOUT:g} s, {SCAN_TIMEOUT:g} s per port when scanning)",
    )
    diag.add_argument(
        "--scan-pattern",
        action="append",
        default=[],
        metavar="GLOB",
        help="scan these paths instead of the system's serial ports (e.g. '/dev/ttyUSB*'; repeatable)",
    )
    diag.add_argument(
        "--scanner",
        action="append",
        metavar="URL",
        help=(
            "a barcode scanner to listen to: /dev/ttyACM0, /dev/pts/N, socket://HOST:PORT (serial; "
            "CR, LF or CR LF ends a code), or a USB keyboard scanner: evdev:///dev/input/eventN, "
            "evdev://name=NAME, evdev://id=VVVV:PPPP (grabbed while diag listens) (repeatable)"
        ),
    )
    diag.add_argument(
        "--read",
        type=float,
        metavar="SECONDS",
        help=f"how long to listen for scans with --scanner (default {READ_SECONDS:g} s)",
    )
    diag.add_argument("--count", type=int, metavar="N", help="with --scanner: stop listening after N scans")
    diag.add_argument(
        "--printer",
        action="append",
        metavar="URL",
        help=(
            "a receipt printer to ask: /dev/ttyUSB0, /dev/pts/N (serial), tcp://HOST:9100, "
            "socket://HOST:PORT, usb://VID:PID[/SERIAL] (repeatable)"
        ),
    )
    diag.add_argument("--test-print", action="store_true", help="with --printer: print a test page")
    diag.add_argument(
        "--kick", action="store_true", help="with --printer: open the cash drawer and watch its sensor"
    )
    diag.add_argument(
        "--drawer-open-level",
        choices=[level.value for level in OpenLevel],
        default=OpenLevel.HIGH.value,
        help="the drawer sensor's level while the drawer is open (default high)",
    )
    diag.add_argument(
        "--all",
        action="store_true",
        help=(
            "run every check with the config's devices: control unit, printer, serial ports, USB devices, "
            "MQTT broker and login, journal chain, disk space, registration (the default with --config "
            "and no device address)"
        ),
    )
    add_data_arguments(diag)
    diag.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    diag.set_defaults(handler=run)
