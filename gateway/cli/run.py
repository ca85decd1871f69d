"""``tillgw run``: the till service — devices, pipeline and the local HTTP API, until stopped.

The first lines of output say where the API listens and where its token is (and, in the
demo, where the simulated devices are and where printed receipts go), so a POS developer
can start at once. SIGINT or SIGTERM stops it cleanly; SIGKILL loses nothing either
(see docs/fiscal-path.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys

from gateway import demo
from gateway.cli.logs import configure_logging
from gateway.cli.options import add_data_arguments, config_or_complain
from gateway.common.i18n import tr
from gateway.config import Config

__all__ = ["add_parser", "serve"]

log = logging.getLogger("tillgw.service")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run the till service",
        description="Run the till service. With no --config it runs the demo: the project's simulated "
        "control unit and printer on pseudo-terminals, data under ./var.",
    )
    add_data_arguments(run)
    run.add_argument("--http", metavar="HOST:PORT", help="where the API listens (default 127.0.0.1:8080)")
    run.add_argument(
        "-v", "--verbose", action="store_true", help="log every device frame and every API request"
    )
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    # The service (devices, fiscal core, bus, API) is loaded when it runs, not when
    # `tillgw run --help` or another command builds its parser.
    from gateway.common.migrations import MigrationFailed, SchemaTooNew
    from gateway.common.signing import SigningKeyError
    from gateway.fiscal.start_checks import StartRefused

    config = config_or_complain(args)
    if config is None:
        return 2
    configure_logging(config.log, config.log_file, verbose=args.verbose)
    try:
        return asyncio.run(serve(config))
    except (StartRefused, SchemaTooNew, MigrationFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        print(
            tr("error: the till's database under {data_dir}: {exc}").format(
                data_dir=config.data_dir, exc=exc
            ),
            file=sys.stderr,
        )
        return 1
    except (SigningKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def serve(config: Config) -> int:
    """The till of ``config`` and its API until SIGINT or SIGTERM (and, in the demo, the sync module)."""
    from gateway.api import serving
    from gateway.common.health import DeviceState
    from gateway.till import Till

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    till = await Till.open(config)
    try:
        async with serving(till) as url:
            # The first line, in every language: scripts and supervisors read the address from it.
            print(
                f"tillgw: API on {url} (token in {till.files.api_token})",
                flush=True,
            )
            print(
                tr("tillgw: register {pos_id} of {name}, data in {data_dir}").format(
                    pos_id=config.pos_id, name=config.shop.name, data_dir=config.data_dir
                ),
                flush=True,
            )
            print(
                tr("tillgw: control unit {url}: {reason}").format(url=till.unit.url, reason=till.unit.reason),
                flush=True,
            )
            if till.printer is not None:
                print(
                    tr("tillgw: printer {url}: {reason}").format(
                        url=till.printer.driver.url, reason=till.printer.driver.reason
                    ),
                    flush=True,
                )
            if till.embedded_broker is not None:
                print(f"tillgw: {till.embedded_broker.notice}", flush=True)
            if till.bus is not None:
                with contextlib.suppress(TimeoutError):  # a slow broker: say where it stands so far
                    async with asyncio.timeout(3.0):
                        await till.bus.wait_for(DeviceState.READY, DeviceState.DEGRADED, DeviceState.FAILED)
                print(
                    tr("tillgw: MQTT broker {url}: {reason}").format(
                        url=till.bus.url, reason=till.bus.reason
                    ),
                    flush=True,
                )
            sync_task = None
            if config.demo and config.mqtt is not None:
                sync_task, sie_dir = await demo.start_sync(config, stop)
                print(
                    tr(
                        "tillgw: demo — simulated devices; printed receipts go to "
                        "{demo_printer}; the ERP sync module books Z reports as SIE "
                        "files in {sie_dir}"
                    ).format(demo_printer=till.files.demo_printer, sie_dir=sie_dir),
                    flush=True,
                )
            elif config.demo:
                print(
                    tr("tillgw: demo — simulated devices; printed receipts go to {demo_printer}").format(
                        demo_printer=till.files.demo_printer
                    ),
                    flush=True,
                )
            await stop.wait()
            if sync_task is not None:
                await sync_task
    finally:
        await till.close()
    return 0
