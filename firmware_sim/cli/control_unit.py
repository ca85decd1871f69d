"""``tillgw sim control-unit``: a simulated control unit, served as CCSP on a pty or TCP,
as an XCCSP server, as Infrasec TCS or as srv4pos.

Faults are switched at start with ``--fault`` and at run time by lines on standard input
(``fault slow=1.5``, ``clear``, ``status``, ``help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_sim.cli.foreground import (
    Command,
    dispatch,
    read_commands,
    setup_logging,
    split_host_port,
    stop_event,
)
from firmware_sim.control_unit import ControlUnit, FaultError, UnitConfig
from firmware_sim.control_unit.faults import Fault, parse_fault

if TYPE_CHECKING:
    from firmware_sim.control_unit.xccsp_server import XccspServer


NO_UNIT = "no-unit"  # XCCSP: the server has lost its CleanCash unit (main status 99, Fault 99)
CONTROL_HELP = (
    """commands on standard input:
  fault NAME[=ARG][*TIMES]   switch a fault on (TIMES: only for the next TIMES requests)
  clear [NAME]               switch one fault, or all, off
  status                     show identity, storage and active faults
  help                       this text
faults: """
    + ", ".join(f.value for f in Fault)
    + f", {NO_UNIT} (XCCSP)"
)


def add_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cu = kinds.add_parser(
        "control-unit",
        help="a CleanCash-compatible control unit (CCSP v1/v2, XCCSP)",
        description="A simulated control unit. " + CONTROL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cu.add_argument(
        "--kind",
        choices=("ccsp", "xccsp", "tcs", "srv4pos"),
        default="ccsp",
        help="what to be: a CleanCash on a serial line (default), an XCCSP server, Infrasec TCS, srv4pos",
    )
    where = cu.add_mutually_exclusive_group()
    where.add_argument(
        "--listen",
        metavar="ADDRESS",
        help="ccsp: tcp://HOST:PORT; the HTTP kinds: HOST:PORT (default 127.0.0.1 and a free port)",
    )
    where.add_argument("--pty", action="store_true", help="ccsp: serve on a new pty (the default)")
    cu.add_argument("--xccsp", metavar="HOST:PORT", help="ccsp: also serve XCCSP over HTTP at /xccsp")
    cu.add_argument(
        "--protocol", type=int, choices=(1, 2), default=2, help="CCSP version (1: a v1-only unit)"
    )
    cu.add_argument(
        "--baud",
        type=int,
        metavar="BAUD",
        help="ccsp on a pty: hear only a register at this speed (e.g. 57600, as Skattedosan units)",
    )
    cu.add_argument(
        "--frame-mode", choices=("a", "b"), default="a", help="ccsp: frame replies as #!# or #%%#"
    )
    cu.add_argument(
        "--credentials",
        metavar="USER:PASSWORD",
        help="xccsp: demand these (HTTP Basic, or Digest with --auth digest)",
    )
    cu.add_argument("--auth", choices=("basic", "digest"), default="basic", help="xccsp: how to demand them")
    cu.add_argument(
        "--pki-dir", type=Path, help="tcs: where its CA and certificates are made (default DATA-DIR/pki)"
    )
    cu.add_argument("--application-id", help="tcs: the only ApplicationID it accepts (default: any)")
    cu.add_argument("--orgnr", default="5561234567", help="tcs, srv4pos: the company it serves")
    cu.add_argument("--api-key", default="tillgw-sim-key", help="srv4pos: the API key it demands")
    cu.add_argument("--corporate-id", default="tillgw-sim", help="srv4pos: the corporate id it serves")
    cu.add_argument("--tls-dir", type=Path, help="srv4pos: serve HTTPS with a CA made here (default: HTTP)")
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
    setup_logging(args.verbose)
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
                baudrate=args.baud,
                frame_mode="%" if args.frame_mode == "b" else "!",
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


async def _serve_control_unit(unit: ControlUnit, args: argparse.Namespace) -> int:
    stop = stop_event()
    async with contextlib.AsyncExitStack() as stack:
        servers: list[XccspServer] = []
        try:
            addresses, notes = await _start_serving(stack, unit, args, servers)
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(" ".join(addresses), flush=True)
        ident = await unit.identity()
        print(
            f"control unit {ident.unit_id} ({args.kind}, CCSP v{ident.protocol} inside, firmware "
            f"{ident.firmware}), {ident.licences} licence(s), journal memory {args.data_dir} "
            f"({len(unit.memory)} registrations)",
            flush=True,
        )
        for note in notes:
            print(note, flush=True)
        active = unit.faults.describe()
        if active:
            print("faults on: " + ", ".join(active), flush=True)
        print("type 'help' for run-time commands; Ctrl-C stops", flush=True)
        read_commands(asyncio.get_running_loop(), lambda line: _control(unit, line, servers))
        await stop.wait()
    return 0


async def _start_serving(
    stack: contextlib.AsyncExitStack, unit: ControlUnit, args: argparse.Namespace, servers: list[XccspServer]
) -> tuple[list[str], list[str]]:
    """Serve ``unit`` as ``args.kind`` says; the addresses served and what a register needs."""
    from firmware_sim.control_unit.ccsp_server import serve_pty, serve_tcp
    from firmware_sim.control_unit.xccsp_server import XccspServer, serve_xccsp

    credentials = None
    if args.credentials is not None:
        user, sep, password = args.credentials.partition(":")
        if not sep or not user:
            raise ValueError(f"--credentials {args.credentials!r} must be USER:PASSWORD")
        credentials = (user, password)

    def http_listen() -> tuple[str, int]:
        text = (args.listen or "127.0.0.1:0").removeprefix("http://").removeprefix("https://")
        return split_host_port(text, "--listen")

    addresses: list[str] = []
    notes: list[str] = []
    if args.kind == "ccsp":
        if args.listen:
            if not args.listen.startswith("tcp://"):
                raise ValueError(f"--listen {args.listen!r} must be tcp://HOST:PORT")
            host, port = split_host_port(args.listen.removeprefix("tcp://"), "--listen")
            addresses.append(await stack.enter_async_context(serve_tcp(unit, host, port)))
        elif args.pty or not args.xccsp:
            addresses.append(await stack.enter_async_context(serve_pty(unit)))
            if args.baud is not None:
                notes.append(f"listens at {args.baud} baud only")
    if args.kind == "xccsp" or (args.kind == "ccsp" and args.xccsp):
        host, port = split_host_port(args.xccsp, "--xccsp") if args.kind == "ccsp" else http_listen()
        server = XccspServer(unit, credentials=credentials, auth=args.auth)
        servers.append(server)
        addresses.append(await stack.enter_async_context(serve_xccsp(server, host, port)))
        if credentials is not None:
            notes.append(
                f"XCCSP demands {args.auth} credentials: put them in the URL, http://USER:PASSWORD@…"
            )
    elif args.kind == "tcs":
        from firmware_sim.control_unit.tcs_server import serve_tcs

        host, port = http_listen()
        pki_dir = args.pki_dir or args.data_dir / "pki"
        tcs = await stack.enter_async_context(
            serve_tcs(unit, host, port, pki_dir=pki_dir, application_id=args.application_id, orgnr=args.orgnr)
        )
        addresses.append(tcs.url)
        notes.append(
            f"ca_cert = {str(tcs.pki.ca_cert)!r}, client_cert = {str(tcs.pki.client_p12)!r}, "
            f"client_cert_password = {tcs.pki.client_password!r}"
        )
    elif args.kind == "srv4pos":
        from firmware_sim.control_unit.srv4pos_server import serve_srv4pos

        host, port = http_listen()
        service = await stack.enter_async_context(
            serve_srv4pos(
                unit,
                host,
                port,
                api_key=args.api_key,
                corporate_id=args.corporate_id,
                orgnr=args.orgnr,
                tls_dir=args.tls_dir,
            )
        )
        addresses.append(service.url)
        notes.append(f"corporate_id = {args.corporate_id!r}, api_key = {args.api_key!r}")
        if service.ca_cert is not None:
            notes.append(f"ca_cert = {str(service.ca_cert)!r}")
    return addresses, notes


def _control(unit: ControlUnit, line: str, servers: Sequence[XccspServer] = ()) -> None:
    def active() -> str:
        lost = [NO_UNIT] if any(server.no_unit for server in servers) else []
        return ", ".join([*unit.faults.describe(), *lost]) or "none"

    def fault(rest: list[str]) -> str:
        if rest[0] == NO_UNIT:
            if not servers:
                raise ValueError(f"{NO_UNIT} is a fault of an XCCSP server; this unit serves none")
            for server in servers:
                server.set_no_unit(True)
        else:
            name, arg, times = parse_fault(rest[0])
            unit.faults.set(name, arg, times)
        return f"ok: {active()}"

    def clear(rest: list[str]) -> str:
        if not rest or rest[0] == NO_UNIT:
            for server in servers:
                server.set_no_unit(False)
        if not rest or rest[0] != NO_UNIT:
            unit.faults.clear(rest[0] if rest else None)
        return f"ok: faults on: {active()}"

    def status(rest: list[str]) -> str:
        current = unit.current_status()
        return (
            f"unit {unit.unit_id}: main {current.main.name}, storage {current.storage.name}, "
            f"{len(unit.memory)} registrations, faults on: {active()}"
        )

    dispatch(
        line,
        {
            "fault": Command(fault, 1, 1),
            "clear": Command(clear, 0, 1),
            "status": Command(status),
            "help": Command(lambda rest: CONTROL_HELP, 0, None),
        },
    )
