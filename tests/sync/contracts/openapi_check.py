"""Checks requests and answers against a vendor's OpenAPI 3 definition (an extract of it).

A fake checks every request it receives here, and every answer it gives, so a test
fails when the adapter sends what the vendor's contract does not allow, or when the
fake answers what the contract does not promise. What is checked:

* the path: one of the definition's path templates, with the method defined for it,
  its path parameters of their declared type;
* the query: every parameter declared by the operation or among ``global_query`` (the
  vendor's guides name parameters every list takes), of its declared type and enum;
* the body: every property declared by the schema (``additionalProperties`` is never
  assumed), of its declared type, length, enum and date format, nested objects and
  arrays alike; ``required`` properties on POST (a PUT changes only what it names);
* an answer: every property of the body declared by the operation's answer schema.

Hand-written rather than ``openapi-core``: that library validates against JSON Schema,
which lets unknown properties through unless a schema says ``additionalProperties:
false``, and no vendor definition says so — yet the vendors refuse unknown properties,
which is the check that matters most here. Vendor definitions also disagree with the
vendor's own behaviour in a few known places; ``Deviations`` names each one so the
exception is visible and deliberate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["Contract", "Deviations", "Operation"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Deviations:
    """Places where the published definition is known to be wrong, each with why."""

    # (parameter name) -> the type the vendor really takes, for path parameters
    path_types: Mapping[str, str] = field(default_factory=dict)
    # (schema name, property) that the definition marks required but the vendor sets itself
    not_required: frozenset[tuple[str, str]] = frozenset()
    # (schema name) whose property names the vendor sends in another letter case
    any_case: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]
    params: dict[str, str]  # path parameter name -> value

    def parameters(self, where: str) -> dict[str, dict[str, Any]]:
        """The operation's parameters ``in`` ``where``, by name in lower case."""
        return {str(p["name"]).lower(): p for p in self.spec.get("parameters", []) if p.get("in") == where}


class Contract:
    def __init__(
        self,
        spec: dict[str, Any],
        *,
        global_query: Mapping[str, Mapping[str, Any]] | None = None,
        global_query_paths: Mapping[str, tuple[str, ...]] | None = None,
        deviations: Deviations | None = None,
    ) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
        self.global_query = {k.lower(): dict(v) for k, v in (global_query or {}).items()}
        # a global parameter only some paths take: name -> path prefixes that take it
        self.global_query_paths = dict(global_query_paths or {})
        self.deviations = deviations or Deviations()
        self._templates = [(template, _pattern(template)) for template in spec["paths"]]

    @classmethod
    def load(cls, path: Path, **settings: Any) -> Contract:
        return cls(json.loads(path.read_text(encoding="utf-8")), **settings)

    # -- finding ---------------------------------------------------------------------

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation for ``method`` on ``path`` (``/3/articles/7``), or None.

        A literal path wins over a template (``/3/vouchers/sublist`` over
        ``/3/vouchers/{VoucherSeries}``), as routers match them.
        """
        matches = []
        for template, pattern in self._templates:
            m = pattern.match(path)
            if m and method.lower() in self.spec["paths"][template]:
                matches.append((template.count("{"), template, m.groupdict()))
        if not matches:
            return None
        _, template, params = min(matches)
        return Operation(template, method.lower(), self.spec["paths"][template][method.lower()], params)

    def path_known(self, path: str) -> bool:
        return any(pattern.match(path) for _, pattern in self._templates)

    def schema(self, name: str) -> dict[str, Any]:
        return dict(self.schemas[name])

    def properties(self, name: str) -> frozenset[str]:
        """The property names the schema ``name`` declares."""
        return frozenset(self._resolve({"$ref": name})[1].get("properties", {}))

    # -- checking ----------------------------------------------------------------------

    def check_request(self, method: str, path: str, query: Mapping[str, str], body: Any = None) -> list[str]:
        """What in the request the contract does not allow; empty when nothing."""
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation"]
        problems: list[str] = []
        declared = op.parameters("path")
        for name, value in op.params.items():
            schema = dict(declared.get(name.lower(), {}).get("schema", {}))
            if name in self.deviations.path_types:
                schema["type"] = self.deviations.path_types[name]
            problems += self._scalar_text(value, schema, f"path parameter {name}")
        declared = op.parameters("query")
        for name, value in query.items():
            key = name.lower()
            param = declared.get(key)
            if param is None and key in self.global_query:
                prefixes = self.global_query_paths.get(key)
                if prefixes is None or any(op.template.startswith(p) for p in prefixes):
                    param = {"schema": self.global_query[key]}
            if param is None:
                problems.append(f"{method} {op.template}: query parameter {name!r} is not defined")
                continue
            problems += self._scalar_text(value, param.get("schema", {}), f"query parameter {name}")
        request_body = op.spec.get("requestBody")
        if body is None:
            if request_body is not None and request_body.get("required"):
                problems.append(f"{method} {op.template}: the body is required")
            return problems
        if request_body is None:
            return [*problems, f"{method} {op.template}: takes no body"]
        schema = _schema_of(request_body)
        problems += self._value(body, schema, "body", required=op.method == "post")
        return problems

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """What in an answer the contract does not promise; empty when nothing."""
        op = self.operation(method, path)
        if op is None or body is None:
            return []
        responses = op.spec.get("responses", {})
        answer = responses.get(str(status)) or (responses.get("default") if status >= 400 else None)
        if answer is None:
            return [f"{method} {op.template}: answers no {status}"]
        schema = _schema_of(answer)
        return self._value(body, schema, "answer", required=False, nulls=True)

    # -- the schema walk -----------------------------------------------------------

    def _resolve(self, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        name = None
        while "$ref" in schema:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            schema = self.schemas[name]
        return name, schema

    def _value(
        self, value: Any, schema: dict[str, Any], where: str, *, required: bool, nulls: bool = False
    ) -> list[str]:
        name, schema = self._resolve(schema)
        if value is None:
            return [] if nulls else [f"{where}: null"]
        kind = schema.get("type", "object" if "properties" in schema else None)
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{where}: {type(value).__name__}, not an object"]
            props: dict[str, Any] = schema.get("properties", {})
            any_case = name in self.deviations.any_case
            lookup = {(k.lower() if any_case else k): k for k in props}
            problems: list[str] = []
            for key, item in value.items():
                if where == "answer" and key == "MetaInformation":
                    continue  # the paging envelope, documented in the guides, not in the schemas
                declared = lookup.get(key.lower() if any_case else key)
                if declared is None:
                    problems.append(f"{where}.{key}: not a property of {name or 'the object'}")
                    continue
                problems += self._value(
                    item, props[declared], f"{where}.{key}", required=required, nulls=nulls
                )
            if required:
                for key in schema.get("required", []):
                    if key not in value and (name, key) not in self.deviations.not_required:
                        problems.append(f"{where}.{key}: required by {name}")
            return problems
        if kind == "array":
            if not isinstance(value, list):
                return [f"{where}: {type(value).__name__}, not an array"]
            problems = []
            if len(value) < int(schema.get("minItems", 0)):
                problems.append(f"{where}: fewer than {schema['minItems']} items")
            for i, item in enumerate(value):
                problems += self._value(
                    item, schema.get("items", {}), f"{where}[{i}]", required=required, nulls=nulls
                )
            return problems
        return self._scalar(value, schema, where)

    def _scalar(self, value: Any, schema: dict[str, Any], where: str) -> list[str]:
        kind = schema.get("type")
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
        }.get(str(kind), True)
        if not ok:
            return [f"{where}: {value!r} is not {kind}"]
        problems: list[str] = []
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} not one of {schema['enum']}")
        if isinstance(value, str):
            if len(value) > int(schema.get("maxLength", len(value))):
                problems.append(f"{where}: longer than {schema['maxLength']}")
            if len(value) < int(schema.get("minLength", 0)):
                problems.append(f"{where}: shorter than {schema['minLength']}")
            if schema.get("format") == "date" and not _is_date(value):
                problems.append(f"{where}: {value!r} is not a date")
        return problems

    def _scalar_text(self, value: str, schema: dict[str, Any], where: str) -> list[str]:
        """A path or query value (always text) against its parameter's schema."""
        kind = schema.get("type", "string")
        if kind == "integer":
            return [] if re.fullmatch(r"-?\d+", value) else [f"{where}: {value!r} is not an integer"]
        if kind == "boolean":
            return [] if value in ("true", "false") else [f"{where}: {value!r} is not true or false"]
        if kind == "number":
            return [] if re.fullmatch(r"-?\d+(\.\d+)?", value) else [f"{where}: {value!r} is not a number"]
        return self._scalar(value, schema, where)


def _schema_of(described: dict[str, Any]) -> dict[str, Any]:
    """The schema of a request body's or an answer's (first) content type."""
    content: dict[str, dict[str, Any]] = described.get("content", {})
    for media in content.values():
        return dict(media.get("schema", {}))
    return {}


def _pattern(template: str) -> re.Pattern[str]:
    """``/3/articles/{ArticleNumber}`` as a pattern naming its parameters."""
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
