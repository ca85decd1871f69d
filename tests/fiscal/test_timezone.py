"""The shop's time zone wins over the computer's, across both changes of summer time.

Sales are made on a real pipeline (SQLite journal, the simulated unit over TCP) at moments
a :class:`SetClock` is set to, just before and after 2027-03-28 02:00 → 03:00 and in and
around the hour 2027-10-31 02:00-03:00 that Europe/Stockholm lives twice; the computer's
own zone is set to another (``TZ``) for each test. The receipts, the control unit's data,
the journal, a Z report and the SKV export must all read the shop's local time.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway.common.clock import DEFAULT_ZONE_NAME, Clock, SetClock, UnknownZone, zone_mismatch, zone_named
from gateway.common.signing import Signer
from gateway.config import ConfigError, load_config
from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
from gateway.fiscal.export.period import Period
from gateway.fiscal.export.skv import export_skv
from gateway.fiscal.export.skv_register import Register
from gateway.fiscal.export.skv_xml import KOMPONENT_NS
from gateway.fiscal.journal import open_readonly
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.reports.report import make_z
from gateway.fiscal.reports.text import text as report_text
from gateway.fiscal.store import Store
from tests.fiscal.conftest import SHOP, make_sale

STOCKHOLM = zone_named(DEFAULT_ZONE_NAME)
REGISTER = Register(
    company=SHOP.name,
    orgnr=SHOP.orgnr,
    address="Storgatan 1, 352 30 Växjö",
    pos_id="KASSA1",
    manufacturing_number="TG-2027-000001",
    model="tillgw SE",
    program="tillgw",
    version="1.0",
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# (the moment in UTC, the shop's local time and offset as the journal writes it)
SPRING = [
    (utc(2027, 3, 28, 0, 59, 30), "2027-03-28T01:59:30+01:00"),  # the last minute of winter time
    (utc(2027, 3, 28, 1, 0, 30), "2027-03-28T03:00:30+02:00"),  # 02:00 was skipped
]
FALL = [
    (utc(2027, 10, 31, 0, 30, 0), "2027-10-31T02:30:00+02:00"),  # the first 02:30, summer time
    (utc(2027, 10, 31, 1, 30, 0), "2027-10-31T02:30:00+01:00"),  # the same hour again, winter time
    (utc(2027, 10, 31, 2, 0, 0), "2027-10-31T03:00:00+01:00"),
]


@pytest.fixture(params=["UTC", "America/New_York"])
def computer_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The computer's own zone set to another than the shop's, as ``TZ`` does for a process."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
async def till_at(
    tmp_path: Path,
    signer: Signer,
    unit_tcp: str,
    make_driver: Callable[..., Awaitable[ControlUnitDriver]],
    pos_id: str,
) -> AsyncIterator[tuple[Pipeline, SetClock]]:
    """A started pipeline whose clock the test sets, in the shop's default zone."""
    clock = SetClock(utc(2027, 1, 1, 12), STOCKHOLM)
    store = await Store.open(tmp_path / "till" / "till.db", signer, clock)
    driver = await make_driver(unit_tcp, start=False)
    pipeline = Pipeline(store, driver, SHOP, pos_id)
    await pipeline.start()
    yield pipeline, clock
    await pipeline.close()
    await store.close()


async def sell_at(pipeline: Pipeline, clock: SetClock, moment: datetime, request_id: str) -> str:
    clock.set(moment)
    registered = await pipeline.submit(request_id, make_sale())
    return registered.at


def export_day(database: Path, day: date) -> list[tuple[str, str]]:
    """(Registreringstidpunkt, event element) of every event of ``day`` in the SKV export."""
    out = database.parent / f"export-{day}.xml"
    with open_readonly(database) as conn:
        export_skv(conn, REGISTER, Period(day, day, STOCKHOLM), out)
    found = []
    for handelse in ET.parse(out).getroot().iter(f"{{{KOMPONENT_NS}}}Handelse"):
        children = list(handelse)
        when = handelse.find(f"{{{KOMPONENT_NS}}}Registreringstidpunkt")
        assert when is not None and when.text is not None
        found.append((when.text, children[-1].tag.split("}")[1]))
    return found


async def test_spring_forward_receipts_unit_z_report_and_export_read_the_shops_time(
    computer_zone: str, till_at: tuple[Pipeline, SetClock], unit: ControlUnit, tmp_path: Path
) -> None:
    pipeline, clock = till_at
    ats = [await sell_at(pipeline, clock, moment, f"spring-{n}") for n, (moment, _) in enumerate(SPRING)]
    assert ats == [at for _, at in SPRING]

    # The receipt says the shop's time; the control unit got the same date and time.
    registered = [await pipeline.find(n) for n in (1, 2)]
    texts = [pipeline.printing.receipt_text(r) for r in registered if r is not None]
    assert "2027-03-28 01:59" in texts[0] and "2027-03-28 03:00" in texts[1]
    sent = [record.data for record in unit.memory.records()]
    assert "202703280159" in sent[0] and "202703280300" in sent[1]

    # A Z report at the end of the shop's day is of that day, whatever the computer's date.
    clock.set(datetime(2027, 3, 28, 23, 59, 0, tzinfo=STOCKHOLM))  # 21:59 UTC, 17:59 in New York
    report = await make_z(pipeline.store, SHOP, pipeline.pos_id)
    assert report.at == "2027-03-28T23:59:00+02:00"
    assert "2027-03-28 23:59" in report_text(report)

    database = tmp_path / "till" / "till.db"
    assert export_day(database, date(2027, 3, 28)) == [
        ("2027-03-28T01:59:30", "Kassakvitto"),
        ("2027-03-28T03:00:30", "Kassakvitto"),
        ("2027-03-28T23:59:00", "ZDagrapport"),
    ]


async def test_the_repeated_hour_keeps_its_offsets_and_its_order(
    computer_zone: str, till_at: tuple[Pipeline, SetClock], unit: ControlUnit, tmp_path: Path
) -> None:
    pipeline, clock = till_at
    ats = [await sell_at(pipeline, clock, moment, f"fall-{n}") for n, (moment, _) in enumerate(FALL)]
    assert ats == [at for _, at in FALL]
    sent = [record.data for record in unit.memory.records()]
    assert ["202710310230" in sent[0], "202710310230" in sent[1], "202710310300" in sent[2]] == [True] * 3

    clock.set(datetime(2027, 10, 31, 23, 0, tzinfo=STOCKHOLM))
    z = await make_z(pipeline.store, SHOP, pipeline.pos_id)
    assert z.at == "2027-10-31T23:00:00+01:00"
    # The shop's 00:30 on 1 November is still 31 October in UTC and in New York: the shop's day wins.
    next_day = datetime(2027, 11, 1, 0, 30, tzinfo=STOCKHOLM)
    assert await sell_at(pipeline, clock, next_day, "next-day") == "2027-11-01T00:30:00+01:00"

    database = tmp_path / "till" / "till.db"
    # The export groups by the shop's day and orders the repeated hour by when it happened.
    assert export_day(database, date(2027, 10, 31)) == [
        ("2027-10-31T02:30:00", "Kassakvitto"),
        ("2027-10-31T02:30:00", "Kassakvitto"),
        ("2027-10-31T03:00:00", "Kassakvitto"),
        ("2027-10-31T23:00:00", "ZDagrapport"),
    ]
    assert export_day(database, date(2027, 11, 1)) == [("2027-11-01T00:30:00", "Kassakvitto")]


async def test_an_old_entry_in_another_offset_is_exported_on_the_shops_day(
    till_at: tuple[Pipeline, SetClock], tmp_path: Path
) -> None:
    """A journal written while the till kept the computer's UTC: the export moves it to the shop's day."""
    pipeline, clock = till_at
    await sell_at(
        pipeline, clock, utc(2027, 3, 27, 12), "the-day-before"
    )  # the unit's number, for the export
    await pipeline.store.transact(
        lambda w: w.append("cashier.login", {"cashier": "Bo", "pos_id": "KASSA1"}),
        datetime(2027, 3, 27, 23, 30, tzinfo=UTC),  # 00:30 on the 28th in Stockholm
    )
    database = tmp_path / "till" / "till.db"
    assert export_day(database, date(2027, 3, 28)) == [("2027-03-28T00:30:00", "InloggningIKassaregister")]


def test_set_clock_and_clock_read_the_shops_zone(computer_zone: str) -> None:
    clock = SetClock(utc(2027, 3, 28, 0, 59, 59), STOCKHOLM)
    assert clock.now().isoformat() == "2027-03-28T01:59:59+01:00"
    clock.advance(timedelta(seconds=1))
    assert clock.now().isoformat() == "2027-03-28T03:00:00+02:00"
    assert clock.today() == date(2027, 3, 28)
    assert Clock(STOCKHOLM).now().utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert Clock().zone_name == "Europe/Stockholm"


def test_the_computers_zone_is_named_when_it_keeps_another_time(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert zone_mismatch(STOCKHOLM, utc(2027, 1, 1)) == (
            "The computer's clock is set to UTC, the shop's time zone is Europe/Stockholm: "
            "receipts use the shop's time."
        )
        monkeypatch.setenv("TZ", "Europe/Stockholm")
        time.tzset()
        assert zone_mismatch(STOCKHOLM, utc(2027, 1, 1)) is None
        # Another name that keeps the same time all year is no mismatch.
        monkeypatch.setenv("TZ", "Europe/Berlin")
        time.tzset()
        assert zone_mismatch(STOCKHOLM, utc(2027, 1, 1)) is None
    finally:
        monkeypatch.undo()
        time.tzset()


def write_config(tmp_path: Path, shop_extra: str = "") -> Path:
    path = tmp_path / "till.toml"
    path.write_text(
        "[shop]\n"
        'name = "Kaffebaren"\norgnr = "556036-0793"\naddress = ["Storgatan 1"]\n'
        f"{shop_extra}"
        '[register]\npos_id = "KASSA-1"\n'
        '[control_unit]\nurl = "/dev/ttyUSB0"\n',
        encoding="utf-8",
    )
    return path


def test_timezone_defaults_to_stockholm_and_takes_an_iana_name(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path)).shop.timezone.key == "Europe/Stockholm"
    assert load_config(write_config(tmp_path, 'timezone = "Europe/Helsinki"\n')).shop.timezone.key == (
        "Europe/Helsinki"
    )


def test_an_unknown_timezone_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[shop\]\.timezone: 'Europe/Växjö' is not a known time zone"):
        load_config(write_config(tmp_path, 'timezone = "Europe/Växjö"\n'))
    with pytest.raises(ConfigError, match=r"\[shop\]\.timezone: must be a non-empty string"):
        load_config(write_config(tmp_path, "timezone = 1\n"))
    with pytest.raises(UnknownZone):
        zone_named("../etc/passwd")
