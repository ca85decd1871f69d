"""A till whose identity no longer matches its registration: the log, ``GET /v1/status``, the journal.

Real parts: the simulated control unit over TCP (it answers with its own unit id), a
real Till on SQLite in tmp_path, the API served by aiohttp. A restart is the same data
directory opened anew.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway.registration.record import (
    Business,
    ControlUnitEntry,
    PlaceOfSale,
    RegisterEntry,
    Registration,
    save_registration,
)

from .conftest import ORGNR, POS_ID, ApiFactory


def registered(unit_id: str, *, designation: str = POS_ID, on: date = date(2026, 1, 5)) -> Registration:
    return Registration(
        Business("Kaffebaren i Växjö AB", ORGNR),
        PlaceOfSale("Storgatan 1", "352 30", "Växjö"),
        ControlUnitEntry("Retail Innovation (CleanCash)", "CleanCash Type A", unit_id, "1.0", True),
        RegisterEntry(designation, "tillgw", "tillgw", "0.1.0", "TG-2025-000117", "journal memory: till.db"),
        on,
    )


async def test_a_never_registered_till_says_so_in_its_status(make_api: ApiFactory) -> None:
    api = await make_api()
    status, body = await api.call("GET", "/v1/status")
    assert status == 200
    assert body["registration"]["message"] == "not registered yet: run tillgw register"
    assert body["registration"]["registered"] is None
    assert not [kind for kind, _ in api.journal() if kind == "registration.changed"]


async def test_a_till_that_matches_its_registration(
    make_api: ApiFactory, unit: ControlUnit, tmp_path: Path
) -> None:
    save_registration(tmp_path / "till", registered(unit.unit_id))
    api = await make_api()
    _, body = await api.call("GET", "/v1/status")
    assert body["registration"]["changed"] == []
    assert body["registration"]["report_by"] is None
    assert body["registration"]["message"].startswith("registered on 2026-01-05")


async def test_a_replaced_control_unit_is_told_once_and_dated(
    make_api: ApiFactory, unit: ControlUnit, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save_registration(tmp_path / "till", registered("ISCCUSE0000000001", designation="KASSA9"))
    caplog.set_level(logging.WARNING, logger="tillgw.registration")

    first = await make_api()
    _, body = await first.call("GET", "/v1/status")
    report_by = (date.today() + timedelta(days=14)).isoformat()
    registration = body["registration"]
    assert registration["changed"] == ["control_unit.manufacturing_number", "register.designation"]
    assert registration["registered"]["control_unit.manufacturing_number"] == "ISCCUSE0000000001"
    assert registration["current"]["control_unit.manufacturing_number"] == unit.unit_id
    assert registration["current"]["register.designation"] == POS_ID
    assert registration["first_seen"] == date.today().isoformat()
    assert registration["report_by"] == report_by
    assert f"report the change to Skatteverket within two weeks, by {report_by}" in registration["message"]
    assert (
        f"control unit's manufacturing number ISCCUSE0000000001 -> {unit.unit_id}" in registration["message"]
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"by {report_by}" in w for w in warnings)

    await first.till.close()  # a restart: the same data directory opened anew
    caplog.clear()
    second = await make_api()
    _, again = await second.call("GET", "/v1/status")
    assert again["registration"]["report_by"] == report_by
    assert any("report the change" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    entries = [body for kind, body in second.journal() if kind == "registration.changed"]
    assert len(entries) == 1
    [entry] = entries
    assert entry["changed"] == ["control_unit.manufacturing_number", "register.designation"]
    assert entry["report_by"] == report_by
    assert entry["current"]["control_unit.manufacturing_number"] == unit.unit_id
    assert entry["pos_id"] == POS_ID


async def test_the_pos_cannot_post_a_registration_change(make_api: ApiFactory) -> None:
    api = await make_api()
    status, _ = await api.call("POST", "/v1/events", {"type": "registration.changed", "cashier": "x"})
    assert status == 422
    assert not [kind for kind, _ in api.journal() if kind == "registration.changed"]
