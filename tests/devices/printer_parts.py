"""What the printer-driver and drawer tests share: the simulated printer served over a pty or
TCP, and the fast driver settings (the fixtures ``make_printer`` and ``url`` are in conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from firmware_sim.printer import PrinterConfig, PrinterDevice
from firmware_sim.printer.server import serve_pty, serve_tcp
from gateway.devices.printer.driver import PrinterDriver

PrinterFactory = Callable[..., PrinterDriver]

FAST: dict[str, Any] = {
    "status_timeout": 0.3,
    "job_timeout": 0.3,
    "poll_interval": 0.02,
}


def make_device(tmp_path: Path, **config: Any) -> PrinterDevice:
    """A simulated printer writing its receipts under ``tmp_path`` (no PNGs, a drawer that stays)."""
    settings: dict[str, Any] = {"png": False, "drawer_close_seconds": 0}
    settings.update(config)
    return PrinterDevice(PrinterConfig(output=tmp_path / "receipts", **settings))


@contextlib.asynccontextmanager
async def serve(device: PrinterDevice, transport: str) -> AsyncIterator[str]:
    front_end = serve_pty(device) if transport == "pty" else serve_tcp(device)
    async with front_end as url:
        yield url
