"""A scripted CCSP unit: a real TCP server speaking real frames from a script.

For answers the simulator never gives: the forms real units answer in (the reference's
recorded frames), a late answer in front of the real one, a blank or malformed code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from protocols import ccsp

Answer = Callable[[ccsp.Request], list[ccsp.Reply | bytes]]
"""What the unit sends for one request: typed replies, or raw bytes sent as they are."""


@contextlib.asynccontextmanager
async def scripted_unit(answer: Answer) -> AsyncIterator[str]:
    """A TCP 'unit' that answers each request with whatever ``answer`` returns."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deframer = ccsp.Deframer()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                for frame in deframer.feed(data):
                    request = ccsp.decode_request(ccsp.message_of(frame))
                    for item in answer(request):
                        writer.write(item if isinstance(item, bytes) else ccsp.encode(item))
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    async with server:
        yield f"tcp://{host}:{port}"
