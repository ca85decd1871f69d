"""The SKV export's XML as text: the namespaces, the value formats (reference §3), the writer.

Elements are written as they come (:class:`XmlWriter`), so the export streams; a text is
cut to the schema's :data:`MAX_TEXT` characters and loses what XML cannot hold.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TextIO
from xml.sax.saxutils import escape

__all__ = [
    "INSTANS_NS",
    "KOMPONENT_NS",
    "MAX_TEXT",
    "ROOT",
    "XmlWriter",
    "decimal_text",
    "orgnr_digits",
    "rate_text",
    "timestamp",
]

ROOT = "ExportAvDataFranJournalminneEnligtSKVFS2021-16"
INSTANS_NS = "http://xmls.skatteverket.se/se/skatteverket/td/instans/utredningsstod/1.0"
KOMPONENT_NS = "http://xmls.skatteverket.se/se/skatteverket/td/komponent/utredningsstod/1.0"
MAX_TEXT = 72  # the schema's text elements hold at most 72 characters
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- value formats (reference §3) --------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss``: local time, no fractions, no offset."""
    return moment.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S")


def decimal_text(value: Decimal) -> str:
    """Rounded to 2 decimals (halves away from zero), a dot, no trailing zeros: ``1234.5``, ``25``."""
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def rate_text(rate: int) -> str:
    """A VAT rate in hundredths of a percent as percent: ``2500`` -> ``25``."""
    return decimal_text(Decimal(rate) / 100)


def orgnr_digits(orgnr: str) -> str:
    return orgnr.replace("-", "").replace(" ", "")


# -- the XML writer ------------------------------------------------------------------------


class XmlWriter:
    """Elements written as they come: the root in the instans namespace, all else in komponent."""

    def __init__(self, out: TextIO, depth: int = 0) -> None:
        self.out = out
        self.depth = depth

    def open(self, name: str) -> None:
        self.out.write(f"{'  ' * self.depth}<utreko:{name}>\n")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.out.write(f"{'  ' * self.depth}</utreko:{name}>\n")

    def leaf(self, name: str, value: str) -> None:
        text = value[:MAX_TEXT] if value.isalnum() else escape(_XML_ILLEGAL.sub("", value)[:MAX_TEXT])
        self.out.write(f"{'  ' * self.depth}<utreko:{name}>{text}</utreko:{name}>\n")

    def comment(self, words: str) -> None:
        """An XML comment: what the format has no element for, at its place. ``--`` cannot be in one."""
        text = _XML_ILLEGAL.sub("", words).replace("--", "–").rstrip("-")
        self.out.write(f"{'  ' * self.depth}<!-- {text} -->\n")

    def optional(self, name: str, value: str | None) -> None:
        """Left out when empty: the schema has no empty elements."""
        if value is not None and value.strip():
            self.leaf(name, value)
