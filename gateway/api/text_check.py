"""Every string a request carries is text a person or a printer can take.

A JSON body may spell a *lone surrogate* (``"\\ud800"``): half of a UTF-16 pair, which
is not a character and cannot be written as UTF-8 — the journal, the printer and the
bus would fail on it long after the request was accepted. A *control character*
(``\\n``, ``\\t``, ESC, the C1 range U+0080–U+009F) in a name or a line text would
break the receipt's layout or speak to the printer. Both are refused at the door, in
every text of every body, naming the field in the API's form (``lines[2].text``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from gateway.api.errors import ApiError

__all__ = ["check_text", "refuse_bad_text"]


def check_text(text: str) -> str | None:
    """Why ``text`` is refused (in words), or None when it is plain text."""
    for c in text:
        kind = unicodedata.category(c)
        if kind == "Cs":
            return f"holds U+{ord(c):04X}, half of a UTF-16 pair and not a character; send text as UTF-8"
        if kind == "Cc":
            return f"holds the control character U+{ord(c):04X}; only printable text is taken"
    return None


def refuse_bad_text(value: Any, where: str = "") -> None:
    """Raise a 422 naming the first string in ``value`` (a parsed JSON body) that is not plain text."""
    if isinstance(value, str):
        reason = check_text(value)
        if reason is not None:
            raise ApiError(422, "invalid", reason, where or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if check_text(key) is not None:
                # A bad key cannot be shown as it is; the object it is in is named.
                raise ApiError(422, "invalid", f"has a field name that {check_text(key)}", where or "body")
            refuse_bad_text(item, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refuse_bad_text(item, f"{where}[{i}]")
