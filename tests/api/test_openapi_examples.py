"""Every JSON example in docs/api.md is what the OpenAPI document says its operation takes or
answers: each request body of a ``curl`` example against the operation's request schema,
each answer (a code block ``json answer METHOD PATH STATUS``) against that status's schema.

An example of the event stream (``json event TYPE``) is JSON too, but a WebSocket message is
not an operation of the document; a ``json`` block that says neither is a mistake of the docs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gateway.api.openapi.document import openapi_document

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>\w+)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
CURL = re.compile(r"^curl\b", re.M)
METHOD = re.compile(r"-X\s+(\w+)")
URL = re.compile(r'"\$API(/[^"?]*)(?:\?[^"]*)?"')
BODY = re.compile(r"-d\s+'(.*?)'", re.S)


def _blocks() -> list[tuple[str, str, str]]:
    text = API_MD.read_text(encoding="utf-8")
    return [(m["lang"], m["info"].strip(), m["body"]) for m in FENCE.finditer(text)]


def _operation_path(method: str, concrete: str) -> str:
    """The document's path for ``concrete`` (``/v1/sales/bord-7/park`` -> ``/v1/sales/{id}/park``)."""
    paths: list[str] = [path for path, item in openapi_document()["paths"].items() if method.lower() in item]
    if concrete in paths:
        return concrete  # a path without parameters comes before a template that also matches it
    for path in paths:
        if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)), concrete):
            return path
    raise AssertionError(f"docs/api.md: {method} {concrete} is no operation of the document")


def _curl_bodies() -> list[tuple[str, str, Any]]:
    found = []
    for lang, _, body in _blocks():
        if lang != "sh":
            continue
        for command in CURL.split(body)[1:]:
            url, data = URL.search(command), BODY.search(command)
            if url is None or data is None:
                continue
            method = (METHOD.search(command) or ["", "GET"])[1]
            found.append((method, _operation_path(method, url[1]), json.loads(data[1])))
    return found


def _answers() -> list[tuple[str, str, str, Any]]:
    found = []
    for lang, info, body in _blocks():
        if lang != "json":
            continue
        words = info.split()
        assert words and words[0] in ("answer", "event"), (
            "a json block of docs/api.md says neither 'answer METHOD PATH STATUS' nor 'event TYPE': "
            f"{body[:80]!r}"
        )
        value = json.loads(body)
        if words[0] == "answer":
            method, path, status = words[1:]
            found.append((method, _operation_path(method, path), status, value))
    return found


def _valid(schema: dict[str, Any], value: Any) -> None:
    """``value`` against ``schema``, whose references point into the document's components."""
    document = openapi_document()
    validator = Draft202012Validator({"components": document["components"], "allOf": [schema]})
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_docs_have_examples_of_requests_and_answers() -> None:
    assert len(_curl_bodies()) >= 8
    assert len(_answers()) >= 12


@pytest.mark.parametrize(
    ("method", "path", "body"), _curl_bodies(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_request_body_in_the_docs_is_what_its_operation_takes(
    method: str, path: str, body: Any
) -> None:
    operation = openapi_document()["paths"][path][method.lower()]
    _valid(operation["requestBody"]["content"]["application/json"]["schema"], body)


@pytest.mark.parametrize(
    ("method", "path", "status", "answer"), _answers(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_answer_in_the_docs_is_what_its_operation_answers(
    method: str, path: str, status: str, answer: Any
) -> None:
    responses = openapi_document()["paths"][path][method.lower()]["responses"]
    assert status in responses, f"{method} {path} documents no {status}"
    _valid(responses[status]["content"]["application/json"]["schema"], answer)
