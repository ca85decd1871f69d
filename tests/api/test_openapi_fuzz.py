"""schemathesis against a running till over real HTTP, as its command line runs it: every
operation of the OpenAPI document the till serves, with the document's examples, values at
its bounds and of every type (coverage) and data made from its schemas (fuzzing) — data that
fits and data that does not, a bounded number per operation, the same on every run
(tests/api/schemathesis.toml).

Each answer must be one the document describes — its status, its content type, its body's
schema — and none may be a fault of the gateway (tests/api/schemathesis_hooks.py): no 500,
no 503 ``internal_error`` or ``storage_error``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from gateway.api.openapi.operations import OPERATIONS
from tests.api.live_till import live_till

HERE = Path(__file__).resolve().parent
CHECKS = "no_gateway_fault,status_code_conformance,content_type_conformance,response_schema_conformance"
RUN_WAIT = 600  # seconds: a safety net for the run, which takes well under a minute


def test_every_answer_is_documented_and_none_is_a_fault(tmp_path: Path) -> None:
    with live_till(tmp_path / "till") as till:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "--no-color",
                "run",
                f"{till.url}/v1/openapi.json",  # loaded over HTTP, as a POS developer's tools load it
                "--url",
                till.url,
                "--header",
                f"Authorization: Bearer {till.token}",
                "--checks",
                CHECKS,
            ],
            cwd=tmp_path,  # whatever it writes stays in the test's folder
            env={**os.environ, "PYTHONPATH": str(HERE.parents[1])},  # for the hooks module
            capture_output=True,
            text=True,
            timeout=RUN_WAIT,
            check=False,
        )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    selected = re.search(r"(\d+) selected / (\d+) total", run.stdout)
    assert selected is not None, run.stdout[-5000:]
    assert int(selected[1]) == int(selected[2]) == len(OPERATIONS)  # every operation, none left out
