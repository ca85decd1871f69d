"""``tillgw sim ...``: run one simulator in the foreground.

The first line of output is the address the simulator serves (for scripts: ``read``
it); human-readable details follow. Faults are switched at start with ``--fault`` and at
run time by lines on standard input (``fault slow=1.5``, ``clear``, ``status``, ``help``).
The scanner reads its standard input differently: every line is a code to scan.

One module per simulator (:mod:`~firmware_sim.cli.control_unit`,
:mod:`~firmware_sim.cli.printer`, :mod:`~firmware_sim.cli.scanner`), each declaring its
own arguments; what they share to run in the foreground is in
:mod:`~firmware_sim.cli.foreground`.

Also runnable without the gateway: ``python -m firmware_sim.cli sim DEVICE ...``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from firmware_sim.cli import control_unit, printer, scanner

__all__ = ["add_parser", "main"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser("sim", help="run a device simulator in the foreground")
    kinds = sim.add_subparsers(dest="device", required=True, metavar="DEVICE")
    control_unit.add_parser(kinds)
    printer.add_parser(kinds)
    scanner.add_parser(kinds)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m firmware_sim.cli sim DEVICE ...``: the simulators without the gateway."""
    parser = argparse.ArgumentParser(prog="tillgw", description="Device simulators.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code
