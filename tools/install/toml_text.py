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
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(json.dumps(item, ensure_ascii=False) for item in value) + "]"


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
