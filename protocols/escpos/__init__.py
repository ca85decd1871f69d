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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each name is loaded from its module on first use: a caller that needs only the code
# tables (the configuration) does not load the parser, the barcodes or construct.
_WHERE: dict[str, str] = {
    "Align": "protocols.escpos.events",
    "Alignment": "protocols.escpos.commands",
    "AsbEnable": "protocols.escpos.events",
    "AsbFlag": "protocols.escpos.status",
    "BARCODE_DEFAULT_HEIGHT": "protocols.escpos.barcodes",
    "BARCODE_DEFAULT_WIDTH": "protocols.escpos.barcodes",
    "Barcode": "protocols.escpos.events",
    "BarcodeSystem": "protocols.escpos.barcodes",
    "Bold": "protocols.escpos.events",
    "CodePage": "protocols.escpos.events",
    "CodeTable": "protocols.escpos.text",
    "Command": "protocols.escpos.events",
    "CommandParser": "protocols.escpos.parser",
    "Cut": "protocols.escpos.events",
    "DRAWER_PULSE_UNIT_MS": "protocols.escpos.commands",
    "DrawerKick": "protocols.escpos.events",
    "DrawerPin": "protocols.escpos.commands",
    "EncodePolicy": "protocols.escpos.text",
    "ErrorCause": "protocols.escpos.status",
    "EscPosError": "protocols.escpos.errors",
    "Feed": "protocols.escpos.events",
    "HriPosition": "protocols.escpos.barcodes",
    "Init": "protocols.escpos.events",
    "MAX_BUFFERED_COMMAND": "protocols.escpos.parser",
    "OfflineCause": "protocols.escpos.status",
    "PaperStatus": "protocols.escpos.status",
    "PrinterStatus": "protocols.escpos.status",
    "QR_MAX_DATA": "protocols.escpos.qr",
    "QrCode": "protocols.escpos.events",
    "QrErrorCorrection": "protocols.escpos.qr",
    "QrModel": "protocols.escpos.qr",
    "Size": "protocols.escpos.events",
    "StatusByteError": "protocols.escpos.status",
    "StatusReply": "protocols.escpos.status",
    "StatusRequest": "protocols.escpos.events",
    "StatusType": "protocols.escpos.status",
    "TEXT_CHUNK": "protocols.escpos.parser",
    "Text": "protocols.escpos.events",
    "UnencodableCharacterError": "protocols.escpos.text",
    "Unknown": "protocols.escpos.events",
    "align": "protocols.escpos.commands",
    "asb_enable": "protocols.escpos.status",
    "barcode": "protocols.escpos.barcodes",
    "bold": "protocols.escpos.commands",
    "build_status": "protocols.escpos.status",
    "char_size": "protocols.escpos.commands",
    "cut": "protocols.escpos.commands",
    "decode_text": "protocols.escpos.text",
    "double_height": "protocols.escpos.commands",
    "double_size": "protocols.escpos.commands",
    "double_width": "protocols.escpos.commands",
    "drawer_kick": "protocols.escpos.commands",
    "encode_text": "protocols.escpos.text",
    "feed": "protocols.escpos.commands",
    "initialise": "protocols.escpos.commands",
    "line_feed": "protocols.escpos.commands",
    "normal_size": "protocols.escpos.commands",
    "parse_status": "protocols.escpos.status",
    "qr_code": "protocols.escpos.qr",
    "select_code_table": "protocols.escpos.commands",
    "status_request": "protocols.escpos.status",
    "validate_barcode": "protocols.escpos.barcodes",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
