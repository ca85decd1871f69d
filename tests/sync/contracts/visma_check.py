"""Requests and records checked against the extract of Visma's API definition (visma/contract.json).

:class:`VismaContract` answers two questions: may this request be sent (path, method, query
parameters, body properties and their types, required properties), and is this record one
Visma's definition describes (the fake checks its own answers with it, so it can answer no
field the definition does not have). Each answer is a list of problems in words; empty is
allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Operation", "VismaContract", "contract"]

CONTRACT_FILE = Path(__file__).with_name("visma") / "contract.json"
_FILTER_FIELD = re.compile(r"(?:^|\(|\s)(\w+)\s+(?:eq|ne|gt|ge|lt|le)\s", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    template: str  # "/v2/articles/{articleId}"
    spec: dict[str, Any]

    @property
    def response(self) -> str:
        return str(self.spec["response"])

    @property
    def body(self) -> str | None:
        body = self.spec.get("body")
        return str(body) if body else None

    @property
    def is_list(self) -> bool:
        return bool(self.spec.get("odata"))


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)) + "$")


class VismaContract:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.models: dict[str, dict[str, Any]] = data["models"]
        self.list_options: dict[str, str] = data["odata_list_options"]
        self.max_page_size = int(data["max_page_size"])
        self._paths = [(_pattern(t), t, methods) for t, methods in data["paths"].items()]

    def path_known(self, path: str) -> bool:
        return any(p.match(path) for p, _, _ in self._paths)

    def operation(self, method: str, path: str) -> Operation | None:
        for pattern, template, methods in self._paths:
            if pattern.match(path) and method.lower() in methods:
                return Operation(method.upper(), template, methods[method.lower()])
        return None

    # -- requests ------------------------------------------------------------------------

    def check_request(self, method: str, path: str, query: Mapping[str, str], body: Any) -> list[str]:
        """What in this request the contract does not allow (empty: all of it is allowed)."""
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in Visma's API definition"]
        where = f"{method} {op.template}"
        problems = self._check_query(where, op, query)
        if op.body is None:
            if body is not None:
                problems.append(f"{where}: takes no body")
        elif not isinstance(body, dict):
            problems.append(f"{where}: the body must be a {op.body} object")
        else:
            problems += self.check_record(op.body, body, where=f"{where} body", writing=True)
        return problems

    def _check_query(self, where: str, op: Operation, query: Mapping[str, str]) -> list[str]:
        problems: list[str] = []
        options = {k.lower(): v for k, v in self.list_options.items()} if op.is_list else {}
        own = set(op.spec.get("query") or ())
        for name, value in query.items():
            if name in own:
                continue
            kind = options.get(name.lower())
            if kind is None:
                problems.append(f"{where}: query parameter {name!r} is not in the definition")
            elif kind == "integer" and not value.isdigit():
                problems.append(f"{where}: {name} must be a whole number, not {value!r}")
            elif name.lower() == "$pagesize" and not 1 <= int(value) <= self.max_page_size:
                problems.append(f"{where}: {name} must be 1-{self.max_page_size}, not {value}")
            elif name.lower() in ("$filter", "$orderby"):
                problems += self._check_fields(where, op, name, value)
        return problems

    def _check_fields(self, where: str, op: Operation, name: str, value: str) -> list[str]:
        item = self._list_item(op.response)
        fields = (
            [f.strip().split()[0] for f in value.split(",") if f.strip()]
            if name.lower() == "$orderby"
            else _FILTER_FIELD.findall(value)
        )
        known = self.models[item]["properties"]
        return [f"{where}: {name} names {f!r}, not a property of {item}" for f in fields if f not in known]

    def _list_item(self, paginated: str) -> str:
        data = self.models[paginated]["properties"]["Data"]["type"]
        return str(data["array"]["model"])

    # -- records -----------------------------------------------------------------------

    def check_record(self, model: str, record: Any, *, where: str = "", writing: bool = False) -> list[str]:
        """What in ``record`` the model ``model`` does not describe; with ``writing``, also a
        required property left out (an answer may leave out what it has no value for)."""
        where = where or model
        if not isinstance(record, dict):
            return [f"{where}: a {model} must be an object"]
        spec = self.models[model]
        problems: list[str] = []
        properties: dict[str, Any] = spec["properties"]
        for key, value in record.items():
            prop = properties.get(key)
            if prop is None:
                problems.append(f"{where}: {key!r} is not a property of {model}")
            elif value is not None:
                problems += self._check_value(f"{where}.{key}", prop, value, writing)
        if writing:
            problems += [f"{where}: {key} is required" for key in spec["required"] if record.get(key) is None]
        return problems

    def _check_value(self, where: str, prop: dict[str, Any], value: Any, writing: bool) -> list[str]:
        problems = self._check_type(where, prop["type"], value, writing)
        if problems:
            return problems
        if "maxLength" in prop and isinstance(value, str) and len(value) > prop["maxLength"]:
            problems.append(f"{where}: longer than {prop['maxLength']} characters")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "maximum" in prop and value > prop["maximum"]:
                problems.append(f"{where}: above {prop['maximum']}")
            if "minimum" in prop and value < prop["minimum"]:
                problems.append(f"{where}: below {prop['minimum']}")
        return problems

    def _check_type(self, where: str, kind: Any, value: Any, writing: bool) -> list[str]:
        if isinstance(kind, dict) and "array" in kind:
            if not isinstance(value, list):
                return [f"{where}: must be an array"]
            return [
                p
                for i, v in enumerate(value)
                for p in self._check_type(f"{where}[{i}]", kind["array"], v, writing)
            ]
        if isinstance(kind, dict):
            return self.check_record(kind["model"], value, where=where, writing=writing)
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "date-time": isinstance(value, str) and _is_time(value),
            "object": isinstance(value, dict),
        }[kind]
        return [] if ok else [f"{where}: {value!r} is not of type {kind}"]


def _is_time(text: str) -> bool:
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@cache
def contract() -> VismaContract:
    """The extract, read once."""
    return VismaContract(json.loads(CONTRACT_FILE.read_text(encoding="utf-8")))
