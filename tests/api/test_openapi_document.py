"""The OpenAPI document: a valid OpenAPI 3.1 document, naming exactly the routes the
application registers, served without the token and equal to docs/openapi.json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from gateway.api.app import make_app
from gateway.api.openapi.document import document_text, openapi_document
from tests.api.conftest import Api

DOCS = Path(__file__).resolve().parents[2] / "docs"
COMMAND_WAIT = 120  # seconds: a safety net for one tillgw command


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def test_the_document_is_a_valid_openapi_3_1_document() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises naming what is wrong


def test_every_reference_points_into_the_components() -> None:
    document = openapi_document()
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"], ref


async def test_the_document_names_exactly_the_routes_the_app_serves(api: Api) -> None:
    app = make_app(api.till)
    served = {
        (route.method.lower(), re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None
    }
    documented = {(method, path) for path, item in openapi_document()["paths"].items() for method in item}
    assert served - documented == set(), "routes the document does not name"
    assert documented - served == set(), "operations no route serves"


async def test_it_is_served_without_the_token_and_equals_the_committed_copy(api: Api) -> None:
    async with api.session.get(f"{api.url}/v1/openapi.json") as response:  # no Authorization header
        assert response.status == 200
        assert response.content_type == "application/json"
        served = await response.text()
    assert json.loads(served) == openapi_document()
    committed = (DOCS / "openapi.json").read_text(encoding="utf-8")
    assert committed == document_text(), (
        "docs/openapi.json is old: run tillgw openapi --output docs/openapi.json"
    )


async def test_a_path_beside_it_still_needs_the_token(api: Api) -> None:
    async with api.session.get(f"{api.url}/v1/openapi.yaml") as response:
        assert response.status == 401


def test_tillgw_openapi_writes_the_document_as_the_till_serves_it(tmp_path: Path) -> None:
    written = tmp_path / "openapi.json"
    run = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "openapi", "--output", str(written)],
        capture_output=True,
        text=True,
        timeout=COMMAND_WAIT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert written.read_text(encoding="utf-8") == document_text()
    printed = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "openapi"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=COMMAND_WAIT,
        check=True,
    )
    assert printed.stdout == document_text()
