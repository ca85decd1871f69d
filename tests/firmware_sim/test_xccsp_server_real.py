"""The simulated XCCSP server does what the real ones do: their credentials, their wrappers,
main status 99, HTTP 500, no code for training receipts, fault codes a register does not
know. Real HTTP on 127.0.0.1; aiohttp's own Basic and Digest clients."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from firmware_sim.control_unit import ControlUnit, Fault, UnitConfig
from firmware_sim.control_unit.xccsp_server import REALM, XccspServer, serve_http, serve_xccsp
from protocols import xccsp
from protocols.ccsp import MainStatus
from protocols.skv import ControlData, ReceiptType, VatSlot

ORGNR = "5561234567"
POS = "KASSA-1"
USER, PASSWORD = "retail", "hemlig lösen"
TIMEOUT = aiohttp.ClientTimeout(total=30)  # only a safety net; no test waits for it
CLEANCASH_CODE = re.compile(r"[A-Z2-7]{32};[A-Z2-7]{26}")

RECEIPT = ControlData(
    moment=datetime(2026, 11, 21, 14, 5),
    orgnr=ORGNR,
    pos_id=POS,
    receipt_no=1,
    receipt_type=ReceiptType.NORMAL,
    total=12500,
    return_total=0,
    vat=(VatSlot(2500, 2500),),
)
REGISTER = xccsp.encode_request(xccsp.RegisterReceipt(1, True, RECEIPT))
STATUS = xccsp.encode_request(xccsp.RequestStatus(POS, ORGNR))


@pytest.fixture
def unit(tmp_path: Path) -> Iterator[ControlUnit]:
    made = ControlUnit(UnitConfig(tmp_path / "unit", reboot_seconds=0))
    yield made
    made.close()


async def post(
    url: str, body: bytes, *, session: aiohttp.ClientSession | None = None, **options: object
) -> tuple[int, dict[str, str], bytes]:
    own = session is None
    session = session or aiohttp.ClientSession(timeout=TIMEOUT)
    try:
        async with session.post(url, data=body, **options) as resp:  # type: ignore[arg-type]
            return resp.status, dict(resp.headers), await resp.read()
    finally:
        if own:
            await session.close()


# -- HTTP Basic, as the hosted service --------------------------------------------------


async def test_basic_with_the_right_credentials_is_answered(unit: ControlUnit) -> None:
    async with serve_http(unit, credentials=(USER, PASSWORD)) as url:
        status, _, body = await post(url, STATUS, headers=basic(USER, PASSWORD))
    assert status == 200
    assert isinstance(xccsp.decode_reply(body, xccsp.RequestStatus), xccsp.StatusResponse)
    assert USER not in url and PASSWORD not in url


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


@pytest.mark.parametrize(
    "headers", [{}, basic(USER, "fel"), basic("fel", PASSWORD), {"Authorization": "Basic !"}]
)
async def test_basic_without_the_right_credentials_is_401_with_a_basic_challenge(
    unit: ControlUnit, headers: dict[str, str]
) -> None:
    async with serve_http(unit, credentials=(USER, PASSWORD)) as url:
        status, headers, _ = await post(url, REGISTER, headers=headers)
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Basic realm="{REALM}"'
    assert len(unit.memory) == 0


# -- HTTP Digest, as a LAN server ---------------------------------------------------------


async def test_digest_challenge_is_md5_qop_auth_in_the_cleancash_realm(unit: ControlUnit) -> None:
    async with serve_http(unit, credentials=(USER, PASSWORD), auth="digest") as url:
        status, headers, _ = await post(url, STATUS)
    assert status == 401
    challenge = headers["WWW-Authenticate"]
    assert challenge.startswith(f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="')
    assert 'opaque="' in challenge


async def test_digest_with_the_right_credentials_is_answered_and_keeps_working(unit: ControlUnit) -> None:
    digest = aiohttp.DigestAuthMiddleware(USER, PASSWORD)
    async with (
        serve_http(unit, credentials=(USER, PASSWORD), auth="digest") as url,
        aiohttp.ClientSession(timeout=TIMEOUT, middlewares=(digest,)) as session,
    ):
        for serial in (1, 2, 3):  # later requests reuse the nonce with a rising nc
            body = xccsp.encode_request(
                xccsp.RegisterReceipt(serial, serial == 1, dataclasses.replace(RECEIPT, receipt_no=serial))
            )
            status, _, reply = await post(url, body, session=session)
            assert status == 200
            answer = xccsp.decode_reply(reply, xccsp.RegisterReceipt)
            assert isinstance(answer, xccsp.RegisterReceiptResponse)
    assert len(unit.memory) == 3


async def test_digest_with_a_wrong_password_stays_401(unit: ControlUnit) -> None:
    digest = aiohttp.DigestAuthMiddleware(USER, "fel")
    async with (
        serve_http(unit, credentials=(USER, PASSWORD), auth="digest") as url,
        aiohttp.ClientSession(timeout=TIMEOUT, middlewares=(digest,)) as session,
    ):
        status, headers, _ = await post(url, REGISTER, session=session)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Digest ")
    assert len(unit.memory) == 0


async def test_basic_credentials_do_not_open_a_digest_server(unit: ControlUnit) -> None:
    async with serve_http(unit, credentials=(USER, PASSWORD), auth="digest") as url:
        status, _, _ = await post(url, REGISTER, headers=basic(USER, PASSWORD))
    assert status == 401


async def test_a_replayed_digest_authorization_is_refused(unit: ControlUnit) -> None:
    """The same nc twice is a replay: a hand-made client shows the server counts."""
    async with serve_http(unit, credentials=(USER, PASSWORD), auth="digest") as url:
        _, headers, _ = await post(url, STATUS)
        nonce = re.search(r'nonce="([^"]+)"', headers["WWW-Authenticate"])
        opaque = re.search(r'opaque="([^"]+)"', headers["WWW-Authenticate"])
        assert nonce is not None and opaque is not None

        def md5(text: str) -> str:
            return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

        ha1, ha2 = md5(f"{USER}:{REALM}:{PASSWORD}"), md5("POST:/xccsp")
        response = md5(f"{ha1}:{nonce[1]}:00000001:c0ffee:auth:{ha2}")
        header = (
            f'Digest username="{USER}", realm="{REALM}", nonce="{nonce[1]}", uri="/xccsp", '
            f'algorithm=MD5, response="{response}", opaque="{opaque[1]}", qop=auth, '
            'nc=00000001, cnonce="c0ffee"'
        )
        first, _, _ = await post(url, STATUS, headers={"Authorization": header})
        again, _, _ = await post(url, STATUS, headers={"Authorization": header})
    assert (first, again) == (200, 401)


# -- what the real service answers ----------------------------------------------------------


async def test_replies_carry_the_real_wrappers(unit: ControlUnit) -> None:
    async with serve_http(unit) as url:
        _, headers, body = await post(url, REGISTER)
    assert headers["Content-Type"] == "text/xml; charset=iso-8859-1"
    assert b"<type>RegisterReceiptResponse</type>" in body
    assert b"<data>\n    <RegisterResult>\n      <Code>" in body


@pytest.mark.parametrize("kind", [ReceiptType.TRAINING, ReceiptType.PRO_FORMA])
async def test_training_and_pro_forma_are_answered_with_an_empty_code(
    unit: ControlUnit, kind: ReceiptType
) -> None:
    body = xccsp.encode_request(
        xccsp.RegisterReceipt(1, True, dataclasses.replace(RECEIPT, receipt_type=kind))
    )
    async with serve_http(unit) as url:
        _, _, reply = await post(url, body)
    assert b"<Code />" in reply
    answer = xccsp.decode_reply(reply, xccsp.RegisterReceipt)
    assert isinstance(answer, xccsp.RegisterReceiptResponse) and answer.code == ""
    assert len(unit.memory) == 1


async def test_a_normal_receipt_gets_a_cleancash_code(unit: ControlUnit) -> None:
    async with serve_http(unit) as url:
        _, _, reply = await post(url, REGISTER)
    answer = xccsp.decode_reply(reply, xccsp.RegisterReceipt)
    assert isinstance(answer, xccsp.RegisterReceiptResponse) and CLEANCASH_CODE.fullmatch(answer.code)


async def test_server_error_is_http_500_and_stores_nothing(unit: ControlUnit) -> None:
    unit.faults.set(Fault.SERVER_ERROR, times=1)
    async with serve_http(unit) as url:
        status, _, _ = await post(url, REGISTER)
        again, _, _ = await post(url, REGISTER)
    assert (status, again) == (500, 200)
    assert len(unit.memory) == 1


async def test_an_unknown_nak_number_goes_out_as_that_fault_code(unit: ControlUnit) -> None:
    unit.faults.set(Fault.NAK, "42", times=1)
    async with serve_http(unit) as url:
        _, _, reply = await post(url, REGISTER)
    answer = xccsp.decode_reply(reply, xccsp.RegisterReceipt)
    assert isinstance(answer, xccsp.Fault) and answer.code == 42
    assert answer.said.startswith("Fault 42: ")


async def test_a_server_that_lost_its_unit_says_99(unit: ControlUnit) -> None:
    server = XccspServer(unit)
    async with serve_xccsp(server) as url:
        server.set_no_unit()
        _, _, status_body = await post(url, STATUS)
        _, _, register_body = await post(url, REGISTER)
        server.set_no_unit(False)
        _, _, after = await post(url, REGISTER)
    status = xccsp.decode_reply(status_body, xccsp.RequestStatus)
    assert isinstance(status, xccsp.StatusResponse) and status.main is MainStatus.NO_UNIT
    assert b"<MainStatus>99</MainStatus>" in status_body
    refused = xccsp.decode_reply(register_body, xccsp.RegisterReceipt)
    assert isinstance(refused, xccsp.Fault) and refused.code is xccsp.FaultCode.NO_UNIT
    assert isinstance(xccsp.decode_reply(after, xccsp.RegisterReceipt), xccsp.RegisterReceiptResponse)
    assert len(unit.memory) == 1
