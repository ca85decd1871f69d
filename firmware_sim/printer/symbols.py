"""Bar and module patterns of the symbols the printer draws: EAN/UPC, Code 128 B, QR.

:func:`bar_modules` returns a barcode as a string of ``"1"`` (bar) and ``"0"`` (space)
modules, without quiet zones, encoded exactly as the symbology specifies, so the
rendered receipt scans. :func:`qr_matrix` returns the QR symbol's dark modules (segno
does the encoding).
"""

from __future__ import annotations

import segno

from protocols.escpos import BarcodeSystem, QrErrorCorrection, QrModel
from protocols.scanner import gtin_check_digit

# EAN/UPC: left-hand odd (L) codes; even (G) codes are the R codes reversed; R = L inverted.
_L_CODES = ("0001101", "0011001", "0010011", "0111101", "0100011",
            "0110001", "0101111", "0111011", "0110111", "0001011")  # fmt: skip
_R_CODES = tuple(code.translate(str.maketrans("01", "10")) for code in _L_CODES)
_G_CODES = tuple(code[::-1] for code in _R_CODES)
# EAN-13: the first digit is carried by the L/G pattern of the left half.
_EAN13_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
                 "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")  # fmt: skip
_GUARD = "101"
_CENTRE = "01010"

# Code 128: bar/space widths of symbol values 0..105 (each totals 11 modules).
_CODE128_WIDTHS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232",
)  # fmt: skip
_CODE128_START_B = 104
_CODE128_STOP = "2331112"

_GTIN_BODY = {BarcodeSystem.EAN13: 12, BarcodeSystem.UPC_A: 11, BarcodeSystem.EAN8: 7}


def _widths_to_modules(widths: str) -> str:
    return "".join(("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(widths))


def _with_check_digit(system: BarcodeSystem, data: str) -> str:
    body = data[: _GTIN_BODY[system]]
    return body + str(gtin_check_digit(body))


def _ean13(digits: str) -> str:
    parity = _EAN13_PARITY[int(digits[0])]
    left = "".join(
        (_L_CODES if p == "L" else _G_CODES)[int(d)] for p, d in zip(parity, digits[1:7], strict=True)
    )
    right = "".join(_R_CODES[int(d)] for d in digits[7:])
    return _GUARD + left + _CENTRE + right + _GUARD


def _ean8(digits: str) -> str:
    left = "".join(_L_CODES[int(d)] for d in digits[:4])
    right = "".join(_R_CODES[int(d)] for d in digits[4:])
    return _GUARD + left + _CENTRE + right + _GUARD


def _code128b(data: str) -> str:
    values = [ord(ch) - 32 for ch in data]
    check = (_CODE128_START_B + sum(i * v for i, v in enumerate(values, start=1))) % 103
    symbols = [_CODE128_START_B, *values, check]
    return "".join(_widths_to_modules(_CODE128_WIDTHS[v]) for v in symbols) + _widths_to_modules(
        _CODE128_STOP
    )


def full_digits(system: BarcodeSystem, data: str) -> str:
    """The human-readable text of a barcode: EAN/UPC with the check digit added if missing."""
    if system is BarcodeSystem.CODE128:
        return data
    return _with_check_digit(system, data)


def bar_modules(system: BarcodeSystem, data: str) -> str:
    """The symbol's modules, ``"1"`` = bar. ``data`` must be valid for ``system``."""
    if system is BarcodeSystem.CODE128:
        return _code128b(data)
    digits = full_digits(system, data)
    if system is BarcodeSystem.EAN8:
        return _ean8(digits)
    if system is BarcodeSystem.UPC_A:
        return _ean13("0" + digits)  # UPC-A is EAN-13 with a leading zero
    return _ean13(digits)


_QR_LEVELS = {
    QrErrorCorrection.L: "l",
    QrErrorCorrection.M: "m",
    QrErrorCorrection.Q: "q",
    QrErrorCorrection.H: "h",
}


def qr_matrix(data: bytes, model: QrModel, error_correction: QrErrorCorrection) -> list[list[bool]] | None:
    """The QR symbol's modules (``True`` = dark, no quiet zone); ``None`` if it cannot be made.

    Model 1 is drawn as model 2 (segno makes model 2 and Micro QR only; phones read both).
    """
    level = _QR_LEVELS[error_correction]
    try:
        if model is QrModel.MICRO:
            symbol = segno.make_micro(data, error=level, boost_error=False)
        else:
            symbol = segno.make_qr(data, error=level, boost_error=False)
    except (segno.DataOverflowError, ValueError):
        return None
    return [[bool(module) for module in row] for row in symbol.matrix]
