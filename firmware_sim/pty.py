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
import tty
from collections.abc import Callable


class PtyPort:
    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)

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
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                # The pty buffer is full: a real line would also stall; drop nothing.
                import select

                select.select([], [self.master], [], 1.0)
                continue
            view = view[written:]

    def discard_input(self) -> None:
        """Flush what the client has written but we have not read (a unit powering up)."""
        with contextlib.suppress(OSError):
            while os.read(self.master, 4096):
                pass

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            asyncio.get_running_loop().remove_reader(self.master)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
