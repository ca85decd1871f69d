"""USB HID (keyboard-wedge) scanners: :class:`HidDecoder` turns the key events the
gateway reads with evdev back into the text the scanner typed.

Keyboard layout
    :class:`HidDecoder` assumes the scanner is configured for the **US keyboard layout**
    (the factory default of practically every scanner). A scanner set to the Swedish
    layout presses other keys for most punctuation (``/``, ``:``, ``;``, ``-`` ...), and
    decoding those as US would silently change a Code 128 payload, so set the scanner to
    US. Keypad keys are read as digits regardless of NumLock, since scanners that use the
    keypad always mean digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from protocols.scanner.rejected import DEFAULT_MAX_LINE, HEAD_BYTES, Rejected

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
        head = "".join(self._chars).encode()[:HEAD_BYTES]
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
