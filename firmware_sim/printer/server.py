"""The printer's front-ends: a pty (serial printer) and a TCP port (network printer, raw 9100).

Both are thin: bytes read go to :meth:`PrinterDevice.received`, its answer is written
back. A :class:`Pacer` gives the device the time it asks for (slow printing) and tells a
front-end to stop reading while the receive buffer is full.

TCP: like a real network printer, the raw port serves one connection at a time; a
second client is accepted but not read until the first one closes. Each connection
starts a fresh parser (:meth:`PrinterDevice.line_reset`). The ``disconnect`` fault
aborts the connection (the client sees a reset or end of stream).

Pty: the ``disconnect`` fault makes the printer deaf for ``disconnect_seconds`` (a
pulled cable): nothing is read or answered, and what was sent meanwhile is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from firmware_sim.printer.device import PrinterDevice
from firmware_sim.pty import PtyPort

log = logging.getLogger("tillgw.sim.printer")

READ_SIZE = 4096


class Pacer:
    """Calls :meth:`PrinterDevice.drain` when time lets it go on; tracks buffer room."""

    def __init__(self, device: PrinterDevice) -> None:
        self.device = device
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._room = asyncio.Event()
        self._unsubscribe = device.subscribe(self._changed)
        self._changed()

    def _changed(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        delay = self.device.wake_delay()
        if delay is not None:
            self._timer = self._loop.call_later(delay, self.device.drain)
        if self.device.accepting:
            self._room.set()
        else:
            self._room.clear()

    async def room(self) -> None:
        """Wait until the receive buffer has room."""
        await self._room.wait()

    def close(self) -> None:
        self._unsubscribe()
        if self._timer is not None:
            self._timer.cancel()


@contextlib.asynccontextmanager
async def serve_tcp(device: PrinterDevice, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the printer on a TCP port; yields the ``socket://host:port`` URL."""
    pacer = Pacer(device)
    one_at_a_time = asyncio.Lock()
    handlers: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            async with one_at_a_time:
                await _serve_connection(device, pacer, reader, writer)
        except asyncio.CancelledError:
            pass  # the server is closing; end quietly (asyncio logs a cancelled handler)
        finally:
            handlers.discard(task)
            writer.close()

    server = await asyncio.start_server(on_client, host, port)
    bound = server.sockets[0].getsockname()
    try:
        yield f"socket://{bound[0]}:{bound[1]}"
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()
        pacer.close()


async def _serve_connection(
    device: PrinterDevice, pacer: Pacer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    device.line_reset()
    peer = writer.get_extra_info("peername")
    log.debug("connection from %s", peer)
    try:
        while True:
            await pacer.room()
            data = await reader.read(READ_SIZE)
            if not data:
                break
            reply = device.received(data)
            if reply:
                writer.write(reply)
            if device.line_dropped:
                log.info("fault disconnect: dropping the connection from %s", peer)
                writer.transport.abort()
                break
    except ConnectionError:
        pass
    finally:
        device.line_reset()


@contextlib.asynccontextmanager
async def serve_pty(device: PrinterDevice) -> AsyncIterator[str]:
    """Serve the printer on a new pty; yields the slave's path (``/dev/pts/N``)."""
    loop = asyncio.get_running_loop()
    port = PtyPort()
    pacer = Pacer(device)
    state = _PtyLine(device, port, loop)
    unsubscribe = device.subscribe(state.resume_if_room)
    state.listen()
    try:
        yield port.path
    finally:
        unsubscribe()
        state.close()
        pacer.close()
        port.close()


class _PtyLine:
    """Reading on the pty: paused while the receive buffer is full or the line is 'pulled'."""

    def __init__(self, device: PrinterDevice, port: PtyPort, loop: asyncio.AbstractEventLoop) -> None:
        self.device = device
        self.port = port
        self.loop = loop
        self.reading = False
        self.deaf: asyncio.TimerHandle | None = None

    def listen(self) -> None:
        if not self.reading and self.deaf is None:
            self.port.start_reading(self.on_data)
            self.reading = True

    def pause(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.port.master)
            self.reading = False

    def on_data(self, data: bytes) -> None:
        reply = self.device.received(data)
        if reply:
            self.port.write(reply)
        if self.device.line_dropped:
            seconds = self.device.config.disconnect_seconds
            log.info("fault disconnect: the line is dead for %.1f s", seconds)
            self.pause()
            self.deaf = self.loop.call_later(seconds, self.back)
        elif not self.device.accepting:
            self.pause()

    def back(self) -> None:
        self.deaf = None
        self.port.discard_input()
        self.device.line_reset()
        self.resume_if_room()

    def resume_if_room(self) -> None:
        if self.device.accepting and not self.device.line_dropped:
            self.listen()

    def close(self) -> None:
        if self.deaf is not None:
            self.deaf.cancel()
        self.pause()
