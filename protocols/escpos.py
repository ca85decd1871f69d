"""ESC/POS: the commands a receipt needs, the real-time status replies, a stream parser.

Three parts, all pure (bytes in, typed values out, and back):

- Builders (:func:`initialise`, :func:`encode_text`, :func:`barcode`, :func:`qr_code`,
  :func:`drawer_kick`, ...) return the exact bytes of one command and validate their
  arguments, naming the bad one, so a malformed command never reaches a printer.
- Status replies to ``DLE EOT n`` are declared as construct ``BitStruct``\\ s (the
  structs are the specification) and exposed as frozen dataclasses with named flags,
  both ways: the gateway parses them, the printer simulator builds them.
- :class:`CommandParser` reads the byte stream a printer receives and yields typed
  commands; it is what the printer simulator runs.

Choices where the references are silent or vary by model are documented at the point
of use (code tables, drawer pulse rounding, barcode defaults, QR defaults).

Pure: no I/O, imports nothing of ours outside ``protocols``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Self, TypeAlias, overload

from construct import Bit, BitsInteger, BitStruct, Const, ConstructError, Flag

from protocols.scanner import GtinError, gtin_check_digit

__all__ = [
    "BARCODE_DEFAULT_HEIGHT",
    "BARCODE_DEFAULT_WIDTH",
    "DRAWER_PULSE_UNIT_MS",
    "MAX_BUFFERED_COMMAND",
    "QR_MAX_DATA",
    "TEXT_CHUNK",
    "Align",
    "Alignment",
    "AsbEnable",
    "AsbFlag",
    "Barcode",
    "BarcodeSystem",
    "Bold",
    "CodePage",
    "CodeTable",
    "Command",
    "CommandParser",
    "Cut",
    "DrawerKick",
    "DrawerPin",
    "EncodePolicy",
    "ErrorCause",
    "EscPosError",
    "Feed",
    "HriPosition",
    "Init",
    "OfflineCause",
    "PaperStatus",
    "PrinterStatus",
    "QrCode",
    "QrErrorCorrection",
    "QrModel",
    "Size",
    "StatusByteError",
    "StatusReply",
    "StatusRequest",
    "StatusType",
    "Text",
    "UnencodableCharacterError",
    "Unknown",
    "align",
    "asb_enable",
    "barcode",
    "bold",
    "build_status",
    "char_size",
    "cut",
    "decode_text",
    "double_height",
    "double_size",
    "double_width",
    "drawer_kick",
    "encode_text",
    "feed",
    "initialise",
    "line_feed",
    "normal_size",
    "parse_status",
    "qr_code",
    "select_code_table",
    "status_request",
    "validate_barcode",
]

NUL = 0x00
EOT = 0x04
ENQ = 0x05
LF = 0x0A
DLE = 0x10
DC4 = 0x14
ESC = 0x1B
FS = 0x1C
GS = 0x1D


class EscPosError(ValueError):
    """A command argument (or reply) does not fit ESC/POS; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def _byte_arg(value: int, field: str, low: int = 0, high: int = 255) -> int:
    """An integer parameter that must fit ``low..high`` (one command byte)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise EscPosError(field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise EscPosError(field, f"{value} is outside {low}..{high}")
    return value


# ---------------------------------------------------------------------------------------
# Text and character code tables
# ---------------------------------------------------------------------------------------


class CodeTable(enum.IntEnum):
    """``ESC t n`` values of the code tables that carry å ä ö Å Ä Ö é.

    These are the Epson numbers, which most ESC/POS printers follow, but **the mapping
    varies by model** (some clones number their tables differently, some lack WPC1252):
    check the printer's self-test page, which lists its tables with their ``n``.
    """

    CP437 = 0
    CP850 = 2
    CP865 = 5
    WPC1252 = 16
    CP858 = 19

    @property
    def codec(self) -> str:
        """The Python codec for the table."""
        return _CODECS[self]


_CODECS: Mapping[CodeTable, str] = MappingProxyType(
    {
        CodeTable.CP437: "cp437",
        CodeTable.CP850: "cp850",
        CodeTable.CP865: "cp865",
        CodeTable.WPC1252: "cp1252",
        CodeTable.CP858: "cp858",
    }
)


class EncodePolicy(enum.StrEnum):
    """What :func:`encode_text` does with a character the code table cannot carry.

    ``STRICT`` raises :class:`UnencodableCharacterError`; ``REPLACE`` uses a close ASCII
    look-alike when there is one (``–`` -> ``-``, ``€`` -> ``EUR``, curly quotes ->
    straight) and the replacement character otherwise.
    """

    STRICT = "strict"
    REPLACE = "replace"


class UnencodableCharacterError(EscPosError):
    """``char`` at ``position`` has no code in ``table``."""

    def __init__(self, char: str, position: int, table: CodeTable) -> None:
        what = "control character" if _is_control(char) else "character"
        super().__init__(
            "text",
            f"{what} {char!r} (U+{ord(char):04X}) at position {position} cannot be "
            f"printed with code table {table.name}",
        )
        self.char = char
        self.position = position
        self.table = table


_LOOKALIKES: Mapping[str, str] = MappingProxyType(
    {
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
        "\u201e": '"', "\u2026": "...", "\u20ac": "EUR", "\u00a0": " ", "\u2022": "*",
        "\u00d7": "x", "\t": " ",
    }
)  # fmt: skip


_CONTROL_TEXT_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def encode_text(
    text: str,
    table: CodeTable,
    *,
    policy: EncodePolicy = EncodePolicy.STRICT,
    replacement: str = "?",
) -> bytes:
    """Text as printer bytes in ``table`` (select the same table with ESC t first).

    ``"\\n"`` becomes LF (print and feed one line). Every other control character is
    refused (or replaced): text from an article name must never be able to smuggle in an
    ESC or GS command, such as a drawer kick.
    """
    table = CodeTable(table)
    if not _CONTROL_TEXT_RE.search(text):
        try:
            return text.encode(table.codec)
        except UnicodeEncodeError:
            pass  # find the character (and apply the policy) below
    out = bytearray()
    for position, char in enumerate(text):
        if char == "\n":
            out.append(LF)
        else:
            out += _encode_char(char, position, table, policy, replacement)
    return bytes(out)


def _encode_char(char: str, position: int, table: CodeTable, policy: EncodePolicy, replacement: str) -> bytes:
    if not _is_control(char):
        try:
            return char.encode(table.codec)
        except UnicodeEncodeError:
            pass
    if policy is EncodePolicy.STRICT:
        raise UnencodableCharacterError(char, position, table)
    for candidate in (_LOOKALIKES.get(char), replacement):
        if candidate is not None:
            try:
                encoded = candidate.encode(table.codec)
            except UnicodeEncodeError:
                continue
            if not any(b < 0x20 or b == 0x7F for b in encoded):
                return encoded
    raise EscPosError("replacement", f"{replacement!r} cannot be printed with {table.name}")


def decode_text(data: bytes, table: CodeTable) -> str:
    """Printer bytes back to text (for the simulator's rendering); undefined bytes -> U+FFFD."""
    return data.decode(CodeTable(table).codec, errors="replace")


# ---------------------------------------------------------------------------------------
# Simple command builders
# ---------------------------------------------------------------------------------------


class Alignment(enum.IntEnum):
    LEFT = 0
    CENTRE = 1
    RIGHT = 2


class DrawerPin(enum.IntEnum):
    """``ESC p m``: which drawer kick-out connector pin gets the pulse."""

    PIN2 = 0
    PIN5 = 1


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


def initialise() -> bytes:
    """``ESC @``: clear the print buffer and reset modes to the power-on defaults."""
    return bytes([ESC, ord("@")])


def select_code_table(table: CodeTable | int) -> bytes:
    """``ESC t n``: the code table for bytes 0x80..0xFF."""
    return bytes([ESC, ord("t"), _byte_arg(int(table), "code table")])


def bold(on: bool = True) -> bytes:
    """``ESC E n``: emphasised (bold) on or off."""
    return bytes([ESC, ord("E"), 1 if on else 0])


def char_size(width: int = 1, height: int = 1) -> bytes:
    """``GS ! n``: character width and height multipliers, each 1..8."""
    w = _byte_arg(width, "width", 1, 8)
    h = _byte_arg(height, "height", 1, 8)
    return bytes([GS, ord("!"), (w - 1) << 4 | (h - 1)])


def normal_size() -> bytes:
    return char_size(1, 1)


def double_height() -> bytes:
    return char_size(1, 2)


def double_width() -> bytes:
    return char_size(2, 1)


def double_size() -> bytes:
    return char_size(2, 2)


def align(alignment: Alignment) -> bytes:
    """``ESC a n``: justification of the lines that follow."""
    return bytes([ESC, ord("a"), Alignment(alignment).value])


def line_feed() -> bytes:
    """``LF``: print the buffer and feed one line."""
    return bytes([LF])


def feed(lines: int) -> bytes:
    """``ESC d n``: print the buffer and feed ``lines`` (0..255) lines."""
    return bytes([ESC, ord("d"), _byte_arg(lines, "lines")])


def cut(*, partial: bool = False, feed: int | None = None) -> bytes:
    """``GS V``: cut the paper.

    Without ``feed``: ``GS V 0`` (full) / ``GS V 1`` (partial), cut where the paper is.
    With ``feed``: ``GS V 65 n`` / ``GS V 66 n``, feed to the cutter plus ``n`` vertical
    motion units (not lines), then cut; use this one so the last line clears the cutter.
    """
    if feed is None:
        return bytes([GS, ord("V"), 1 if partial else 0])
    return bytes([GS, ord("V"), 66 if partial else 65, _byte_arg(feed, "feed")])


DRAWER_PULSE_UNIT_MS = 2


def _pulse_units(ms: int, field: str) -> int:
    """Milliseconds to 2 ms units, rounded up: a solenoid needs at least what was asked."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        raise EscPosError(field, f"must be a non-negative integer of milliseconds, got {ms!r}")
    units = math.ceil(ms / DRAWER_PULSE_UNIT_MS)
    if units > 255:
        raise EscPosError(field, f"{ms} ms is longer than the maximum 510 ms (255 x 2 ms)")
    return units


def drawer_kick(pin: DrawerPin = DrawerPin.PIN2, on_ms: int = 50, off_ms: int = 500) -> bytes:
    """``ESC p m t1 t2``: pulse a drawer kick-out pin ``on_ms`` on, ``off_ms`` off.

    Times go in 2 ms units (odd milliseconds round up), 0..510 ms. The default 50/500 ms
    is the pulse most drawers are specified for.
    """
    on_units = _pulse_units(on_ms, "on_ms")
    off_units = _pulse_units(off_ms, "off_ms")
    return bytes([ESC, ord("p"), DrawerPin(pin).value, on_units, off_units])


def status_request(n: StatusType | int) -> bytes:
    """``DLE EOT n``: ask for one real-time status byte (answered even while busy)."""
    return bytes([DLE, EOT, _byte_arg(int(n), "n", 1, 4)])


def asb_enable(flags: AsbFlag | int) -> bytes:
    """``GS a n``: enable automatic status back for the given events (0 disables it)."""
    return bytes([GS, ord("a"), _byte_arg(int(flags), "flags")])


# ---------------------------------------------------------------------------------------
# Barcodes
# ---------------------------------------------------------------------------------------


class BarcodeSystem(enum.IntEnum):
    """``GS k m`` symbologies (function B numbering, which carries an explicit length)."""

    UPC_A = 65
    EAN13 = 67
    EAN8 = 68
    CODE128 = 73


class HriPosition(enum.IntEnum):
    """``GS H n``: where the human-readable digits go."""

    NONE = 0
    ABOVE = 1
    BELOW = 2
    BOTH = 3


BARCODE_DEFAULT_HEIGHT = 162
"""Dots; the power-on default of Epson TM printers (about 20 mm at 203 dpi)."""
BARCODE_DEFAULT_WIDTH = 3
"""``GS w`` module width; the Epson power-on default."""

_GTIN_LENGTHS = {
    BarcodeSystem.UPC_A: (11, 12),
    BarcodeSystem.EAN13: (12, 13),
    BarcodeSystem.EAN8: (7, 8),
}
_CODE128_PREFIX = b"{B"
_CODE128_MAX_PAYLOAD = 255


def validate_barcode(system: BarcodeSystem, data: str) -> None:
    """Raise :class:`EscPosError` naming what is wrong with ``data`` for ``system``.

    EAN/UPC take their digits with or without the check digit (the printer computes a
    missing one); a given check digit must be right. CODE128 is sent in code set B:
    printable ASCII, at most 253 bytes after escaping ``{`` as ``{{``.
    """
    system = BarcodeSystem(system)
    if system is BarcodeSystem.CODE128:
        _validate_code128(data)
        return
    lengths = _GTIN_LENGTHS[system]
    if len(data) not in lengths:
        raise EscPosError(
            "barcode data",
            f"{system.name} takes {lengths[0]} digits (or {lengths[1]} with the check "
            f"digit), got {len(data)}: {data!r}",
        )
    for i, ch in enumerate(data):
        if not "0" <= ch <= "9":
            raise EscPosError("barcode data", f"{system.name}: {ch!r} at position {i + 1} is not a digit")
    if len(data) == lengths[1]:
        try:
            expected = gtin_check_digit(data[:-1])
        except GtinError as exc:  # pragma: no cover - digits were checked above
            raise EscPosError("barcode data", str(exc)) from None
        if int(data[-1]) != expected:
            raise EscPosError(
                "barcode data",
                f"{system.name} {data!r} ends in {data[-1]}, but the check digit should be {expected}",
            )


def _validate_code128(data: str) -> None:
    if not data:
        raise EscPosError("barcode data", "CODE128 needs at least one character")
    for i, ch in enumerate(data):
        if not " " <= ch <= "~":
            raise EscPosError(
                "barcode data",
                f"CODE128 (code set B): {ch!r} at position {i + 1} is not printable ASCII",
            )
    payload = len(_CODE128_PREFIX) + len(data) + data.count("{")
    if payload > _CODE128_MAX_PAYLOAD:
        raise EscPosError(
            "barcode data",
            f"CODE128: {len(data)} characters make {payload} bytes with the {{B prefix and "
            f"{{ escapes; the maximum is {_CODE128_MAX_PAYLOAD}",
        )


def _barcode_payload(system: BarcodeSystem, data: str) -> bytes:
    if system is BarcodeSystem.CODE128:
        return _CODE128_PREFIX + data.replace("{", "{{").encode("ascii")
    return data.encode("ascii")


def barcode(
    system: BarcodeSystem,
    data: str,
    *,
    hri: HriPosition = HriPosition.BELOW,
    height: int = BARCODE_DEFAULT_HEIGHT,
    width: int = BARCODE_DEFAULT_WIDTH,
) -> bytes:
    """``GS H``, ``GS h``, ``GS w`` then ``GS k m n d1..dn``: one barcode, settings included.

    The settings are sent every time because they persist in the printer: a barcode must
    not depend on what an earlier job left behind. ``width`` is the module width 2..6.
    """
    system = BarcodeSystem(system)
    validate_barcode(system, data)
    payload = _barcode_payload(system, data)
    return (
        bytes([GS, ord("H"), HriPosition(hri).value])
        + bytes([GS, ord("h"), _byte_arg(height, "height", 1, 255)])
        + bytes([GS, ord("w"), _byte_arg(width, "width", 2, 6)])
        + bytes([GS, ord("k"), system.value, len(payload)])
        + payload
    )


# ---------------------------------------------------------------------------------------
# QR codes (GS ( k, cn = 49)
# ---------------------------------------------------------------------------------------


class QrModel(enum.IntEnum):
    MODEL1 = 49
    MODEL2 = 50
    MICRO = 51


class QrErrorCorrection(enum.IntEnum):
    """Error correction level: L 7 %, M 15 %, Q 25 %, H 30 % of the symbol recoverable."""

    L = 48
    M = 49
    Q = 50
    H = 51


QR_MAX_DATA = 7089
_QR_CN = 49
_QR_FN_MODEL = 65  # function 165
_QR_FN_SIZE = 67  # function 167
_QR_FN_ERROR = 69  # function 169
_QR_FN_STORE = 80  # function 180
_QR_FN_PRINT = 81  # function 181


def _gs_paren_k(body: bytes) -> bytes:
    """``GS ( k pL pH`` followed by ``body`` (cn fn parameters)."""
    return bytes([GS, ord("("), ord("k"), len(body) & 0xFF, len(body) >> 8]) + body


def qr_code(
    data: bytes | str,
    *,
    model: QrModel = QrModel.MODEL2,
    module_size: int = 3,
    error_correction: QrErrorCorrection = QrErrorCorrection.M,
) -> bytes:
    """The QR sequence: functions 165 (model), 167 (module size 1..16 dots),
    169 (error correction), 180 (store data) and 181 (print).

    ``str`` data is sent as UTF-8. Model 2 and level M are the defaults a phone reads
    most reliably from thermal paper.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if not 1 <= len(payload) <= QR_MAX_DATA:
        raise EscPosError("qr data", f"must be 1..{QR_MAX_DATA} bytes, got {len(payload)}")
    return (
        _gs_paren_k(bytes([_QR_CN, _QR_FN_MODEL, QrModel(model).value, 0]))
        + _gs_paren_k(bytes([_QR_CN, _QR_FN_SIZE, _byte_arg(module_size, "module_size", 1, 16)]))
        + _gs_paren_k(bytes([_QR_CN, _QR_FN_ERROR, QrErrorCorrection(error_correction).value]))
        + _gs_paren_k(bytes([_QR_CN, _QR_FN_STORE, 48]) + payload)
        + _gs_paren_k(bytes([_QR_CN, _QR_FN_PRINT, 48]))
    )


# ---------------------------------------------------------------------------------------
# Real-time status replies (DLE EOT n), declared as BitStructs: bit 7 first
# ---------------------------------------------------------------------------------------
# Every reply byte has the fixed pattern 0xx1xx10; the Const fields make the parser
# refuse anything else, so a stray byte in the stream is never taken for status.

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


# ---------------------------------------------------------------------------------------
# Command events (what CommandParser yields)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """Printable bytes (0x20..0xFF) in the current code table."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Init:
    """``ESC @``."""


@dataclass(frozen=True, slots=True)
class CodePage:
    """``ESC t n``; ``table`` is ``None`` when n is not one of :class:`CodeTable`."""

    n: int

    @property
    def table(self) -> CodeTable | None:
        try:
            return CodeTable(self.n)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Bold:
    on: bool


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Align:
    alignment: Alignment


@dataclass(frozen=True, slots=True)
class Feed:
    """``LF`` (one line) or ``ESC d n``: print the buffer, feed ``lines``."""

    lines: int


@dataclass(frozen=True, slots=True)
class Cut:
    """``GS V``; ``feed`` is the motion units fed first (``None``: cut in place)."""

    partial: bool
    feed: int | None = None


@dataclass(frozen=True, slots=True)
class Barcode:
    """``GS k``, with the ``GS H``/``GS h``/``GS w`` settings in force when it was sent.

    ``data`` is the content (for CODE128 without the ``{B`` prefix and ``{{`` escapes).
    """

    system: BarcodeSystem
    data: str
    hri: HriPosition = HriPosition.NONE
    height: int = BARCODE_DEFAULT_HEIGHT
    width: int = BARCODE_DEFAULT_WIDTH


@dataclass(frozen=True, slots=True)
class QrCode:
    """QR function 181 (print), with the data and settings stored before it.

    The defaults are the printer's power-on settings (model 2, 3 dots, level L), which
    apply when a stream stores data without setting them.
    """

    data: bytes
    model: QrModel = QrModel.MODEL2
    module_size: int = 3
    error_correction: QrErrorCorrection = QrErrorCorrection.L


@dataclass(frozen=True, slots=True)
class DrawerKick:
    pin: DrawerPin
    on_ms: int
    off_ms: int


@dataclass(frozen=True, slots=True)
class StatusRequest:
    n: StatusType


@dataclass(frozen=True, slots=True)
class AsbEnable:
    flags: int


@dataclass(frozen=True, slots=True)
class Unknown:
    """A command (or stray control byte) the parser does not model, as received."""

    data: bytes


Command: TypeAlias = (
    Text | Init | CodePage | Bold | Size | Align | Feed | Cut | Barcode | QrCode
    | DrawerKick | StatusRequest | AsbEnable | Unknown
)  # fmt: skip


# ---------------------------------------------------------------------------------------
# Stream parser
# ---------------------------------------------------------------------------------------

# (bytes consumed, event or None for a silent setting, payload bytes to skip afterwards)
_Parsed: TypeAlias = tuple[int, Command | None, int]
_Handler: TypeAlias = Callable[["CommandParser", bytearray], _Parsed | None]

TEXT_CHUNK = 4096
"""Longest Text event; a longer run of text is split at exact multiples of this."""
MAX_BUFFERED_COMMAND = 65_540
"""Largest command kept whole (a full ``GS ( k``); bigger graphics are skipped."""
_NUL_SEARCH_LIMIT = 256

_CONTROL_RE = re.compile(rb"[\x00-\x1f]")

# Commands the parser does not model but must skip whole, so that their parameter bytes
# are not misread as text: second byte -> total length.
_ESC_FIXED = {
    "!": 3, " ": 3, "$": 4, "%": 3, "-": 3, "2": 2, "3": 3, "<": 2, "=": 3, "?": 3,
    "G": 3, "J": 3, "K": 3, "L": 2, "M": 3, "R": 3, "S": 2, "T": 3, "U": 3, "V": 3,
    "W": 10, "\\": 4, "c": 4, "e": 3, "i": 2, "m": 2, "r": 3, "u": 3, "v": 2, "{": 3,
}  # fmt: skip
_GS_FIXED = {
    "$": 4, "/": 3, ":": 2, "B": 3, "I": 3, "L": 4, "P": 4, "T": 3, "W": 4, "\\": 4,
    "^": 5, "b": 3, "c": 2, "f": 3, "j": 3, "r": 3, "E": 3,
}  # fmt: skip
_FS_FIXED = {".": 2, "&": 2, "!": 3, "-": 3, "C": 3, "S": 4, "W": 3, "p": 4}
_DLE_DC4_LENGTHS = {1: 5, 2: 5, 3: 5, 7: 4, 8: 10}


class CommandParser:
    """Reads the byte stream a printer receives and yields typed commands.

    Feed it bytes split anywhere; the events come out the same. It never raises on
    input and never waits on an incomplete command: the bytes stay buffered until the
    rest arrives. A run of text is held until the next control byte (or :meth:`flush`)
    so it comes out as one :class:`Text` regardless of how it was split.

    Like a printer it keeps state: the barcode settings (``GS H``, ``GS h``, ``GS w``) and
    the QR settings and stored data are silent and show up in the next :class:`Barcode`
    or :class:`QrCode`; ``ESC @`` resets them. Real-time commands (``DLE EOT``) are
    recognised at command boundaries only, not inside another command's parameters.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._text = bytearray()
        self._skip = 0
        self._reset_settings()

    def _reset_settings(self) -> None:
        self.hri = HriPosition.NONE
        self.barcode_height = BARCODE_DEFAULT_HEIGHT
        self.barcode_width = BARCODE_DEFAULT_WIDTH
        self.qr_model = QrModel.MODEL2
        self.qr_module_size = 3
        self.qr_error_correction = QrErrorCorrection.L
        self.qr_data: bytes | None = None

    @property
    def buffered(self) -> int:
        """Bytes held: pending text plus an incomplete command."""
        return len(self._buf) + len(self._text)

    def feed(self, data: bytes) -> list[Command]:
        """Consume ``data``; return the commands it completed, in order."""
        self._buf += data
        out: list[Command] = []
        while self._buf:
            if self._skip:
                self._skip_payload()
                continue
            if self._buf[0] >= 0x20:
                self._take_text(out)
                continue
            self._flush_text(out)
            parsed = self._parse_control()
            if parsed is None:
                break
            consumed, event, skip = parsed
            del self._buf[:consumed]
            self._skip = skip
            if event is not None:
                out.append(event)
        return out

    def flush(self) -> list[Command]:
        """Text held at the end of the stream (an incomplete command stays buffered)."""
        out: list[Command] = []
        self._flush_text(out)
        return out

    # -- text ------------------------------------------------------------------------

    def _take_text(self, out: list[Command]) -> None:
        match = _CONTROL_RE.search(self._buf)
        end = match.start() if match else len(self._buf)
        self._text += self._buf[:end]
        del self._buf[:end]
        while len(self._text) >= TEXT_CHUNK:
            out.append(Text(bytes(self._text[:TEXT_CHUNK])))
            del self._text[:TEXT_CHUNK]

    def _flush_text(self, out: list[Command]) -> None:
        if self._text:
            out.append(Text(bytes(self._text)))
            self._text.clear()

    def _skip_payload(self) -> None:
        n = min(self._skip, len(self._buf))
        del self._buf[:n]
        self._skip -= n

    # -- control bytes ---------------------------------------------------------------

    def _parse_control(self) -> _Parsed | None:
        buf = self._buf
        first = buf[0]
        if first == LF:
            return 1, Feed(1), 0
        prefix_handler = _PREFIX_HANDLERS.get(first)
        if prefix_handler is None:
            return 1, Unknown(bytes(buf[:1])), 0
        if len(buf) < 2:
            return None
        return prefix_handler(self, buf)


# -- helpers shared by the handlers ------------------------------------------------------


def _unknown(buf: bytearray, length: int) -> _Parsed | None:
    if len(buf) < length:
        return None
    return length, Unknown(bytes(buf[:length])), 0


def _data_command(buf: bytearray, header: int, payload: int) -> _Parsed | None:
    """A command of ``header`` bytes followed by ``payload`` data bytes, kept as Unknown.

    Oversized payloads (raster graphics) yield the header only and are skipped unread.
    """
    if header + payload > MAX_BUFFERED_COMMAND:
        if len(buf) < header:
            return None
        return header, Unknown(bytes(buf[:header])), payload
    return _unknown(buf, header + payload)


def _nul_terminated(buf: bytearray, start: int) -> int | None:
    """Index of the NUL ending data that starts at ``start``; -1 if there is none in reach."""
    idx = buf.find(0, start, start + _NUL_SEARCH_LIMIT)
    if idx >= 0:
        return idx
    return None if len(buf) < start + _NUL_SEARCH_LIMIT else -1


def _need(buf: bytearray, n: int) -> bool:
    return len(buf) >= n


# -- ESC ---------------------------------------------------------------------------------


def _esc(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    op = chr(buf[1])
    handler = _ESC_HANDLERS.get(op)
    if handler is not None:
        return handler(parser, buf)
    if op in _ESC_FIXED:
        return _unknown(buf, _ESC_FIXED[op])
    return 2, Unknown(bytes(buf[:2])), 0


def _esc_init(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    parser._reset_settings()
    return 2, Init(), 0


def _esc_code_page(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    return 3, CodePage(buf[2]), 0


def _esc_bold(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    return 3, Bold(bool(buf[2] & 1)), 0


def _esc_align(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    n = buf[2]
    if n in (0, 1, 2, 48, 49, 50):
        return 3, Align(Alignment(n % 48)), 0
    return _unknown(buf, 3)


def _esc_feed(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    return 3, Feed(buf[2]), 0


def _esc_drawer(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 5):
        return None
    m = buf[2]
    if m not in (0, 1, 48, 49):
        return _unknown(buf, 5)
    unit = DRAWER_PULSE_UNIT_MS
    return 5, DrawerKick(DrawerPin(m % 48), buf[3] * unit, buf[4] * unit), 0


def _esc_bit_image(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``ESC * m nL nH d1..dk``: k = n for 8-dot modes, 3n for 24-dot modes."""
    if not _need(buf, 5):
        return None
    columns = buf[3] | buf[4] << 8
    return _data_command(buf, 5, columns * (1 if buf[2] in (0, 1) else 3))


def _esc_user_chars(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``ESC & y c1 c2 [x d1..d(y*x)]...``: user-defined characters c1..c2."""
    if not _need(buf, 5):
        return None
    y, c1, c2 = buf[2], buf[3], buf[4]
    pos = 5
    for _ in range(max(0, c2 - c1 + 1)):
        if pos > MAX_BUFFERED_COMMAND:
            return 2, Unknown(bytes(buf[:2])), 0
        if len(buf) <= pos:
            return None
        pos += 1 + y * buf[pos]
    return _unknown(buf, pos)


def _esc_tab_positions(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``ESC D n1..nk NUL``."""
    end = _nul_terminated(buf, 2)
    if end is None:
        return None
    return (2, Unknown(bytes(buf[:2])), 0) if end < 0 else _unknown(buf, end + 1)


def _esc_paren(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``ESC ( fn pL pH ...``: length-prefixed."""
    if not _need(buf, 5):
        return None
    return _data_command(buf, 5, buf[3] | buf[4] << 8)


_ESC_HANDLERS: dict[str, _Handler] = {
    "@": _esc_init,
    "t": _esc_code_page,
    "E": _esc_bold,
    "a": _esc_align,
    "d": _esc_feed,
    "p": _esc_drawer,
    "*": _esc_bit_image,
    "&": _esc_user_chars,
    "D": _esc_tab_positions,
    "(": _esc_paren,
}


# -- GS ----------------------------------------------------------------------------------


def _gs(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    op = chr(buf[1])
    handler = _GS_HANDLERS.get(op)
    if handler is not None:
        return handler(parser, buf)
    if op in _GS_FIXED:
        return _unknown(buf, _GS_FIXED[op])
    return 2, Unknown(bytes(buf[:2])), 0


def _gs_size(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    n = buf[2]
    return 3, Size(width=(n >> 4 & 7) + 1, height=(n & 7) + 1), 0


def _gs_cut(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    m = buf[2]
    if m in (0, 48, 1, 49):
        return 3, Cut(partial=m in (1, 49)), 0
    if m in (65, 66):
        if not _need(buf, 4):
            return None
        return 4, Cut(partial=m == 66, feed=buf[3]), 0
    if m in (97, 98, 103, 104):  # functions C and D: reserve a cut position
        return _unknown(buf, 4)
    return _unknown(buf, 3)


def _gs_asb(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    return 3, AsbEnable(buf[2]), 0


def _gs_hri(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    n = buf[2]
    if n in (0, 1, 2, 3, 48, 49, 50, 51):
        parser.hri = HriPosition(n % 48)
        return 3, None, 0
    return _unknown(buf, 3)


def _gs_barcode_height(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    if buf[2] == 0:
        return _unknown(buf, 3)
    parser.barcode_height = buf[2]
    return 3, None, 0


def _gs_barcode_width(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    if not _need(buf, 3):
        return None
    if not 2 <= buf[2] <= 6:
        return _unknown(buf, 3)
    parser.barcode_width = buf[2]
    return 3, None, 0


_FUNCTION_A_SYSTEMS = {0: BarcodeSystem.UPC_A, 2: BarcodeSystem.EAN13, 3: BarcodeSystem.EAN8}


def _gs_barcode(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``GS k m d1..dk NUL`` (function A, m 0..6) or ``GS k m n d1..dn`` (B, m 65..)."""
    if not _need(buf, 3):
        return None
    m = buf[2]
    if m <= 6:
        end = _nul_terminated(buf, 3)
        if end is None:
            return None
        if end < 0:
            return 3, Unknown(bytes(buf[:3])), 0
        return end + 1, _barcode_event(parser, _FUNCTION_A_SYSTEMS.get(m), buf[3:end], buf[: end + 1]), 0
    if 65 <= m <= 79:
        if not _need(buf, 4) or not _need(buf, 4 + buf[3]):
            return None
        total = 4 + buf[3]
        return total, _barcode_event(parser, _function_b_system(m), buf[4:total], buf[:total]), 0
    return _unknown(buf, 3)


def _function_b_system(m: int) -> BarcodeSystem | None:
    try:
        return BarcodeSystem(m)
    except ValueError:
        return None


def _barcode_event(
    parser: CommandParser, system: BarcodeSystem | None, payload: bytearray, raw: bytearray
) -> Command:
    data = _barcode_content(system, bytes(payload)) if system is not None else None
    if system is None or data is None:
        return Unknown(bytes(raw))
    return Barcode(system, data, parser.hri, parser.barcode_height, parser.barcode_width)


def _barcode_content(system: BarcodeSystem, payload: bytes) -> str | None:
    """The barcode's content if this printer command would print it, else ``None``."""
    if system is BarcodeSystem.CODE128:
        if not payload.startswith(_CODE128_PREFIX):
            return None  # code sets A/C or switching: not modelled
        body = payload[len(_CODE128_PREFIX) :]
        if b"{" in body.replace(b"{{", b""):
            return None
        payload = body.replace(b"{{", b"{")
    try:
        data = payload.decode("ascii")
        validate_barcode(system, data)
    except (UnicodeDecodeError, EscPosError):
        return None
    return data


def _gs_paren(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``GS ( fn pL pH ...``: length-prefixed; ``GS ( k`` with cn 49 is QR."""
    if not _need(buf, 5):
        return None
    length = buf[3] | buf[4] << 8
    if buf[2] != ord("k"):
        return _data_command(buf, 5, length)
    if not _need(buf, 5 + length):
        return None
    body = bytes(buf[5 : 5 + length])
    event = _qr_function(parser, body)
    return 5 + length, Unknown(bytes(buf[: 5 + length])) if event is False else event, 0


def _qr_function(parser: CommandParser, body: bytes) -> Command | Literal[False] | None:
    """Apply one QR function; its event, ``None`` for a setting, ``False`` if not QR."""
    if len(body) < 3 or body[0] != _QR_CN:
        return False
    fn, params = body[1], body[2:]
    if fn == _QR_FN_MODEL and len(params) == 2 and params[0] in (49, 50, 51) and params[1] == 0:
        parser.qr_model = QrModel(params[0])
    elif fn == _QR_FN_SIZE and len(params) == 1 and 1 <= params[0] <= 16:
        parser.qr_module_size = params[0]
    elif fn == _QR_FN_ERROR and len(params) == 1 and 48 <= params[0] <= 51:
        parser.qr_error_correction = QrErrorCorrection(params[0])
    elif fn == _QR_FN_STORE and params[0] == 48 and len(params) > 1:
        parser.qr_data = params[1:]
    elif fn == _QR_FN_PRINT and params == b"0" and parser.qr_data is not None:
        return QrCode(parser.qr_data, parser.qr_model, parser.qr_module_size, parser.qr_error_correction)
    else:
        return False
    return None


def _gs_raster(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``GS v 0 m xL xH yL yH d1..dk``: k = x * y."""
    if not _need(buf, 3):
        return None
    if buf[2] != ord("0"):
        return _unknown(buf, 3)
    if not _need(buf, 8):
        return None
    x = buf[4] | buf[5] << 8
    y = buf[6] | buf[7] << 8
    return _data_command(buf, 8, x * y)


def _gs_download_image(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``GS * x y d1..dk``: k = x * y * 8."""
    if not _need(buf, 4):
        return None
    return _data_command(buf, 4, buf[2] * buf[3] * 8)


def _gs_eight(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    """``GS 8 L p1 p2 p3 p4 ...``: 32-bit length prefix."""
    if not _need(buf, 3):
        return None
    if buf[2] != ord("L"):
        return _unknown(buf, 3)
    if not _need(buf, 7):
        return None
    return _data_command(buf, 7, int.from_bytes(buf[3:7], "little"))


_GS_HANDLERS: dict[str, _Handler] = {
    "!": _gs_size,
    "V": _gs_cut,
    "a": _gs_asb,
    "H": _gs_hri,
    "h": _gs_barcode_height,
    "w": _gs_barcode_width,
    "k": _gs_barcode,
    "(": _gs_paren,
    "v": _gs_raster,
    "*": _gs_download_image,
    "8": _gs_eight,
}


# -- DLE and FS --------------------------------------------------------------------------


def _dle(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    second = buf[1]
    if second == EOT:
        if not _need(buf, 3):
            return None
        n = buf[2]
        if 1 <= n <= 4:
            return 3, StatusRequest(StatusType(n)), 0
        return _unknown(buf, 4 if n in (7, 8, 18) else 3)
    if second == ENQ:
        return _unknown(buf, 3)
    if second == DC4:
        if not _need(buf, 3):
            return None
        return _unknown(buf, _DLE_DC4_LENGTHS.get(buf[2], 3))
    return 1, Unknown(bytes(buf[:1])), 0


def _fs(parser: CommandParser, buf: bytearray) -> _Parsed | None:
    op = chr(buf[1])
    if op == "(":
        if not _need(buf, 5):
            return None
        return _data_command(buf, 5, buf[3] | buf[4] << 8)
    if op in _FS_FIXED:
        return _unknown(buf, _FS_FIXED[op])
    return 2, Unknown(bytes(buf[:2])), 0


_PREFIX_HANDLERS: dict[int, _Handler] = {ESC: _esc, GS: _gs, DLE: _dle, FS: _fs}
