"""``tillgw sim ...``: run one simulator in the foreground.

The first line of output is the address the simulator serves (for scripts: ``read``
it); human-readable details follow. Faults are switched at start with ``--fault`` and at
run time by lines on standard input (``fault slow=1.5``, ``clear``, ``status``, ``help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from firmware_sim.control_unit import ControlUnit, FaultError, UnitConfig
from firmware_sim.control_unit.faults import Fault, parse_fault

CONTROL_HELP = """commands on standard input:
  fault NAME[=ARG][*TIMES]   switch a fault on (TIMES: only for the next TIMES requests)
  clear [NAME]               switch one fault, or all, off
  status                     show identity, storage and active faults
  help                       this text
faults: """ + ", ".join(f.value for f in Fault)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser("sim", help="run a device simulator in the foreground")
    kinds = sim.add_subparsers(dest="device", required=True, metavar="DEVICE")
    cu = kinds.add_parser(
        "control-unit",
        help="a CleanCash-compatible control unit (CCSP v1/v2, XCCSP)",
        description="A simulated control unit. " + CONTROL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = cu.add_mutually_exclusive_group()
    where.add_argument("--listen", metavar="tcp://HOST:PORT", help="serve CCSP on a TCP port")
    where.add_argument("--pty", action="store_true", help="serve CCSP on a new pty (default)")
    cu.add_argument("--xccsp", metavar="HOST:PORT", help="also serve XCCSP over HTTP at /xccsp")
    cu.add_argument("--protocol", type=int, choices=(1, 2), default=2, help="CCSP version (default 2)")
    cu.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var/sim/control-unit"),
        help="journal memory and identity (default var/sim/control-unit)",
    )
    cu.add_argument("--licences", type=int, default=1, help="how many POS ids the unit serves")
    cu.add_argument("--pos-id", action="append", default=[], metavar="ID", help="a licensed POS id")
    cu.add_argument(
        "--no-auto-register",
        action="store_true",
        help="refuse unknown POS ids (NAK 007) instead of licensing them on first use",
    )
    cu.add_argument("--capacity", type=int, default=1_000_000, help="registrations journal memory holds")
    cu.add_argument("--unit-id", help="a fixed 17-character unit id (default: made once, kept)")
    cu.add_argument("--reboot-seconds", type=float, default=0.5, help="how long a power cut lasts")
    cu.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[=ARG][*TIMES]",
        help="switch a fault on at start (repeatable)",
    )
    cu.add_argument("-v", "--verbose", action="store_true", help="log every frame in hex")
    cu.set_defaults(handler=run_control_unit)


def run_control_unit(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if args.unit_id is not None and len(args.unit_id) != 17:
        print(f"error: --unit-id {args.unit_id!r} must be 17 characters", file=sys.stderr)
        return 2
    try:
        faults = [parse_fault(text) for text in args.fault]
        unit = ControlUnit(
            UnitConfig(
                data_dir=args.data_dir,
                protocol=args.protocol,
                licences=args.licences,
                pos_ids=tuple(args.pos_id),
                auto_register=not args.no_auto_register,
                capacity=args.capacity,
                unit_id=args.unit_id,
                reboot_seconds=args.reboot_seconds,
            )
        )
    except (FaultError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for fault, arg, times in faults:
        unit.faults.set(fault, arg, times)
    try:
        return asyncio.run(_serve_control_unit(unit, args))
    finally:
        unit.close()


def _split_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def _serve_control_unit(unit: ControlUnit, args: argparse.Namespace) -> int:
    from firmware_sim.control_unit.ccsp_server import serve_pty, serve_tcp

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        addresses = []
        try:
            if args.listen:
                if not args.listen.startswith("tcp://"):
                    raise ValueError(f"--listen {args.listen!r} must be tcp://HOST:PORT")
                host, port = _split_host_port(args.listen.removeprefix("tcp://"), "--listen")
                addresses.append(await stack.enter_async_context(serve_tcp(unit, host, port)))
            elif args.pty or not args.xccsp:
                addresses.append(await stack.enter_async_context(serve_pty(unit)))
            if args.xccsp:
                from firmware_sim.control_unit.xccsp_server import serve_http

                host, port = _split_host_port(args.xccsp, "--xccsp")
                addresses.append(await stack.enter_async_context(serve_http(unit, host, port)))
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(" ".join(addresses), flush=True)
        ident = await unit.identity()
        print(
            f"control unit {ident.unit_id} (CCSP v{ident.protocol}, firmware {ident.firmware}), "
            f"{ident.licences} licence(s), journal memory {args.data_dir} "
            f"({len(unit.memory)} registrations)",
            flush=True,
        )
        active = unit.faults.describe()
        if active:
            print("faults on: " + ", ".join(active), flush=True)
        print("type 'help' for run-time commands; Ctrl-C stops", flush=True)
        _read_commands(loop, lambda line: _control(unit, line))
        await stop.wait()
    return 0


def _read_commands(loop: asyncio.AbstractEventLoop, handle: Callable[[str], None]) -> None:
    """Feed standard-input lines to ``handle`` on the loop, from a daemon thread.

    A thread, not ``connect_read_pipe``: stdin may be a regular file or /dev/null, which
    the event loop cannot watch; a daemon thread never holds up the exit.
    """

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(handle, line.strip())

    if sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=pump, name="sim-stdin", daemon=True).start()


def _control(unit: ControlUnit, line: str) -> None:
    words = line.split()
    if not words:
        return
    command, rest = words[0], words[1:]
    try:
        if command == "fault" and len(rest) == 1:
            fault, arg, times = parse_fault(rest[0])
            unit.faults.set(fault, arg, times)
            print(f"ok: {', '.join(unit.faults.describe())}", flush=True)
        elif command == "clear" and len(rest) <= 1:
            unit.faults.clear(rest[0] if rest else None)
            print(f"ok: faults on: {', '.join(unit.faults.describe()) or 'none'}", flush=True)
        elif command == "status" and not rest:
            status = unit.current_status()
            print(
                f"unit {unit.unit_id}: main {status.main.name}, storage {status.storage.name}, "
                f"{len(unit.memory)} registrations, faults on: "
                f"{', '.join(unit.faults.describe()) or 'none'}",
                flush=True,
            )
        elif command == "help":
            print(CONTROL_HELP, flush=True)
        else:
            print(f"error: unknown command {line!r}; type 'help'", flush=True)
    except (FaultError, ValueError) as exc:
        print(f"error: {exc}", flush=True)
