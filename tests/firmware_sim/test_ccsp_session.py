"""The simulated unit's CCSP line: answers in stream order, never stalls on a silent client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import serial

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.ccsp_server import serve_pty, serve_tcp
from firmware_sim.pty import MAX_PENDING, PtyPort
from protocols import ccsp

GOOD = ccsp.encode(ccsp.StatusQuery())
BAD_LRC = ccsp.encode(ccsp.IdentityQuery())[:-3] + b"00\r"


async def read_frames(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    deframer, frames = ccsp.Deframer(), list[bytes]()
    while len(frames) < count:
        frames += deframer.feed(await reader.read(4096))
    return frames


async def test_a_bad_lrc_is_answered_in_turn_over_tcp(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    async with serve_tcp(unit) as url:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(GOOD + BAD_LRC + GOOD)  # one read on the unit's side
        replies = await read_frames(reader, 3)
        writer.close()
    kinds = [ccsp.message_type(ccsp.message_of(f)) for f in replies]
    assert kinds == [b"SIR", b"NAK", b"SIR"]
    assert ccsp.decode_reply(ccsp.message_of(replies[1]), ccsp.StatusQuery) == ccsp.Nak(
        ccsp.NakCode.INVALID_LRC
    )


async def test_a_client_that_stops_reading_does_not_freeze_the_unit(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    port = PtyPort()
    try:
        port.write(b"x" * (MAX_PENDING + 4096))  # far more than the pty holds
        # The event loop still runs (this await returns), and what waits is bounded.
        await asyncio.sleep(0)
        assert 0 < len(port._pending) <= MAX_PENDING
    finally:
        port.close()
    async with serve_pty(unit) as path:
        line = serial.Serial(path, timeout=5)
        line.write(GOOD)
        answer = await asyncio.to_thread(line.read_until, b"\r")  # the unit runs on this loop
        line.close()
    assert ccsp.Deframer().feed(answer) == [ccsp.encode(ccsp.StatusReply(ccsp.MainStatus.OK, "00000"))]
