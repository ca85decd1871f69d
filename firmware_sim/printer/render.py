"""Draws a printed receipt as a 1-bit PNG: white paper, black dots, one pixel per dot.

The geometry is an 80 mm printer's at 203 dpi: font A cells of 12 x 24 dots (48 columns
make the 576-dot line), lines 30 dots apart (24 + 6). A glyph is drawn once into its
cell and then scaled by whole multiples with nearest-neighbour sampling, as a thermal
head does for ``GS !``: double width doubles the cell's width, double height its
height, and a line is as tall as its tallest character (the rest sit on its baseline).
Bold is the font's bold face, or a double strike one dot to the right. Barcodes are
``GS w`` dots per module and ``GS h`` dots tall with their HRI digits; QR codes are
``module_size`` dots per module with a four-module quiet zone above and below.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw

from firmware_sim.printer.fonts import CELL_HEIGHT, CELL_WIDTH, FontSet, load_fonts
from firmware_sim.printer.paper import BarcodeLine, Item, QrLine, Style, TextLine
from firmware_sim.printer.symbols import bar_modules, full_digits, qr_matrix
from protocols.escpos import Alignment, HriPosition

LINE_GAP = 6
MARGIN = 16
QUIET_MODULES = 4
WHITE = 1
BLACK = 0


class ReceiptRenderer:
    """Turns printed items into an image; holds the font and a cache of drawn glyphs."""

    def __init__(self, fonts: FontSet | None = None) -> None:
        self.fonts = fonts if fonts is not None else load_fonts()
        self._glyph = lru_cache(maxsize=4096)(self._draw_glyph)

    # -- public ------------------------------------------------------------------------

    def render(self, items: tuple[Item, ...] | list[Item], columns: int) -> Image.Image:
        width = columns * CELL_WIDTH + 2 * MARGIN
        height = 2 * MARGIN + sum(self._height(item) for item in items)
        paper = Image.new("1", (width, max(height, 2 * MARGIN)), WHITE)
        y = MARGIN
        for item in items:
            self._draw(paper, item, y, columns)
            y += self._height(item)
        return paper

    def png(self, items: tuple[Item, ...] | list[Item], columns: int) -> bytes:
        out = io.BytesIO()
        self.render(items, columns).save(out, format="PNG", optimize=True)
        return out.getvalue()

    # -- layout ------------------------------------------------------------------------

    def _height(self, item: Item) -> int:
        match item:
            case TextLine():
                return CELL_HEIGHT * item.height + LINE_GAP
            case BarcodeLine(barcode=barcode):
                hri_lines = {HriPosition.NONE: 0, HriPosition.BOTH: 2}.get(barcode.hri, 1)
                return barcode.height + hri_lines * CELL_HEIGHT + LINE_GAP
            case QrLine():
                return self._qr_size(item)[1] + LINE_GAP

    def _qr_size(self, item: QrLine) -> tuple[int, int]:
        matrix = qr_matrix(item.qr.data, item.qr.model, item.qr.error_correction)
        modules = len(matrix) if matrix is not None else 21
        side = modules * item.qr.module_size
        return side, side + 2 * QUIET_MODULES * item.qr.module_size

    @staticmethod
    def _left(align: Alignment, used: int, columns: int) -> int:
        free = max(0, columns * CELL_WIDTH - used)
        offset = {Alignment.LEFT: 0, Alignment.CENTRE: free // 2, Alignment.RIGHT: free}[align]
        return MARGIN + offset

    # -- drawing -----------------------------------------------------------------------

    def _draw(self, paper: Image.Image, item: Item, y: int, columns: int) -> None:
        match item:
            case TextLine():
                self._draw_text_line(paper, item, y, columns)
            case BarcodeLine():
                self._draw_barcode(paper, item, y, columns)
            case QrLine():
                self._draw_qr(paper, item, y, columns)

    def _draw_text_line(self, paper: Image.Image, line: TextLine, y: int, columns: int) -> None:
        bottom = y + CELL_HEIGHT * line.height
        x = self._left(line.align, line.columns * CELL_WIDTH, columns)
        for run in line.runs:
            for char in run.text:
                self._stamp(paper, char, run.style, x, bottom)
                x += CELL_WIDTH * run.style.width

    def _stamp(self, paper: Image.Image, char: str, style: Style, x: int, bottom: int) -> None:
        if char == " ":
            return
        glyph = self._glyph(char, style.bold)
        if style.width != 1 or style.height != 1:
            glyph = glyph.resize(
                (CELL_WIDTH * style.width, CELL_HEIGHT * style.height), Image.Resampling.NEAREST
            )
        paper.paste(BLACK, (x, bottom - glyph.height), glyph)

    def _draw_glyph(self, char: str, bold: bool) -> Image.Image:
        """One character as a 1-bit mask of its 12 x 24 cell (1 = ink)."""
        font = self.fonts.bold if bold and self.fonts.bold is not None else self.fonts.regular
        cell = Image.new("L", (CELL_WIDTH, CELL_HEIGHT), 0)
        draw = ImageDraw.Draw(cell)
        advance = draw.textlength(char, font=font)
        x = (CELL_WIDTH - advance) / 2
        draw.text((x, self.fonts.baseline), char, fill=255, font=font, anchor="ls")
        if bold and self.fonts.bold is None:
            draw.text((x + 1, self.fonts.baseline), char, fill=255, font=font, anchor="ls")
        return cell.point(lambda v: 255 if v >= 128 else 0).convert("1")

    def _draw_small_text(self, paper: Image.Image, text: str, centre: int, y: int) -> None:
        x = centre - len(text) * CELL_WIDTH // 2
        for char in text:
            self._stamp(paper, char, Style(), x, y + CELL_HEIGHT)
            x += CELL_WIDTH

    def _draw_barcode(self, paper: Image.Image, item: BarcodeLine, y: int, columns: int) -> None:
        barcode = item.barcode
        modules = bar_modules(barcode.system, barcode.data)
        width = barcode.width
        while width > 1 and len(modules) * width > columns * CELL_WIDTH:
            width -= 1  # a real printer would refuse a symbol wider than the paper
        left = self._left(item.align, len(modules) * width, columns)
        centre = left + len(modules) * width // 2
        hri = full_digits(barcode.system, barcode.data)
        if barcode.hri in (HriPosition.ABOVE, HriPosition.BOTH):
            self._draw_small_text(paper, hri, centre, y)
            y += CELL_HEIGHT
        draw = ImageDraw.Draw(paper)
        for i, module in enumerate(modules):
            if module == "1":
                x = left + i * width
                draw.rectangle((x, y, x + width - 1, y + barcode.height - 1), fill=BLACK)
        if barcode.hri in (HriPosition.BELOW, HriPosition.BOTH):
            self._draw_small_text(paper, hri, centre, y + barcode.height)

    def _draw_qr(self, paper: Image.Image, item: QrLine, y: int, columns: int) -> None:
        qr = item.qr
        side, _ = self._qr_size(item)
        left = self._left(item.align, side, columns)
        top = y + QUIET_MODULES * qr.module_size
        draw = ImageDraw.Draw(paper)
        matrix = qr_matrix(qr.data, qr.model, qr.error_correction)
        if matrix is None:  # data the symbol cannot hold: a crossed box, like a misprint
            draw.rectangle((left, top, left + side - 1, top + side - 1), outline=BLACK)
            draw.line((left, top, left + side - 1, top + side - 1), fill=BLACK)
            return
        size = qr.module_size
        for row, modules in enumerate(matrix):
            for col, dark in enumerate(modules):
                if dark:
                    x, yy = left + col * size, top + row * size
                    draw.rectangle((x, yy, x + size - 1, yy + size - 1), fill=BLACK)
