"""A till on a computer set to another zone: it warns at start and in GET /v1/status, and
stamps its receipts in the shop's zone all the same."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from gateway.common.clock import DEFAULT_ZONE_NAME, zone_named
from tests.api.conftest import ApiFactory, sale

STOCKHOLM = zone_named(DEFAULT_ZONE_NAME)


@pytest.fixture
def computer_in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_a_computer_in_utc_is_named_and_the_shops_time_is_used(
    computer_in_utc: None, make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tillgw.till"):
        api = await make_api()
    words = (
        "The computer's clock is set to UTC, the shop's time zone is Europe/Stockholm: "
        "receipts use the shop's time."
    )
    assert any(words in record.getMessage() for record in caplog.records)
    status, body = await api.call("GET", "/v1/status")
    assert status == 200
    assert body["time_zone"] == {"shop": "Europe/Stockholm", "warning": words}

    status, receipt = await api.call("POST", "/v1/receipts", sale())
    assert status in (200, 201), receipt
    at = datetime.fromisoformat(receipt["at"])
    # Stockholm's offset at that moment (+01:00 or +02:00), never the computer's +00:00.
    assert at.utcoffset() == at.astimezone(STOCKHOLM).utcoffset() != datetime.now().astimezone().utcoffset()


async def test_a_computer_in_the_shops_zone_gives_no_warning(
    monkeypatch: pytest.MonkeyPatch, make_api: ApiFactory
) -> None:
    monkeypatch.setenv("TZ", "Europe/Stockholm")
    time.tzset()
    try:
        api = await make_api()
        status, body = await api.call("GET", "/v1/status")
        assert status == 200 and body["time_zone"] == {"shop": "Europe/Stockholm", "warning": None}
    finally:
        monkeypatch.undo()
        time.tzset()
