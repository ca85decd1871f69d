"""``tillgw``: the till gateway's command line.

Each command lives in its own module, imported only when that command runs: ``tillgw
--help`` and ``tillgw journal verify`` do not load the diagnostics, the sync module's ERP
adapters or the simulators. :data:`COMMANDS` names each command's module and its line in
``tillgw --help``; the module's ``add_parser`` declares everything else. ``tillgw
--version`` reads the installed package's version and imports no command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway.common.i18n import LANGUAGES, use_language

__all__ = ["COMMANDS", "DISTRIBUTION", "build_parser", "main"]

DISTRIBUTION = "tillgateway"  # the package whose version `tillgw --version` prints

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("gateway.cli.run", "run the till service"),
    "report": ("gateway.cli.report", "make an X or Z report (through the running service when there is one)"),
    "openapi": ("gateway.cli.openapi", "print the OpenAPI document of the till's HTTP API"),
    "journal": ("gateway.cli.journal", "check the journal, export it or its public key, replace a lost key"),
    # Setting a till up on a shop's computer: its config file, its system service.
    "init": ("tools.install.init_command", "set a till up: find its devices, write a commented till.toml"),
    "service": ("tools.install.service_command", "install, remove or show the till's systemd services"),
    "backup": ("gateway.cli.backup", "back up the till's data, while it runs too, and check the copy"),
    "restore": ("gateway.cli.restore", "restore a backup into the till's data directory (the till stopped)"),
    "diag": ("tools.diag.command", "check the devices: who they are, how they are, what to do"),
    "register": (
        "tools.registration.command",
        "fill in the register's registration with Skatteverket, and print the sheet",
    ),
    # The ERP sync module: its own process, sharing only the config file and the bus schemas.
    "sync": ("gateway.cli.sync", "run the ERP sync module (bus -> inbox -> ERP or SIE files)"),
    # The simulators are a separate package; the gateway reaches them only through this
    # command and the demo mode of `tillgw run`.
    "sim": ("firmware_sim.cli", "run a device simulator in the foreground"),
}


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked for, so that ``tillgw
    --help`` and every command start without reading the package's metadata (nor loading
    :mod:`typing` for its annotations: 3 ms more for every start)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version(DISTRIBUTION)
        except PackageNotFoundError:  # run from a checkout that was never installed
            shown = f"unknown (the {DISTRIBUTION} package is not installed)"
        sys.stdout.write(f"{parser.prog} {shown}\n")  # on stdout, as --help is: a script reads it
        parser.exit(0)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s own arguments (no command's, when None: ``tillgw
    --help`` or a mistyped command); every other command is listed by its help line only."""
    parser = argparse.ArgumentParser(
        prog="tillgw",
        description="Till-side gateway for Swedish cash registers.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        nargs=0,
        default=argparse.SUPPRESS,
        help="print tillgw's version and exit",
    )
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the language of what the command says to a person (default: the config's [shop] language)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_line) in COMMANDS.items():
        if name == command:
            importlib.import_module(module).add_parser(commands)
        else:
            commands.add_parser(name, help=help_line, add_help=False)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), if it is one;
    none after ``--version``, which ends the line before any command is loaded."""
    words = iter(argv)
    for word in words:
        if word == "--version":
            return None
        if word == "--language":
            next(words, None)  # its value is no command
            continue
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_of(args_in)).parse_args(args_in)
    if args.language is not None:  # a technician's choice over the config's [shop] language
        use_language(args.language)
    code: int = args.handler(args)
    return code
