"""The demo till: the project's simulators in place of the hardware, and the demo's sync module.

``tillgw run`` with no configuration runs the demo (docs/configuration.md, "no file"):
the simulated CleanCash control unit and receipt printer of ``firmware_sim`` on
pseudo-terminals, with their memory and their printed receipts under the data
directory, and the ERP sync module in the same process, booking Z reports as SIE files.
``tillgw register`` in the demo asks the same simulated unit who it is.

This is the one module of ``gateway`` that imports ``firmware_sim``, and it does so
inside the functions that start a simulator: a till with a configuration never loads
one, nor the simulated printer's drawing of receipts, and importing this module costs
nothing a command would notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.till_files import TillFiles

if TYPE_CHECKING:
    from gateway.config import Config

__all__ = ["simulated_control_unit", "simulated_printer", "start_devices", "start_sync", "sync_inbox"]

log = logging.getLogger("tillgw.demo")

DEMO_LICENCES = 4  # registers the simulated unit serves: the demo's, and room to try more
DEMO_COLUMNS = 42  # the simulated printer's paper: the demo's [register] paper_width
SYNC_READY_SECONDS = 10.0  # the longest the demo till waits for its sync module to subscribe


@contextlib.asynccontextmanager
async def simulated_control_unit(files: TillFiles) -> AsyncIterator[str]:
    """The project's simulated control unit (CCSP) on a pseudo-terminal until the block ends; yields
    the terminal's path. Its memory is under the data directory, so the demo till keeps one
    unit id and its registered receipts across starts."""
    from firmware_sim.control_unit import ControlUnit, UnitConfig
    from firmware_sim.control_unit.ccsp_server import serve_pty

    unit = ControlUnit(UnitConfig(files.demo_unit, licences=DEMO_LICENCES))
    try:
        async with serve_pty(unit) as path:
            yield path
    finally:
        unit.close()


@contextlib.asynccontextmanager
async def simulated_printer(files: TillFiles) -> AsyncIterator[str]:
    """The project's simulated ESC/POS printer (with its drawer) on a pseudo-terminal until the block
    ends; yields the terminal's path. What it prints goes to ``files.demo_printer`` as text
    and pictures of the paper."""
    from firmware_sim.printer.config import PrinterConfig
    from firmware_sim.printer.device import PrinterDevice
    from firmware_sim.printer.server import serve_pty
    from protocols.escpos import CodeTable

    printer = PrinterDevice(
        PrinterConfig(output=files.demo_printer, columns=DEMO_COLUMNS, code_table=CodeTable.CP858)
    )
    async with serve_pty(printer) as path:
        yield path


async def start_devices(stack: contextlib.AsyncExitStack, files: TillFiles) -> tuple[str, str]:
    """The demo's control unit and printer, running until ``stack`` closes; their addresses."""
    unit = await stack.enter_async_context(simulated_control_unit(files))
    printer = await stack.enter_async_context(simulated_printer(files))
    log.info("demo: simulated control unit on %s, simulated printer on %s", unit, printer)
    return unit, printer


def sync_inbox(files: TillFiles) -> Path:
    """The demo's sync module's inbox; the key its acks are signed with is beside it, where the
    demo till looks for the public half (gateway/till.py)."""
    return files.demo_sync / "inbox.db"


async def start_sync(config: Config, stop: asyncio.Event) -> tuple[asyncio.Task[int], Path]:
    """The ERP sync module in this process, with its files under the data directory, until ``stop``
    is set; the task and where it writes SIE files, once the module is subscribed to the tills'
    messages (or has ended, or SYNC_READY_SECONDS have passed: a slow machine goes on).

    A real store runs ``tillgw sync`` as its own process (docs/sync.md); the demo keeps the
    whole chain in one command. Its first sales wait for the module's subscription: published
    before it, the broker has no one to keep them for, and the demo's first lines would show
    the till sending them again (nothing lost, but a WARNING a first look takes for a fault).
    """
    # The sync module is loaded only when the demo runs it: a configured till never does.
    from gateway.sync.config import demo_sync_config
    from gateway.sync.service import SyncService

    assert config.mqtt is not None
    files = TillFiles(config.data_dir)
    sync_config = replace(
        demo_sync_config(),
        inbox=sync_inbox(files),
        sie_dir=files.demo_sync / "sie",
        log_dir=files.demo_sync / "logs",
        mqtt=config.mqtt,
    )
    service = SyncService(sync_config)
    task = asyncio.create_task(service.run(once=False, stop=stop), name="demo sync module")
    receiving = asyncio.ensure_future(service.receiving.wait())
    try:
        await asyncio.wait({task, receiving}, timeout=SYNC_READY_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiving.cancel()
    return task, sync_config.sie_dir
