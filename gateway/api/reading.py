"""Reading a request and writing the answer: the JSON body, its fields and the query's
parameters, each refused with a 4xx that names it; JSON out in UTF-8.

Every route module reads its requests with these, so that the same mistake gets the
same words on every endpoint (docs/api.md, "Errors").
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.api.text_check import check_text, refuse_bad_text

__all__ = ["MAX_NAME", "flag", "json_answer", "name_field", "only_fields", "query_text", "read_body"]

MAX_NAME = 60  # cashier and article fields of POS events: as long as a receipt's texts

_dumps = functools.partial(json.dumps, ensure_ascii=False)
_WHOLE_DIGITS = 18  # a whole number written as 2316.0 is taken as one up to this many digits


def json_number(text: str) -> int | float:
    """A JSON number written with a fraction or an exponent (``2316.0``, ``1e3``).

    JSON has one kind of number, and JSON Schema counts ``2316.0`` as the integer 2316: a
    whole number written so is taken as that whole number, as the OpenAPI document says.
    Any other (``22.5``) stays a float, which every amount and quantity refuses (a float
    cannot hold öre exactly). Past 18 digits it stays a float too: no field takes it, and
    an exponent of a million digits is not worth writing out.
    """
    value = Decimal(text)
    if value.is_finite() and value == value.to_integral_value() and value.adjusted() < _WHOLE_DIGITS:
        return int(value)
    return float(text)


def json_answer(data: dict[str, Any], status: int = 200) -> web.Response:
    """``data`` as the JSON answer, text as it is (not \\u-escaped)."""
    return web.json_response(data, status=status, dumps=_dumps)


async def read_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one; 413 past the size limit)."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, "bad_json", "the body is empty; send a JSON object")
    try:
        value = json.loads(raw, parse_float=json_number)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
        detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "it cannot be decoded"
        raise ApiError(400, "bad_json", f"the body is not JSON: {detail}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", f"the body must be a JSON object, not {_json_type(value)}")
    refuse_bad_text(value)  # a lone surrogate or a control character in any text: 422 naming it
    return value


def _json_type(value: Any) -> str:
    match value:
        case list():
            return "an array"
        case str():
            return "a string"
        case bool():
            return "true or false"
        case int() | float():
            return "a number"
        case None:
            return "null"
    return type(value).__name__  # pragma: no cover - json.loads makes nothing else


def only_fields(body: dict[str, Any], allowed: set[str]) -> None:
    """A 422 naming the first field of ``body`` that is not one of ``allowed``."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            422, "invalid", f"is not a field of this request ({', '.join(sorted(allowed))})", unknown[0]
        )


def name_field(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    """A cashier's or an article's name or number: one line of printable text, at most ``MAX_NAME``."""
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(422, "invalid", "is missing", key)
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid", f"must be a non-empty string, got {value!r}", key)
    if len(value) > MAX_NAME:
        raise ApiError(422, "invalid", f"is {len(value)} characters; at most {MAX_NAME}", key)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ApiError(422, "invalid", "holds a control character", key)
    return value


def flag(request: web.Request, key: str) -> bool:
    """``?key=true|false`` (also 1/0, yes/no; absent: false)."""
    value = request.query.get(key, "false").lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ApiError(400, "bad_request", f"?{key}= must be true or false, got {value!r}", key)


def query_text(request: web.Request, key: str, limit: int) -> str | None:
    """``?key=``: None when absent; a 400 when empty, longer than ``limit`` or not plain text."""
    value = request.query.get(key)
    if value is None:
        return None
    if not value.strip():
        raise ApiError(400, "bad_request", f"?{key}= is empty", key)
    if len(value) > limit:
        raise ApiError(400, "bad_request", f"?{key}= is {len(value)} characters; at most {limit}", key)
    reason = check_text(value)
    if reason is not None:
        raise ApiError(400, "bad_request", f"?{key}= {reason}", key)
    return value
