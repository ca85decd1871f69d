"""A pseudo-terminal pair that a simulator serves on, so a driver opens a real tty.

The simulator keeps both ends open: the master to read and write, the slave so the
master never sees EIO while no client has the port open (a real device's port exists
whether or not anyone is connected). The slave is put in raw mode so the line
discipline never turns the CR that ends a frame into LF.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable

MAX_PENDING = 1 << 20  # output held for a client that is not reading

# termios speed constants -> baud, for the rates a till's devices use.
_BAUD_OF_SPEED = {
    getattr(termios, f"B{baud}"): baud for baud in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
}


class PtyPort:
    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._pending = bytearray()
        self._waiting = False  # a writer callback is registered for the rest of _pending

    def line_speed(self) -> int | None:
        """The baud rate the client has set on its end (a pty's two ends share it)."""
        try:
            speed = termios.tcgetattr(self.master)[5]
        except termios.error:
            return None
        return _BAUD_OF_SPEED.get(speed)

    def start_reading(self, on_data: Callable[[bytes], None]) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.master, self._readable, on_data)

    def _readable(self, on_data: Callable[[bytes], None]) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO: no slave open right now; the next open brings data again
        if data:
            on_data(data)

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the client; written as the pty takes it, never blocking.

        A client that stops reading fills the pty's buffer (a few KiB); what does not fit
        waits here, up to :data:`MAX_PENDING` bytes, past which the oldest output is
        dropped — as bytes sent down a serial line nobody listens on are lost.
        """
        self._pending += data
        if len(self._pending) > MAX_PENDING:
            del self._pending[: len(self._pending) - MAX_PENDING]
        self._flush()

    def _flush(self) -> None:
        while self._pending:
            try:
                written = os.write(self.master, self._pending)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._pending.clear()  # the pty is gone
                break
            del self._pending[:written]
        loop = asyncio.get_running_loop()
        if self._pending and not self._waiting:
            loop.add_writer(self.master, self._flush)
            self._waiting = True
        elif not self._pending and self._waiting:
            loop.remove_writer(self.master)
            self._waiting = False

    def discard_input(self) -> None:
        """Flush what the client has written but we have not read (a unit powering up)."""
        with contextlib.suppress(OSError):
            while os.read(self.master, 4096):
                pass

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            loop.remove_reader(self.master)
            loop.remove_writer(self.master)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
