"""The CCSP driver: handshake, v1 and v2 registration, refusals, frame log, odd answers.

Most tests run against the simulated unit over a pty and TCP. A few need answers the
simulator never gives (a stale status answer in front of the code, a blank code); those
use a scripted unit: a real TCP server speaking real CCSP frames from a script.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.faults import parse_fault
from gateway.devices import (
    ControlUnitDriver,
    ControlUnitRefused,
    ControlUnitUnavailable,
    DeviceState,
    Health,
)
from protocols import ccsp
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData
from tests.devices.scripted_ccsp import scripted_unit

UnitFactory = Callable[..., ControlUnit]
DriverFactory = Callable[..., Awaitable[ControlUnitDriver]]
ReceiptFactory = Callable[..., ControlData]
Serve = Callable[[ControlUnit, str], AbstractAsyncContextManager[str]]

UNIT_ID = "TGSIMSE0000000042"
CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def keys(unit: ControlUnit) -> list[str]:
    return [r.key for r in unit.memory.records()]


def sent_types(frames: Sequence[object]) -> list[str]:
    out = []
    for f in frames:
        if getattr(f, "direction", None) == "tx":
            out.append(ccsp.message_type(ccsp.message_of(f.data)).decode())  # type: ignore[attr-defined]
    return out


# -- handshake and v2 ------------------------------------------------------------------


async def test_handshake_learns_identity_and_state(
    unit: ControlUnit, unit_url: str, make_driver: DriverFactory
) -> None:
    driver = await make_driver(unit_url, start=False)
    changes: list[Health] = []
    driver.on_change(changes.append)
    assert driver.state is DeviceState.CONNECTING

    identity = await driver.start()

    assert (identity.unit_id, identity.protocol_version, identity.firmware) == (
        unit.unit_id,
        2,
        "tillgw-sim 1.0",
    )
    assert identity.protocol_name == "CCSP v2"
    assert driver.unit_identity == identity
    assert (driver.state, driver.reason) == (DeviceState.READY, "ready")
    assert [h.state for h in changes] == [DeviceState.READY]
    status = await driver.status()
    # SIR carries a status detail, not the storage status: that comes with the first RRR.
    assert (status.main_words, status.storage_words) == ("OK", "not reported yet")
    assert status.detail == "00000"


async def test_register_returns_the_units_code_and_the_frames(
    unit: ControlUnit, driver: ControlUnitDriver, receipt: ReceiptFactory
) -> None:
    done = await driver.register(7, receipt(1042))

    [record] = unit.memory.records()
    assert (record.key, done.code, done.unit_id) == ("seq:7", record.code, unit.unit_id)
    assert (done.seq, done.attempts) == (7, 1)
    assert [(f.direction, f.note) for f in done.frames] == [("tx", ""), ("rx", "")]
    assert ccsp.decode_request(ccsp.message_of(done.frames[0].data)) == ccsp.RegisterReceipt(7, receipt(1042))
    assert done.frames[0].at <= done.frames[1].at


async def test_the_same_seq_and_data_again_is_the_same_registration(
    unit: ControlUnit, driver: ControlUnitDriver, receipt: ReceiptFactory
) -> None:
    first = await driver.register(3, receipt(3))
    again = await driver.register(3, receipt(3))

    assert again.code == first.code
    assert keys(unit) == ["seq:3"]


async def test_the_same_seq_with_other_data_is_refused_011(
    unit: ControlUnit, driver: ControlUnitDriver, receipt: ReceiptFactory
) -> None:
    first = await driver.register(5, receipt(5, total=10000))

    with pytest.raises(ControlUnitRefused) as refused:
        await driver.register(5, receipt(5, total=20000))

    assert refused.value.code == NakCode.INVALID_SEQUENCE_NUMBER
    assert "different receipt under this sequence number" in refused.value.words
    [record] = unit.memory.records()
    assert record.code == first.code and "|100,00|" in record.data
    assert driver.state is DeviceState.READY  # the unit is fine; this receipt is not


async def test_an_unknown_pos_id_is_refused_007_and_stays_failed(
    make_unit: UnitFactory, transport: str, serve: Serve, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    unit = make_unit(auto_register=False, pos_ids=("KASSA9",), licences=2)
    async with serve(unit, transport) as url:
        driver = await make_driver(url)

        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, receipt(1))

        assert refused.value.code == NakCode.INVALID_POS_ID
        assert str(refused.value).startswith("the control unit refused it: NAK 007 (invalid POS id")
        expected = (
            "failed: this register's POS id 'KASSA1' is not licensed in the control unit — "
            "use the POS id the unit was registered with, or have the supplier add this one"
        )
        assert (driver.state, driver.reason) == (DeviceState.FAILED, expected)
        await driver.status()  # the unit itself says OK, but this register still cannot sell
        assert driver.reason == expected
        assert keys(unit) == []


async def test_more_pos_ids_than_licences_is_refused_009(
    make_unit: UnitFactory, transport: str, serve: Serve, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    unit = make_unit(licences=1, pos_ids=("KASSA9",))
    async with serve(unit, transport) as url:
        driver = await make_driver(url)

        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, receipt(1))

        assert refused.value.code == NakCode.LICENSE_EXCEEDED
        assert driver.state is DeviceState.FAILED
        assert "no free licence for POS id 'KASSA1'" in driver.reason
        assert keys(unit) == []


async def test_every_frame_is_logged_in_hex_with_its_receipt(
    driver: ControlUnitDriver, receipt: ReceiptFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tillgw.devices.control_unit.frames")

    done = await driver.register(12, receipt(1042))

    lines = [r.getMessage() for r in caplog.records if r.name == "tillgw.devices.control_unit.frames"]
    assert lines == [
        f"seq=12 receipt=1042 tx {done.frames[0].data.hex(' ')}",
        f"seq=12 receipt=1042 rx {done.frames[1].data.hex(' ')}",
    ]
    assert lines[0].startswith("seq=12 receipt=1042 tx 23 21 23")


async def test_arguments_that_cannot_be_sent_are_refused_before_any_io(
    driver: ControlUnitDriver, receipt: ReceiptFactory
) -> None:
    with pytest.raises(ValueError, match="seq 0 is outside"):
        await driver.register(0, receipt(1))
    with pytest.raises(ValueError, match="POS id 'KASSA2'"):
        await driver.register(1, receipt(1, pos_id="KASSA2"))


async def test_a_port_that_does_not_exist_fails_with_the_next_step(make_driver: DriverFactory) -> None:
    driver = await make_driver("/dev/ttyNOSUCHPORT", start=False, retries=0)

    with pytest.raises(ControlUnitUnavailable):
        await driver.start()

    assert driver.state is DeviceState.FAILED
    assert driver.reason == (
        "failed: cannot open /dev/ttyNOSUCHPORT: no such device — check that it is plugged in and powered, "
        "and look for it with `ls /dev/ttyUSB* /dev/ttyACM*`"
    )


# -- v1 --------------------------------------------------------------------------------


@pytest.fixture
async def v1_url(
    make_unit: UnitFactory, transport: str, serve: Serve
) -> AsyncIterator[tuple[ControlUnit, str]]:
    unit = make_unit(protocol=1)
    async with serve(unit, transport) as url:
        yield unit, url


async def test_v1_registers_with_st_rh_sq(
    v1_url: tuple[ControlUnit, str], make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    unit, url = v1_url
    driver = await make_driver(url)
    assert driver.unit_identity is not None and driver.unit_identity.protocol_version == 1

    done = await driver.register(1, receipt(77))

    [record] = unit.memory.records()
    assert (record.key, done.code, done.unit_id) == ("v1:normal:77", record.code, unit.unit_id)
    assert sent_types(done.frames) == ["ST", "RH", "SQ", "SIQ"]  # SIQ: v1's answer has no status
    # v1 never reports the storage status (SIR carries a status detail instead).
    assert (done.main, done.storage) == (MainStatus.OK, None)
    assert driver.state is DeviceState.READY


@pytest.mark.parametrize(
    "fault", ["no-reply*1", "corrupt-lrc*1", "power-cut=after-store*1", "nak=1*1", "busy*1"]
)
async def test_v1_retries_start_the_triple_over_and_store_once(
    v1_url: tuple[ControlUnit, str], make_driver: DriverFactory, receipt: ReceiptFactory, fault: str
) -> None:
    unit, url = v1_url
    driver = await make_driver(url)
    unit.faults.set(*parse_fault(fault))

    done = await driver.register(1, receipt(5))

    [record] = unit.memory.records()
    assert done.code == record.code and record.key == "v1:normal:5"
    assert done.attempts >= 2
    types = sent_types(done.frames)
    assert types.count("ST") >= 2  # the triple started over
    assert types[-4:] == ["ST", "RH", "SQ", "SIQ"]
    assert driver.state is DeviceState.READY


# -- a scripted unit: answers the simulator never gives (tests/devices/scripted_ccsp.py) --


def standard(request: ccsp.Request, version: int = 2) -> list[ccsp.Reply | bytes]:
    match request:
        case ccsp.IdentityQuery():
            return [ccsp.IdentityReply(UNIT_ID, version, "script 1")]
        case ccsp.StatusQuery():
            return [ccsp.StatusReply(MainStatus.OK, "00000")]
        case ccsp.StartReceipt() | ccsp.ReceiptHeader():
            return [ccsp.Ack()]
    return [ccsp.RegisterReply(CODE, UNIT_ID, MainStatus.OK, StorageStatus.OK)]


async def test_an_answer_to_another_request_is_skipped(
    make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        if isinstance(request, ccsp.RegisterReceipt):
            # a late SIR, then one naming another unit, then the real answer
            return [
                ccsp.StatusReply(MainStatus.OK, "00000"),
                ccsp.RegisterReply("WRONG;CODE", "TGSIMSE9999999999", MainStatus.OK, StorageStatus.OK),
                *standard(request),
            ]
        return standard(request)

    async with scripted_unit(answer) as url:
        driver = await make_driver(url)
        done = await driver.register(1, receipt(1))

    assert (done.code, done.unit_id, done.attempts) == (CODE, UNIT_ID, 1)
    notes = [f.note for f in done.frames if f.direction == "rx"]
    assert notes == [
        "skipped: no answer to RR",
        "skipped: the answer names unit 'TGSIMSE9999999999', not 'TGSIMSE0000000042'",
        "",
    ]


async def test_no_control_code_no_receipt(make_driver: DriverFactory, receipt: ReceiptFactory) -> None:
    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        if isinstance(request, ccsp.RegisterReceipt):
            return [ccsp.RegisterReply(" ", UNIT_ID, MainStatus.OK, StorageStatus.OK)]
        return standard(request)

    async with scripted_unit(answer) as url:
        driver = await make_driver(url, retries=1)
        with pytest.raises(ControlUnitUnavailable, match="answered without a control code"):
            await driver.register(1, receipt(1))

    assert driver.state is DeviceState.FAILED
    assert driver.reason == (
        f"failed: the control unit on {url} answered without a control code — "
        "restart it; if that does not help, call the supplier"
    )


async def test_a_protocol_version_we_do_not_know_fails_the_handshake(make_driver: DriverFactory) -> None:
    async with scripted_unit(lambda request: standard(request, version=3)) as url:
        driver = await make_driver(url, start=False)
        with pytest.raises(ControlUnitUnavailable, match="speaks CCSP version 3"):
            await driver.start()
    assert driver.state is DeviceState.FAILED


async def test_v1_nak_004_starts_the_triple_over(make_driver: DriverFactory, receipt: ReceiptFactory) -> None:
    refused_once: list[bool] = []

    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        if isinstance(request, ccsp.ReceiptHeader) and not refused_once:
            refused_once.append(True)
            return [ccsp.Nak(NakCode.INVALID_SEQUENCE)]
        if isinstance(request, ccsp.SignatureQuery):
            return [ccsp.SignatureReply(CODE)]
        return standard(request, version=1)

    async with scripted_unit(answer) as url:
        driver = await make_driver(url)
        done = await driver.register(1, receipt(1))

    assert (done.code, done.attempts) == (CODE, 2)
    assert sent_types(done.frames) == ["ST", "RH", "ST", "RH", "SQ", "SIQ"]


async def test_open_control_unit_picks_the_driver_by_url() -> None:
    from gateway.devices import open_control_unit
    from gateway.devices.control_units.xccsp_driver import XccspControlUnit

    serial_unit = open_control_unit("/dev/ttyUSB0", "KASSA1", request_timeout=1.0)
    assert isinstance(serial_unit, ControlUnitDriver) and serial_unit.request_timeout == 1.0
    http_unit = open_control_unit("http://127.0.0.1:8081/xccsp", "KASSA1", orgnr="5561234567")
    assert isinstance(http_unit, XccspControlUnit)
    with pytest.raises(ValueError, match="needs the organisation number"):
        open_control_unit("http://127.0.0.1:8081/xccsp", "KASSA1")
    await serial_unit.close()
    await http_unit.close()
