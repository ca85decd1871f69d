"""Text as printer bytes: the character code tables (``ESC t n``) and what to do with a
character a table cannot carry.

Text from an article name must never smuggle in a command, so every control character
but the line feed is refused (or replaced).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType

from protocols.escpos.ascii import LF
from protocols.escpos.errors import EscPosError


class CodeTable(enum.IntEnum):
    """``ESC t n`` values of the code tables that carry å ä ö Å Ä Ö é.

    These are the Epson numbers, which most ESC/POS printers follow, but **the mapping
    varies by model** (some clones number their tables differently, some lack WPC1252):
    check the printer's self-test page, which lists its tables with their ``n``.
    """

    CP437 = 0
    CP850 = 2
    CP865 = 5
    WPC1252 = 16
    CP858 = 19

    @property
    def codec(self) -> str:
        """The Python codec for the table."""
        return _CODECS[self]


CODE_TABLE_NAMES: Mapping[str, CodeTable] = MappingProxyType(
    {table.name.lower(): table for table in CodeTable}
)
"""The tables by the names a configuration or a command line gives them: ``cp858``, ``wpc1252`` …"""

_CODECS: Mapping[CodeTable, str] = MappingProxyType(
    {
        CodeTable.CP437: "cp437",
        CodeTable.CP850: "cp850",
        CodeTable.CP865: "cp865",
        CodeTable.WPC1252: "cp1252",
        CodeTable.CP858: "cp858",
    }
)


class EncodePolicy(enum.StrEnum):
    """What :func:`encode_text` does with a character the code table cannot carry.

    ``STRICT`` raises :class:`UnencodableCharacterError`; ``REPLACE`` uses a close ASCII
    look-alike when there is one (``–`` -> ``-``, ``€`` -> ``EUR``, curly quotes ->
    straight) and the replacement character otherwise.
    """

    STRICT = "strict"
    REPLACE = "replace"


class UnencodableCharacterError(EscPosError):
    """``char`` at ``position`` has no code in ``table``."""

    def __init__(self, char: str, position: int, table: CodeTable) -> None:
        what = "control character" if _is_control(char) else "character"
        super().__init__(
            "text",
            f"{what} {char!r} (U+{ord(char):04X}) at position {position} cannot be "
            f"printed with code table {table.name}",
        )
        self.char = char
        self.position = position
        self.table = table


_LOOKALIKES: Mapping[str, str] = MappingProxyType(
    {
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
        "\u201e": '"', "\u2026": "...", "\u20ac": "EUR", "\u00a0": " ", "\u2022": "*",
        "\u00d7": "x", "\t": " ",
    }
)  # fmt: skip


_CONTROL_TEXT_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def encode_text(
    text: str,
    table: CodeTable,
    *,
    policy: EncodePolicy = EncodePolicy.STRICT,
    replacement: str = "?",
) -> bytes:
    """Text as printer bytes in ``table`` (select the same table with ESC t first).

    ``"\\n"`` becomes LF (print and feed one line). Every other control character is
    refused (or replaced): text from an article name must never be able to smuggle in an
    ESC or GS command, such as a drawer kick.
    """
    table = CodeTable(table)
    if not _CONTROL_TEXT_RE.search(text):
        try:
            return text.encode(table.codec)
        except UnicodeEncodeError:
            pass  # find the character (and apply the policy) below
    out = bytearray()
    for position, char in enumerate(text):
        if char == "\n":
            out.append(LF)
        else:
            out += _encode_char(char, position, table, policy, replacement)
    return bytes(out)


def _encode_char(char: str, position: int, table: CodeTable, policy: EncodePolicy, replacement: str) -> bytes:
    if not _is_control(char):
        try:
            return char.encode(table.codec)
        except UnicodeEncodeError:
            pass
    if policy is EncodePolicy.STRICT:
        raise UnencodableCharacterError(char, position, table)
    for candidate in (_LOOKALIKES.get(char), replacement):
        if candidate is not None:
            try:
                encoded = candidate.encode(table.codec)
            except UnicodeEncodeError:
                continue
            if not any(b < 0x20 or b == 0x7F for b in encoded):
                return encoded
    raise EscPosError("replacement", f"{replacement!r} cannot be printed with {table.name}")


def decode_text(data: bytes, table: CodeTable) -> str:
    """Printer bytes back to text (for the simulator's rendering); undefined bytes -> U+FFFD."""
    return data.decode(CodeTable(table).codec, errors="replace")
