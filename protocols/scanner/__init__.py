"""Barcode scanner input: serial line framing, HID keyboard-wedge keycodes, GTIN checks.

A till meets scanners in two shapes. Serial (or USB-CDC) scanners send each code as a line
of bytes; :class:`LineDeframer` (:mod:`~protocols.scanner.lines`) cuts that stream into
codes. USB HID scanners pretend to be keyboards; the gateway reads their key events with
evdev and :class:`HidDecoder` (:mod:`~protocols.scanner.hid`, which says which keyboard
layout to set) turns key presses back into text. Either way the result is a ``str`` that
:func:`classify` and :func:`validate_gtin` (:mod:`~protocols.scanner.gtin`) and
:func:`decode_in_store` (:mod:`~protocols.scanner.in_store`) interpret. Input that does
not become a code comes out as :class:`Rejected` (:mod:`~protocols.scanner.rejected`).

Pure: no I/O, imports nothing of ours. Money is integer öre, weight integer grams.
"""

from __future__ import annotations

from protocols.scanner.gtin import GtinError, GtinKind, ScanKind, classify, gtin_check_digit, validate_gtin
from protocols.scanner.hid import (
    EV_KEY,
    EV_MSC,
    EV_SYN,
    KEY_CAPSLOCK,
    KEY_ENTER,
    KEY_KPENTER,
    KEY_LEFTSHIFT,
    KEY_RIGHTSHIFT,
    US_KEYMAP,
    HidDecoder,
)
from protocols.scanner.in_store import (
    SWEDISH_IN_STORE,
    InStoreCode,
    InStoreError,
    InStoreLayout,
    MeasureKind,
    ValueRule,
    decode_in_store,
    price_verifier_digit,
)
from protocols.scanner.lines import LineDeframer, Terminator
from protocols.scanner.rejected import DEFAULT_MAX_LINE, Rejected

__all__ = [
    "DEFAULT_MAX_LINE",
    "EV_KEY",
    "EV_MSC",
    "EV_SYN",
    "KEY_CAPSLOCK",
    "KEY_ENTER",
    "KEY_KPENTER",
    "KEY_LEFTSHIFT",
    "KEY_RIGHTSHIFT",
    "SWEDISH_IN_STORE",
    "US_KEYMAP",
    "GtinError",
    "GtinKind",
    "HidDecoder",
    "InStoreCode",
    "InStoreError",
    "InStoreLayout",
    "LineDeframer",
    "MeasureKind",
    "Rejected",
    "ScanKind",
    "Terminator",
    "ValueRule",
    "classify",
    "decode_in_store",
    "gtin_check_digit",
    "price_verifier_digit",
    "validate_gtin",
]
