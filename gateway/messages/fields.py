"""Reading our messages: the one JSON object of a schema, its fields, and topic levels.

Every decoder in :mod:`gateway.bus` (bus messages and acks, the catalog, orders, the sync
status) reads what it is handed with these, so a message that is not ours fails the
same way everywhere: a :class:`MessageError` that says what is wrong, and for a field
a :class:`FieldError` that names it (``items[3].vat_rate``, ``lines[1].quantity``, or
the key alone for a top-level field: ``request_id``).

Only decoding lives here; each message's own ``to_bytes`` writes its wire format.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.receipts.vat import VAT_RATES

__all__ = [
    "NUMBER_RE",
    "FieldError",
    "FieldReader",
    "MessageError",
    "json_object",
    "of_schema",
    "validate_topic_level",
]

NUMBER_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,50}$")  # an ERP's number: no control characters

_LEVEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class MessageError(ValueError):
    """A message that is not one of ours; ``str()`` says what is wrong with it."""


class FieldError(MessageError):
    """A field that is wrong: ``field`` names it, ``message`` says what is wrong;
    ``str()`` is ``"{field}: {message}"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_topic_level(value: str, what: str) -> str:
    """A topic level of ours: letters, digits, ``.``, ``_``, ``-`` (never ``/``, ``+``, ``#``)."""
    if not _LEVEL_RE.match(value):
        raise MessageError(
            f"{what} {value!r} must be 1-64 letters, digits, '.', '_' or '-' to be a topic level"
        )
    return value


def json_object(data: bytes) -> dict[str, Any]:
    """The JSON object ``data`` holds (UTF-8); :class:`MessageError` when it holds none."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested too deep
        raise MessageError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MessageError("not a JSON object")
    return obj


def of_schema(data: bytes, schema: str) -> dict[str, Any]:
    """The JSON object ``data`` holds, whose ``schema`` is ``schema``."""
    obj = json_object(data)
    if obj.get("schema") != schema:
        raise MessageError(f"schema {obj.get('schema')!r} is not {schema!r}")
    return obj


class FieldReader:
    """Field readers that raise ``error`` (:class:`FieldError` or a subclass of it) naming the field.

    ``where`` is the path of the object read (``"update"``, ``"items[3]"``); an empty
    ``where`` names a top-level field by its key alone. ``number`` is the pattern of an
    ERP's number (article, customer, order) in the messages read.
    """

    def __init__(self, error: type[FieldError] = FieldError, number: re.Pattern[str] = NUMBER_RE) -> None:
        self.error = error
        self.number_re = number

    def fail(self, where: str, key: str, message: str) -> FieldError:
        return self.error(f"{where}.{key}" if where else key, message)

    def object(self, obj: Any, where: str) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.error(where, "not a JSON object")
        return obj

    def integer(self, obj: dict[str, Any], key: str, where: str) -> int:
        value = obj.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(where, key, "missing or not an integer")
        return value

    def amount(self, obj: dict[str, Any], key: str, where: str) -> int:
        """An amount in öre that is not negative."""
        value = self.integer(obj, key, where)
        if value < 0:
            raise self.fail(where, key, f"{value} is negative")
        return value

    def vat_rate(self, obj: dict[str, Any], where: str) -> int:
        """``vat_rate``: 2500, 1200, 600 or 0 (hundredths of a percent)."""
        value = self.integer(obj, "vat_rate", where)
        if value not in VAT_RATES:
            raise self.fail(where, "vat_rate", f"{value} is not one of {VAT_RATES}")
        return value

    def boolean(self, obj: dict[str, Any], key: str, where: str) -> bool:
        """True or false; false when the field is not there."""
        value = obj.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(where, key, "not true or false")
        return value

    def text(self, obj: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = obj.get(key, default)
        if not isinstance(value, str):
            raise self.fail(where, key, "missing or not text")
        return value

    def optional_text(self, obj: dict[str, Any], key: str, where: str) -> str | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(where, key, "not text")
        return value

    def number(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = self.text(obj, key, where)
        if not self.number_re.match(value):
            raise self.fail(where, key, f"{value!r} is not 1-50 characters without control characters")
        return value
