"""The bus contract as JSON Schema files (draft 2020-12), made from the Structs the code reads with.

    python -m tools.bus_schemas           # write docs/bus/*.schema.json
    python -m tools.bus_schemas --check   # exit 1, naming the files, when one differs

Each file stands alone (its ``$defs`` hold every part, no reference leaves it), so a
consumer in any language validates a message with one file. The shapes come from
``msgspec.json.schema_components`` over the Structs of :mod:`gateway.messages`; what a
Struct cannot hold is added here, each rule once: the ``schema`` and ``kind`` each message
may have, the payload each kind carries in each version, a catalog item by its section, an
order request naming a customer or an order. tests/bus/test_schemas.py fails when a
committed file is not what this makes, so the files never drift from the code.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from gateway.messages.envelope import ACK_SCHEMA, KIND_TOPICS, SCHEMAS, AckWire, EnvelopeWire
from gateway.messages.payloads import PAYLOAD_TYPES
from gateway.messages.wire import (
    ITEM_TYPES,
    CatalogRequestWire,
    CatalogUpdateWire,
    OrderAnswerWire,
    OrderRequestWire,
    SyncStatusWire,
)
from tools.bus_schema_words import FIELD_WORDS, STRUCT_WORDS, UNITS

__all__ = ["DOCS_BUS", "main", "render", "schemas"]

DOCS_BUS = Path(__file__).resolve().parents[1] / "docs" / "bus"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _plain(text: str) -> str:
    """A docstring as a stranger reads it: no Sphinx roles, no doubled backticks, one line."""
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text).replace("``", "")
    return " ".join(text.split())


def _with_words(defs: dict[str, Any]) -> dict[str, Any]:
    for name, schema in defs.items():
        if name in STRUCT_WORDS:
            schema["description"] = STRUCT_WORDS[name]
        elif "description" in schema:
            schema["description"] = _plain(schema["description"])
        for field, prop in schema.get("properties", {}).items():
            words = FIELD_WORDS.get((name, field))
            if words is not None and "description" not in prop:
                prop["description"] = words
    return defs


def _components(*types: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    refs, defs = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    return list(refs), _with_words(dict(defs))


def _document(title: str, description: str, body: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": title,
        "description": f"{description} {UNITS}",
        **body,
        "$defs": dict(sorted(defs.items())),
    }


def _const(defs: dict[str, Any], struct: str, field: str, value: str) -> None:
    defs[struct]["properties"][field] = {"const": value}


def till_message() -> dict[str, Any]:
    """Any message a till publishes on its register's topics: the envelope and, by kind and
    schema, the payload."""
    payload_types = {
        (schema, kind): t for schema, kinds in PAYLOAD_TYPES.items() for kind, t in kinds.items()
    }
    refs, defs = _components(EnvelopeWire, *dict.fromkeys(payload_types.values()))
    by_type = dict(zip([EnvelopeWire, *dict.fromkeys(payload_types.values())], refs, strict=True))
    envelope = defs["EnvelopeWire"]["properties"]
    envelope["schema"] = {**envelope["schema"], "enum": list(SCHEMAS)}
    envelope["kind"] = {**envelope["kind"], "enum": list(KIND_TOPICS)}
    rules = [
        {
            "if": {"properties": {"schema": {"const": schema}, "kind": {"const": kind}}},
            "then": {"properties": {"payload": by_type[t]}},
        }
        for (schema, kind), t in payload_types.items()
    ]
    return _document(
        "A till's message (tillgw.bus/1, tillgw.bus/2)",
        "What a till publishes on tillgw/{orgnr}/{store}/{register}/"
        "{receipts|reports|events|customers|orders}, QoS 1, one JSON object (UTF-8) per message; "
        "kept and sent again until acked (ack.schema.json). A receipt and a price change are "
        "tillgw.bus/2 (tillgw.bus/1 from older tills); every other kind is tillgw.bus/1. Beyond this file: "
        "msg_id is exactly {orgnr}/{store}/{register}/{sequence} (docs/bus/README.md).",
        {"$ref": "#/$defs/EnvelopeWire", "allOf": rules},
        defs,
    )


def ack() -> dict[str, Any]:
    [ref], defs = _components(AckWire)
    _const(defs, "AckWire", "schema", ACK_SCHEMA)
    defs["AckWire"]["description"] = "An application ack: the consumer has the message safely, or holds it."
    return _document(
        "An ack (tillgw.bus-ack/1)",
        "What the sync module (or any consumer) publishes on tillgw/{orgnr}/{store}/{register}/acks, QoS 1, "
        "for each message it has durably stored (stored) or cannot take yet (held); the till keeps "
        "sending a message until one arrives. How proof is made: docs/bus-consumer.md.",
        ref,
        defs,
    )


def catalog_update() -> dict[str, Any]:
    refs, defs = _components(CatalogUpdateWire, *ITEM_TYPES.values())
    by_section = dict(zip(ITEM_TYPES, refs[1:], strict=True))
    rules = [
        {
            "if": {"properties": {"section": {"const": section}}},
            "then": {"properties": {"items": {"items": ref}}},
        }
        for section, ref in by_section.items()
    ]
    return _document(
        "A catalog revision's part (tillgw.catalog/1)",
        "What the sync module publishes on tillgw/{orgnr}/{store}/catalog/updates, QoS 1: articles, "
        "customers or stock levels, one revision in one or more parts. Beyond this file: base < revision, "
        "part <= parts, a full revision removes nothing, msg_id is "
        "{orgnr}/{store}/catalog/{revision}/{part}.",
        {**refs[0], "allOf": rules},
        defs,
    )


def catalog_request() -> dict[str, Any]:
    [ref], defs = _components(CatalogRequestWire)
    return _document(
        "A till's catalog request (tillgw.catalog-request/1)",
        "What a till publishes on tillgw/{orgnr}/{store}/{register}/catalog-request when it finds a gap in "
        "the revisions it holds; the sync module answers on catalog/updates.",
        ref,
        defs,
    )


def order_request() -> dict[str, Any]:
    [ref], defs = _components(OrderRequestWire)
    one_of_them = [
        {"required": [key], "properties": {key: {"type": "string"}}} for key in ("customer", "number")
    ]
    return _document(
        "A till's order request (tillgw.order-request/1)",
        "What a till publishes on tillgw/{orgnr}/{store}/{register}/order-request: the open orders of a "
        "customer, or one order (or both); the sync module answers once on order-answer.",
        {**ref, "anyOf": one_of_them},
        defs,
    )


def order_answer() -> dict[str, Any]:
    [ref], defs = _components(OrderAnswerWire)
    return _document(
        "The answer to an order request (tillgw.order-answer/1)",
        "What the sync module publishes on tillgw/{orgnr}/{store}/{register}/order-answer with the "
        "request's request_id: the open orders found (perhaps none), or error in the ERP's words.",
        ref,
        defs,
    )


def sync_status() -> dict[str, Any]:
    [ref], defs = _components(SyncStatusWire)
    defs["HeldWire"]["additionalProperties"] = {"type": ["string", "integer", "null"]}
    return _document(
        "The sync module's last run (tillgw.sync-status/1)",
        "What the sync module publishes, retained, on tillgw/{orgnr}/{store}/sync/status after each run. "
        "Beyond this file: at most 32 KiB, at is an ISO 8601 time, held_count is at least the held listed.",
        ref,
        defs,
    )


def schemas() -> dict[str, dict[str, Any]]:
    """Every file of ``docs/bus/`` by its name."""
    return {
        "till-message.schema.json": till_message(),
        "ack.schema.json": ack(),
        "catalog-update.schema.json": catalog_update(),
        "catalog-request.schema.json": catalog_request(),
        "order-request.schema.json": order_request(),
        "order-answer.schema.json": order_answer(),
        "sync-status.schema.json": sync_status(),
    }


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write (or --check) the bus's JSON Schema files in docs/bus/."
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a file differs")
    parser.add_argument("--dir", type=Path, default=DOCS_BUS, help="the folder of the files (docs/bus)")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in schemas().items():
        path: Path = args.dir / name
        text = render(schema)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"differ from the code: {', '.join(stale)} — run python -m tools.bus_schemas", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote {args.dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
