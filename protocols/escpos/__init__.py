"""ESC/POS: the commands a receipt needs, the real-time status replies, a stream parser.

All pure (bytes in, typed values out, and back), one module per part:

- :mod:`~protocols.escpos.commands` (:func:`initialise`, :func:`bold`, :func:`cut`,
  :func:`drawer_kick`, ...), :mod:`~protocols.escpos.barcodes` (:func:`barcode`) and
  :mod:`~protocols.escpos.qr` (:func:`qr_code`) build the exact bytes of one command and
  validate their arguments, naming the bad one, so a malformed command never reaches a
  printer; every error is an :class:`EscPosError` (:mod:`~protocols.escpos.errors`).
- :mod:`~protocols.escpos.text` turns text into printer bytes in a code table
  (:func:`encode_text`) and back.
- :mod:`~protocols.escpos.status`: the requests for real-time status (``DLE EOT n``) and
  the replies, declared as construct ``BitStruct``\\ s (the structs are the
  specification) and exposed as frozen dataclasses with named flags, both ways: the
  gateway parses them, the printer simulator builds them.
- :mod:`~protocols.escpos.parser`: :class:`CommandParser` reads the byte stream a
  printer receives and yields the typed commands of :mod:`~protocols.escpos.events`; it
  is what the printer simulator runs.

Choices where the references are silent or vary by model are documented at the point
of use (code tables, drawer pulse rounding, barcode defaults, QR defaults).

Pure: no I/O, imports nothing of ours outside ``protocols``.
"""

from __future__ import annotations

from protocols.escpos.barcodes import (
    BARCODE_DEFAULT_HEIGHT,
    BARCODE_DEFAULT_WIDTH,
    BarcodeSystem,
    HriPosition,
    barcode,
    validate_barcode,
)
from protocols.escpos.commands import (
    DRAWER_PULSE_UNIT_MS,
    Alignment,
    DrawerPin,
    align,
    bold,
    char_size,
    cut,
    double_height,
    double_size,
    double_width,
    drawer_kick,
    feed,
    initialise,
    line_feed,
    normal_size,
    select_code_table,
)
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
from protocols.escpos.parser import MAX_BUFFERED_COMMAND, TEXT_CHUNK, CommandParser
from protocols.escpos.qr import QR_MAX_DATA, QrErrorCorrection, QrModel, qr_code
from protocols.escpos.status import (
    AsbFlag,
    ErrorCause,
    OfflineCause,
    PaperStatus,
    PrinterStatus,
    StatusByteError,
    StatusReply,
    StatusType,
    asb_enable,
    build_status,
    parse_status,
    status_request,
)
from protocols.escpos.text import (
    CodeTable,
    EncodePolicy,
    UnencodableCharacterError,
    decode_text,
    encode_text,
)

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
