"""The XCCSP front-end of the simulated unit, over real HTTP with aiohttp's client."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from firmware_sim.control_unit import ControlUnit, Fault, UnitConfig
from firmware_sim.control_unit.unit import FIRMWARE, MODEL
from firmware_sim.control_unit.xccsp_server import MAX_BODY, serve_http
from protocols import xccsp
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, ReceiptType, VatSlot

CODE_SHAPE = re.compile(r"^[A-Z2-7]{32};[A-Z2-7]{26}$")
ORGNR = "5561234567"
POS = "KASSA-1"
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = aiohttp.ClientTimeout(total=30)  # only a safety net; no test waits for it
GIVE_UP = aiohttp.ClientTimeout(total=0.3)  # a client that gives up on a unit that says nothing


def receipt(no: int = 1, total: int = 12500, pos_id: str = POS) -> ControlData:
    return ControlData(
        moment=datetime(2026, 11, 21, 14, 5),
        orgnr=ORGNR,
        pos_id=pos_id,
        receipt_no=no,
        receipt_type=ReceiptType.NORMAL,
        total=total,
        return_total=0,
        vat=(VatSlot(2500, total // 5),),
    )


def register(serial: int = 1, data: ControlData | None = None) -> xccsp.RegisterReceipt:
    return xccsp.RegisterReceipt(serial, False, data or receipt())


IDENTITY = xccsp.RequestIdentity(POS, ORGNR)
STATUS = xccsp.RequestStatus(POS, ORGNR)


@dataclass
class Client:
    session: aiohttp.ClientSession
    url: str

    async def post(
        self, body: bytes, *, url: str | None = None, patience: aiohttp.ClientTimeout = TIMEOUT
    ) -> tuple[int, str, bytes]:
        async with self.session.post(url or self.url, data=body, timeout=patience) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

    async def ask(
        self, request: xccsp.Request, patience: aiohttp.ClientTimeout = TIMEOUT
    ) -> xccsp.Reply | xccsp.Fault:
        status, _, body = await self.post(xccsp.encode_request(request), patience=patience)
        assert status == 200
        return xccsp.decode_reply(body, type(request))

    async def fault(self, request: xccsp.Request | bytes) -> xccsp.Fault:
        answer: xccsp.Reply | xccsp.Fault
        if isinstance(request, bytes):
            status, _, body = await self.post(request)
            assert status == 200
            answer = xccsp.decode_reply(body, xccsp.RequestStatus)
        else:
            answer = await self.ask(request)
        assert isinstance(answer, xccsp.Fault), answer
        return answer


@pytest.fixture
def unit(tmp_path: Path) -> ControlUnit:
    return ControlUnit(UnitConfig(tmp_path / "unit", reboot_seconds=0))


@pytest.fixture
async def client(unit: ControlUnit) -> AsyncIterator[Client]:
    async with serve_http(unit, "127.0.0.1", 0) as url, aiohttp.ClientSession() as session:
        yield Client(session, url)
    unit.close()


# -- the requests ------------------------------------------------------------------------


async def test_port_zero_yields_the_real_port(client: Client) -> None:
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/xccsp", client.url)
    assert m is not None and int(m.group(1)) > 0


async def test_identity(client: Client, unit: ControlUnit) -> None:
    status, content_type, body = await client.post(xccsp.encode_request(IDENTITY))
    assert status == 200
    assert content_type == "text/xml; charset=iso-8859-1"
    assert body.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    answer = xccsp.decode_reply(body, xccsp.RequestIdentity)
    assert answer == xccsp.IdentityResponse(unit.unit_id, FIRMWARE, MODEL)


async def test_status(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path, licences=3, pos_ids=(POS,)))
    async with serve_http(unit, "127.0.0.1", 0) as url, aiohttp.ClientSession() as session:
        answer = await Client(session, url).ask(STATUS)
    unit.close()
    assert answer == xccsp.StatusResponse(unit.unit_id, FIRMWARE, 3, MainStatus.OK, StorageStatus.OK, MODEL)


async def test_register_gives_a_code_and_a_repeat_gives_the_same_code(
    client: Client, unit: ControlUnit
) -> None:
    first = await client.ask(register(7))
    assert isinstance(first, xccsp.RegisterReceiptResponse)
    assert CODE_SHAPE.match(first.code)
    assert (first.unit_id, first.main, first.storage) == (unit.unit_id, MainStatus.OK, StorageStatus.OK)

    again = await client.ask(dataclasses.replace(register(7), is_new_session=True))
    assert again == first
    records = unit.memory.records()
    assert [(r.pos_id, r.key, r.code) for r in records] == [(POS, "seq:7", first.code)]

    other = await client.ask(register(8, receipt(no=2)))
    assert isinstance(other, xccsp.RegisterReceiptResponse) and other.code != first.code


async def test_same_serial_with_other_data_is_fault_3(client: Client, unit: ControlUnit) -> None:
    await client.ask(register(7))
    fault = await client.fault(register(7, receipt(total=999)))
    assert fault.code is xccsp.FaultCode.INVALID_DATA
    assert "SerialNo 7 is already registered with other data" in fault.message
    assert "NAK 011" in fault.message
    assert len(unit.memory.records()) == 1


async def test_unlicensed_pos_ids(tmp_path: Path) -> None:
    strict = ControlUnit(UnitConfig(tmp_path / "a", licences=2, pos_ids=(POS,), auto_register=False))
    full = ControlUnit(UnitConfig(tmp_path / "b", licences=1, pos_ids=(POS,)))
    async with (
        serve_http(strict, "127.0.0.1", 0) as strict_url,
        serve_http(full, "127.0.0.1", 0) as full_url,
        aiohttp.ClientSession() as session,
    ):
        fault = await Client(session, strict_url).fault(register(1, receipt(pos_id="KASSA-2")))
        assert fault.code is xccsp.FaultCode.INVALID_POS_ID
        fault = await Client(session, full_url).fault(register(1, receipt(pos_id="KASSA-2")))
        assert fault.code is xccsp.FaultCode.LICENSE_EXCEEDED
    strict.close()
    full.close()


# -- simulator faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nak", "fault"),
    [(2, 2), (3, 3), (6, 6), (7, 7), (8, 8), (9, 9), (10, 10), (1, 3), (4, 3), (11, 3)],
)
async def test_nak_fault_becomes_the_matching_fault_code(
    client: Client, unit: ControlUnit, nak: int, fault: int
) -> None:
    unit.faults.set(Fault.NAK, nak, times=1)
    answer = await client.fault(register(1))
    assert answer.code == fault
    assert answer.short_message == xccsp.FaultCode(fault).text
    assert f"NAK {nak:03d}" in answer.message
    assert len(unit.memory) == 0
    assert isinstance(await client.ask(register(1)), xccsp.RegisterReceiptResponse)


async def test_busy_is_fault_6_and_status_says_busy(client: Client, unit: ControlUnit) -> None:
    unit.faults.set(Fault.BUSY)
    assert (await client.fault(register(1))).code is xccsp.FaultCode.NOT_OPERATIONAL
    status = await client.ask(STATUS)
    assert isinstance(status, xccsp.StatusResponse) and status.main is MainStatus.BUSY
    unit.faults.clear()
    assert isinstance(await client.ask(register(1)), xccsp.RegisterReceiptResponse)


async def test_storage_full_is_fault_10(client: Client, unit: ControlUnit) -> None:
    unit.faults.set(Fault.STORAGE_FULL)
    assert (await client.fault(register(1))).code is xccsp.FaultCode.STORAGE_FULL
    status = await client.ask(STATUS)
    assert isinstance(status, xccsp.StatusResponse)
    assert (status.main, status.storage) == (MainStatus.NON_FATAL_ERROR, StorageStatus.FULL)
    assert len(unit.memory) == 0


async def test_storage_high_is_in_the_responses(client: Client, unit: ControlUnit) -> None:
    unit.faults.set(Fault.STORAGE_HIGH)
    done = await client.ask(register(1))
    assert isinstance(done, xccsp.RegisterReceiptResponse)
    assert (done.main, done.storage) == (MainStatus.WARNING, StorageStatus.HIGH_LEVEL_WARNING)
    status = await client.ask(STATUS)
    assert isinstance(status, xccsp.StatusResponse)
    assert status.storage is StorageStatus.HIGH_LEVEL_WARNING


async def test_no_reply_holds_the_request_until_the_client_gives_up(
    client: Client, unit: ControlUnit
) -> None:
    unit.faults.set(Fault.NO_REPLY, times=1)
    with pytest.raises(TimeoutError):
        await client.ask(register(1), patience=GIVE_UP)
    assert len(unit.memory) == 0  # the request was swallowed
    assert isinstance(await client.ask(register(1)), xccsp.RegisterReceiptResponse)


async def test_a_held_request_is_dropped_after_the_hold_limit(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    unit.faults.set(Fault.NO_REPLY, times=1)
    async with (
        serve_http(unit, "127.0.0.1", 0, hold_seconds=0.05) as url,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await Client(session, url).ask(IDENTITY)
    unit.close()


class _Held(logging.Handler):
    """Sets ``event`` when the server logs that it holds a request (same thread, same loop)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("no reply: request held open"):
            self.event.set()


async def test_stopping_the_server_drops_a_held_request(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    unit.faults.set(Fault.NO_REPLY)
    held = _Held()
    logger = logging.getLogger("tillgw.sim.control_unit.xccsp")
    logger.addHandler(held)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        async with aiohttp.ClientSession() as session:
            async with serve_http(unit, "127.0.0.1", 0) as url:
                asked = asyncio.create_task(Client(session, url).ask(IDENTITY))
                await held.event.wait()
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await asked
    finally:
        logger.removeHandler(held)
        logger.setLevel(old_level)
    unit.close()


async def test_power_cut_after_store_drops_the_connection_and_keeps_the_receipt(
    client: Client, unit: ControlUnit
) -> None:
    unit.faults.set(Fault.POWER_CUT, "after-store", times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.ask(register(5))
    [record] = unit.memory.records()
    assert record.key == "seq:5"
    again = await client.ask(register(5))  # the register resends: the lost code comes back
    assert isinstance(again, xccsp.RegisterReceiptResponse) and again.code == record.code
    assert len(unit.memory) == 1


async def test_power_cut_before_store_drops_the_connection_and_stores_nothing(
    client: Client, unit: ControlUnit
) -> None:
    unit.faults.set(Fault.POWER_CUT, "before-store", times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.ask(register(5))
    assert len(unit.memory) == 0
    assert isinstance(await client.ask(register(5)), xccsp.RegisterReceiptResponse)
    assert len(unit.memory) == 1


async def test_a_dark_unit_drops_every_request(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path, reboot_seconds=600))
    unit.faults.set(Fault.POWER_CUT, "before-store", times=1)
    async with serve_http(unit, "127.0.0.1", 0) as url, aiohttp.ClientSession() as session:
        client = Client(session, url)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.ask(register(1))
        assert unit.is_dark()
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.ask(STATUS)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.post(b"", url=url.replace("/xccsp", "/other"))
    unit.close()


async def test_corrupt_reply_is_cut_short(client: Client, unit: ControlUnit) -> None:
    unit.faults.set(Fault.CORRUPT_LRC, times=1)
    status, content_type, body = await client.post(xccsp.encode_request(IDENTITY))
    assert (status, content_type) == (200, "text/xml; charset=iso-8859-1")
    with pytest.raises(xccsp.EnvelopeError, match=r"^document: not well-formed"):
        xccsp.decode_reply(body, xccsp.RequestIdentity)
    whole = xccsp.encode_reply(xccsp.IdentityResponse(unit.unit_id, FIRMWARE, MODEL))
    assert whole.startswith(body) and len(body) < len(whole)
    assert isinstance(await client.ask(IDENTITY), xccsp.IdentityResponse)


async def test_noise_goes_before_the_xml_declaration(client: Client, unit: ControlUnit) -> None:
    unit.faults.set(Fault.NOISE, 8, times=1)
    status, _, body = await client.post(xccsp.encode_request(IDENTITY))
    assert status == 200
    with pytest.raises(xccsp.EnvelopeError, match=r"^document: not well-formed"):
        xccsp.decode_reply(body, xccsp.RequestIdentity)
    answer = xccsp.decode_reply(body[8:], xccsp.RequestIdentity)
    assert answer == xccsp.IdentityResponse(unit.unit_id, FIRMWARE, MODEL)


async def test_slow_registration_finishes_after_the_client_gives_up(tmp_path: Path) -> None:
    unit = ControlUnit(UnitConfig(tmp_path))
    unit.faults.set(Fault.SLOW, 1, times=1)  # the client gives up after 0.3 s
    async with serve_http(unit, "127.0.0.1", 0) as url, aiohttp.ClientSession() as session:
        with pytest.raises(TimeoutError):
            await Client(session, url).ask(register(3), patience=GIVE_UP)
    # Leaving serve_http waits for the unit's started work: the receipt reached memory.
    assert [r.key for r in unit.memory.records()] == ["seq:3"]
    unit.close()


# -- requests that do not decode -------------------------------------------------------------


def _mangled_register(old: bytes, new: bytes) -> bytes:
    body = xccsp.encode_request(register(1))
    assert old in body
    return body.replace(old, new, 1)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"", 3, "document: empty"),
        (b"<request><type>", 3, "document: not well-formed XML"),
        (b"<answer/>", 3, "document: root element is <answer>, expected <request>"),
        (
            xccsp.encode_request(IDENTITY).replace(b"RequestIdentity", b"RequestCoffee"),
            2,
            "request/type: unknown request type 'RequestCoffee'",
        ),
        (
            _mangled_register(b"<ReceiptTotal>125,00<", b"<ReceiptTotal>125.00<"),
            3,
            "RegisterReceipt/ReceiptTotal: '125.00'",
        ),
        (_mangled_register(b"<SerialNo>1</SerialNo>", b""), 3, "RegisterReceipt/SerialNo: missing"),
        (
            _mangled_register(b"<Class>1</Class>", b"<Class>7</Class>"),
            3,
            "RegisterReceipt/VatList/Vat[1]/Class: 7 is outside 1..4",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><request/>',
            3,
            "document: refused",
        ),
    ],
)
async def test_bad_request_is_a_fault_naming_the_element(
    client: Client, unit: ControlUnit, body: bytes, code: int, message: str
) -> None:
    fault = await client.fault(body)
    assert fault.code == code
    assert fault.message.startswith(message), fault.message
    assert len(unit.memory) == 0


async def test_a_bad_request_still_meets_the_unit_faults(client: Client, unit: ControlUnit) -> None:
    unit.faults.set(Fault.NO_REPLY, times=1)
    with pytest.raises(TimeoutError):
        await client.post(b"<request>", patience=GIVE_UP)
    assert (await client.fault(b"<request>")).code is xccsp.FaultCode.INVALID_DATA


async def test_a_pos_id_on_the_envelope_must_match_the_data(client: Client, unit: ControlUnit) -> None:
    body = xccsp.encode_request(register(1))
    other = body.replace(b"<type>", b"<PosId>KASSA-2</PosId>\n  <type>", 1)
    fault = await client.fault(other)
    assert fault.code is xccsp.FaultCode.INVALID_DATA
    assert fault.message == "request/PosId: 'KASSA-2' does not match RegisterReceipt/PosId 'KASSA-1'"
    assert len(unit.memory) == 0

    same = body.replace(b"<type>", b"<PosId>KASSA-1</PosId>\n  <type>", 1)
    status, _, reply = await client.post(same)
    assert status == 200
    assert isinstance(xccsp.decode_reply(reply, xccsp.RegisterReceipt), xccsp.RegisterReceiptResponse)


async def test_an_unexpected_error_is_fault_98_and_logged(
    client: Client, unit: ControlUnit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(unit, "identity", broken)
    with caplog.at_level(logging.ERROR, logger="tillgw.sim.control_unit.xccsp"):
        fault = await client.fault(IDENTITY)
    assert fault.code is xccsp.FaultCode.SERVER_ERROR
    assert fault.message == "RuntimeError: disk on fire"
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in caplog.records)


# -- HTTP ------------------------------------------------------------------------------------


async def test_wrong_path_is_404(client: Client) -> None:
    status, _, _ = await client.post(xccsp.encode_request(IDENTITY), url=client.url + "x")
    assert status == 404


async def test_wrong_method_is_405(client: Client) -> None:
    async with client.session.get(client.url, timeout=TIMEOUT) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST"


async def test_body_over_the_limit_is_413(client: Client) -> None:
    body = xccsp.encode_request(IDENTITY)
    big = body.replace(b"<data>", b"<data>" + b" " * MAX_BODY, 1)
    status, _, _ = await client.post(big)
    assert status == 413


async def test_any_content_type_is_accepted(client: Client, unit: ControlUnit) -> None:
    async with client.session.post(
        client.url,
        data=xccsp.encode_request(IDENTITY),
        headers={"Content-Type": "application/octet-stream"},
        timeout=TIMEOUT,
    ) as resp:
        assert resp.status == 200
        answer = xccsp.decode_reply(await resp.read(), xccsp.RequestIdentity)
    assert isinstance(answer, xccsp.IdentityResponse) and answer.unit_id == unit.unit_id


# -- the command line ------------------------------------------------------------------------


def _tillgw() -> list[str]:
    """The ``tillgw`` console script if the venv has it, else the same entry point by module."""
    script = Path(sys.executable).with_name("tillgw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


async def test_tillgw_sim_control_unit_serves_xccsp(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *_tillgw(),
        *("sim", "control-unit", "--xccsp", "127.0.0.1:0", "--data-dir", str(tmp_path / "unit")),
        cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/xccsp", first), first
        async with aiohttp.ClientSession() as session:
            answer = await Client(session, first).ask(IDENTITY)
        assert isinstance(answer, xccsp.IdentityResponse)
        assert re.fullmatch(r"TGSIMSE\d{10}", answer.unit_id)
        assert answer.unit_id in (tmp_path / "unit" / "unit.json").read_text()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert answer.unit_id in out.decode()
