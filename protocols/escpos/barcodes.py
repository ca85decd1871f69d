"""Barcodes (``GS k``): the symbologies a receipt uses, their validation and the command.

EAN/UPC data is checked with the GS1 check digit; CODE128 is sent in code set B.
"""

from __future__ import annotations

import enum

from protocols.escpos.ascii import GS
from protocols.escpos.errors import EscPosError, byte_arg
from protocols.scanner import GtinError, gtin_check_digit


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
CODE128_PREFIX = b"{B"
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
    payload = len(CODE128_PREFIX) + len(data) + data.count("{")
    if payload > _CODE128_MAX_PAYLOAD:
        raise EscPosError(
            "barcode data",
            f"CODE128: {len(data)} characters make {payload} bytes with the {{B prefix and "
            f"{{ escapes; the maximum is {_CODE128_MAX_PAYLOAD}",
        )


def _barcode_payload(system: BarcodeSystem, data: str) -> bytes:
    if system is BarcodeSystem.CODE128:
        return CODE128_PREFIX + data.replace("{", "{{").encode("ascii")
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
        + bytes([GS, ord("h"), byte_arg(height, "height", 1, 255)])
        + bytes([GS, ord("w"), byte_arg(width, "width", 2, 6)])
        + bytes([GS, ord("k"), system.value, len(payload)])
        + payload
    )
