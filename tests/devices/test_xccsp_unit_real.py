"""The XCCSP driver against what the real CleanCash servers do: credentials (Basic for the
hosted service, Digest for a LAN server), main status 99, faults known and unknown,
replies of the wrong shape, codes of the wrong shape, training receipts without a code.

Real HTTP on 127.0.0.1: the simulated server (``serve_http``/``serve_xccsp``), or a
small aiohttp server answering recorded-style documents where the simulator would never
misbehave that way. Credentials must never show: in ``url``, a reason, an exception, a
log line or a frame record.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.xccsp_server import AuthScheme, XccspServer, serve_http, serve_xccsp
from gateway.devices import ControlUnitRefused, ControlUnitUnavailable, DeviceState
from gateway.devices.control_units.xccsp_driver import XccspControlUnit
from protocols import xccsp
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, ReceiptType
from tests.devices.unit_drivers import driver_factory, serve_handler
from tests.devices.unit_faults import switch_on

ReceiptFactory = Callable[..., ControlData]

POS_ID = "KASSA1"  # the conftest's receipts use this POS id and organisation number
ORGNR = "5561234567"
USER, PASSWORD = "retail", "s3cret-Lösen"
SECRET_IN_URL = "s3cret-L%C3%B6sen"
FAST: dict[str, Any] = {"request_timeout": 0.3, "retries": 2, "busy_timeout": 0.3, "busy_poll": 0.05}
CLEANCASH_CODE = re.compile(r"[A-Z2-7]{32};[A-Z2-7]{26}")


def with_credentials(url: str, user: str = USER, password: str = SECRET_IN_URL) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


@pytest.fixture
async def make_driver() -> AsyncIterator[Callable[..., Awaitable[XccspControlUnit]]]:
    def build(url: str, **overrides: Any) -> XccspControlUnit:
        return XccspControlUnit(url, POS_ID, ORGNR, **{**FAST, **overrides})

    async with driver_factory(build, start=False) as make:
        yield make


@pytest.fixture(params=["basic", "digest"])
def auth(request: pytest.FixtureRequest) -> AuthScheme:
    """Each way a server asks for the credentials: Basic (hosted), Digest (a LAN server)."""
    scheme: AuthScheme = request.param
    return scheme


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log line, frames included, captured: where a secret must never be."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert PASSWORD not in str(text) and SECRET_IN_URL not in str(text), text


def assert_no_secret_anywhere(
    driver: XccspControlUnit, caplog: pytest.LogCaptureFixture, *more: object
) -> None:
    assert_no_secret(driver.url, driver.reason, caplog.text, *more)


# -- credentials ---------------------------------------------------------------------------


async def test_the_right_credentials_register_and_never_show(
    unit: ControlUnit,
    make_driver: Callable[..., Awaitable[XccspControlUnit]],
    receipt: ReceiptFactory,
    debug_log: pytest.LogCaptureFixture,
    auth: AuthScheme,
) -> None:
    caplog = debug_log
    async with serve_http(unit, credentials=(USER, PASSWORD), auth=auth) as url:
        driver = await make_driver(with_credentials(url))
        assert driver.url == url
        await driver.start()
        done = await driver.register(1, receipt(1))
        again = await driver.register(2, receipt(2))
    assert CLEANCASH_CODE.fullmatch(done.code) and CLEANCASH_CODE.fullmatch(again.code)
    assert driver.state is DeviceState.READY
    frames = [f.data for f in done.frames + again.frames] + [f.note for f in done.frames]
    assert_no_secret_anywhere(driver, caplog, *frames)


async def test_a_wrong_password_is_final_named_and_never_shown(
    unit: ControlUnit,
    make_driver: Callable[..., Awaitable[XccspControlUnit]],
    receipt: ReceiptFactory,
    debug_log: pytest.LogCaptureFixture,
    auth: AuthScheme,
) -> None:
    caplog = debug_log
    async with serve_http(unit, credentials=(USER, "the-right-one"), auth=auth) as url:
        driver = await make_driver(with_credentials(url), retries=5)
        with pytest.raises(ControlUnitUnavailable) as failed:
            await driver.register(1, receipt(1))
    words = (
        f"the control unit server at {url} refused the user name or password — "
        "check them in [control_unit] url"
    )
    assert failed.value.reason == words
    assert (driver.state, driver.reason) == (DeviceState.FAILED, f"failed: {words}")
    assert len(unit.memory) == 0
    # no retry storm: one POST (Basic), or the Basic one and the Digest one
    assert caplog.text.count("try 1 of") == 0
    assert_no_secret_anywhere(driver, caplog, failed.value)


async def test_no_credentials_for_a_server_that_asks_says_where_to_put_them(
    unit: ControlUnit, make_driver: Callable[..., Awaitable[XccspControlUnit]]
) -> None:
    async with serve_http(unit, credentials=(USER, PASSWORD)) as url:
        driver = await make_driver(url)
        with pytest.raises(ControlUnitUnavailable, match=r"asks for a user name and password — put them in"):
            await driver.start()
    assert driver.state is DeviceState.FAILED


def test_a_bad_url_with_credentials_does_not_repeat_them() -> None:
    with pytest.raises(ValueError) as bad:
        XccspControlUnit(f"ftp://{USER}:{SECRET_IN_URL}@host/xccsp", POS_ID, ORGNR)
    assert_no_secret(bad.value)


# -- main status 99: the server has lost its unit ---------------------------------------


async def test_a_server_without_its_unit_fails_in_words_and_recovers(
    unit: ControlUnit, make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    server = XccspServer(unit)
    async with serve_xccsp(server) as url:
        driver = await make_driver(url)
        await driver.start()
        server.set_no_unit()
        with pytest.raises(ControlUnitUnavailable) as failed:
            await driver.register(1, receipt(1))
        assert failed.value.reason.startswith(
            f"the control unit server at {url} has lost its control unit "
            "(Fault 99: No connection with CleanCash unit (the server has no connection with its CleanCash "
            "unit); 3 tries) — check the unit behind the server"
        )
        status = await driver.status()
        assert status.main is MainStatus.NO_UNIT
        lost = (driver.state, driver.reason)
        server.set_no_unit(False)
        done = await driver.register(1, receipt(1))
    assert lost[0] is DeviceState.FAILED and "the control unit server has lost its control unit" in lost[1]
    assert CLEANCASH_CODE.fullmatch(done.code)
    assert driver.state is DeviceState.READY


# -- a hand-made server: replies the simulator would never send -------------------------

Answer = Callable[[xccsp.Request], tuple[int, bytes]]


@asynccontextmanager
async def answering(answer: Answer) -> AsyncIterator[tuple[str, list[xccsp.Request]]]:
    """A server on 127.0.0.1 that answers each decoded request with ``answer``."""
    seen: list[xccsp.Request] = []

    async def handle(request: web.Request) -> web.Response:
        decoded = xccsp.decode_request(await request.read())
        seen.append(decoded)
        status, body = answer(decoded)
        return web.Response(status=status, body=body, headers={"Content-Type": xccsp.CONTENT_TYPE})

    async with serve_handler(handle) as url:
        yield url, seen


UNIT_ID = "RIHTT131550010466"  # the unit id of the recorded reply
REAL_CODE = "WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM"


def real_server(register: Callable[[xccsp.RegisterReceipt], xccsp.Reply | xccsp.Fault]) -> Answer:
    """Identity and status as a hosted server; registrations by ``register``."""

    def answer(request: xccsp.Request) -> tuple[int, bytes]:
        match request:
            case xccsp.RequestIdentity():
                return 200, xccsp.encode_reply(xccsp.IdentityResponse(UNIT_ID, "2.0", "CC-HTTP"))
            case xccsp.RequestStatus():
                reply = xccsp.StatusResponse(UNIT_ID, "2.0", 4, MainStatus.OK, StorageStatus.OK, "CC-HTTP")
                return 200, xccsp.encode_reply(reply)
            case xccsp.RegisterReceipt():
                return 200, xccsp.encode_reply(register(request))
        raise AssertionError(request)

    return answer


async def test_identity_carries_the_licences_the_server_reports(
    make_driver: Callable[..., Awaitable[XccspControlUnit]],
) -> None:
    async with answering(real_server(lambda r: xccsp.Fault(3))) as (url, _):
        driver = await make_driver(url)
        identity = await driver.start()
    assert (identity.unit_id, identity.firmware, identity.licences, identity.protocol) == (
        UNIT_ID,
        "2.0",
        4,
        "XCCSP",
    )
    assert driver.unit_type == "CC-HTTP"


async def test_an_unknown_fault_code_is_a_refusal_with_its_number(
    make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    fault = xccsp.Fault(42, "Quota", "Too many receipts this minute")
    async with answering(real_server(lambda r: fault)) as (url, seen):
        driver = await make_driver(url)
        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, receipt(1))
    assert refused.value.code is None
    assert refused.value.said == "Fault 42: Quota (Too many receipts this minute)"
    assert "fault code 42" in refused.value.words
    assert str(refused.value).startswith("the control unit refused it: Fault 42: Quota")
    assert sum(isinstance(r, xccsp.RegisterReceipt) for r in seen) == 1  # not retried


async def test_a_known_fault_says_what_the_service_said(
    make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    fault = xccsp.Fault(7, "Invalid POS Id", "")
    async with answering(real_server(lambda r: fault)) as (url, _):
        driver = await make_driver(url)
        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, receipt(1))
    assert (refused.value.code, refused.value.said) == (7, "Fault 7: Invalid POS Id")
    assert driver.state is DeviceState.FAILED


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (
            xccsp.encode_reply(xccsp.StatusResponse(UNIT_ID, "", 1, MainStatus.OK, StorageStatus.OK, "")),
            "response/type: 'StatusResponse' does not answer RegisterReceipt",
        ),
        (
            xccsp.encode_reply(
                xccsp.RegisterReceiptResponse(REAL_CODE, UNIT_ID, MainStatus.OK, StorageStatus.OK)
            )
            .replace(b"<RegisterResult>", b"")
            .replace(b"</RegisterResult>", b""),
            "response/data: no <RegisterResult>",
        ),
        (b"<html>Service temporarily down</html>", "document: root element is <html>"),
    ],
    ids=["other-type", "no-wrapper", "not-xccsp"],
)
async def test_a_reply_of_the_wrong_shape_is_named_never_a_receipt(
    make_driver: Callable[..., Awaitable[XccspControlUnit]],
    receipt: ReceiptFactory,
    caplog: pytest.LogCaptureFixture,
    reply: bytes,
    why: str,
) -> None:
    caplog.set_level(logging.DEBUG)

    def answer(request: xccsp.Request) -> tuple[int, bytes]:
        if isinstance(request, xccsp.RegisterReceipt):
            return 200, reply
        return real_server(lambda r: xccsp.Fault(3))(request)

    async with answering(answer) as (url, _):
        driver = await make_driver(url)
        with pytest.raises(ControlUnitUnavailable) as failed:
            await driver.register(1, receipt(1))
    assert failed.value.reason.startswith(
        f"the control unit at {url} answered with something that is no usable XCCSP reply ({why}"
    )
    assert "it began '" in failed.value.reason and "3 tries" in failed.value.reason
    assert reply.decode("latin-1")[:40] in caplog.text  # the body is in the frame log


async def test_a_code_of_the_wrong_shape_is_never_a_receipt(
    make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    wrong = xccsp.RegisterReceiptResponse("NOT-A-CODE", UNIT_ID, MainStatus.OK, StorageStatus.OK)
    async with answering(real_server(lambda r: wrong)) as (url, seen):
        driver = await make_driver(url)
        with pytest.raises(ControlUnitUnavailable) as failed:
            await driver.register(1, receipt(1))
    assert "'NOT-A-CODE' is not a control code" in failed.value.reason
    registrations = [r for r in seen if isinstance(r, xccsp.RegisterReceipt)]
    assert len(registrations) == 3 and len({r.serial_no for r in registrations}) == 1


async def test_the_recorded_real_reply_is_a_receipt(
    make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    real = xccsp.RegisterReceiptResponse(REAL_CODE, UNIT_ID, MainStatus.OK, StorageStatus.OK)
    async with answering(real_server(lambda r: real)) as (url, seen):
        driver = await make_driver(url)
        done = await driver.register(1, receipt(1))
        second = await driver.register(2, receipt(2))
    assert (done.code, done.unit_id, done.attempts) == (REAL_CODE, UNIT_ID, 1)
    registrations = [r for r in seen if isinstance(r, xccsp.RegisterReceipt)]
    assert [r.is_new_session for r in registrations] == [True, False]
    assert second.code == REAL_CODE


@pytest.mark.parametrize("kind", [ReceiptType.TRAINING, ReceiptType.PRO_FORMA])
async def test_training_and_pro_forma_register_without_a_code(
    unit: ControlUnit,
    make_driver: Callable[..., Awaitable[XccspControlUnit]],
    receipt: ReceiptFactory,
    kind: ReceiptType,
) -> None:
    async with serve_http(unit) as url:
        driver = await make_driver(url)
        done = await driver.register(1, dataclasses.replace(receipt(1), receipt_type=kind))
    assert (done.code, done.needs_code, done.attempts) == ("", False, 1)
    assert len(unit.memory) == 1


async def test_a_normal_receipt_answered_without_a_code_is_never_a_receipt(
    make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    blank = xccsp.RegisterReceiptResponse("", UNIT_ID, MainStatus.OK, StorageStatus.OK)
    async with answering(real_server(lambda r: blank)) as (url, _):
        driver = await make_driver(url)
        with pytest.raises(ControlUnitUnavailable, match="answered without a control code"):
            await driver.register(1, receipt(1))


async def test_a_lost_answer_is_resolved_by_the_same_serial_no(
    unit: ControlUnit, make_driver: Callable[..., Awaitable[XccspControlUnit]], receipt: ReceiptFactory
) -> None:
    """The server stores the receipt and the answer is lost (the connection drops): the
    driver sends the same SerialNo again and gets the stored code; one record."""
    async with serve_http(unit) as url:
        driver = await make_driver(url, retries=3)
        await driver.start()
        switch_on(unit, "power-cut=after-store")
        done = await driver.register(7, receipt(1))
    sent = [xccsp.decode_request(f.data) for f in done.frames if f.direction == "tx"]
    assert done.attempts > 1 and len(unit.memory) == 1
    assert {r.serial_no for r in sent if isinstance(r, xccsp.RegisterReceipt)} == {7}
    assert CLEANCASH_CODE.fullmatch(done.code)
