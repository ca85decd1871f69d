"""``tillgw``: the till gateway's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tillgw",
        description="Till-side gateway for Swedish cash registers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from gateway import diag, journal_cli, register, report_cli, service

    service.add_parser(commands)
    report_cli.add_parser(commands)
    journal_cli.add_parser(commands)
    diag.add_parser(commands)
    register.add_parser(commands)

    # The ERP sync module: its own process, sharing only the config file and the bus schemas.
    from gateway.sync import cli as sync_cli

    sync_cli.add_parser(commands)

    # The simulators are a separate package; the gateway reaches them only through
    # this command (and, later, the demo mode of `tillgw run`).
    from firmware_sim import cli as sim_cli

    sim_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
