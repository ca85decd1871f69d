"""docs/bus/*.schema.json are what the code's Structs make, byte for byte: they never drift.

``python -m tools.bus_schemas`` writes them; a change to a Struct of gateway/messages that is
not followed by that command fails here, naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tools.bus_schemas import DOCS_BUS, main, render, schemas


def test_the_committed_files_are_what_the_structs_make() -> None:
    made = schemas()
    assert sorted(p.name for p in DOCS_BUS.glob("*.schema.json")) == sorted(made)
    for name, schema in made.items():
        assert (DOCS_BUS / name).read_text(encoding="utf-8") == render(schema), (
            f"docs/bus/{name} differs from the code: run python -m tools.bus_schemas"
        )


def test_each_file_is_a_2020_12_schema_that_stands_alone() -> None:
    for path in DOCS_BUS.glob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)
        refs = set(_refs(schema))
        assert all(
            ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"] for ref in refs
        )


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [str(node["$ref"])] if "$ref" in node else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_the_check_names_a_stale_file_and_the_command_mends_it(tmp_path: Path) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    stale = tmp_path / "ack.schema.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace("stored", "kept"), encoding="utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
