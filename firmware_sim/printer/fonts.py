"""The font the receipt image is drawn in, fitted to the printer's 12 x 24 dot character cell.

Looked for in this order, so the image is the same on every machine that installed the
project's dependencies:

1. an explicit TTF (``--font``), its bold taken from the same file's weight axis if it
   has one, else drawn by double strike;
2. JetBrains Mono from the ``fontpkg-jetbrains-mono`` package (OFL, a variable font:
   bold is its weight 700);
3. DejaVu Sans Mono where Debian puts it (``fonts-dejavu-core``), with its Bold file;
4. Pillow's built-in font (``ImageFont.load_default(size)``, proportional: each glyph
   is centred in its cell, so columns still line up), bold by double strike.

All of these carry å ä ö Å Ä Ö é.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from PIL import ImageFont

log = logging.getLogger("tillgw.sim.printer")

CELL_WIDTH = 12
CELL_HEIGHT = 24

Font: TypeAlias = ImageFont.FreeTypeFont | ImageFont.ImageFont

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
_FIT_SAMPLE = "ÅÄÖåäöMWgjpqy|"
_BOLD_WEIGHT = 700


@dataclass(frozen=True)
class FontSet:
    """A regular face, a bold face (``None``: draw bold by double strike), and their name.

    ``baseline`` is the baseline's distance from the top of the cell, chosen so the
    tallest accented capital and the deepest descender both stay inside it.
    """

    regular: Font
    bold: Font | None
    name: str
    baseline: int


def _ink_extent(font: Font) -> tuple[int, int]:
    """(above, below) the baseline: the ink of the fit sample."""
    _, top, _, bottom = font.getbbox(_FIT_SAMPLE, anchor="ls")
    return int(-top), int(bottom)


def _baseline(font: Font) -> int:
    above, below = _ink_extent(font)
    return above + max(0, (CELL_HEIGHT - above - below) // 2)


def _fits(font: ImageFont.FreeTypeFont) -> bool:
    above, below = _ink_extent(font)
    return font.getlength("M") <= CELL_WIDTH and above + below <= CELL_HEIGHT


def _fitted(path: str | Path) -> ImageFont.FreeTypeFont:
    """The largest size of the font at ``path`` whose glyphs fit the cell."""
    for size in range(24, 7, -1):
        font = ImageFont.truetype(str(path), size)
        if _fits(font):
            return font
    return ImageFont.truetype(str(path), 8)


def _variable_bold(path: str | Path, size: float) -> ImageFont.FreeTypeFont | None:
    """The font at its bold weight, if it is a variable font with a weight axis."""
    font = ImageFont.truetype(str(path), size)
    try:
        axes = font.get_variation_axes()
    except OSError:
        return None  # not a variable font
    values: list[float] = []
    for axis in axes:
        low, high, default = axis.get("minimum") or 0, axis.get("maximum") or 0, axis.get("default") or 0
        is_weight = axis.get("name") in (b"Weight", "Weight")
        values.append(max(low, min(_BOLD_WEIGHT, high)) if is_weight else default)
    if not any(axis.get("name") in (b"Weight", "Weight") for axis in axes):
        return None
    font.set_variation_by_axes(values)
    return font


def _from_file(path: Path, bold_path: Path | None, name: str) -> FontSet:
    regular = _fitted(path)
    bold: Font | None
    if bold_path is not None and bold_path.exists():
        bold = ImageFont.truetype(str(bold_path), regular.size)
    else:
        bold = _variable_bold(path, regular.size)
    return FontSet(regular, bold, name, _baseline(regular))


def _packaged() -> tuple[Path, str] | None:
    """JetBrains Mono from fontpkg-jetbrains-mono, found without importing the package."""
    spec = importlib.util.find_spec("fontpkg_jetbrains_mono")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "files" / "JetBrainsMono[wght].ttf"
    return (path, "JetBrains Mono (fontpkg-jetbrains-mono)") if path.exists() else None


def load_fonts(path: Path | None = None) -> FontSet:
    """The receipt font; see the module docstring for where it is looked for."""
    if path is not None:
        return _from_file(path, None, path.name)
    packaged = _packaged()
    if packaged is not None:
        return _from_file(packaged[0], None, packaged[1])
    dejavu = DEJAVU_DIR / "DejaVuSansMono.ttf"
    if dejavu.exists():
        return _from_file(dejavu, DEJAVU_DIR / "DejaVuSansMono-Bold.ttf", "DejaVu Sans Mono")
    log.warning("no monospaced TTF found; drawing receipts in Pillow's built-in font")
    builtin = ImageFont.load_default(size=20)
    return FontSet(builtin, None, "Pillow built-in", _baseline(builtin))
