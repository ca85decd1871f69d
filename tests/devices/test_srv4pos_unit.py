"""The srv4pos driver against the simulated srv4pos service over real HTTPS (its own CA).

The service is the real simulator (``ControlUnit`` + ``serve_srv4pos``) in this process;
a test switches the unit's faults and reads its journal memory directly.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.srv4pos_server import Srv4posService, serve_srv4pos
from gateway.devices import ControlUnitRefused, ControlUnitUnavailable, DeviceState
from gateway.devices.control_units.interface import ControlUnit as ControlUnitProtocol
from gateway.devices.control_units.srv4pos_driver import Srv4posControlUnit
from protocols import srv4pos
from protocols.skv import ReceiptType
from tests.devices.unit_drivers import (
    ReceiptFactory,
    a_lost_answer_is_resolved,
    driver_factory,
    no_reply_then_one_registration,
)
from tests.devices.unit_faults import stored, switch_on

DriverFactory = Callable[..., Awaitable[Srv4posControlUnit]]

POS_ID = "KASSA1"
ORGNR = "5561234567"
API_KEY = "k3y-0f-the-r3gister-9f2c"
CORPORATE_ID = "5561234567"
FAST: dict[str, Any] = {"request_timeout": 0.5, "retries": 3, "busy_timeout": 0.3, "busy_poll": 0.05}


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("srv4pos-tls")


@pytest.fixture
async def service(unit: ControlUnit, tls_dir: Path) -> AsyncIterator[Srv4posService]:
    async with serve_srv4pos(
        unit, api_key=API_KEY, corporate_id=CORPORATE_ID, orgnr=ORGNR, tls_dir=tls_dir
    ) as s:
        yield s


@pytest.fixture
async def make_driver(service: Srv4posService) -> AsyncIterator[DriverFactory]:
    def build(**overrides: Any) -> Srv4posControlUnit:
        options: dict[str, Any] = {
            "corporate_id": CORPORATE_ID,
            "api_key": API_KEY,
            "ca_cert": service.ca_cert,
            **FAST,
            **overrides,
        }
        return Srv4posControlUnit(options.pop("url", service.url), POS_ID, ORGNR, **options)

    async with driver_factory(build) as make:
        yield make


async def test_a_sale_is_registered_and_names_the_unit(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(start=False)
    view: ControlUnitProtocol = driver
    identity = await view.start()
    assert (identity.unit_id, identity.protocol, driver.state) == ("", "srv4pos", DeviceState.READY)

    done = await driver.register(9, receipt(1))

    [record] = stored(unit, "normal:1")
    assert (done.code, done.unit_id, done.attempts, done.seq) == (record.code, unit.unit_id, 1, 9)
    assert driver.unit_identity is not None and driver.unit_identity.unit_id == unit.unit_id
    [sent] = [f.data for f in done.frames if f.direction == "tx"]
    kd = srv4pos.decode_kd(sent)
    assert (kd.brutto, kd.receipt_number, kd.print_type, kd.refund) == (
        12500,
        1,
        srv4pos.PrintType.NORMAL,
        False,
    )
    assert dict(kd.vat_rate_to_sum) == {"0": 0, "6": 0, "12": 0, "25": 2500}


async def test_the_receipts_time_is_sent_as_the_instant_it_is_in_the_shops_zone(
    make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    data = receipt(1)
    driver = await make_driver(zone=ZoneInfo("Europe/Helsinki"))
    done = await driver.register(10, data)
    [frame] = [f.data for f in done.frames if f.direction == "tx"]
    sent = srv4pos.decode_kd(frame).date
    # the same wall-clock time is an hour earlier in Helsinki than in Stockholm
    assert srv4pos.kd_request_of(data, srv4pos.SWEDEN).date - sent == 3_600_000


async def test_a_lost_answer_after_storing_is_resolved_by_the_same_request(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()

    await a_lost_answer_is_resolved(unit, driver, receipt, 1, "normal:1")


async def test_no_reply_makes_it_unavailable_and_the_resend_registers_once(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(retries=1)

    unavailable, _ = await no_reply_then_one_registration(unit, driver, receipt, 1)

    assert unavailable.reason.startswith(f"no answer from srv4pos at {driver.url} after 2 tries")


async def test_a_server_error_is_retried(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()
    switch_on(unit, "server-error*1")

    done = await driver.register(1, receipt(1))

    assert done.attempts == 2 and len(unit.memory) == 1


async def test_the_units_refusal_carries_the_services_words(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()
    switch_on(unit, "storage-full")

    with pytest.raises(ControlUnitRefused) as refused:
        await driver.register(1, receipt(1))

    assert refused.value.said == (
        "HTTP 400 ControlUnitReceiptJsonException: command=kd, response=010, name=InternLoggFull24(24)"
    )
    assert refused.value.code is None and driver.state is DeviceState.FAILED


async def test_a_wrong_api_key_is_final_and_never_shown(
    make_driver: DriverFactory, receipt: ReceiptFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-key-7781"
    driver = await make_driver(api_key=wrong)

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(1, receipt(1))

    assert unavailable.value.reason.startswith(
        "srv4pos refused the API key (HTTP 401 UnauthorizedJsonException"
    )
    assert unavailable.value.reason.endswith("— check [control_unit] api_key")
    assert driver.state is DeviceState.FAILED
    encoded = base64.b64encode(wrong.encode()).decode()
    for text in (str(unavailable.value), driver.reason, driver.url, caplog.text, repr(driver)):
        assert wrong not in text and encoded not in text and API_KEY not in text


async def test_another_sellers_corporate_id_is_forbidden(
    make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(corporate_id="5569999999")

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(1, receipt(1))

    assert unavailable.value.reason.startswith(
        "srv4pos does not let this register in (HTTP 403 ForbiddenJsonException"
    )


async def test_training_and_pro_forma_need_no_code_copies_do(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()
    await driver.register(1, receipt(1))

    copy = await driver.register(2, receipt(1, receipt_type=ReceiptType.COPY))
    training = await driver.register(3, receipt(2, receipt_type=ReceiptType.TRAINING))

    assert copy.code == stored(unit, "copy:1")[0].code and copy.needs_code
    assert (training.code, training.needs_code) == ("", False)
    assert [r.key for r in unit.memory.records()] == ["normal:1", "copy:1", "proforma:2"]


async def test_a_normal_receipt_without_a_code_is_a_fault(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = await make_driver(retries=1)
    real = srv4pos.encode_kd_reply
    monkeypatch.setattr(
        srv4pos, "encode_kd_reply", lambda reply: real(srv4pos.KdReply("", reply.control_unit_serial))
    )

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(1, receipt(1))

    assert "answered without a control code" in unavailable.value.reason


async def test_a_wrong_address_is_final(
    service: Srv4posService, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(url=service.url.replace("/v45", "/v44"))

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(1, receipt(1))

    assert "instead of a srv4pos reply — check the control unit's address" in unavailable.value.reason
