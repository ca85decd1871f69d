"""What every ``tillgw sim`` command shares to run in the foreground: logging, stopping
on Ctrl-C, the address to listen on, and run-time commands read from standard input."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def split_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def read_commands(loop: asyncio.AbstractEventLoop, handle: Callable[[str], None]) -> None:
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
class Command:
    """A run-time command: ``run`` gets the words after the command's name."""

    run: Callable[[list[str]], str]
    min_args: int = 0
    max_args: int | None = 0  # None: any number

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


def dispatch(line: str, commands: Mapping[str, Command]) -> None:
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


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def listen_address(listen: str) -> tuple[str, int]:
    if not listen.startswith("tcp://"):
        raise ValueError(f"--listen {listen!r} must be tcp://HOST:PORT")
    return split_host_port(listen.removeprefix("tcp://"), "--listen")


def add_where(parser: argparse.ArgumentParser, what: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--listen", metavar="tcp://HOST:PORT", help=f"serve {what} on a TCP port (0: any free)"
    )
    where.add_argument("--pty", action="store_true", help=f"serve {what} on a new pty (default)")
