"""``tillgw report x|z`` from a shell: through the running service, or on the database alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway import cli


def config_file(tmp_path: Path, url: str) -> Path:
    """A till.toml for the API fixture's till (data in tmp_path/till, the API at ``url``)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    path = tmp_path / "till.toml"
    path.write_text(
        f"""
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "556123-4567"
address = ["Storgatan 1", "352 30 Växjö"]

[register]
pos_id = "KASSA1"
data_dir = "till"

[control_unit]
url = "socket://127.0.0.1:9"

[api]
listen = "{host}:{port}"
""",
        encoding="utf-8",
    )
    return path


SALE = {
    "id": "pos-1",
    "lines": [{"text": "Kaffe", "quantity": 1, "unit_price": "125.00", "vat_rate": 25}],
    "payments": [{"method": "card", "amount": "125.00"}],
}


async def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = await asyncio.to_thread(cli.main, ["report", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


async def test_through_the_running_service(
    api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = await api.call("POST", "/v1/receipts", SALE)
    assert status == 201
    config = config_file(tmp_path, api.url)
    code, z = await report(capsys, "z", "--config", str(config))
    assert code == 0
    assert (z["report"], z["z_no"], z["receipts"]) == ("z", 1, 1)
    assert [kind for kind, _ in api.journal()][-1] == "report.z"


async def test_on_the_database_when_no_service_answers(
    make_api: Callable[..., Awaitable[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = await make_api()
    await api.call("POST", "/v1/receipts", SALE)
    config = config_file(tmp_path, "http://127.0.0.1:9")  # nothing listens on port 9
    code, x = await report(capsys, "x", "--config", str(config))
    assert code == 0
    assert x["report"] == "x" and x["printing"] is False
    assert "not printed" in x["not_printed"]
    code, z = await report(capsys, "z", "--config", str(config))
    assert (code, z["z_no"]) == (0, 1)
    # Its bus message waits in the outbox, written with the report's journal entry.
    import sqlite3

    conn = sqlite3.connect(tmp_path / "till" / "till.db")
    try:
        rows = conn.execute("SELECT journal_entry, topic FROM outbox ORDER BY sequence").fetchall()
    finally:
        conn.close()
    assert (z["journal_entry"], "tillgw/5561234567/main/KASSA1/reports") in rows
