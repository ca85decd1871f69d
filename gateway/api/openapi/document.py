"""The OpenAPI 3.1 document of the till's API, built from :data:`OPERATIONS` and the Structs
of :mod:`~gateway.api.openapi.requests` and :mod:`~gateway.api.openapi.answers`, and
served at ``GET /v1/openapi.json`` without the token.

Every schema is a component (``#/components/schemas/…``) made by
:func:`msgspec.json.schema_components` from the Structs, so a field is described once
whatever its number of uses. ``docs/openapi.json`` is a copy of :func:`document_text`
(``tillgw openapi --output docs/openapi.json`` writes it; a test checks the two agree).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import msgspec
from aiohttp import web

from gateway.api.auth import OPENAPI_PATH
from gateway.api.openapi.answers import ErrorAnswer
from gateway.api.openapi.operations import JSON, OPERATIONS, AllOf, Answer, OneOf, Operation

__all__ = ["add_openapi_route", "document_text", "openapi_document"]

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"  # the /v1 of every path: a change a POS must follow gets /v2
REF_PREFIX = "#/components/schemas/"
REF_TEMPLATE = REF_PREFIX + "{name}"
_TEXT_MONEY = "_str_"

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "token": [{"bearerToken": []}],
    "read": [{"bearerToken": []}, {"statusPageSession": []}],
    "events": [{"bearerToken": []}, {"eventsToken": []}, {"statusPageSession": []}],
    "public": [],
}
_SECURITY_SCHEMES = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The till's token, from <data-dir>/api-token: Authorization: Bearer <token>",
    },
    "eventsToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The event stream only: browsers cannot set a header on a WebSocket",
    },
    "statusPageSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "tillgw_session",
        "description": (
            "The status page's session (POST /login): GET requests only, from the till's own pages"
        ),
    },
}
_UNAUTHORIZED = Answer("unauthorized: no token, or not the till's token", ErrorAnswer)


def _structs(body: Any) -> list[Any]:
    if body is None:
        return []
    if isinstance(body, AllOf):
        return list(body.parts)
    if isinstance(body, OneOf):
        return list(body.choices)
    return [body]


def _all_types() -> list[Any]:
    """Every type the document describes, once each, in the order the operations name them."""
    found: list[Any] = [ErrorAnswer]
    for operation in OPERATIONS:
        for kind in [
            *_structs(operation.body),
            *(t for a in operation.answers.values() for t in _structs(a.body)),
        ]:
            if kind not in found:
                found.append(kind)
    return found


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every ``$ref`` to a component of ``names`` pointing at its new name."""
    if isinstance(value, dict):
        out = {key: _renamed(item, names) for key, item in value.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX) and ref[len(REF_PREFIX) :] in names:
            out["$ref"] = REF_PREFIX + names[ref[len(REF_PREFIX) :]]
        return out
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


class _Schemas:
    """The components, and the schema (a ``$ref``, or a union of them) of each type."""

    def __init__(self) -> None:
        types = _all_types()
        refs, components = msgspec.json.schema_components(types, ref_template=REF_TEMPLATE)
        # A report's Structs are generic over how they write money: the API's are those
        # written as text (``ReportBody[str]``, named ``ReportBody_str_`` by msgspec), the
        # only ones here, so they keep their plain names.
        names = {name: name.removesuffix(_TEXT_MONEY) for name in components if name.endswith(_TEXT_MONEY)}
        self.components = {
            names.get(name, name): _renamed(schema, names) for name, schema in components.items()
        }
        self._of = {kind: _renamed(ref, names) for kind, ref in zip(types, refs, strict=True)}

    def of(self, body: Any) -> dict[str, Any]:
        if isinstance(body, AllOf):
            return {"allOf": [self._of[part] for part in body.parts]}
        if isinstance(body, OneOf):
            return {"oneOf": [self._of[choice] for choice in body.choices]}
        schema: dict[str, Any] = self._of[body]
        return schema


def _answer(answer: Answer, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        out["headers"] = {
            name: {"description": words, "schema": {"type": "string"}}
            for name, words in answer.headers.items()
        }
    if answer.content_type is None:
        return out  # a redirect, a WebSocket's handshake: no body
    if answer.body is not None:
        schema = schemas.of(answer.body)
    else:
        schema = {"type": "object"} if answer.content_type == JSON else {"type": "string"}
    out["content"] = {answer.content_type: {"schema": schema}}
    return out


def _operation(operation: Operation, schemas: _Schemas) -> dict[str, Any]:
    answers = dict(operation.answers)
    if operation.access != "public":
        answers[401] = _UNAUTHORIZED
    out: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "description": operation.description,
        "security": _SECURITY[operation.access],
    }
    if operation.parameters:
        out["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "description": p.description,
                "schema": dict(p.schema),
            }
            for p in operation.parameters
        ]
    if operation.body is not None:
        out["requestBody"] = {
            "required": operation.body_required,
            "content": {operation.body_content_type: {"schema": schemas.of(operation.body)}},
        }
    out["responses"] = {str(status): _answer(answers[status], schemas) for status in sorted(answers)}
    return out


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document (built once: it is the same for every till)."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "tillgateway: the till's HTTP API",
            "version": API_VERSION,
            "description": (
                "The POS's API on the till (docs/api.md): receipts, copies, parked sales, the drawer, "
                "the POS's events, X and Z reports, the status, the catalog and orders. Every error is "
                '{"error": {"code", "message", "field"}}. Money is a decimal string ("125.00").'
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "[api].listen's default"}],
        "security": _SECURITY["token"],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": _SECURITY_SCHEMES},
    }


def document_text() -> str:
    """The document as ``docs/openapi.json`` keeps it: indented, UTF-8, one newline at the end."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


async def _serve(request: web.Request) -> web.Response:
    return web.Response(text=document_text(), content_type=JSON, charset="utf-8")


def add_openapi_route(app: web.Application) -> None:
    """``GET /v1/openapi.json`` on ``app`` (public: gateway.api.auth lets it through)."""
    app.router.add_get(OPENAPI_PATH, _serve, allow_head=False)
