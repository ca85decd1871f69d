"""A control unit that stops answering: the outage journaled, shown, ended; across a restart;
outside opening hours; in the fault report sheet and in the SKV export.

Real parts: the simulated CCSP unit over TCP made silent with its ``no-reply`` fault, a
real Till on SQLite in tmp_path, its API served by aiohttp. ``outage_after_minutes`` is a
fraction of a second, and every wait is for the watch's state or the journal, never for
a clock: the timeouts only keep a broken test from hanging.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit, Fault
from gateway import cli
from gateway.common.opening_hours import OpeningHours, parse_opening_hours
from gateway.config import ConfigError, load_config
from gateway.fiscal.export.period import Period
from gateway.fiscal.export.skv import register_from_config, write_skv
from gateway.fiscal.journal import open_readonly
from gateway.fiscal.outages import FAULT_REPORT_COMMAND
from gateway.fiscal.outages import due_at as outage_due_at
from tools.registration.fault_report import run_fault_report

from .conftest import ORGNR, POS_ID, Api, ApiFactory, sale
from .test_events import next_event

TINY = {"outage_after_minutes": 0.002, "manufacturing_number": "TG-2025-000117"}  # about 0.1 s
SAFETY = 20.0  # seconds before a broken test gives up; nothing is timed against it


async def silence(api: Api, unit: ControlUnit) -> None:
    """Make the unit stop answering, and let a sale find out (the till polls no more than before)."""
    unit.faults.set(Fault.NO_REPLY)
    status, _ = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 503


async def bring_back(api: Api, unit: ControlUnit) -> None:
    unit.faults.clear()
    status, _ = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 201


def outage_entries(api: Api) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, body) for kind, body in api.journal() if kind.startswith("control_unit.outage")]


async def test_an_outage_is_journaled_shown_and_ended_when_the_unit_answers(
    make_api: ApiFactory, unit: ControlUnit
) -> None:
    api = await make_api(settings=TINY)
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        await next_event(ws, "hello")
        await silence(api, unit)
        await asyncio.wait_for(api.till.outages.wait_until(ongoing=True), SAFETY)
        pushed = await next_event(ws, "outage")
        assert pushed["data"]["outage"]["ongoing"] is True

    _, status = await api.call("GET", "/v1/status")
    outage = status["outage"]
    assert outage["ongoing"] is True and outage["until"] is None
    assert outage["unit_id"] == unit.unit_id
    assert outage["message"].startswith("The control unit has not answered since ")
    assert "Sales are refused. File a fault report (felanmälan) with Skatteverket: " in outage["message"]
    assert outage["message"].endswith(FAULT_REPORT_COMMAND)
    [(kind, body)] = outage_entries(api)
    assert kind == "control_unit.outage"
    assert body["pos_id"] == POS_ID and body["unit_id"] == unit.unit_id
    assert body["action"] == "sales refused: no control code, no receipt"
    assert "no answer from the control unit" in body["reason"]
    assert outage["journal_entry"] == max(seq for seq, _ in _seqs(api, "control_unit.outage"))

    await bring_back(api, unit)
    await asyncio.wait_for(api.till.outages.wait_until(ongoing=False), SAFETY)
    _, status = await api.call("GET", "/v1/status")
    assert status["outage"]["ongoing"] is False and status["outage"]["until"] is not None
    assert "did not answer from" in status["outage"]["message"]
    kinds = [kind for kind, _ in outage_entries(api)]
    assert kinds == ["control_unit.outage", "control_unit.outage_ended"]
    ended = outage_entries(api)[1][1]
    assert ended["outage"] == outage["journal_entry"] and ended["since"] == body["since"]


def _seqs(api: Api, kind: str) -> list[tuple[int, str]]:
    with open_readonly(api.till.files.database) as conn:
        return [
            (int(r[0]), str(r[1]))
            for r in conn.execute("SELECT seq, kind FROM journal WHERE kind = ?", (kind,))
        ]


async def test_an_open_outage_survives_a_restart_until_the_unit_answers(
    make_api: ApiFactory, unit: ControlUnit
) -> None:
    first = await make_api(settings=TINY)
    await silence(first, unit)
    await asyncio.wait_for(first.till.outages.wait_until(ongoing=True), SAFETY)
    _, before = await first.call("GET", "/v1/status")
    await first.till.close()  # a restart, the unit still silent

    second = await make_api(settings=TINY)
    await second.till.outages.settled()
    _, after = await second.call("GET", "/v1/status")
    assert after["outage"]["ongoing"] is True
    assert after["outage"]["journal_entry"] == before["outage"]["journal_entry"]
    assert after["outage"]["since"] == before["outage"]["since"]
    assert [kind for kind, _ in outage_entries(second)] == ["control_unit.outage"]  # not journaled again

    await bring_back(second, unit)
    await asyncio.wait_for(second.till.outages.wait_until(ongoing=False), SAFETY)
    assert [kind for kind, _ in outage_entries(second)] == [
        "control_unit.outage",
        "control_unit.outage_ended",
    ]


async def test_outside_opening_hours_no_outage_is_journaled(make_api: ApiFactory, unit: ControlUnit) -> None:
    # Open only on tomorrow's weekday: now is closed, whatever the day.
    tomorrow = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(date.today().weekday() + 1) % 7]
    hours = parse_opening_hours(f"{tomorrow} 09:00-10:00")
    api = await make_api(settings={**TINY, "opening_hours": hours})
    await silence(api, unit)
    await api.till.outages.settled()
    due = api.till.outages.due
    assert due is not None and due.date() == date.today() + timedelta(days=1)  # counts from the opening
    assert api.till.outages.open_outage is None
    _, status = await api.call("GET", "/v1/status")
    assert status["outage"] is None
    assert outage_entries(api) == []


def test_opening_hours_count_only_open_time() -> None:
    hours = parse_opening_hours("mon-fri 09:00-18:00, sat 10:00-16:00")

    friday_evening = datetime(2026, 1, 2, 17, 55).astimezone()
    assert (
        outage_due_at(friday_evening, timedelta(minutes=15), hours)
        == datetime(2026, 1, 3, 10, 10).astimezone()
    )
    assert (
        outage_due_at(friday_evening, timedelta(minutes=2), hours)
        == datetime(2026, 1, 2, 17, 57).astimezone()
    )
    assert outage_due_at(friday_evening, timedelta(0), OpeningHours()) == friday_evening


async def test_the_fault_report_sheet_and_the_export_show_a_real_outage(
    make_api: ApiFactory, unit: ControlUnit, tmp_path: Path, capsys: Any
) -> None:
    api = await make_api(settings=TINY)
    await silence(api, unit)
    await asyncio.wait_for(api.till.outages.wait_until(ongoing=True), SAFETY)
    await bring_back(api, unit)
    await asyncio.wait_for(api.till.outages.wait_until(ongoing=False), SAFETY)
    [(outage_seq, _)] = _seqs(api, "control_unit.outage")

    out = tmp_path / "sheets"
    assert run_fault_report(api.till.config, None, out) == 0
    printed = capsys.readouterr().out
    assert "felanmälan till Skatteverket" in printed
    sheet = json.loads((out / f"fault-report-{outage_seq}.json").read_text(encoding="utf-8"))
    parts = {part["section"]: {i["question"]: i["answer"] for i in part["items"]} for part in sheet["sheet"]}
    number = "Tillverkningsnummer (manufacturing number)"
    assert parts["Kontrollenhet (control unit)"][number] == unit.unit_id
    assert parts["Kassaregister (the register)"][number] == "TG-2025-000117"
    answers = parts["Felet (the fault)"]
    assert parts["Kassaregister (the register)"]["Kassabeteckning (designation)"] == POS_ID
    assert answers["Nekade försäljningsförsök (sales refused)"] == "1"
    assert "försäljning nekades" in answers["Vad kassan gjorde (what the till did)"]
    assert sheet["outage"]["journal_entry"] == outage_seq and sheet["outage"]["ongoing"] is False
    assert (out / f"fault-report-{outage_seq}.md").read_text(encoding="utf-8").startswith("# Kassaregister")
    assert (out / f"fault-report-{outage_seq}.pdf").read_bytes().startswith(b"%PDF")
    assert run_fault_report(api.till.config, "1999-01-01", out) == 1  # no outage that day
    assert run_fault_report(api.till.config, "soon", out) == 2

    # The command as a shell runs it, against the same data directory, while the till runs.
    config = tmp_path / "till.toml"
    config.write_text(
        f'[shop]\nname = "Kaffebaren i Växjö AB"\norgnr = "{ORGNR}"\n'
        'address = ["Storgatan 1", "352 30 Växjö"]\n'
        f'[register]\npos_id = "{POS_ID}"\ndata_dir = "till"\n[control_unit]\nurl = "socket://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    flags = ["register", "--config", str(config), "--output", str(tmp_path / "cli")]
    assert await asyncio.to_thread(cli.main, [*flags, "--fault-report", "--outage", str(outage_seq)]) == 0
    assert (tmp_path / "cli" / f"fault-report-{outage_seq}.pdf").is_file()
    assert await asyncio.to_thread(cli.main, [*flags, "--outage", str(outage_seq)]) == 2

    today = date.today()
    xml = io.StringIO()
    with open_readonly(api.till.files.database) as conn:
        write_skv(conn, register_from_config(api.till.config), Period(today - timedelta(days=1), today), xml)
    text = xml.getvalue()
    began = text.index(f"Kontrollenheten {unit.unit_id} ur funktion sedan ")
    ended = text.index("Kontrollenheten fungerar igen; avbrottet ")
    # At their places in time: after the sale the unit did not answer (a receipt at its sale's time).
    assert text.index("<utreko:Kassakvitto>") < began < ended
    assert f"började i journalpost {outage_seq}. Journalpost {outage_seq + 1}." in text
    assert "nekar försäljning: ingen kontrollkod, inget kvitto" in text


def test_the_outage_keys_are_read_and_a_wrong_value_names_its_key(tmp_path: Path) -> None:
    head = f'[shop]\nname = "K"\norgnr = "{ORGNR}"\naddress = ["Storgatan 1"]\n'
    unit = '[register]\npos_id = "K1"\n[control_unit]\nurl = "socket://127.0.0.1:9"\n'
    path = tmp_path / "till.toml"
    path.write_text(head + unit, encoding="utf-8")
    plain = load_config(path)
    assert plain.outage_after_minutes == 15 and plain.opening_hours.always
    path.write_text(
        f'{head}opening_hours = "mon-fri 09:00-18:00, sat 10:00-16:00"\n{unit}outage_after_minutes = 5\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.outage_after_minutes == 5
    assert config.opening_hours.is_open(datetime(2026, 1, 3, 15, 59)) is True  # a Saturday
    assert config.opening_hours.is_open(datetime(2026, 1, 4, 12, 0)) is False  # Sunday: closed
    for wrong, words in (
        ('"mon-fri 9-18"', "[shop].opening_hours: 'mon-fri 9-18' is not DAY HH:MM-HH:MM"),
        ('"mon-fre 09:00-18:00"', "[shop].opening_hours: 'fre' is not a day"),
        ('"sat 16:00-10:00"', "[shop].opening_hours: 'sat 16:00-10:00' closes before it opens"),
    ):
        path.write_text(head + f"opening_hours = {wrong}\n" + unit, encoding="utf-8")
        with pytest.raises(ConfigError, match=re.escape(words)):
            load_config(path)
    path.write_text(head + unit + "outage_after_minutes = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("[control_unit].outage_after_minutes: must be a number")):
        load_config(path)
