"""Builders of the commands a receipt needs: reset, code table, emphasis, size,
alignment, feed, cut and the drawer kick.

Each returns the exact bytes of one command and validates its arguments, naming the bad
one, so a malformed command never reaches a printer. Barcodes, QR codes and the
real-time status requests have their own modules.
"""

from __future__ import annotations

import enum
import math

from protocols.escpos.ascii import ESC, GS, LF
from protocols.escpos.errors import EscPosError, byte_arg
from protocols.escpos.text import CodeTable


class Alignment(enum.IntEnum):
    LEFT = 0
    CENTRE = 1
    RIGHT = 2


class DrawerPin(enum.IntEnum):
    """``ESC p m``: which drawer kick-out connector pin gets the pulse."""

    PIN2 = 0
    PIN5 = 1


def initialise() -> bytes:
    """``ESC @``: clear the print buffer and reset modes to the power-on defaults."""
    return bytes([ESC, ord("@")])


def select_code_table(table: CodeTable | int) -> bytes:
    """``ESC t n``: the code table for bytes 0x80..0xFF."""
    return bytes([ESC, ord("t"), byte_arg(int(table), "code table")])


def bold(on: bool = True) -> bytes:
    """``ESC E n``: emphasised (bold) on or off."""
    return bytes([ESC, ord("E"), 1 if on else 0])


def char_size(width: int = 1, height: int = 1) -> bytes:
    """``GS ! n``: character width and height multipliers, each 1..8."""
    w = byte_arg(width, "width", 1, 8)
    h = byte_arg(height, "height", 1, 8)
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
    return bytes([ESC, ord("d"), byte_arg(lines, "lines")])


def cut(*, partial: bool = False, feed: int | None = None) -> bytes:
    """``GS V``: cut the paper.

    Without ``feed``: ``GS V 0`` (full) / ``GS V 1`` (partial), cut where the paper is.
    With ``feed``: ``GS V 65 n`` / ``GS V 66 n``, feed to the cutter plus ``n`` vertical
    motion units (not lines), then cut; use this one so the last line clears the cutter.
    """
    if feed is None:
        return bytes([GS, ord("V"), 1 if partial else 0])
    return bytes([GS, ord("V"), 66 if partial else 65, byte_arg(feed, "feed")])


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
