"""Reading and writing the elements of a document, each with its path for error messages."""

from __future__ import annotations

import enum
import re
from typing import TypeVar
from xml.etree import ElementTree as ET

from protocols.xccsp.faults import DataError, EnvelopeError

NAMESPACE = "http://www.retailinnovation.se/xccsp"


# Characters XML 1.0 text can carry, less CR (a parser turns a raw CR into LF).
_BAD_TEXT_RE = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DIGITS_RE = re.compile(r"^[0-9]{1,18}$")


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

E = TypeVar("E", bound=enum.IntEnum)


def local_name(tag: object) -> str | None:
    """An element's name if it is in our namespace or in none; else ``None``."""
    if not isinstance(tag, str):
        return None
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return local if namespace == NAMESPACE else None
    return tag


class Reader:
    """An element being read, with its path for error messages."""

    __slots__ = ("elem", "path")

    def __init__(self, elem: ET.Element, path: str) -> None:
        self.elem = elem
        self.path = path

    def _found(self, name: str) -> list[ET.Element]:
        return [child for child in self.elem if local_name(child.tag) == name]

    def one(self, name: str) -> Reader:
        found = self._found(name)
        path = f"{self.path}/{name}"
        if not found:
            raise DataError(path, "missing")
        if len(found) > 1:
            raise DataError(path, f"appears {len(found)} times; expected once")
        return Reader(found[0], path)

    def many(self, name: str) -> list[Reader]:
        return [Reader(elem, f"{self.path}/{name}[{i}]") for i, elem in enumerate(self._found(name), start=1)]

    def value(self) -> str:
        if len(self.elem):
            raise DataError(self.path, "has child elements where a value is expected")
        return self.elem.text or ""

    def text(self, name: str, *, required: bool = False) -> str:
        node = self.one(name)
        value = node.value()
        if required and not value:
            raise DataError(node.path, "must not be empty")
        return value

    def optional_text(self, name: str) -> str:
        return self.text(name) if self._found(name) else ""

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        """An integer that may be missing or empty (``None``)."""
        if not self._found(name) or not self.one(name).value().strip():
            return None
        return self.integer(name, low, high)

    def wrapper(self, name: str, root_name: str) -> Reader:
        """The one element ``data`` wraps a message's fields in (``Receipt``, ``Status``, …)."""
        found = self._found(name)
        if len(found) != 1:
            others = [str(local_name(c.tag) or c.tag) for c in self.elem]
            held = f"holds {', '.join(f'<{o}>' for o in others)}" if others else "is empty"
            count = "no" if not found else f"{len(found)} times"
            raise EnvelopeError(f"{root_name}/data", f"{count} <{name}>, expected one; it {held}")
        return Reader(found[0], self.path)

    def integer(self, name: str, low: int, high: int) -> int:
        node = self.one(name)
        text = node.value().strip()  # a number padded by a pretty-printer is still that number
        if not _DIGITS_RE.match(text):
            raise DataError(node.path, f"{text!r} is not a decimal integer")
        value = int(text)
        if not low <= value <= high:
            raise DataError(node.path, f"{value} is outside {low}..{high}")
        return value

    def boolean(self, name: str) -> bool:
        node = self.one(name)
        text = node.value()
        value = _BOOLEANS.get(text.strip().lower())
        if value is None:
            raise DataError(node.path, f"{text!r} is not a boolean (1 or 0)")
        return value

    def enum(self, name: str, kind: type[E]) -> E:
        value = self.integer(name, 0, 999)
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(f"{m.value} {m.name}" for m in kind)
            raise DataError(
                f"{self.path}/{name}", f"{value} is not a known {kind.__name__} ({known})"
            ) from None


class Writer:
    """An element being written, with its path for error messages."""

    __slots__ = ("elem", "path")

    def __init__(self, elem: ET.Element, path: str) -> None:
        self.elem = elem
        self.path = path

    def child(self, name: str, index: int | None = None) -> Writer:
        path = f"{self.path}/{name}" if index is None else f"{self.path}/{name}[{index}]"
        return Writer(ET.SubElement(self.elem, name), path)

    def text(self, name: str, value: str, *, required: bool = False) -> None:
        path = f"{self.path}/{name}"
        if not isinstance(value, str):
            raise DataError(path, f"must be text, got {value!r}")
        if required and not value:
            raise DataError(path, "must not be empty")
        bad = _BAD_TEXT_RE.search(value)
        if bad is not None:
            raise DataError(path, f"{value!r} holds {bad.group()!r}, which XML text cannot carry")
        ET.SubElement(self.elem, name).text = value

    def integer(self, name: str, value: int, low: int, high: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DataError(f"{self.path}/{name}", f"{value!r} is not an integer in {low}..{high}")
        self.text(name, str(int(value)))

    def boolean(self, name: str, value: bool) -> None:
        if not isinstance(value, bool):
            raise DataError(f"{self.path}/{name}", f"{value!r} is not True or False")
        self.text(name, "1" if value else "0")  # as every known client writes IsNewSession

    def enum(self, name: str, kind: type[E], value: E) -> None:
        try:
            member = kind(value)
        except ValueError:
            raise DataError(f"{self.path}/{name}", f"{value!r} is not a {kind.__name__}") from None
        self.text(name, str(member.value))
