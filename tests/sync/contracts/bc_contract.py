"""Business Central API v2.0 requests and answers checked against the extracted page definitions.

The contract is ``business_central/apiv2_pages.json``: per entity set the fields of its API
page (with their JSON types, and which are read-only), its parts (the entity sets reached
from one record) and its bound actions. A request is allowed only when

* its path is ``companies({id})`` and entity sets reached from there through the pages'
  own parts, with a key where one record is meant, optionally ended by a bound action
  (``Microsoft.NAV.{action}``, the AL procedure's name with a small first letter);
* its method is one the page allows there (GET a list or a record, POST a new record to a
  list or an action on a record, PATCH or DELETE a record);
* its query has only OData's system options, and ``$filter``/``$select``/``$orderby`` name
  only the entity's fields;
* its body names only the entity's editable fields, each of its type; an action has no body.

An answer may carry only the entity's fields (and OData's annotations): list entries and
single records alike, as BC answers both from the same page.

Partner pages (an API page a partner publishes, such as the item references page of
``[sync.business_central].item_reference_page``) are checked against the fields
docs/adapters/business-central.md asks the partner to publish, given by the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ApiV2Contract", "Entity", "Violation"]

CONTRACT_FILE = Path(__file__).parent / "business_central" / "apiv2_pages.json"

SYSTEM_OPTIONS = {"$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$count", "$skiptoken"}
# OData's own annotations that BC adds to a record; they are not page fields.
ANNOTATIONS = {"@odata.etag", "@odata.context", "@odata.nextLink", "@odata.count"}

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z][\w.]*)(?:\((?P<key>[^)]*)\))?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPARISON = re.compile(r"\b([A-Za-z]\w*)\s+(?:eq|ne|gt|ge|lt|le)\s")


class Violation(Exception):
    """A request the contract does not allow: BC's status, error code and message for it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Entity:
    """One API page: its entity set, fields (name -> type, read-only) and what it leads to."""

    set_name: str
    entity_name: str
    fields: dict[str, tuple[str, bool]]
    parts: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    insert: bool = True
    modify: bool = True
    delete: bool = True

    @classmethod
    def of(cls, set_name: str, spec: Mapping[str, Any]) -> Entity:
        fields = {}
        for name, kind in spec["fields"].items():
            words = str(kind).split()
            fields[name] = (words[0], "readonly" in words[1:])
        actions = {a[0].lower() + a[1:] for a in spec.get("actions", [])}
        return cls(
            set_name,
            str(spec.get("entityName", set_name)),
            fields,
            frozenset(spec.get("parts", {})),
            frozenset(actions),
            bool(spec.get("insert", True)),
            bool(spec.get("modify", True)),
            bool(spec.get("delete", True)),
        )


@dataclass(frozen=True, slots=True)
class Target:
    """What a path names: an entity's list or one record, and an action bound to the record."""

    entity: Entity
    single: bool
    action: str | None = None


def _type_ok(kind: str, value: Any) -> bool:
    if value is None:
        return False
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "guid":
        return isinstance(value, str) and bool(_GUID.match(value))
    if kind == "date":
        return isinstance(value, str) and bool(_DATE.match(value))
    return isinstance(value, str)  # string, datetime


@dataclass
class ApiV2Contract:
    """The extracted pages, and the checks of one request or answer against them."""

    entities: dict[str, Entity]
    company_sets: frozenset[str]

    @classmethod
    def load(cls, path: Path = CONTRACT_FILE) -> ApiV2Contract:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entities = {name: Entity.of(name, spec) for name, spec in doc["entities"].items()}
        return cls(entities, frozenset(doc["company_sets"]))

    def partner_page(self, page: Entity) -> ApiV2Contract:
        """The contract of a partner's API page: its own entity set below ``companies``."""
        return ApiV2Contract(
            {"companies": self.entities["companies"], page.set_name: page}, frozenset({page.set_name})
        )

    # -- paths ---------------------------------------------------------------------------------

    def target(self, api_path: str, method: str) -> Target:
        """What ``api_path`` (below ``…/api/v2.0/`` or a partner page's ``…/api/{p}/{g}/{v}/``) names."""
        segments = [s for s in api_path.strip("/").split("/") if s]
        if not segments:
            raise Violation(404, "BadRequest_NotFound", "Resource not found for the segment ''.")
        first = _SEGMENT.match(segments[0])
        if first is None or first.group("name") != "companies":
            raise Violation(
                404, "BadRequest_NotFound", f"Resource not found for the segment '{segments[0]}'."
            )
        companies = self.entities["companies"]
        if len(segments) == 1:
            return Target(companies, first.group("key") is not None)
        if first.group("key") is None:
            raise Violation(400, "BadRequest", "A company must be named: companies({id})/…")
        allowed: frozenset[str] = self.company_sets
        current: Entity | None = None
        single = False
        for i, segment in enumerate(segments[1:], start=1):
            m = _SEGMENT.match(segment)
            if m is None:
                raise Violation(
                    404, "BadRequest_NotFound", f"Resource not found for the segment '{segment}'."
                )
            name = m.group("name")
            if name.startswith("Microsoft.NAV."):
                action = name.removeprefix("Microsoft.NAV.")
                if current is None or not single or action not in current.actions or i != len(segments) - 1:
                    raise Violation(
                        404, "BadRequest_NotFound", f"Resource not found for the segment '{segment}'."
                    )
                return Target(current, True, action)
            if current is not None and not single:
                raise Violation(400, "BadRequest", f"'{segment}' follows a list, not one record")
            if name not in allowed or name not in self.entities:
                raise Violation(404, "BadRequest_NotFound", f"Resource not found for the segment '{name}'.")
            current = self.entities[name]
            single = m.group("key") is not None
            allowed = current.parts
        assert current is not None
        return Target(current, single)

    # -- requests ------------------------------------------------------------------------------

    def check_request(self, method: str, target: Target, query: Mapping[str, str], body: Any) -> None:
        """Raise :class:`Violation` for anything in the request the page does not allow."""
        entity = target.entity
        if target.action is not None:
            if method != "POST":
                raise Violation(405, "BadRequest_MethodNotAllowed", f"'{method}' is not allowed on an action")
            if body not in (None, {}, b"", ""):
                raise Violation(400, "BadRequest", f"The action {target.action} takes no parameters")
            return
        allowed = {
            ("GET", False): True,
            ("GET", True): True,
            ("POST", False): entity.insert,
            ("PATCH", True): entity.modify,
            ("DELETE", True): entity.delete,
        }.get((method, target.single), False)
        if not allowed:
            raise Violation(
                405,
                "BadRequest_MethodNotAllowed",
                f"'{method}' requests on '{entity.set_name}' are not allowed",
            )
        self._check_query(entity, query)
        if method in ("POST", "PATCH"):
            self._check_body(entity, body)

    def _check_query(self, entity: Entity, query: Mapping[str, str]) -> None:
        for name, value in query.items():
            if name not in SYSTEM_OPTIONS:
                raise Violation(400, "BadRequest", f"The query parameter '{name}' is not supported.")
            if name == "$filter":
                names = _COMPARISON.findall(re.sub(r"'(?:[^']|'')*'", "''", value))
                if not names:
                    raise Violation(400, "BadRequest", f"Could not parse $filter: {value}")
            elif name in ("$select", "$orderby"):
                names = [part.split()[0] for part in value.split(",") if part.strip()]
            else:
                continue
            for field_name in names:
                if field_name not in entity.fields:
                    raise Violation(
                        400,
                        "BadRequest",
                        f"Could not find a property named '{field_name}' on type "
                        f"'Microsoft.NAV.{entity.entity_name}'.",
                    )

    def _check_body(self, entity: Entity, body: Any) -> None:
        if not isinstance(body, dict):
            raise Violation(400, "BadRequest", "Invalid Request Body")
        for name, value in body.items():
            if name not in entity.fields:
                raise Violation(
                    400,
                    "BadRequest",
                    f"The property '{name}' does not exist on type 'Microsoft.NAV.{entity.entity_name}'. "
                    "Make sure to only use property names that are defined by the type.",
                )
            kind, readonly = entity.fields[name]
            if readonly:
                raise Violation(400, "BadRequest", f"The property '{name}' is read-only.")
            if not _type_ok(kind, value):
                raise Violation(
                    400, "BadRequest", f"Invalid Request Body: '{name}' must be a {kind}, not {value!r}"
                )

    # -- answers -------------------------------------------------------------------------------

    def check_answer(self, target: Target, answer: Any) -> None:
        """Raise :class:`Violation` for any field in an answer that the page does not have."""
        if target.action is not None or not isinstance(answer, dict):
            return
        records = answer.get("value") if not target.single else [answer]
        for record in records if isinstance(records, list) else []:
            extra = sorted(set(record) - set(target.entity.fields) - ANNOTATIONS)
            if extra:
                raise Violation(
                    500,
                    "Internal_FakeAnswer",
                    f"{target.entity.set_name} answered fields it has not: {extra}",
                )
