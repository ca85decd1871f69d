"""A till served over real HTTP from a thread of its own, for clients that block: the
schemathesis run and the client generated from the OpenAPI document.

The till is as in ``conftest.make_api`` — a SQLite journal in a temporary folder, the
simulated CCSP control unit and the simulated printer over TCP — but its event loop runs
in a thread, so a synchronous client in the test's thread can call it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.ccsp_server import serve_tcp
from firmware_sim.printer.device import PrinterConfig as SimulatedPrinterConfig
from firmware_sim.printer.device import PrinterDevice
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from gateway.api.app import make_app
from gateway.till import Till
from protocols.escpos import CodeTable
from tests.api.conftest import till_config

__all__ = ["LiveTill", "live_till"]

STOP_WAIT = 60.0  # seconds: a safety net for the thread's end, never reached when the till closes


@dataclass(frozen=True)
class LiveTill:
    url: str
    token: str
    database: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.contextmanager
def live_till(folder: Path) -> Iterator[LiveTill]:
    """A till with a printer, served on 127.0.0.1 from its own thread until the block ends."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[LiveTill] = concurrent.futures.Future()
    stopping = asyncio.Event()

    async def serve() -> None:
        async with contextlib.AsyncExitStack() as stack:
            unit = ControlUnit(UnitConfig(data_dir=folder / "unit", reboot_seconds=0.2))
            stack.callback(unit.close)
            unit_url = await stack.enter_async_context(serve_tcp(unit))
            printer = PrinterDevice(
                SimulatedPrinterConfig(
                    output=folder / "printer", columns=42, code_table=CodeTable.CP858, png=False
                )
            )
            printer_url = await stack.enter_async_context(serve_printer_tcp(printer))
            till = await Till.open(till_config(folder / "till", unit_url, printer_url))
            stack.push_async_callback(till.close)
            runner = web.AppRunner(make_app(till))
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            ready.set_result(LiveTill(f"http://{host}:{port}", till.token, till.files.database))
            await stopping.wait()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # the test's thread is told why the till did not start
            if not ready.done():
                ready.set_exception(exc)
            raise
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="live-till", daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=STOP_WAIT)
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(STOP_WAIT)
