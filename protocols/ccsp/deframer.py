"""The streaming deframer: whole, valid frames out of a byte stream of arbitrary splits."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from protocols.ccsp.errors import FrameError, LrcError
from protocols.ccsp.framing import FRAME_OVERHEAD, parse_hex3, unframe


@dataclass(frozen=True, slots=True)
class Discard:
    """Bytes the deframer threw away, and why (for the frame log)."""

    data: bytes
    reason: str


class Deframer:
    """Finds whole, valid frames in a byte stream of arbitrary splits.

    Garbage before a frame is skipped, a frame split over many reads is reassembled,
    several frames in one read all come out, and a candidate whose length field,
    separators, terminator or LRC is wrong is dropped one byte at a time until the
    next start marker — so a yielded frame always has a correct length and LRC.
    Because field text never contains CR, a CR inside a claimed frame proves the claim
    wrong at once instead of waiting for up to 4 KiB of bytes that may never come.
    """

    __slots__ = ("_buffer", "discards", "lrc_errors")

    def __init__(self, keep_discards: int = 64) -> None:
        self._buffer = bytearray()
        # A bounded record of what was dropped, for the frame log; never grows forever.
        self.discards: deque[Discard] = deque(maxlen=keep_discards)
        self.lrc_errors = 0

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buffer)

    def reset(self) -> bytes:
        """Forget a partial frame (after a timeout); returns what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete valid frames now available, in order."""
        self._buffer += data
        return [f for f in self._frames() if f is not None]

    def feed_marking_lrc_errors(self, data: bytes) -> list[bytes | None]:
        """Like :meth:`feed`, with ``None`` where a frame failed its LRC, in stream order.

        A unit answers each frame in turn, a bad LRC with NAK 001; it needs to know where
        in the stream the damaged frame stood.
        """
        self._buffer += data
        return list(self._frames())

    def _discard(self, count: int, reason: str) -> None:
        self.discards.append(Discard(bytes(self._buffer[:count]), reason))
        del self._buffer[:count]

    def _frames(self) -> Iterator[bytes | None]:
        buf = self._buffer
        while buf:
            found = _START_RE.search(buf)
            start = -1 if found is None else found.start()
            if start < 0:
                # Keep a tail that may be the beginning of a start marker.
                keep = 2 if buf.endswith((b"#!", b"#%")) else 1 if buf.endswith(b"#") else 0
                if len(buf) > keep:
                    self._discard(len(buf) - keep, "no frame start")
                return
            if start:
                self._discard(start, "garbage before frame start")
            if len(buf) < 7:
                # A frame's head (#!#LLL#) holds no CR: a CR already here proves this start
                # false at once, rather than waiting for bytes that may never come.
                if b"\r" in buf[3:]:
                    self._discard(1, "CR inside a frame head")
                    continue
                return
            length = parse_hex3(buf[3:6])
            if length is None or buf[6] != 0x23 or length < FRAME_OVERHEAD:
                self._discard(1, "bad length field")
                continue
            end_cr = buf.find(b"\r", 7, length)
            if 0 <= end_cr < length - 1:
                self._discard(1, "CR inside claimed frame length")
                continue
            if len(buf) < length:
                return
            candidate = bytes(buf[:length])
            try:
                unframe(candidate)
            except LrcError:
                # Drop one byte only: the claimed length may be garbage that swallowed
                # the start of a real frame. The reason lets a unit answer NAK 001.
                self.lrc_errors += 1
                self._discard(1, LRC_MISMATCH)
                yield None
                continue
            except FrameError:
                self._discard(1, "bad separator or terminator")
                continue
            del buf[:length]
            yield candidate


LRC_MISMATCH = "LRC mismatch"
_START_RE = re.compile(rb"#[!%]#")  # a frame start of either mode


def message_of(frame_bytes: bytes) -> bytes:
    """The message of a frame already validated by the deframer."""
    return frame_bytes[7:-4]
