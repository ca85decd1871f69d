"""The TCS driver against the simulated TCS service over real HTTPS with client certificates.

The service is the real simulator (``ControlUnit`` + ``serve_tcs``) in this process, on
127.0.0.1 with a CA of its own; the driver trusts that CA and shows the register's
PKCS#12 certificate. A test switches the unit's faults and reads its journal memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.pki import Pki, make_pki
from firmware_sim.control_unit.tcs_server import TcsService, serve_tcs
from gateway.devices import ControlUnitRefused, ControlUnitUnavailable, DeviceState
from gateway.devices.control_units.interface import ControlUnit as ControlUnitProtocol
from gateway.devices.control_units.tcs_driver import TCS_VERSION, TcsControlUnit
from protocols import tcs
from protocols.skv import ReceiptType
from tests.devices.unit_drivers import (
    ReceiptFactory,
    a_lost_answer_is_resolved,
    driver_factory,
    no_reply_then_one_registration,
)
from tests.devices.unit_faults import stored, switch_on

DriverFactory = Callable[..., Awaitable[TcsControlUnit]]

POS_ID = "KASSA1"
ORGNR = "5561234567"
APPLICATION_ID = "tillgw test"
FAST: dict[str, Any] = {"request_timeout": 0.5, "retries": 3, "busy_timeout": 0.3, "busy_poll": 0.05}


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tcs-pki")
    make_pki(path)
    return path


@pytest.fixture
async def service(unit: ControlUnit, pki_dir: Path) -> AsyncIterator[TcsService]:
    async with serve_tcs(unit, pki_dir=pki_dir, application_id=APPLICATION_ID, orgnr=ORGNR) as served:
        yield served


@pytest.fixture
async def make_driver(service: TcsService) -> AsyncIterator[DriverFactory]:
    def build(*, cert: Path | None = None, **overrides: Any) -> TcsControlUnit:
        pki: Pki = service.pki
        options: dict[str, Any] = {
            "application_id": APPLICATION_ID,
            "register_address": "Storgatan 1, 111 22 Stockholm",
            "client_cert": cert or pki.client_p12,
            "client_cert_password": pki.client_password,
            "ca_cert": pki.ca_cert,
            **FAST,
            **overrides,
        }
        return TcsControlUnit(options.pop("url", service.url), POS_ID, ORGNR, **options)

    async with driver_factory(build) as make:
        yield make


async def test_a_sale_is_registered_with_the_services_code(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(start=False)
    view: ControlUnitProtocol = driver  # the pipeline's view type-checks
    assert view.state is DeviceState.CONNECTING

    await driver.start()
    assert (driver.state, driver.reason) == (DeviceState.READY, "ready")

    done = await driver.register(41, receipt(1))

    [record] = stored(unit, "seq:1")
    assert done.code == record.code and re.fullmatch(r"[A-Z2-7]{32};[A-Z2-7]{26}", done.code)
    assert (done.unit_id, done.seq, done.attempts, done.needs_code) == (unit.unit_id, 41, 1, True)
    assert driver.unit_identity is not None
    assert (driver.unit_identity.unit_id, driver.unit_identity.protocol) == (unit.unit_id, "TCS")
    assert driver.unit_identity.protocol_name == f"TCS v{TCS_VERSION}" and driver.unit_identity.firmware == ""
    [sent] = [f.data for f in done.frames if f.direction == "tx"]
    request = tcs.decode_request(sent)
    assert isinstance(request, tcs.TcsRequest)
    assert request.request_id == tcs.request_id_of(POS_ID, ORGNR, 41)
    assert request.control_data.sequence_number == 1 and request.application_id == APPLICATION_ID


async def test_a_lost_answer_after_storing_is_resolved_by_the_same_request(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()

    # The retry meets the stored receipt; every try the same document, RequestID included.
    await a_lost_answer_is_resolved(unit, driver, receipt, 7, "seq:1")


async def test_no_reply_makes_it_unavailable_and_the_resend_registers_once(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(retries=1)

    unavailable, first = await no_reply_then_one_registration(unit, driver, receipt, 3)

    assert unavailable.reason == (
        f"no answer from the Infrasec TCS service at {driver.url} after 2 tries — "
        "check the till's internet connection; if it works, the service may be down"
    )
    assert first.code == stored(unit, "seq:1")[0].code


async def test_a_server_error_is_retried(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()
    switch_on(unit, "server-error*1")

    done = await driver.register(5, receipt(1))

    assert done.attempts == 2 and done.code == stored(unit, "seq:1")[0].code
    assert next(f.note for f in done.frames if f.direction == "rx") == "HTTP 500 Internal Server Error"


async def test_a_refusal_is_final_with_the_services_words(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()
    switch_on(unit, "storage-full")

    with pytest.raises(ControlUnitRefused) as refused:
        await driver.register(5, receipt(1))

    assert refused.value.said == "ResponseCode 10: journal memory full (control unit error 010)"
    assert refused.value.code is None and len(unit.memory) == 0


async def test_a_copy_comes_back_without_a_code_and_is_a_registration(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver()
    await driver.register(1, receipt(1))

    copy = await driver.register(2, receipt(1, receipt_type=ReceiptType.COPY))
    training = await driver.register(3, receipt(2, receipt_type=ReceiptType.TRAINING))

    assert (copy.code, copy.needs_code, copy.unit_id) == ("", False, unit.unit_id)
    assert (training.code, training.needs_code) == ("", False)
    assert [r.key for r in unit.memory.records()] == ["seq:1", "copy:1", "seq:2"]


async def test_a_normal_receipt_without_a_code_is_a_fault(
    unit: ControlUnit, make_driver: DriverFactory, receipt: ReceiptFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = await make_driver(retries=1)
    blank = tcs.ControlCode(unit.unit_id, "")
    real = tcs.encode_response

    def without_code(msg: tcs.RegisterStatusResponse) -> bytes:
        if isinstance(msg, tcs.TcsResponse):
            msg = tcs.TcsResponse(
                msg.response_code,
                msg.response_message,
                msg.response_reason,
                msg.application_id,
                msg.request_id,
                msg.skv_response_code,
                msg.skv_response_message,
                sequence_number=msg.sequence_number,
                control_code=blank,
            )
        return real(msg)

    monkeypatch.setattr(tcs, "encode_response", without_code)  # the service misbehaves

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.register(1, receipt(1))

    assert "answered without a control code" in unavailable.value.reason
    assert driver.state is DeviceState.FAILED


@pytest.mark.parametrize(
    ("which", "words"),
    [
        ("expired", "this register's certificate for the Infrasec TCS service expired on "),
        ("foreign", "the TCS server refused this register's certificate ("),
        ("missing", "this register's certificate for the Infrasec TCS service is missing ("),
        ("none", "the TCS server refused this register's certificate ("),
        ("password", "cannot be opened with the configured password"),
    ],
)
async def test_certificate_problems_are_final_and_named(
    service: TcsService, make_driver: DriverFactory, which: str, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    pki = service.pki
    choices: dict[str, dict[str, Any]] = {
        "expired": {"cert": pki.expired_client_p12},
        "foreign": {"cert": pki.foreign_client_p12},
        "missing": {"cert": pki.ca_cert.with_name("nowhere.p12")},
        "none": {"client_cert": None},
        "password": {"client_cert_password": "wrong-secret-1234"},
    }
    options = choices[which]
    caplog.set_level(logging.DEBUG)
    driver = await make_driver(start=False, **options)

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.start()

    assert words in unavailable.value.reason
    assert driver.state is DeviceState.FAILED and words in driver.reason
    for text in (str(unavailable.value), driver.reason, caplog.text):
        assert pki.client_password not in text and "wrong-secret-1234" not in text


async def test_the_server_must_show_a_trusted_certificate(make_driver: DriverFactory) -> None:
    driver = await make_driver(start=False, ca_cert=None)  # the system's trust store

    with pytest.raises(ControlUnitUnavailable) as unavailable:
        await driver.start()

    assert "showed a certificate this till does not trust" in unavailable.value.reason


async def test_an_unknown_register_is_refused_at_start(
    make_unit: Callable[..., ControlUnit], pki_dir: Path
) -> None:
    unit = make_unit(auto_register=False, pos_ids=("OTHER",))
    async with serve_tcs(unit, pki_dir=pki_dir) as served:
        driver = TcsControlUnit(
            served.url,
            POS_ID,
            ORGNR,
            application_id=APPLICATION_ID,
            register_address="Storgatan 1",
            client_cert=served.pki.client_p12,
            client_cert_password=served.pki.client_password,
            ca_cert=served.pki.ca_cert,
            **FAST,
        )
        async with driver:
            with pytest.raises(ControlUnitRefused) as refused:
                await driver.start()
    assert (
        refused.value.said
        == "ResponseCode 7: invalid POS id (not licensed in this unit) (control unit error 007)"
    )
    assert (
        driver.state is DeviceState.FAILED and "check [control_unit] register_id ('KASSA1')" in driver.reason
    )


def test_credentials_are_kept_out_of_the_url() -> None:
    with pytest.raises(ValueError, match="not in the control unit's URL"):
        TcsControlUnit(
            "https://user:secret@tcs.example/tcsserver",
            POS_ID,
            ORGNR,
            application_id=APPLICATION_ID,
            register_address="Storgatan 1",
            client_cert=None,
            client_cert_password=None,
        )
