"""``tillgw sim printer``: a simulated ESC/POS receipt printer with its cash drawer, on a
pty or TCP, with faults and the drawer switched by lines on standard input."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_sim.cli.foreground import (
    Command,
    add_where,
    dispatch,
    listen_address,
    read_commands,
    setup_logging,
    stop_event,
)
from protocols.escpos.text import CODE_TABLE_NAMES

if TYPE_CHECKING:
    from firmware_sim.printer import PrinterDevice


def add_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from firmware_sim.printer.console import HELP

    pr = kinds.add_parser(
        "printer",
        help="an ESC/POS receipt printer with a cash drawer",
        description="A simulated ESC/POS receipt printer. Every cut receipt is written to the "
        "output folder as receipt-NNNN.txt and receipt-NNNN.png. " + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_where(pr, "the printer (the raw port of a network printer is 9100)")
    pr.add_argument(
        "--output",
        type=Path,
        default=Path("var/sim/printer"),
        help="receipts folder (default var/sim/printer)",
    )
    pr.add_argument(
        "--width", type=int, choices=(42, 48), default=48, help="characters per line (default 48)"
    )
    pr.add_argument(
        "--code-table",
        choices=sorted(CODE_TABLE_NAMES),
        default="cp437",
        help="code table at power-on and after ESC @ (default cp437, as Epson)",
    )
    pr.add_argument(
        "--drawer-close-seconds",
        type=float,
        default=3.0,
        metavar="S",
        help="an opened drawer closes after S seconds; 0: stays open until 'drawer close' (default 3)",
    )
    pr.add_argument(
        "--drawer-open-level",
        choices=("high", "low"),
        default="high",
        help="drawer sensor level (DLE EOT 1 bit 2, pin 3) while the drawer is open (default high)",
    )
    pr.add_argument(
        "--drawer-pin", choices=("2", "5", "any"), default="any", help="kick-out pin the drawer is on"
    )
    pr.add_argument(
        "--buffer-bytes", type=int, default=4096, help="receive buffer; reading stops when it is full"
    )
    pr.add_argument(
        "--disconnect-seconds",
        type=float,
        default=2.0,
        help="pty: how long the line stays dead after the disconnect fault (default 2)",
    )
    pr.add_argument("--font", type=Path, help="a TTF to draw receipts in (default: see the docs)")
    pr.add_argument("--no-png", action="store_true", help="write only the .txt of each receipt")
    pr.add_argument(
        "--fault", action="append", default=[], metavar="NAME[=ARG][*TIMES]", help="a fault on at start"
    )
    pr.add_argument("-v", "--verbose", action="store_true", help="log every command received")
    pr.set_defaults(handler=run_printer)


def run_printer(args: argparse.Namespace) -> int:
    from firmware_sim.printer import FaultError, PrinterConfig, PrinterDevice, parse_fault
    from protocols.escpos import DrawerPin

    setup_logging(args.verbose)
    try:
        faults = [parse_fault(text) for text in args.fault]
        device = PrinterDevice(
            PrinterConfig(
                output=args.output,
                columns=args.width,
                code_table=CODE_TABLE_NAMES[args.code_table],
                drawer_close_seconds=args.drawer_close_seconds,
                drawer_open_high=args.drawer_open_level == "high",
                drawer_pin=None if args.drawer_pin == "any" else DrawerPin({"2": 0, "5": 1}[args.drawer_pin]),
                buffer_bytes=args.buffer_bytes,
                disconnect_seconds=args.disconnect_seconds,
                png=not args.no_png,
                font=args.font,
            )
        )
    except (FaultError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for fault, arg, times in faults:
        device.set_fault(fault, arg, times)
    return asyncio.run(_serve_printer(device, args))


async def _serve_printer(device: PrinterDevice, args: argparse.Namespace) -> int:
    from firmware_sim.printer import console
    from firmware_sim.printer.server import serve_pty, serve_tcp

    stop = stop_event()
    async with contextlib.AsyncExitStack() as stack:
        try:
            if args.listen:
                host, port = listen_address(args.listen)
                address = await stack.enter_async_context(serve_tcp(device, host, port))
            else:
                address = await stack.enter_async_context(serve_pty(device))
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(address, flush=True)
        config = device.config
        close = f"after {config.drawer_close_seconds:g} s" if config.drawer_close_seconds else "by hand"
        level = "high" if config.drawer_open_high else "low"
        print(
            f"printer: {config.columns} columns, code table {config.code_table.name}, receipts to "
            f"{config.output}; drawer closes {close} (pin 3 {level} = open)",
            flush=True,
        )
        active = device.faults.describe()
        if active:
            print("faults on: " + ", ".join(active), flush=True)
        print("type 'help' for run-time commands; Ctrl-C stops", flush=True)
        commands = {
            "fault": Command(lambda rest: console.fault(device, rest[0]), 1, 1),
            "clear": Command(lambda rest: console.clear(device, rest[0] if rest else None), 0, 1),
            "drawer": Command(lambda rest: console.drawer(device, rest[0]), 1, 1),
            "status": Command(lambda rest: console.status(device)),
            "help": Command(lambda rest: console.HELP, 0, None),
        }
        read_commands(asyncio.get_running_loop(), lambda line: dispatch(line, commands))
        await stop.wait()
    return 0
