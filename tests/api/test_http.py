"""The rest of the API: the token, JSON errors for every path, status, drawer, POS events, reports."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit
from gateway.api.app import serving
from gateway.api.errors import error_middleware
from tests.api.conftest import Api, ApiFactory, sale


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/receipts"),
        ("GET", "/v1/receipts/1"),
        ("GET", "/v1/status"),
        ("GET", "/v1/events"),
        ("GET", "/v1/status?token={token}"),  # the query only counts on the event stream
        ("GET", "/v1/no-such-path"),  # no token, no map of the API
    ],
)
async def test_without_the_token_everything_is_401(
    api: Api, unit: ControlUnit, headers: dict[str, str], method: str, path: str
) -> None:
    url = api.url + path.format(token=api.till.token)
    async with api.session.request(method, url, json=sale(), headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert "token" in body["error"]["message"]
    assert unit.memory.records() == []


async def test_unknown_paths_and_wrong_methods_are_json_errors(api: Api) -> None:
    status, body = await api.call("GET", "/v1/nothing/here")
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert "/v1/nothing/here" in body["error"]["message"]
    async with api.session.delete(api.url + "/v1/receipts", headers=api.auth) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET,POST"  # GET: the last receipts (?last=)
        body = await response.json()
    assert body["error"] == {
        "code": "method_not_allowed",
        "message": "DELETE is not allowed on /v1/receipts; allowed: GET, POST",
    }
    status, body = await api.call("GET", "/v1/reports/x")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    status, body = await api.call("POST", "/v1/reports/y")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_an_unexpected_failure_is_a_json_error_in_words_never_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Any exception a handler lets out: 503 with a code and words; its traceback in the log once."""

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("the disk caught fire")

    app = web.Application(middlewares=[error_middleware(1024)])
    app.router.add_get("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        with caplog.at_level(logging.ERROR):
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{host}:{port}/broken") as response,
            ):
                status, body = response.status, await response.json()
    finally:
        await runner.cleanup()
    assert status == 503
    assert body["error"]["code"] == "internal_error"
    assert "restart tillgw" in body["error"]["message"]
    assert "fire" not in body["error"]["message"]  # the details are for the log, not the POS
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == 1 and "the disk caught fire" in caplog.text


async def test_a_damaged_database_is_503_storage_error_not_500(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with sqlite3.connect(api.till.files.database) as conn:  # damaged from outside, as a disk or a hand can
        conn.execute("DROP TABLE unprinted")
    with caplog.at_level(logging.ERROR, logger="tillgw.api"):
        status, body = await api.call("GET", "/v1/status")
    assert status == 503
    assert body["error"]["code"] == "storage_error"
    assert "no such table: unprinted" in body["error"]["message"]
    assert len([r for r in caplog.records if r.exc_info is not None]) == 1


async def test_status_shows_each_device_in_words(make_api: ApiFactory, unit: ControlUnit) -> None:
    api = await make_api(printer=True)
    await api.call("POST", "/v1/receipts", sale())
    status, body = await api.call("GET", "/v1/status")
    assert status == 200
    unit_state = body["devices"]["control_unit"]
    assert (unit_state["state"], unit_state["reason"], unit_state["unit_id"]) == (
        "ready",
        "ready",
        unit.unit_id,
    )
    assert body["devices"]["printer"]["state"] in ("ready", "degraded", "connecting")
    assert isinstance(body["devices"]["printer"]["reason"], str)
    assert body["receipts"]["last_number"] == 1
    assert body["receipts"]["waiting_for_control_unit"] == []
    assert body["events"] == {"clients": 0, "disconnected_as_too_slow": 0}


async def test_a_drawer_opening_without_a_sale_is_journaled(make_api: ApiFactory) -> None:
    api = await make_api(printer=True)
    status, body = await api.call("POST", "/v1/drawer/open", {"cashier": "Anna"})
    assert status == 201
    assert body["cashier"] == "Anna"
    status, plain = await api.call("POST", "/v1/drawer/open")  # the body is optional
    assert (status, plain["cashier"]) == (201, None)
    openings = [(seq, b) for seq, (kind, b) in enumerate(api.journal(), 1) if kind == "drawer.open"]
    assert openings == [
        (body["journal_entry"], {"cashier": "Anna", "reason": "no sale", "pos_id": "KASSA1"}),
        (plain["journal_entry"], {"cashier": None, "reason": "no sale", "pos_id": "KASSA1"}),
    ]
    status, bad = await api.call("POST", "/v1/drawer/open", {"cashier": "Anna", "why": "change"})
    assert (status, bad["error"]["field"]) == (422, "why")


async def test_a_till_without_a_printer_has_no_drawer_to_open(api: Api) -> None:
    status, body = await api.call("POST", "/v1/drawer/open", {"cashier": "Anna"})
    assert (status, body["error"]["code"]) == (503, "no_drawer")
    assert api.journal() == []


async def test_pos_events_are_journaled(api: Api) -> None:
    events = [
        {"type": "cashier.login", "cashier": "Anna"},
        {"type": "price.change", "article": "7310865004703", "old_price": "12.50", "new_price": "13"},
        {"type": "float.change", "amount": "2000.00", "cashier": "Anna", "note": "morning float"},
        {"type": "cashier.logout", "cashier": "Anna"},
    ]
    for event in events:
        status, body = await api.call("POST", "/v1/events", event)
        assert (status, body["type"]) == (201, event["type"]), body
    assert api.journal() == [
        ("cashier.login", {"cashier": "Anna", "pos_id": "KASSA1"}),
        (
            "price.change",
            {
                "article": "7310865004703",
                "text": None,
                "old_price": "12.50",
                "new_price": "13.00",
                "cashier": None,
                "pos_id": "KASSA1",
            },
        ),
        ("float.change", {"amount": 200000, "cashier": "Anna", "note": "morning float", "pos_id": "KASSA1"}),
        ("cashier.logout", {"cashier": "Anna", "pos_id": "KASSA1"}),
    ]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"cashier": "Anna"}, "type"),
        ({"type": "coffee.break", "cashier": "Anna"}, "type"),
        ({"type": "cashier.login"}, "cashier"),
        ({"type": "cashier.login", "cashier": ""}, "cashier"),
        ({"type": "cashier.login", "cashier": "A" * 61}, "cashier"),
        ({"type": "cashier.login", "cashier": "Anna", "shift": 2}, "shift"),
        ({"type": "price.change", "article": "1"}, "new_price"),
        ({"type": "price.change", "article": "1", "new_price": "1,50"}, "new_price"),
        ({"type": "price.change", "article": "1", "new_price": "-1.50"}, "new_price"),
        ({"type": "float.change", "amount": "0"}, "amount"),
        ({"type": "float.change", "amount": 2000}, "amount"),
        ({"type": "float.change", "amount": "20.00", "till": 2}, "till"),
    ],
)
async def test_a_bad_pos_event_is_422_naming_the_field(api: Api, event: dict[str, Any], field: str) -> None:
    status, body = await api.call("POST", "/v1/events", event)
    assert status == 422, body
    assert body["error"]["field"] == field
    assert api.journal() == []


async def test_x_and_z_reports_are_journaled_and_returned(make_api: ApiFactory) -> None:
    api = await make_api(printer=True)
    await api.call("POST", "/v1/receipts", sale("pos-1"))
    await api.call("POST", "/v1/receipts", sale("pos-2", "10.00", method="cash"))

    status, x = await api.call("POST", "/v1/reports/x")
    assert status == 201
    assert (x["report"], x["z_no"], x["printing"]) == ("x", None, True)
    assert "X-DAGRAPPORT" in x["text"]
    status, z1 = await api.call("POST", "/v1/reports/z")
    assert (status, z1["report"], z1["z_no"]) == (201, "z", 1)
    assert "Z-DAGRAPPORT" in z1["text"]
    status, z2 = await api.call("POST", "/v1/reports/z")
    assert (status, z2["z_no"]) == (201, 2)
    kinds = [kind for kind, _ in api.journal()]
    assert [k for k in kinds if k.startswith("report.")] == ["report.x", "report.z", "report.z"]
    assert kinds[x["journal_entry"] - 1] == "report.x"
    assert kinds[z2["journal_entry"] - 1] == "report.z"


async def test_serving_runs_the_api_on_a_port_until_the_block_ends(api: Api) -> None:
    async with (
        serving(api.till, "127.0.0.1", 0) as url,
        aiohttp.ClientSession() as session,
        session.get(url + "/v1/status", headers=api.auth) as response,
    ):
        assert response.status == 200
        assert (await response.json())["register"] == "KASSA1"


async def test_the_access_log_shows_refused_requests_and_never_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused request is logged at INFO; a good one only at DEBUG (``tillgw run -v``)."""
    with caplog.at_level(logging.DEBUG, logger="aiohttp.access"):
        async with serving(api.till, "127.0.0.1", 0) as url, aiohttp.ClientSession() as session:
            async with session.get(f"{url}/v1/status?token={api.till.token}") as response:
                assert response.status == 401
            async with session.get(f"{url}/v1/status", headers=api.auth) as response:
                assert response.status == 200
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "aiohttp.access"]
    assert [(level, message.split()[1:4]) for level, message in lines] == [
        (logging.INFO, ["GET", "/v1/status", "401"]),
        (logging.DEBUG, ["GET", "/v1/status", "200"]),
    ]
    assert api.till.token not in caplog.text
