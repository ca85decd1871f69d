"""The paper in the simulated printer: printed lines with their styles, and the line buffer.

ESC/POS prints line by line: characters collect in a line buffer (each with the bold
and size settings in force when it arrived) and go onto the paper at LF, ``ESC d``, a
cut, or when the buffer is full (automatic wrap). A line keeps the alignment in force
when its first character arrived, as on a real printer (``ESC a`` is only effective at
the beginning of a line). Barcodes and QR codes start on a line of their own.

:func:`to_text` is the plain-text view of a receipt: alignment as leading spaces,
double width and height not spelled out, barcodes as ``[EAN13 7310865004703]`` (the
HRI text: EAN/UPC with the check digit) and QR codes as ``[QR data]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from firmware_sim.printer.symbols import full_digits
from protocols.escpos import Alignment, Barcode, QrCode


@dataclass(frozen=True, slots=True)
class Style:
    bold: bool = False
    width: int = 1
    height: int = 1


@dataclass(frozen=True, slots=True)
class Run:
    """Characters of one style, in printing order."""

    text: str
    style: Style


@dataclass(frozen=True, slots=True)
class TextLine:
    runs: tuple[Run, ...]
    align: Alignment = Alignment.LEFT

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    @property
    def columns(self) -> int:
        """Character columns the line covers (a double-width character covers two)."""
        return sum(len(run.text) * run.style.width for run in self.runs)

    @property
    def height(self) -> int:
        """The tallest height multiplier on the line (1 for a blank line)."""
        return max((run.style.height for run in self.runs if run.text), default=1)


@dataclass(frozen=True, slots=True)
class BarcodeLine:
    barcode: Barcode
    align: Alignment = Alignment.LEFT


@dataclass(frozen=True, slots=True)
class QrLine:
    qr: QrCode
    align: Alignment = Alignment.LEFT


Item: TypeAlias = TextLine | BarcodeLine | QrLine


class Paper:
    """The receipt being printed since the last cut."""

    def __init__(self, columns: int) -> None:
        if columns < 1:
            raise ValueError(f"columns must be at least 1, got {columns}")
        self.columns = columns
        self.items: list[Item] = []
        self._runs: list[Run] = []
        self._used = 0
        self._line_align = Alignment.LEFT

    @property
    def line_pending(self) -> bool:
        """Whether the line buffer holds characters not yet printed."""
        return bool(self._runs)

    @property
    def blank(self) -> bool:
        """Nothing printed and nothing in the line buffer."""
        return not self.items and not self._runs

    def add_text(self, text: str, style: Style, align: Alignment) -> None:
        for char in text:
            if self._used + style.width > self.columns and self._runs:
                self.print_line(align)
            if not self._runs:
                self._line_align = align
            if self._runs and self._runs[-1].style == style:
                last = self._runs[-1]
                self._runs[-1] = Run(last.text + char, style)
            else:
                self._runs.append(Run(char, style))
            self._used += style.width

    def print_line(self, align: Alignment) -> None:
        """Print the line buffer (an empty buffer prints a blank line) and start a new one."""
        line_align = self._line_align if self._runs else align
        self.items.append(TextLine(tuple(self._runs), line_align))
        self._runs.clear()
        self._used = 0

    def feed(self, lines: int, align: Alignment) -> None:
        """``LF`` / ``ESC d n``: print the buffer, then advance ``lines`` lines in all."""
        if self._runs:
            self.print_line(align)
            lines -= 1
        for _ in range(max(0, lines)):
            self.print_line(align)

    def add_barcode(self, barcode: Barcode, align: Alignment) -> None:
        self._finish_line(align)
        self.items.append(BarcodeLine(barcode, align))

    def add_qr(self, qr: QrCode, align: Alignment) -> None:
        self._finish_line(align)
        self.items.append(QrLine(qr, align))

    def clear_line_buffer(self) -> None:
        """``ESC @``: characters not yet printed are dropped; printed lines stay."""
        self._runs.clear()
        self._used = 0

    def take(self, align: Alignment) -> tuple[Item, ...]:
        """At a cut: print the line buffer, hand over the receipt, start a fresh one."""
        self._finish_line(align)
        items = tuple(self.items)
        self.items.clear()
        return items

    def _finish_line(self, align: Alignment) -> None:
        if self._runs:
            self.print_line(align)


def _indent(align: Alignment, used: int, columns: int) -> int:
    free = max(0, columns - used)
    if align is Alignment.CENTRE:
        return free // 2
    if align is Alignment.RIGHT:
        return free
    return 0


def item_text(item: Item) -> str:
    """What an item reads as in the plain-text receipt (without its alignment)."""
    match item:
        case TextLine():
            return item.text
        case BarcodeLine(barcode=barcode):
            return f"[{barcode.system.name} {full_digits(barcode.system, barcode.data)}]"
        case QrLine(qr=qr):
            return f"[QR {qr.data.decode('utf-8', errors='replace')}]"


def to_text(items: tuple[Item, ...] | list[Item], columns: int) -> str:
    """The receipt as plain text, one line per printed line, ending in a newline."""
    lines = []
    for item in items:
        text = item_text(item)
        used = item.columns if isinstance(item, TextLine) else len(text)
        lines.append((" " * _indent(item.align, used, columns) + text).rstrip())
    return "".join(line + "\n" for line in lines)
