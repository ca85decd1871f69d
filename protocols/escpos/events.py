"""The commands as :class:`~protocols.escpos.parser.CommandParser` yields them: one
frozen dataclass per command it models, :class:`Unknown` for the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from protocols.escpos.barcodes import (
    BARCODE_DEFAULT_HEIGHT,
    BARCODE_DEFAULT_WIDTH,
    BarcodeSystem,
    HriPosition,
)
from protocols.escpos.commands import Alignment, DrawerPin
from protocols.escpos.qr import QrErrorCorrection, QrModel
from protocols.escpos.status import StatusType
from protocols.escpos.text import CodeTable


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
