"""``tillgw sync [--once] [--config FILE]``: the ERP sync module, its own process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import ConfigError
from gateway.sync.config import load_sync_config
from gateway.sync.runlog import LOGGER

if TYPE_CHECKING:
    from gateway.sync.service import SyncService

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = subparsers.add_parser(
        "sync",
        help="run the ERP sync module (bus -> inbox -> SIE files)",
        description="Take the tills' messages from the bus into the inbox, ack them, and book them: "
        "each Z report becomes an SIE 4i file. With no --config: the demo, everything under ./var/sync. "
        "See docs/sync.md.",
    )
    sync.add_argument(
        "--once",
        action="store_true",
        help="take what the broker has queued, process it and exit (else run until SIGINT/SIGTERM)",
    )
    sync.add_argument(
        "--config", type=Path, metavar="FILE", help="the TOML configuration with [sync] (default: the demo)"
    )
    sync.set_defaults(handler=sync_command)


def sync_command(args: argparse.Namespace) -> int:
    try:
        config = load_sync_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("tillgw sync: %(levelname)s %(message)s"))
    logging.getLogger(LOGGER).addHandler(console)
    if config.demo:
        print(
            f"tillgw sync: demo configuration: inbox, SIE files and logs under {config.inbox.parent}",
            file=sys.stderr,
        )
    from gateway.sync.service import SyncService  # the bus and mail libraries: only for this command

    return asyncio.run(_main(SyncService(config), once=args.once))


async def _main(service: SyncService, *, once: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await service.run(once=once, stop=stop)
