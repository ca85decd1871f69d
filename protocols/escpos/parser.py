"""The stream parser: reads the bytes a printer receives and yields typed commands.

It is what the printer simulator runs. It never raises on input and never waits on an
incomplete command; commands it does not model are skipped whole (so their parameter
bytes are not misread as text) and come out as :class:`~protocols.escpos.events.Unknown`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, TypeAlias

from protocols.escpos.ascii import DC4, DLE, ENQ, EOT, ESC, FS, GS, LF
from protocols.escpos.barcodes import (
    BARCODE_DEFAULT_HEIGHT,
    BARCODE_DEFAULT_WIDTH,
    CODE128_PREFIX,
    BarcodeSystem,
    HriPosition,
    validate_barcode,
)
from protocols.escpos.commands import DRAWER_PULSE_UNIT_MS, Alignment, DrawerPin
from protocols.escpos.errors import EscPosError
from protocols.escpos.events import (
    Align,
    AsbEnable,
    Barcode,
    Bold,
    CodePage,
    Command,
    Cut,
    DrawerKick,
    Feed,
    Init,
    QrCode,
    Size,
    StatusRequest,
    Text,
    Unknown,
)
from protocols.escpos.qr import (
    QR_CN,
    QR_FN_ERROR,
    QR_FN_MODEL,
    QR_FN_PRINT,
    QR_FN_SIZE,
    QR_FN_STORE,
    QrErrorCorrection,
    QrModel,
)
from protocols.escpos.status import StatusType

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
        if not payload.startswith(CODE128_PREFIX):
            return None  # code sets A/C or switching: not modelled
        body = payload[len(CODE128_PREFIX) :]
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
    if len(body) < 3 or body[0] != QR_CN:
        return False
    fn, params = body[1], body[2:]
    if fn == QR_FN_MODEL and len(params) == 2 and params[0] in (49, 50, 51) and params[1] == 0:
        parser.qr_model = QrModel(params[0])
    elif fn == QR_FN_SIZE and len(params) == 1 and 1 <= params[0] <= 16:
        parser.qr_module_size = params[0]
    elif fn == QR_FN_ERROR and len(params) == 1 and 48 <= params[0] <= 51:
        parser.qr_error_correction = QrErrorCorrection(params[0])
    elif fn == QR_FN_STORE and params[0] == 48 and len(params) > 1:
        parser.qr_data = params[1:]
    elif fn == QR_FN_PRINT and params == b"0" and parser.qr_data is not None:
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
