"""The CCSP frame and its LRC, as an executable spec (``FRAME`` below)::

    # <mode> # LLL # <message> # CC \\r

``mode`` is ``!`` (mode A, what registers send) or ``%`` (mode B, accepted when read);
``LLL`` is the whole frame's length in bytes as three uppercase hex digits
(11 + len(message)); ``CC`` is the XOR of every byte before it, as two uppercase hex
digits. A message never holds CR (the frame end).
"""

from __future__ import annotations

from typing import Any

import construct as cs

from protocols.ccsp.errors import FrameError, LrcError

FRAME_START = b"#!#"  # mode A: what a register sends
FRAME_START_B = b"#%#"  # mode B: accepted in what comes back
FRAME_OVERHEAD = 11  # '#!#' + LLL + '#' + '#' + CC + CR
MAX_FRAME_LENGTH = 0xFFF
MAX_MESSAGE_LENGTH = MAX_FRAME_LENGTH - FRAME_OVERHEAD


def lrc(data: bytes) -> int:
    """XOR of every byte: the frame's longitudinal redundancy check.

    Folds the bytes as one big integer, halving its width each step: a handful of C-level
    operations per frame instead of a Python loop over every byte.
    """
    value = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = (width + 1) // 2
        value = (value & ((1 << (8 * half)) - 1)) ^ (value >> (8 * half))
        width = half
    return value


_HEX_DIGITS = frozenset(b"0123456789ABCDEF")


class _HexNumber(cs.Adapter):  # type: ignore[misc]
    """An unsigned integer written as a fixed number of uppercase hex digits."""

    def __init__(self, digits: int) -> None:
        super().__init__(cs.Bytes(digits))
        self.digits = digits

    def _decode(self, obj: bytes, context: Any, path: str) -> int:
        if not obj or not _HEX_DIGITS.issuperset(obj):
            raise cs.ValidationError(f"{obj!r} is not {self.digits} uppercase hex digits", path=path)
        return int(obj, 16)

    def _encode(self, obj: int, context: Any, path: str) -> bytes:
        text = b"%0*X" % (self.digits, obj)
        if len(text) != self.digits or obj < 0:
            raise cs.ValidationError(f"{obj} does not fit {self.digits} hex digits", path=path)
        return text


def _frame_head(ctx: Any) -> bytes:
    return b"#%s#%03X#%s#" % (ctx.mode, ctx.length, ctx.message)


FRAME_SPEC = cs.Struct(
    cs.Const(b"#"),
    "mode" / cs.Default(cs.OneOf(cs.Bytes(1), [b"!", b"%"]), b"!"),
    cs.Const(b"#"),
    "length" / cs.Rebuild(_HexNumber(3), cs.len_(cs.this.message) + FRAME_OVERHEAD),
    cs.Const(b"#"),
    "message" / cs.Bytes(cs.this.length - FRAME_OVERHEAD),
    cs.Const(b"#"),
    "lrc" / cs.Checksum(_HexNumber(2), lrc, _frame_head),
    cs.Const(b"\r"),
    cs.Terminated,
)
"""One CCSP frame. ``FRAME.build({"message": b"IQ"})`` -> ``b"#!#00D#IQ#7D\r"``;
``{"mode": b"%", …}`` builds mode B."""

# construct compiles the spec to plain Python (lengths are `this` expressions so that it
# can); parsing and building a frame then costs a third of the interpreted struct.
FRAME = FRAME_SPEC.compile()


def frame(message: bytes, mode: bytes = b"!") -> bytes:
    """Wrap a message (``b"SIQ"``, ``b"RR#1#..."``) in a frame of ``mode`` (``!`` or ``%``)."""
    if len(message) > MAX_MESSAGE_LENGTH:
        raise FrameError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE_LENGTH}")
    if b"\r" in message:
        raise FrameError("a message cannot contain CR")
    if mode not in (b"!", b"%"):
        raise FrameError(f"frame mode {mode!r} is neither '!' (A) nor '%' (B)")
    return bytes(FRAME.build({"mode": mode, "message": message}))


def unframe(data: bytes) -> bytes:
    """The message inside one complete frame; :class:`FrameError` says what is wrong."""
    if len(data) < FRAME_OVERHEAD:
        raise FrameError(f"{len(data)} bytes is shorter than the smallest frame")
    try:
        parsed = FRAME.parse(data)
    except cs.ChecksumError:
        raise LrcError(f"LRC mismatch in {data!r}") from None
    except cs.ConstructError:
        raise FrameError(f"malformed frame {data!r}: {_frame_fault(data)}") from None
    message: bytes = parsed.message
    return message


def _frame_fault(data: bytes) -> str:
    """Which part of a frame is wrong, in words (construct's compiled parser does not say)."""
    if not data.startswith((FRAME_START, FRAME_START_B)):
        return "does not start with #!# or #%#"
    length = parse_hex3(data[3:6])
    if length is None:
        return f"length field {data[3:6]!r} is not 3 uppercase hex digits"
    if length != len(data):
        return f"length field says {length} bytes but the frame has {len(data)}"
    if data[6:7] != b"#" or data[-4:-3] != b"#":
        return "a '#' separator is missing around the message"
    if not data.endswith(b"\r"):
        return "does not end with CR"
    return f"LRC field {data[-3:-1]!r} is not 2 uppercase hex digits"


def parse_hex3(data: bytes | bytearray) -> int | None:
    """Three uppercase hex digits (a frame's length field) as a number; ``None`` if they are not."""
    if len(data) != 3 or not _HEX_DIGITS.issuperset(data):
        return None
    return int(data, 16)
