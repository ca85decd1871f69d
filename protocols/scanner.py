"""Barcode scanner input: serial line framing, HID keyboard-wedge keycodes, GTIN checks.

A till meets scanners in two shapes. Serial (or USB-CDC) scanners send each code as a line
of bytes; :class:`LineDeframer` cuts that stream into codes. USB HID scanners pretend to
be keyboards; the gateway reads their key events with evdev and :class:`HidDecoder` turns
key presses back into text. Either way the result is a ``str`` that :func:`classify`,
:func:`validate_gtin` and :func:`decode_in_store` interpret.

Pure: no I/O, imports nothing of ours. Money is integer öre, weight integer grams.

Keyboard layout
    :class:`HidDecoder` assumes the scanner is configured for the **US keyboard layout**
    (the factory default of practically every scanner). A scanner set to the Swedish
    layout presses other keys for most punctuation (``/``, ``:``, ``;``, ``-`` ...), and
    decoding those as US would silently change a Code 128 payload, so set the scanner to
    US. Keypad keys are read as digits regardless of NumLock, since scanners that use the
    keypad always mean digits.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

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

# ---------------------------------------------------------------------------------------
# Common result for discarded input
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that did not become a code, and why (for the device's health report).

    ``head`` holds at most the first 32 bytes of what was discarded, enough to recognise
    it in a log without letting a runaway device fill the log.
    """

    reason: str
    head: bytes = b""


_HEAD_BYTES = 32

# ---------------------------------------------------------------------------------------
# Serial line framing
# ---------------------------------------------------------------------------------------

CR = 0x0D
LF = 0x0A
DEFAULT_MAX_LINE = 1024


class Terminator(enum.StrEnum):
    """What ends a line from a serial scanner.

    - ``CR``: a CR ends the line; an LF that directly follows a CR (even in a later read)
      is swallowed, so a scanner sending CR LF still works. Any other LF is data.
    - ``LF``: an LF ends the line; a CR directly before it is dropped. Any other CR is data.
    - ``CRLF``: tolerant: CR LF, a lone CR or a lone LF each end exactly one line.
    An empty line is never a code: it is dropped silently.
    """

    CR = "cr"
    LF = "lf"
    CRLF = "crlf"


class LineDeframer:
    """Cuts a serial scanner's byte stream into codes; feed it reads of any size.

    ``prefix`` and ``suffix`` (bytes the scanner is configured to wrap codes in) are
    stripped; a line that lacks a configured one is rejected, because that is what a
    partial line looks like (the port opened halfway through a scan). Lines longer than
    ``max_length`` bytes (prefix and suffix included, terminator excluded) are discarded
    up to the next terminator, so a jammed device cannot make us buffer without bound.
    """

    def __init__(
        self,
        terminator: Terminator = Terminator.CR,
        *,
        prefix: bytes = b"",
        suffix: bytes = b"",
        max_length: int = DEFAULT_MAX_LINE,
        encoding: str = "utf-8",
    ) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        if len(prefix) + len(suffix) >= max_length:
            raise ValueError("prefix and suffix leave no room for a code within max_length")
        self.terminator = Terminator(terminator)
        self.prefix = bytes(prefix)
        self.suffix = bytes(suffix)
        self.max_length = max_length
        self.encoding = encoding
        self._line = bytearray()
        self._discarding = False
        self._after_cr = False  # CR/CRLF modes: the last byte was a terminating CR
        self._held_cr = False  # LF mode: a CR that ends the line if an LF follows

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line held (never more than ``max_length``)."""
        return len(self._line) + int(self._held_cr)

    def feed(self, data: bytes) -> list[str | Rejected]:
        """Consume ``data``; return the codes (and rejections) completed by it, in order."""
        out: list[str | Rejected] = []
        for byte in data:
            if self.terminator is Terminator.LF:
                self._step_lf_mode(byte, out)
            else:
                self._step_cr_mode(byte, out)
        return out

    def _step_cr_mode(self, byte: int, out: list[str | Rejected]) -> None:
        after_cr, self._after_cr = self._after_cr, False
        if byte == CR:
            self._after_cr = True
            self._end_line(out)
        elif byte == LF and after_cr:
            return  # the LF of a CR LF pair
        elif byte == LF and self.terminator is Terminator.CRLF:
            self._end_line(out)
        else:
            self._append(byte, out)

    def _step_lf_mode(self, byte: int, out: list[str | Rejected]) -> None:
        if self._held_cr:
            self._held_cr = False
            if byte == LF:
                self._end_line(out)
                return
            self._append(CR, out)
        if byte == CR:
            self._held_cr = True
        elif byte == LF:
            self._end_line(out)
        else:
            self._append(byte, out)

    def _append(self, byte: int, out: list[str | Rejected]) -> None:
        if self._discarding:
            return
        self._line.append(byte)
        if len(self._line) > self.max_length:
            out.append(
                Rejected(
                    f"line longer than {self.max_length} bytes without a terminator; "
                    "discarded up to the next terminator",
                    bytes(self._line[:_HEAD_BYTES]),
                )
            )
            self._line.clear()
            self._discarding = True

    def _end_line(self, out: list[str | Rejected]) -> None:
        line = bytes(self._line)
        self._line.clear()
        if self._discarding:
            self._discarding = False
            return
        if line:
            out.append(self._unwrap(line))

    def _unwrap(self, line: bytes) -> str | Rejected:
        head = line[:_HEAD_BYTES]
        if len(line) < len(self.prefix) + len(self.suffix):
            return Rejected("line shorter than the configured prefix and suffix", head)
        if not line.startswith(self.prefix):
            return Rejected(f"line does not start with the prefix {self.prefix!r}", head)
        if not line.endswith(self.suffix):
            return Rejected(f"line does not end with the suffix {self.suffix!r}", head)
        body = line[len(self.prefix) : len(line) - len(self.suffix)]
        if not body:
            return Rejected("line holds the prefix and suffix but no code", head)
        try:
            return body.decode(self.encoding)
        except UnicodeDecodeError as exc:
            return Rejected(
                f"byte {body[exc.start]:#04x} at position {exc.start} is not valid {self.encoding}",
                head,
            )


# ---------------------------------------------------------------------------------------
# HID keyboard wedge (Linux evdev key events)
# ---------------------------------------------------------------------------------------

# Event types and key codes from linux/input-event-codes.h (stable kernel ABI).
EV_SYN = 0x00
EV_KEY = 0x01
EV_MSC = 0x04

KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, KEY_6, KEY_7, KEY_8, KEY_9, KEY_0 = range(2, 12)
KEY_MINUS = 12
KEY_EQUAL = 13
KEY_TAB = 15
KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P = range(16, 26)
KEY_LEFTBRACE = 26
KEY_RIGHTBRACE = 27
KEY_ENTER = 28
KEY_LEFTCTRL = 29
KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L = range(30, 39)
KEY_SEMICOLON = 39
KEY_APOSTROPHE = 40
KEY_GRAVE = 41
KEY_LEFTSHIFT = 42
KEY_BACKSLASH = 43
KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M = range(44, 51)
KEY_COMMA = 51
KEY_DOT = 52
KEY_SLASH = 53
KEY_RIGHTSHIFT = 54
KEY_KPASTERISK = 55
KEY_LEFTALT = 56
KEY_SPACE = 57
KEY_CAPSLOCK = 58
KEY_KP7, KEY_KP8, KEY_KP9 = 71, 72, 73
KEY_KPMINUS = 74
KEY_KP4, KEY_KP5, KEY_KP6 = 75, 76, 77
KEY_KPPLUS = 78
KEY_KP1, KEY_KP2, KEY_KP3 = 79, 80, 81
KEY_KP0 = 82
KEY_KPDOT = 83
KEY_KPENTER = 96
KEY_RIGHTCTRL = 97
KEY_KPSLASH = 98
KEY_RIGHTALT = 100

_KEY_DOWN = 1

_LETTER_KEYS = {
    KEY_A: "a", KEY_B: "b", KEY_C: "c", KEY_D: "d", KEY_E: "e", KEY_F: "f", KEY_G: "g",
    KEY_H: "h", KEY_I: "i", KEY_J: "j", KEY_K: "k", KEY_L: "l", KEY_M: "m", KEY_N: "n",
    KEY_O: "o", KEY_P: "p", KEY_Q: "q", KEY_R: "r", KEY_S: "s", KEY_T: "t", KEY_U: "u",
    KEY_V: "v", KEY_W: "w", KEY_X: "x", KEY_Y: "y", KEY_Z: "z",
}  # fmt: skip

_SYMBOL_KEYS = {
    KEY_1: ("1", "!"), KEY_2: ("2", "@"), KEY_3: ("3", "#"), KEY_4: ("4", "$"),
    KEY_5: ("5", "%"), KEY_6: ("6", "^"), KEY_7: ("7", "&"), KEY_8: ("8", "*"),
    KEY_9: ("9", "("), KEY_0: ("0", ")"), KEY_MINUS: ("-", "_"), KEY_EQUAL: ("=", "+"),
    KEY_LEFTBRACE: ("[", "{"), KEY_RIGHTBRACE: ("]", "}"), KEY_SEMICOLON: (";", ":"),
    KEY_APOSTROPHE: ("'", '"'), KEY_GRAVE: ("`", "~"), KEY_BACKSLASH: ("\\", "|"),
    KEY_COMMA: (",", "<"), KEY_DOT: (".", ">"), KEY_SLASH: ("/", "?"),
    KEY_SPACE: (" ", " "), KEY_TAB: ("\t", "\t"),
    KEY_KP0: ("0", "0"), KEY_KP1: ("1", "1"), KEY_KP2: ("2", "2"), KEY_KP3: ("3", "3"),
    KEY_KP4: ("4", "4"), KEY_KP5: ("5", "5"), KEY_KP6: ("6", "6"), KEY_KP7: ("7", "7"),
    KEY_KP8: ("8", "8"), KEY_KP9: ("9", "9"), KEY_KPDOT: (".", "."),
    KEY_KPMINUS: ("-", "-"), KEY_KPPLUS: ("+", "+"), KEY_KPASTERISK: ("*", "*"),
    KEY_KPSLASH: ("/", "/"),
}  # fmt: skip

US_KEYMAP: Mapping[int, tuple[str, str]] = MappingProxyType(
    {**{k: (c, c.upper()) for k, c in _LETTER_KEYS.items()}, **_SYMBOL_KEYS}
)
"""Keycode -> (unshifted, shifted) character on the US layout."""

_SHIFT_KEYS = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
_CTRL_KEYS = frozenset({KEY_LEFTCTRL, KEY_RIGHTCTRL})
_ALT_KEYS = frozenset({KEY_LEFTALT, KEY_RIGHTALT})
_MODIFIER_KEYS = _SHIFT_KEYS | _CTRL_KEYS | _ALT_KEYS
_ENTER_KEYS = frozenset({KEY_ENTER, KEY_KPENTER})


class HidDecoder:
    """Turns a keyboard-wedge scanner's key events back into the codes it typed.

    Feed it every input event of the (grabbed) device as ``(type, code, value)``. Only
    ``EV_KEY`` matters; ``EV_SYN``/``EV_MSC`` are ignored. A key-down (value 1) of a
    character key adds its character (US layout, shift and caps lock applied); Enter or
    keypad Enter completes the code. Autorepeat (value 2) is ignored: a scanner never
    holds a key, so a repeat only means the host was slow and would double a digit.
    Ctrl plus ``@ A-Z [ \\ ] ^ _`` gives the ASCII control character (scanners send the
    GS1 separator GS as Ctrl+]); keys pressed while Alt is held and unmapped keys (F1,
    arrows...) are skipped.
    """

    def __init__(self, *, max_length: int = DEFAULT_MAX_LINE) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        self.max_length = max_length
        self.caps_lock = False
        self._held: set[int] = set()
        self._chars: list[str] = []
        self._discarding = False

    @property
    def pending(self) -> str:
        """What has been typed since the last Enter."""
        return "".join(self._chars)

    def feed(self, ev_type: int, code: int, value: int) -> str | Rejected | None:
        """One input event; returns a completed code (or a rejection) on Enter."""
        if ev_type != EV_KEY:
            return None
        if code in _MODIFIER_KEYS:
            self._track_modifier(code, value)
            return None
        if value != _KEY_DOWN:
            return None
        if code == KEY_CAPSLOCK:
            self.caps_lock = not self.caps_lock
            return None
        if code in _ENTER_KEYS:
            return self._complete()
        char = self._character(code)
        if char is not None:
            return self._add(char)
        return None

    def feed_events(self, events: Iterable[tuple[int, int, int]]) -> list[str | Rejected]:
        """Feed many events; return what they completed, in order."""
        results = (self.feed(*event) for event in events)
        return [r for r in results if r is not None]

    def _track_modifier(self, code: int, value: int) -> None:
        if value == _KEY_DOWN:
            self._held.add(code)
        elif value == 0:
            self._held.discard(code)

    def _character(self, code: int) -> str | None:
        pair = US_KEYMAP.get(code)
        if pair is None or self._held & _ALT_KEYS:
            return None
        shifted = bool(self._held & _SHIFT_KEYS)
        if code in _LETTER_KEYS and self.caps_lock:
            shifted = not shifted
        char = pair[1] if shifted else pair[0]
        if self._held & _CTRL_KEYS:
            return _control_character(char)
        return char

    def _add(self, char: str) -> Rejected | None:
        if self._discarding:
            return None
        self._chars.append(char)
        if len(self._chars) <= self.max_length:
            return None
        head = "".join(self._chars).encode()[:_HEAD_BYTES]
        self._chars.clear()
        self._discarding = True
        return Rejected(
            f"more than {self.max_length} characters without Enter; discarded up to the next Enter",
            head,
        )

    def _complete(self) -> str | None:
        code = "".join(self._chars)
        self._chars.clear()
        if self._discarding:
            self._discarding = False
            return None
        return code or None


def _control_character(char: str) -> str | None:
    """Ctrl+key as a terminal would send it: ``]`` -> GS (0x1D), ``a`` -> SOH."""
    upper = char.upper()
    if len(upper) == 1 and "@" <= upper <= "_":
        return chr(ord(upper) & 0x1F)
    return None


# ---------------------------------------------------------------------------------------
# GTIN check digits and classification
# ---------------------------------------------------------------------------------------


class GtinError(ValueError):
    """A code is not a valid GTIN. ``field`` names what is wrong, ``reason`` says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class GtinKind(enum.StrEnum):
    EAN8 = "ean8"
    UPCA = "upca"
    EAN13 = "ean13"
    GTIN14 = "gtin14"


class ScanKind(enum.StrEnum):
    """What a scanned code is, as far as the code itself tells."""

    EAN13 = "ean13"
    EAN8 = "ean8"
    UPCA = "upca"
    GTIN14 = "gtin14"
    OTHER = "other"


_GTIN_KIND_BY_LENGTH = {8: GtinKind.EAN8, 12: GtinKind.UPCA, 13: GtinKind.EAN13, 14: GtinKind.GTIN14}
_DIGITS_RE = re.compile(r"[0-9]+")


def _require_digits(text: str, field: str) -> None:
    for i, ch in enumerate(text):
        if not ("0" <= ch <= "9"):
            raise GtinError(field, f"character {ch!r} at position {i + 1} is not a digit")


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (a GTIN without its last digit).

    Weights 3, 1, 3, ... from the right, so the same function serves EAN-8 (7-digit
    body), UPC-A (11), EAN-13 (12), GTIN-14 (13) and longer GS1 keys.
    """
    if not body:
        raise GtinError("body", "is empty")
    _require_digits(body, "body")
    total = sum(int(ch) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(code: str) -> GtinKind:
    """Check a GTIN's length, digits and check digit; return which kind it is."""
    if len(code) not in _GTIN_KIND_BY_LENGTH:
        raise GtinError("length", f"{code!r} has {len(code)} characters; a GTIN has 8, 12, 13 or 14 digits")
    _require_digits(code, "digits")
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise GtinError(
            "check digit", f"{code!r} ends in {code[-1]}, but the check digit should be {expected}"
        )
    return _GTIN_KIND_BY_LENGTH[len(code)]


def classify(code: str) -> ScanKind:
    """EAN-13/EAN-8/UPC-A/GTIN-14 for a valid GTIN, OTHER for anything else.

    A digit string of GTIN length with a wrong check digit is OTHER: it is not a GTIN
    (it may be an internal number printed as Code 128), so it must not be looked up as one.
    """
    if not _DIGITS_RE.fullmatch(code):
        return ScanKind.OTHER
    try:
        return ScanKind(validate_gtin(code).value)
    except GtinError:
        return ScanKind.OTHER


# ---------------------------------------------------------------------------------------
# In-store (restricted circulation) price and weight codes
# ---------------------------------------------------------------------------------------


class MeasureKind(enum.StrEnum):
    PRICE = "price"
    WEIGHT = "weight"


class InStoreError(ValueError):
    """An in-store code does not fit its layout; ``field`` names the part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True, slots=True)
class ValueRule:
    """How to read the value digits: price in öre or weight in grams per unit of value."""

    kind: MeasureKind
    unit: int

    def __post_init__(self) -> None:
        if self.unit < 1:
            raise ValueError(f"unit must be a positive integer, got {self.unit}")


_SWEDISH_RULES = {
    "20": ValueRule(MeasureKind.PRICE, 1),  # kronor with two decimals: value is öre
    "21": ValueRule(MeasureKind.PRICE, 10),  # kronor with one decimal
    "22": ValueRule(MeasureKind.PRICE, 100),  # whole kronor
    "23": ValueRule(MeasureKind.WEIGHT, 1),  # kg with three decimals: value is grams
    "24": ValueRule(MeasureKind.WEIGHT, 10),  # kg with two decimals
    "25": ValueRule(MeasureKind.WEIGHT, 100),  # kg with one decimal
}


@dataclass(frozen=True)
class InStoreLayout:
    """Where an EAN-13 in-store code keeps its value (0-based digit positions).

    ``rules`` maps a two-digit prefix to how its value reads; prefixes not listed are not
    variable-measure codes. The digits between the prefix and the value (the verifier
    digit excluded) identify the article. ``verifier_position`` is the index of a GS1
    price/weight verifier digit (GS1 General Specifications 7.9.3) for layouts that have
    one; ``None`` for the Swedish layout, which has none.
    """

    rules: Mapping[str, ValueRule]
    value_start: int = 8
    value_length: int = 4
    verifier_position: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))
        for prefix in self.rules:
            if not re.fullmatch(r"2[0-9]", prefix):
                raise ValueError(f"prefix {prefix!r} is not an in-store prefix 20..29")
        if self.value_length not in (4, 5):
            raise ValueError(f"value_length must be 4 or 5, got {self.value_length}")
        if self.value_start < 3 or self.value_start + self.value_length > 12:
            raise ValueError("the value must lie between the prefix and the check digit")
        vp = self.verifier_position
        if vp is not None and not (2 <= vp < 12 and not self._in_value(vp)):
            raise ValueError("verifier_position must be an article position before digit 12")

    def _in_value(self, position: int) -> bool:
        return self.value_start <= position < self.value_start + self.value_length

    def article_positions(self) -> list[int]:
        """Digit positions that identify the article (prefix included)."""
        return [i for i in range(12) if not self._in_value(i) and i != self.verifier_position]


SWEDISH_IN_STORE = InStoreLayout(rules=_SWEDISH_RULES)
"""GS1 Sweden viktvarunummer: ``2X IIIIII VVVV C``.

``2X`` (X = 0..5) with the rest of the GS1 Variable Weight Prefix and the sequence number
make six item digits ``IIIIII``; ``VVVV`` is the value; ``C`` the ordinary EAN-13 check
digit; there is no price verifier digit. X says how to read VVVV: 0 = kronor with two
decimals, 1 = one decimal, 2 = whole kronor, 3 = kg with three decimals, 4 = two,
5 = one (source: GS1 Sweden, "Hur skapar jag mina viktvarunummer?"). Prefixes 26..29
are not variable-measure codes in Sweden and are looked up as they are.
"""


@dataclass(frozen=True, slots=True)
class InStoreCode:
    """A decoded in-store code.

    ``article_key`` is the code with the value (and any verifier) digits set to zero and
    the check digit recomputed, which is how GS1 Sweden says to store the article in the
    item register (as GTIN-14 with a leading 0: :attr:`article_gtin14`).
    """

    code: str
    article_key: str
    kind: MeasureKind
    price_ore: int | None = None
    weight_g: int | None = None

    @property
    def article_gtin14(self) -> str:
        return "0" + self.article_key


_TWO_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_THREE = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_FIVE_PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)
_FIVE_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def price_verifier_digit(value: str) -> int:
    """GS1 price/weight verifier digit for a 4- or 5-digit value (GS1 GenSpecs 7.9.3)."""
    _require_digits(value, "value")
    d = [int(ch) for ch in value]
    if len(d) == 4:
        total = _TWO_MINUS[d[0]] + _TWO_MINUS[d[1]] + _THREE[d[2]] + _FIVE_MINUS[d[3]]
        return total * 3 % 10
    if len(d) == 5:
        total = (
            _FIVE_PLUS[d[0]] + _TWO_MINUS[d[1]] + _FIVE_MINUS[d[2]]
            + _FIVE_PLUS[d[3]] + _TWO_MINUS[d[4]]
        )  # fmt: skip
        return _FIVE_MINUS.index((10 - total % 10) % 10)
    raise GtinError("value", f"{value!r} has {len(value)} digits; a verifier needs 4 or 5")


def decode_in_store(code: str, layout: InStoreLayout = SWEDISH_IN_STORE) -> InStoreCode | None:
    """Decode a variable-measure EAN-13; ``None`` if the code is not one under ``layout``.

    Raises :class:`GtinError` for a 13-digit code with a bad check digit and
    :class:`InStoreError` when a verifier digit does not match the value.
    """
    if len(code) != 13 or not _DIGITS_RE.fullmatch(code):
        return None
    rule = layout.rules.get(code[:2])
    if rule is None:
        return None
    validate_gtin(code)
    value_text = code[layout.value_start : layout.value_start + layout.value_length]
    if layout.verifier_position is not None:
        expected = price_verifier_digit(value_text)
        actual = int(code[layout.verifier_position])
        if actual != expected:
            raise InStoreError(
                "verifier digit",
                f"{code!r} has {actual} at position {layout.verifier_position + 1}, "
                f"but the value {value_text} needs {expected}",
            )
    value = int(value_text) * rule.unit
    return InStoreCode(
        code=code,
        article_key=_article_key(code, layout),
        kind=rule.kind,
        price_ore=value if rule.kind is MeasureKind.PRICE else None,
        weight_g=value if rule.kind is MeasureKind.WEIGHT else None,
    )


def _article_key(code: str, layout: InStoreLayout) -> str:
    keep = set(layout.article_positions())
    body = "".join(ch if i in keep else "0" for i, ch in enumerate(code[:12]))
    return body + str(gtin_check_digit(body))
