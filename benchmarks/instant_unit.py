"""A CCSP unit that answers at once with canned replies: the benchmark's far end.

    python benchmarks/instant_unit.py   # prints socket://127.0.0.1:PORT, serves until killed

It deframes what it receives (so split and joined reads are handled like a real unit)
and answers SIQ, IQ and RR with fixed replies, doing no other work: round trips against
it measure the client and the loopback, not a simulated unit's journal memory.
"""

from __future__ import annotations

import asyncio

from protocols import ccsp

REPLIES = {
    b"SIQ": ccsp.encode(ccsp.StatusReply(ccsp.MainStatus.OK, "00000")),
    b"IQ": ccsp.encode(ccsp.IdentityReply("TGBENCH0000000001", 2, "bench 1.0")),
    b"RR": ccsp.encode(
        ccsp.RegisterReply(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "TGBENCH0000000001",
            ccsp.MainStatus.OK,
            ccsp.StorageStatus.OK,
        )
    ),
}
NAK = ccsp.encode(ccsp.Nak(ccsp.NakCode.UNKNOWN_MESSAGE))


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    deframer = ccsp.Deframer()
    while data := await reader.read(4096):
        for frame in deframer.feed(data):
            writer.write(REPLIES.get(ccsp.message_type(ccsp.message_of(frame)), NAK))
    writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"socket://{host}:{port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
