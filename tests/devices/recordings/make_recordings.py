"""Writes the keyboard-wedge recordings in this directory (run it to regenerate them).

    .venv/bin/python tests/devices/recordings/make_recordings.py

The events are what Linux's hid-input driver delivers for a USB HID keyboard (and so for
a scanner in keyboard mode), as ``evtest`` shows them: for every report, an
``EV_MSC/MSC_SCAN`` with the HID usage and an ``EV_KEY`` for each key that changed
(modifiers first), then ``EV_SYN/SYN_REPORT``; a key the host sees held past the
autorepeat delay (250 ms) gets ``EV_KEY`` value 2 events from the kernel, every 33 ms,
each followed by a ``SYN_REPORT`` and no ``MSC_SCAN``. Timestamps advance 1-2 ms per
report, the pace of a scanner typing. Each line is ``[sec, usec, type, code, value]``.

These were synthesised from that format, not captured from a device (there is no
hardware on the build machines); a capture from a real scanner in the same format can
be dropped in beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

from protocols.scanner import EV_KEY, EV_MSC, EV_SYN, US_KEYMAP

HERE = Path(__file__).resolve().parent
MSC_SCAN = 4
SYN_REPORT = 0
KEY_ENTER, KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_RIGHTBRACE = 28, 29, 42, 54, 27
KEY_KPENTER = 96
KEYPAD_DIGITS = {"0": 82, "1": 79, "2": 80, "3": 81, "4": 75, "5": 76, "6": 77, "7": 71, "8": 72, "9": 73}

# evdev key code -> HID usage (page 7), for the keys these recordings press.
_LETTER_USAGE = {
    code: 0x04 + ord(pair[0]) - ord("a") for code, pair in US_KEYMAP.items() if pair[0].isalpha()
}
USAGE = {
    **_LETTER_USAGE,
    **{code: 0x1E + i for i, code in enumerate(range(2, 11))},  # KEY_1..KEY_9
    11: 0x27,  # KEY_0
    KEY_ENTER: 0x28,
    12: 0x2D,  # KEY_MINUS
    KEY_RIGHTBRACE: 0x30,
    39: 0x33,  # KEY_SEMICOLON
    53: 0x38,  # KEY_SLASH
    KEY_KPENTER: 0x58,
    **{code: 0x59 + int(d) - 1 for d, code in KEYPAD_DIGITS.items() if d != "0"},
    KEYPAD_DIGITS["0"]: 0x62,
    KEY_LEFTCTRL: 0xE0,
    KEY_LEFTSHIFT: 0xE1,
    KEY_RIGHTSHIFT: 0xE5,
}


def key_for(char: str) -> tuple[int, bool]:
    """(key code, shifted) that types ``char`` on the US layout, main block preferred."""
    for code, (plain, shifted) in sorted(US_KEYMAP.items()):
        if code >= 71:
            continue  # keypad
        if char == plain:
            return code, False
        if char == shifted:
            return code, True
    raise ValueError(f"{char!r} cannot be typed on the US layout")


class Recorder:
    def __init__(self, sec: int) -> None:
        self.usec_total = sec * 1_000_000
        self.events: list[list[int]] = []

    def wait(self, usec: int) -> None:
        self.usec_total += usec

    def _emit(self, ev_type: int, code: int, value: int) -> None:
        sec, usec = divmod(self.usec_total, 1_000_000)
        self.events.append([sec, usec, ev_type, code, value])

    def report(self, changes: list[tuple[int, int]], pause: int = 1500) -> None:
        """One HID report: (key code, 1 down / 0 up) for each key that changed."""
        for code, value in changes:
            self._emit(EV_MSC, MSC_SCAN, 0x70000 | USAGE[code])
            self._emit(EV_KEY, code, value)
        self._emit(EV_SYN, SYN_REPORT, 0)
        self.wait(pause)

    def autorepeat(self, code: int) -> None:
        self._emit(EV_KEY, code, 2)
        self._emit(EV_SYN, SYN_REPORT, 0)

    def tap(self, code: int, modifier: int | None = None) -> None:
        held = [(modifier, 1)] if modifier is not None else []
        released = [(modifier, 0)] if modifier is not None else []
        self.report([*held, (code, 1)])
        self.report([*released, (code, 0)])

    def type(self, text: str, *, shift: int = KEY_LEFTSHIFT, enter: bool = True) -> None:
        for char in text:
            if char == "\x1d":
                self.tap(KEY_RIGHTBRACE, KEY_LEFTCTRL)  # GS, the GS1 separator
                continue
            code, shifted = key_for(char)
            self.tap(code, shift if shifted else None)
        if enter:
            self.tap(KEY_ENTER)

    def type_keypad(self, digits: str) -> None:
        for digit in digits:
            self.tap(KEYPAD_DIGITS[digit])
        self.tap(KEY_KPENTER)

    def write(self, name: str) -> None:
        lines = [json.dumps(event) for event in self.events]
        (HERE / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def wedge_scans() -> Recorder:
    rec = Recorder(1_763_726_400)  # 2025-11-21 12:00:00 UTC
    rec.type("7310865004703")  # EAN-13 on the main digit row
    rec.wait(800_000)
    rec.type_keypad("2388060103489")  # in-store weight code, 348 g, on the keypad
    rec.wait(800_000)
    rec.type("LOT:A7-B_9")  # Code 128 text: left shift for capitals, ':' and '_'
    rec.wait(800_000)
    rec.type("SKU/X", shift=KEY_RIGHTSHIFT)  # right shift this time
    rec.wait(800_000)
    rec.type("010731086500470310LOT42\x1d17261231")  # GS1-128: (01)(10) GS (17)
    rec.wait(800_000)
    # EAN-8 96385074 whose '5' the host saw held: two autorepeats that must not double the digit.
    rec.type("9638", enter=False)
    code, _ = key_for("5")
    rec.report([(code, 1)], pause=250_000)
    rec.autorepeat(code)
    rec.wait(33_000)
    rec.autorepeat(code)
    rec.wait(10_000)
    rec.report([(code, 0)])
    rec.type("074")
    rec.wait(800_000)
    rec.type("7310865004704")  # a misread: wrong check digit
    return rec


def wedge_unplug() -> Recorder:
    rec = Recorder(1_763_727_000)
    rec.type("7350053850019")
    rec.wait(1_200_000)
    rec.type("400638", enter=False)  # the cable is pulled here, halfway through 4006381333931
    return rec


if __name__ == "__main__":
    wedge_scans().write("wedge-scans.jsonl")
    wedge_unplug().write("wedge-unplug.jsonl")
