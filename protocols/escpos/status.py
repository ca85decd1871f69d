"""Real-time status: asking for it (``DLE EOT n``, ``GS a``) and the one-byte replies.

The replies are declared as construct ``BitStruct``\\ s (the structs are the
specification) and exposed as frozen dataclasses with named flags, both ways: the
gateway parses them, the printer simulator builds them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Self, TypeAlias, overload

from construct import Bit, BitsInteger, BitStruct, Const, ConstructError, Flag

from protocols.escpos.ascii import DLE, EOT, GS
from protocols.escpos.errors import EscPosError, byte_arg


class StatusType(enum.IntEnum):
    """``DLE EOT n``: which real-time status byte is asked for."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER = 4


class AsbFlag(enum.IntFlag):
    """``GS a n`` bits: which status changes the printer reports on its own."""

    DRAWER = 0x01
    ONLINE = 0x02
    ERROR = 0x04
    PAPER = 0x08


def status_request(n: StatusType | int) -> bytes:
    """``DLE EOT n``: ask for one real-time status byte (answered even while busy)."""
    return bytes([DLE, EOT, byte_arg(int(n), "n", 1, 4)])


def asb_enable(flags: AsbFlag | int) -> bytes:
    """``GS a n``: enable automatic status back for the given events (0 disables it)."""
    return bytes([GS, ord("a"), byte_arg(int(flags), "flags")])


# The replies to DLE EOT n, declared as BitStructs, bit 7 first. Every reply byte has the
# fixed pattern 0xx1xx10; the Const fields make the parser refuse anything else, so a
# stray byte in the stream is never taken for status.

_PRINTER_STATUS_BITS = BitStruct(
    "fixed_bit7" / Const(0, Bit),
    "feed_button_pressed" / Flag,  # bit 6
    "waiting_online_recovery" / Flag,  # bit 5
    "fixed_bit4" / Const(1, Bit),
    "offline" / Flag,  # bit 3
    "drawer_pin3_high" / Flag,  # bit 2: drawer kick-out connector pin 3 (drawer sensor)
    "fixed_bit1" / Const(1, Bit),
    "fixed_bit0" / Const(0, Bit),
)

_OFFLINE_CAUSE_BITS = BitStruct(
    "fixed_bit7" / Const(0, Bit),
    "error" / Flag,  # bit 6: an error occurred
    "paper_end_stop" / Flag,  # bit 5: printing stopped because the paper ran out
    "fixed_bit4" / Const(1, Bit),
    "feed_button" / Flag,  # bit 3: paper is being fed by the feed button
    "cover_open" / Flag,  # bit 2
    "fixed_bit1" / Const(1, Bit),
    "fixed_bit0" / Const(0, Bit),
)

_ERROR_CAUSE_BITS = BitStruct(
    "fixed_bit7" / Const(0, Bit),
    "auto_recoverable" / Flag,  # bit 6: e.g. head overheated; clears by itself
    "unrecoverable" / Flag,  # bit 5: needs service / power cycle
    "fixed_bit4" / Const(1, Bit),
    "autocutter" / Flag,  # bit 3
    "recoverable" / Flag,  # bit 2: clears with DLE ENQ after the cause is removed
    "fixed_bit1" / Const(1, Bit),
    "fixed_bit0" / Const(0, Bit),
)

_PAPER_STATUS_BITS = BitStruct(
    "fixed_bit7" / Const(0, Bit),
    "paper_end" / BitsInteger(2),  # bits 6-5: both set = roll paper end
    "fixed_bit4" / Const(1, Bit),
    "near_end" / BitsInteger(2),  # bits 3-2: both set = roll paper near end
    "fixed_bit1" / Const(1, Bit),
    "fixed_bit0" / Const(0, Bit),
)

_FIXED_MASK = 0b1001_0011
_FIXED_VALUE = 0b0001_0010


class StatusByteError(EscPosError):
    """A reply byte is not a ``DLE EOT n`` status byte (its fixed bits are wrong)."""

    def __init__(self, n: int, byte: int, message: str) -> None:
        super().__init__(f"DLE EOT {n} reply", message)
        self.n = n
        self.byte = byte


def _reply_byte(reply: int | bytes, n: int) -> int:
    if isinstance(reply, bytes | bytearray):
        if len(reply) != 1:
            raise StatusByteError(n, -1, f"expected exactly one byte, got {len(reply)}: {bytes(reply)!r}")
        return reply[0]
    if not 0 <= reply <= 255:
        raise StatusByteError(n, reply, f"{reply} is not a byte")
    return reply


def _parse_bits(struct: Any, byte: int, n: int) -> Any:
    try:
        return struct.parse(bytes([byte]))
    except ConstructError:
        raise StatusByteError(
            n,
            byte,
            f"{byte:#04x} ({byte:08b}) does not have the fixed bit pattern 0xx1xx10 of a status byte",
        ) from None


class _StatusByte:
    """Shared parse/build for the four status dataclasses (fields named as in the struct)."""

    __slots__ = ()
    STATUS_TYPE: ClassVar[StatusType]
    _BITS: ClassVar[Any]

    @classmethod
    def from_byte(cls, reply: int | bytes) -> Self:
        """Parse a reply byte; :class:`StatusByteError` if it is not a status byte."""
        byte = _reply_byte(reply, cls.STATUS_TYPE)
        container = _parse_bits(cls._BITS, byte, cls.STATUS_TYPE)
        flags = {f.name: bool(container[f.name]) for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**flags)

    def _values(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    def to_byte(self) -> int:
        """The reply byte a printer would send for this status."""
        return int(self._BITS.build(self._values())[0])


@dataclass(frozen=True, slots=True)
class PrinterStatus(_StatusByte):
    """``DLE EOT 1``. ``drawer_pin3_high`` is the raw drawer sensor level: whether that
    means open or closed depends on the drawer (make it configurable)."""

    STATUS_TYPE: ClassVar[StatusType] = StatusType.PRINTER
    _BITS: ClassVar[Any] = _PRINTER_STATUS_BITS

    drawer_pin3_high: bool = False
    offline: bool = False
    waiting_online_recovery: bool = False
    feed_button_pressed: bool = False


@dataclass(frozen=True, slots=True)
class OfflineCause(_StatusByte):
    """``DLE EOT 2``: why the printer is offline."""

    STATUS_TYPE: ClassVar[StatusType] = StatusType.OFFLINE_CAUSE
    _BITS: ClassVar[Any] = _OFFLINE_CAUSE_BITS

    cover_open: bool = False
    feed_button: bool = False
    paper_end_stop: bool = False
    error: bool = False


@dataclass(frozen=True, slots=True)
class ErrorCause(_StatusByte):
    """``DLE EOT 3``: which error the printer is in."""

    STATUS_TYPE: ClassVar[StatusType] = StatusType.ERROR_CAUSE
    _BITS: ClassVar[Any] = _ERROR_CAUSE_BITS

    recoverable: bool = False
    autocutter: bool = False
    unrecoverable: bool = False
    auto_recoverable: bool = False


@dataclass(frozen=True, slots=True)
class PaperStatus(_StatusByte):
    """``DLE EOT 4``: roll paper sensors.

    Each condition is reported in two bits that printers set together. A byte with only
    one of a pair set is read as the condition being present (warn rather than miss an
    empty roll); :meth:`to_byte` always sets both.
    """

    STATUS_TYPE: ClassVar[StatusType] = StatusType.PAPER
    _BITS: ClassVar[Any] = _PAPER_STATUS_BITS

    near_end: bool = False
    paper_end: bool = False

    def _values(self) -> dict[str, int]:
        return {"near_end": 0b11 if self.near_end else 0, "paper_end": 0b11 if self.paper_end else 0}


StatusReply: TypeAlias = PrinterStatus | OfflineCause | ErrorCause | PaperStatus

_STATUS_CLASSES: Mapping[StatusType, type[StatusReply]] = MappingProxyType(
    {
        StatusType.PRINTER: PrinterStatus,
        StatusType.OFFLINE_CAUSE: OfflineCause,
        StatusType.ERROR_CAUSE: ErrorCause,
        StatusType.PAPER: PaperStatus,
    }
)


@overload
def parse_status(n: Literal[StatusType.PRINTER], reply: int | bytes) -> PrinterStatus: ...
@overload
def parse_status(n: Literal[StatusType.OFFLINE_CAUSE], reply: int | bytes) -> OfflineCause: ...
@overload
def parse_status(n: Literal[StatusType.ERROR_CAUSE], reply: int | bytes) -> ErrorCause: ...
@overload
def parse_status(n: Literal[StatusType.PAPER], reply: int | bytes) -> PaperStatus: ...
@overload
def parse_status(n: StatusType | int, reply: int | bytes) -> StatusReply: ...
def parse_status(n: StatusType | int, reply: int | bytes) -> StatusReply:
    """Parse the reply to ``DLE EOT n`` (one byte, as ``int`` or ``bytes``).

    Raises :class:`StatusByteError` if the byte lacks the fixed 0xx1xx10 pattern.
    """
    try:
        kind = StatusType(n)
    except ValueError:
        raise EscPosError("n", f"DLE EOT {n!r} is not one of 1..4") from None
    return _STATUS_CLASSES[kind].from_byte(reply)


def build_status(status: StatusReply) -> bytes:
    """The one-byte reply a printer sends for ``status`` (for the simulator)."""
    return bytes([status.to_byte()])
