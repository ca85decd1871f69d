"""The scanner's front-ends (a pty, a TCP port) and the pacing of codes read from a file.

Pty: codes go to whoever has the slave open. As on any tty, bytes written while nobody
reads wait in the pty's buffer (a real serial line would lose them; a driver that calls
``reset_input_buffer()`` after opening drops them too); when that buffer is full, scans
are dropped rather than blocking the simulator. Bytes the host writes are read and ignored.

TCP: every connected client receives every scan; clients that connect later get only
later scans. What clients send is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from firmware_sim.pty import PtyPort
from firmware_sim.scanner.device import ScanError, Scanner

log = logging.getLogger("tillgw.sim.scanner")


class PtySender:
    """Writes scans to the pty master without ever blocking the event loop."""

    def __init__(self, port: PtyPort) -> None:
        self.port = port
        self.dropped = 0

    def __call__(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.port.master, view) :]
            except BlockingIOError:
                self.dropped += 1
                log.warning("the pty buffer is full (nobody reads the port): scan dropped")
                return
            except OSError as exc:
                log.warning("cannot write to the pty: %s", exc)
                return


@contextlib.asynccontextmanager
async def serve_pty(scanner: Scanner) -> AsyncIterator[str]:
    """Serve the scanner on a new pty; yields the slave's path (``/dev/pts/N``)."""
    port = PtyPort()
    port.start_reading(lambda data: None)
    detach = scanner.attach(PtySender(port))
    try:
        yield port.path
    finally:
        detach()
        port.close()


@contextlib.asynccontextmanager
async def serve_tcp(scanner: Scanner, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the scanner on a TCP port; yields the ``socket://host:port`` URL."""
    clients: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients.add(task)
        detach = scanner.attach(writer.write)
        try:
            while await reader.read(4096):
                pass  # a host may send configuration commands; this scanner ignores them
        except (ConnectionError, asyncio.CancelledError):
            pass  # gone, or the server is closing (asyncio logs a cancelled handler)
        finally:
            detach()
            clients.discard(task)
            writer.close()

    server = await asyncio.start_server(on_client, host, port)
    bound = server.sockets[0].getsockname()
    try:
        yield f"socket://{bound[0]}:{bound[1]}"
    finally:
        server.close()
        for task in list(clients):
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        await server.wait_closed()


def read_codes(path: Path) -> list[str]:
    """Codes from a file: one per line; blank lines and lines starting with ``#`` are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


async def wait_for_receiver(scanner: Scanner) -> None:
    """Return once at least one receiver is attached."""
    if scanner.receivers:
        return
    attached = asyncio.Event()
    unsubscribe = scanner.subscribe(lambda: attached.set() if scanner.receivers else None)
    try:
        await attached.wait()
    finally:
        unsubscribe()


async def scan_all(scanner: Scanner, codes: Iterable[str], interval: float) -> int:
    """Scan ``codes`` one every ``interval`` seconds (the first after one interval)."""
    sent = 0
    for code in codes:
        await asyncio.sleep(interval)
        try:
            scanner.scan(code)
        except ScanError as exc:
            log.warning("skipped: %s", exc)
            continue
        sent += 1
    return sent
