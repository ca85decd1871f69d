"""schemathesis against a running till over real HTTP: every operation of the OpenAPI
document, with data made from its schemas (a bounded, deterministic number per operation).

Each answer must be one the document describes — its status, its content type, its body's
schema — and no answer may be a fault of the gateway: no 500, no 503 ``internal_error`` or
``storage_error``. The one 5xx this till may give is ``no_bus`` (it has no ``[mqtt]``, so it
cannot ask the ERP for orders), a state of the till the document names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.api.openapi.operations import OPERATIONS, Operation
from tests.api.live_till import LiveTill, live_till

Fuzzed = schemathesis.Case[Any]  # a case of any operation of the document

EXAMPLES = 12  # per operation; with derandomize the same each run
TILL_STATES = {"no_bus"}  # 5xx that say how the till is, not that it failed


class GatewayFault(Failure):
    """A 5xx that is a fault of the gateway, not a state of the till."""


def no_gateway_fault(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: Fuzzed,
) -> bool:
    if response.status_code < 500:
        return True
    code = None
    if response.headers.get("content-type", [""])[0].startswith("application/json"):
        code = (response.json().get("error") or {}).get("code")
    if code in TILL_STATES:
        return True
    raise GatewayFault(
        operation=case.operation.label,
        title="A fault of the gateway",
        message=f"{response.status_code} {code}: {response.text[:500]}",
    )


CHECKS = [no_gateway_fault, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def till(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveTill]:
    with live_till(Path(tmp_path_factory.mktemp("fuzzed-till"))) as served:
        yield served


@pytest.fixture(scope="module")
def served_schema(till: LiveTill) -> schemathesis.BaseSchema:
    # Loaded over HTTP, as a POS developer's tools load it.
    return schemathesis.openapi.from_url(f"{till.url}/v1/openapi.json")


def _runs() -> list[tuple[Operation, GenerationMode]]:
    """Each operation with data that fits its schema, and — where it takes any input — data that
    does not."""
    runs = []
    for operation in OPERATIONS:
        runs.append((operation, GenerationMode.POSITIVE))
        if operation.parameters or operation.body is not None:
            runs.append((operation, GenerationMode.NEGATIVE))
    return runs


@pytest.mark.parametrize(
    ("operation", "mode"), _runs(), ids=lambda value: getattr(value, "operation_id", str(value))
)
def test_every_answer_is_documented_and_none_is_a_fault(
    operation: Operation, mode: GenerationMode, served_schema: schemathesis.BaseSchema, till: LiveTill
) -> None:
    fuzzed = served_schema[operation.path][operation.method.upper()]

    @given(fuzzed.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Fuzzed) -> None:
        # "parked" is not a sale's id but GET /v1/sales/parked, an operation of its own.
        assume(case.path_parameters != {"id": "parked"})
        case.call_and_validate(base_url=till.url, headers=till.auth, checks=CHECKS)

    call()
