"""TOML values written by hand, so that the file ``tillgw init`` writes can carry a comment
on every line (no TOML library writes comments).

Strings are TOML basic strings: the escapes JSON uses for ``"``, ``\\`` and control
characters are TOML's too, and every other character (å, ä, ö) is written as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["Line", "comment_block", "toml_value"]

Value = str | int | float | bool | Sequence[str]


def toml_value(value: Value) -> str:
    """``value`` as TOML writes it on the right of ``=``."""
    if isinstance(value, bool):  # before int: a bool is an int to Python
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    return "[" + ", ".join(_string(item) for item in value) + "]"


def _string(text: str) -> str:
    """A TOML basic string; ValueError for text no file can hold (a byte the terminal or the
    command line could not read as UTF-8 arrives as a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{text!r} is not valid text: retype it (the terminal sent bytes that are not UTF-8)"
        ) from None
    # JSON leaves DEL as it is, and TOML wants every control character but tab escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


class Line:
    """``key = value`` with its comment, or the key commented out when there is no value
    (a setting shown, explained and left at its default)."""

    def __init__(self, key: str, value: Value | None, comment: str, *, example: Value | None = None) -> None:
        self.key = key
        self.value = value
        self.comment = comment
        self.example = example

    def render(self, width: int) -> str:
        if self.value is not None:
            text = f"{self.key} = {toml_value(self.value)}"
        else:
            shown = "…" if self.example is None else toml_value(self.example)
            text = f"# {self.key} = {shown}"
        return f"{text.ljust(width)}  # {self.comment}" if self.comment else text


def comment_block(text: str) -> str:
    """Each line of ``text`` as a TOML comment."""
    return "\n".join(f"# {line}".rstrip() for line in text.strip("\n").splitlines())
