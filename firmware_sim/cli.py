"""``tillgw sim ...``: run one simulator in the foreground.

The first line of output is the address the simulator serves (for scripts: ``read``
it); human-readable details follow. Faults are switched at start with ``--fault`` and at
run time by lines on standard input (``fault slow=1.5``, ``clear``, ``status``, ``help``).
The scanner reads its standard input differently: every line is a code to scan.

Also runnable without the gateway: ``python -m firmware_sim.cli sim DEVICE ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_sim.control_unit import ControlUnit, FaultError, UnitConfig
from firmware_sim.control_unit.faults import Fault, parse_fault

if TYPE_CHECKING:
    from firmware_sim.control_unit.xccsp_server import XccspServer
    from firmware_sim.printer import PrinterDevice
    from firmware_sim.scanner import Scanner

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


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser("sim", help="run a device simulator in the foreground")
    kinds = sim.add_subparsers(dest="device", required=True, metavar="DEVICE")
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
    _add_printer_parser(kinds)
    _add_scanner_parser(kinds)


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


def _split_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def _serve_control_unit(unit: ControlUnit, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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
        _read_commands(loop, lambda line: _control(unit, line, servers))
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
        return _split_host_port(text, "--listen")

    addresses: list[str] = []
    notes: list[str] = []
    if args.kind == "ccsp":
        if args.listen:
            if not args.listen.startswith("tcp://"):
                raise ValueError(f"--listen {args.listen!r} must be tcp://HOST:PORT")
            host, port = _split_host_port(args.listen.removeprefix("tcp://"), "--listen")
            addresses.append(await stack.enter_async_context(serve_tcp(unit, host, port)))
        elif args.pty or not args.xccsp:
            addresses.append(await stack.enter_async_context(serve_pty(unit)))
            if args.baud is not None:
                notes.append(f"listens at {args.baud} baud only")
    if args.kind == "xccsp" or (args.kind == "ccsp" and args.xccsp):
        host, port = _split_host_port(args.xccsp, "--xccsp") if args.kind == "ccsp" else http_listen()
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


@dataclass(frozen=True)
class _Command:
    """A run-time command: ``run`` gets the words after the command's name."""

    run: Callable[[list[str]], str]
    min_args: int = 0
    max_args: int | None = 0  # None: any number

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


def _dispatch(line: str, commands: Mapping[str, _Command]) -> None:
    """Run one line of standard input against ``commands``; print its answer or error."""
    words = line.split()
    if not words:
        return
    command = commands.get(words[0])
    if command is None or not command.accepts(len(words) - 1):
        print(f"error: unknown command {line!r}; type 'help'", flush=True)
        return
    try:
        answer = command.run(words[1:])
    except ValueError as exc:  # FaultError is a ValueError
        print(f"error: {exc}", flush=True)
        return
    print(answer, flush=True)


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

    _dispatch(
        line,
        {
            "fault": _Command(fault, 1, 1),
            "clear": _Command(clear, 0, 1),
            "status": _Command(status),
            "help": _Command(lambda rest: CONTROL_HELP, 0, None),
        },
    )


# ---------------------------------------------------------------------------------------
# Shared by the simulators
# ---------------------------------------------------------------------------------------


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def _stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _listen_address(listen: str) -> tuple[str, int]:
    if not listen.startswith("tcp://"):
        raise ValueError(f"--listen {listen!r} must be tcp://HOST:PORT")
    return _split_host_port(listen.removeprefix("tcp://"), "--listen")


def _add_where(parser: argparse.ArgumentParser, what: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--listen", metavar="tcp://HOST:PORT", help=f"serve {what} on a TCP port (0: any free)"
    )
    where.add_argument("--pty", action="store_true", help=f"serve {what} on a new pty (default)")


# ---------------------------------------------------------------------------------------
# tillgw sim printer
# ---------------------------------------------------------------------------------------

_CODE_TABLES = {"cp437": 0, "cp850": 2, "cp865": 5, "wpc1252": 16, "cp858": 19}


def _add_printer_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from firmware_sim.printer.console import HELP

    pr = kinds.add_parser(
        "printer",
        help="an ESC/POS receipt printer with a cash drawer",
        description="A simulated ESC/POS receipt printer. Every cut receipt is written to the "
        "output folder as receipt-NNNN.txt and receipt-NNNN.png. " + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_where(pr, "the printer (the raw port of a network printer is 9100)")
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
        choices=sorted(_CODE_TABLES),
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
    from protocols.escpos import CodeTable, DrawerPin

    _setup_logging(args.verbose)
    try:
        faults = [parse_fault(text) for text in args.fault]
        device = PrinterDevice(
            PrinterConfig(
                output=args.output,
                columns=args.width,
                code_table=CodeTable(_CODE_TABLES[args.code_table]),
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

    stop = _stop_event()
    async with contextlib.AsyncExitStack() as stack:
        try:
            if args.listen:
                host, port = _listen_address(args.listen)
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
            "fault": _Command(lambda rest: console.fault(device, rest[0]), 1, 1),
            "clear": _Command(lambda rest: console.clear(device, rest[0] if rest else None), 0, 1),
            "drawer": _Command(lambda rest: console.drawer(device, rest[0]), 1, 1),
            "status": _Command(lambda rest: console.status(device)),
            "help": _Command(lambda rest: console.HELP, 0, None),
        }
        _read_commands(asyncio.get_running_loop(), lambda line: _dispatch(line, commands))
        await stop.wait()
    return 0


# ---------------------------------------------------------------------------------------
# tillgw sim scanner
# ---------------------------------------------------------------------------------------

SCANNER_HELP = """Type a code and press Enter: it is sent as one scan, framed with the prefix,
the suffix text and the terminator. Every line of standard input is a code (surrounding
blanks are dropped, empty lines skipped). With --file, its codes (one per line, blank
lines and # comments skipped) are scanned one every --interval seconds, after the first
TCP client connects (at once on a pty); the simulator then keeps running."""


def _add_scanner_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sc = kinds.add_parser(
        "scanner",
        help="a serial barcode scanner fed from standard input or a file",
        description="A simulated serial barcode scanner. " + SCANNER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_where(sc, "the scanner")
    sc.add_argument(
        "--suffix", choices=("cr", "crlf", "lf"), default="cr", help="line terminator (default cr)"
    )
    sc.add_argument("--prefix", default="", metavar="TEXT", help="sent before each code (\\x02 etc. allowed)")
    sc.add_argument(
        "--suffix-text", default="", metavar="TEXT", help="sent after each code, before the terminator"
    )
    sc.add_argument("--file", type=Path, help="scan the codes in FILE, one per line")
    sc.add_argument(
        "--interval", type=float, default=0.5, metavar="S", help="seconds between codes of --file"
    )
    sc.add_argument("-v", "--verbose", action="store_true", help="log more")
    sc.set_defaults(handler=run_scanner)


def run_scanner(args: argparse.Namespace) -> int:
    from firmware_sim.scanner import Scanner, ScannerConfig, unescape
    from firmware_sim.scanner.server import read_codes
    from protocols.scanner import Terminator

    _setup_logging(args.verbose)
    try:
        if args.interval < 0:
            raise ValueError(f"--interval must be >= 0, got {args.interval}")
        codes = read_codes(args.file) if args.file is not None else []
        config = ScannerConfig(Terminator(args.suffix), unescape(args.prefix), unescape(args.suffix_text))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve_scanner(Scanner(config), args, codes))


async def _serve_scanner(scanner: Scanner, args: argparse.Namespace, codes: Sequence[str]) -> int:
    from firmware_sim.scanner import ScanError
    from firmware_sim.scanner.server import scan_all, serve_pty, serve_tcp, wait_for_receiver

    stop = _stop_event()
    async with contextlib.AsyncExitStack() as stack:
        try:
            if args.listen:
                host, port = _listen_address(args.listen)
                address = await stack.enter_async_context(serve_tcp(scanner, host, port))
            else:
                address = await stack.enter_async_context(serve_pty(scanner))
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(address, flush=True)
        print(
            f"scanner: terminator {args.suffix.upper()}; type a code and Enter to scan it; Ctrl-C stops",
            flush=True,
        )

        def scan(line: str) -> None:
            if line:
                try:
                    scanner.scan(line)
                except ScanError as exc:
                    print(f"error: {exc}", flush=True)

        _read_commands(asyncio.get_running_loop(), scan)
        if codes:

            async def feed() -> None:
                await wait_for_receiver(scanner)
                sent = await scan_all(scanner, codes, args.interval)
                print(f"scanned {sent} code(s) from {args.file}", flush=True)

            stack.push_async_callback(_cancel, asyncio.create_task(feed()))
        await stop.wait()
    return 0


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m firmware_sim.cli sim DEVICE ...``: the simulators without the gateway."""
    parser = argparse.ArgumentParser(prog="tillgw", description="Device simulators.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
