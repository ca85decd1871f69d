"""QR codes: the ``GS ( k`` functions (cn 49) that set up, store and print one symbol."""

from __future__ import annotations

import enum

from protocols.escpos.ascii import GS
from protocols.escpos.errors import EscPosError, byte_arg


class QrModel(enum.IntEnum):
    MODEL1 = 49
    MODEL2 = 50
    MICRO = 51


class QrErrorCorrection(enum.IntEnum):
    """Error correction level: L 7 %, M 15 %, Q 25 %, H 30 % of the symbol recoverable."""

    L = 48
    M = 49
    Q = 50
    H = 51


QR_MAX_DATA = 7089
QR_CN = 49
QR_FN_MODEL = 65  # function 165
QR_FN_SIZE = 67  # function 167
QR_FN_ERROR = 69  # function 169
QR_FN_STORE = 80  # function 180
QR_FN_PRINT = 81  # function 181


def _gs_paren_k(body: bytes) -> bytes:
    """``GS ( k pL pH`` followed by ``body`` (cn fn parameters)."""
    return bytes([GS, ord("("), ord("k"), len(body) & 0xFF, len(body) >> 8]) + body


def qr_code(
    data: bytes | str,
    *,
    model: QrModel = QrModel.MODEL2,
    module_size: int = 3,
    error_correction: QrErrorCorrection = QrErrorCorrection.M,
) -> bytes:
    """The QR sequence: functions 165 (model), 167 (module size 1..16 dots),
    169 (error correction), 180 (store data) and 181 (print).

    ``str`` data is sent as UTF-8. Model 2 and level M are the defaults a phone reads
    most reliably from thermal paper.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if not 1 <= len(payload) <= QR_MAX_DATA:
        raise EscPosError("qr data", f"must be 1..{QR_MAX_DATA} bytes, got {len(payload)}")
    return (
        _gs_paren_k(bytes([QR_CN, QR_FN_MODEL, QrModel(model).value, 0]))
        + _gs_paren_k(bytes([QR_CN, QR_FN_SIZE, byte_arg(module_size, "module_size", 1, 16)]))
        + _gs_paren_k(bytes([QR_CN, QR_FN_ERROR, QrErrorCorrection(error_correction).value]))
        + _gs_paren_k(bytes([QR_CN, QR_FN_STORE, 48]) + payload)
        + _gs_paren_k(bytes([QR_CN, QR_FN_PRINT, 48]))
    )
