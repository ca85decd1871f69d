"""``tillgw sim scanner``: a simulated serial barcode scanner on a pty or TCP, scanning
each line of standard input (or the codes of a file)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_sim.cli.foreground import add_where, listen_address, read_commands, setup_logging, stop_event

if TYPE_CHECKING:
    from firmware_sim.scanner import Scanner


SCANNER_HELP = """Type a code and press Enter: it is sent as one scan, framed with the prefix,
the suffix text and the terminator. Every line of standard input is a code (surrounding
blanks are dropped, empty lines skipped). With --file, its codes (one per line, blank
lines and # comments skipped) are scanned one every --interval seconds, after the first
TCP client connects (at once on a pty); the simulator then keeps running."""


def add_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sc = kinds.add_parser(
        "scanner",
        help="a serial barcode scanner fed from standard input or a file",
        description="A simulated serial barcode scanner. " + SCANNER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_where(sc, "the scanner")
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

    setup_logging(args.verbose)
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

    stop = stop_event()
    async with contextlib.AsyncExitStack() as stack:
        try:
            if args.listen:
                host, port = listen_address(args.listen)
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

        read_commands(asyncio.get_running_loop(), scan)
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
