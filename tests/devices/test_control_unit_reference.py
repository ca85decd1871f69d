"""The CCSP driver against units that answer as real ones do (the reference's facts).

Every answer here is written from what public code written against real units shows
(`../shared/reference/control-units.md`, sources RI, OD, NP there), not from our
simulator: a status detail of several characters, an identity with fields a newer unit
adds, ``SR`` with the code alone, mode B frames, ``##`` inside a field, NAK codes we
know and codes we do not, a code of the wrong shape, a reply of another type, no code
for training and pro forma receipts. And the simulator itself at 57600 baud on a real
pty, as Skattedosan / PosPlus units speak.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway.devices import ControlUnitDriver, ControlUnitRefused, ControlUnitUnavailable, DeviceState
from gateway.devices.control_units.operation import CLEANCASH_CODE
from gateway.devices.links.line import CCSP_SPEEDS
from protocols import ccsp
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData, ReceiptType
from tests.conftest import make_receipt_data, serve
from tests.devices.scripted_ccsp import scripted_unit

DriverFactory = Callable[..., Awaitable[ControlUnitDriver]]
UnitFactory = Callable[..., ControlUnit]

REAL_UNIT_ID = "RIHTT131550010466"  # a real unit id (the reference)
REAL_CODE = "WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM"  # a real code (NP)


def raw(message: bytes, mode: bytes = b"!") -> bytes:
    return ccsp.frame(message, mode)


def real_unit(
    request: ccsp.Request, *, register: bytes | None = None, version: int = 2
) -> list[ccsp.Reply | bytes]:
    """A unit answering in the real forms; ``register`` replaces its answer to RR/SQ."""
    match request:
        case ccsp.IdentityQuery():
            return [raw(b"IR#%s#%d#1.0.7#MultiUser#4" % (REAL_UNIT_ID.encode(), version))]
        case ccsp.StatusQuery():
            return [raw(b"SIR#0#00000")]
        case ccsp.StartReceipt() | ccsp.ReceiptHeader():
            return [raw(b"ACK")]
        case ccsp.SignatureQuery():
            return [raw(register or b"SR#" + REAL_CODE.encode())]
    return [raw(register or b"RRR#%s#%s#0#0" % (REAL_CODE.encode(), REAL_UNIT_ID.encode()))]


async def test_a_status_detail_of_several_characters_is_a_status_not_a_silence(
    make_driver: DriverFactory,
) -> None:
    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        if isinstance(request, ccsp.StatusQuery):
            return [raw(b"SIR#1#01001")]  # the example: warning, severity 1
        return real_unit(request)

    async with scripted_unit(answer) as url:
        driver = await make_driver(url)
        status = await driver.status()

    assert (status.main, status.detail, status.storage) == (MainStatus.WARNING, "01001", None)
    assert driver.state is DeviceState.DEGRADED
    assert driver.reason == "degraded: the control unit reports a warning — see its display or manual"


async def test_an_identity_with_more_fields_and_a_literal_hash_is_read(make_driver: DriverFactory) -> None:
    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        if isinstance(request, ccsp.IdentityQuery):
            return [raw(b"IR#" + REAL_UNIT_ID.encode() + b"#2#CC##1.0.7#C1/F#extra")]
        return real_unit(request)

    async with scripted_unit(answer) as url:
        driver = await make_driver(url)

    identity = driver.unit_identity
    assert identity is not None
    assert (identity.unit_id, identity.protocol_version, identity.firmware) == (REAL_UNIT_ID, 2, "CC#1.0.7")


async def test_mode_b_replies_are_taken(make_driver: DriverFactory) -> None:
    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        return [
            ccsp.frame(ccsp.message_of(item), b"%") if isinstance(item, bytes) else item
            for item in real_unit(request)
        ]

    async with scripted_unit(answer) as url:
        driver = await make_driver(url)
        done = await driver.register(1, make_receipt_data(1))

    assert (done.code, done.unit_id) == (REAL_CODE, REAL_UNIT_ID)


async def test_v1_sends_the_pos_id_third_and_the_cashier_fourth_and_reads_sr(
    make_driver: DriverFactory,
) -> None:
    async with scripted_unit(lambda request: real_unit(request, version=1)) as url:
        driver = await make_driver(url)
        done = await driver.register(1, make_receipt_data(13), cashier="TedF")

    assert (done.code, done.unit_id) == (REAL_CODE, REAL_UNIT_ID)  # SR has the code; IR the id
    [rh] = [ccsp.message_of(f.data) for f in done.frames if f.direction == "tx" and f.data[7:9] == b"RH"]
    fields = rh.split(b"#")
    assert fields[:6] == [b"RH", b"202611211200", b"13", b"KASSA1", b"TedF", b" "]


async def test_v1_without_a_cashier_sends_one_space(make_driver: DriverFactory) -> None:
    async with scripted_unit(lambda request: real_unit(request, version=1)) as url:
        driver = await make_driver(url)
        done = await driver.register(1, make_receipt_data(13), cashier="Åsa #1 Öberg and a very long name")

    [rh] = [ccsp.message_of(f.data) for f in done.frames if f.direction == "tx" and f.data[7:9] == b"RH"]
    assert ccsp.split_fields(rh)[4] == "Asa #1 Oberg and"[:16].encode()
    async with scripted_unit(lambda request: real_unit(request, version=1)) as url:
        driver = await make_driver(url)
        done = await driver.register(2, make_receipt_data(14))
    [rh] = [ccsp.message_of(f.data) for f in done.frames if f.direction == "tx" and f.data[7:9] == b"RH"]
    assert rh.split(b"#")[4] == b" "


@pytest.mark.parametrize(
    ("nak", "said", "state"),
    [
        (b"005", "NAK 005 (deprecated message) to RR", DeviceState.FAILED),
        (b"012", "NAK 012 (an error code this gateway does not know) to RR", DeviceState.READY),
        (b"7", "NAK 007 (invalid POS id (not licensed in this unit)) to RR", DeviceState.FAILED),
    ],
)
async def test_every_nak_is_a_refusal_with_its_number(
    make_driver: DriverFactory, nak: bytes, said: str, state: DeviceState
) -> None:
    async with scripted_unit(lambda request: real_unit(request, register=b"NAK#" + nak)) as url:
        driver = await make_driver(url)
        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, make_receipt_data(1))

    assert refused.value.code == int(nak) and refused.value.said == said
    assert str(refused.value).startswith(f"the control unit refused it: NAK {int(nak):03d}")
    assert driver.state is state


async def test_a_code_of_the_wrong_shape_is_a_fault_never_a_receipt(make_driver: DriverFactory) -> None:
    wrong = b"RRR#NOT-A-CODE#" + REAL_UNIT_ID.encode() + b"#0#0"
    async with scripted_unit(lambda request: real_unit(request, register=wrong)) as url:
        driver = await make_driver(url, retries=1)
        with pytest.raises(ControlUnitUnavailable) as unavailable:
            await driver.register(1, make_receipt_data(1))

    assert "answered, but what came back is not a control code ('NOT-A-CODE' is not a control code)" in str(
        unavailable.value
    )
    assert "check the cable" not in str(unavailable.value)
    assert driver.state is DeviceState.FAILED


async def test_a_reply_of_another_type_to_rr_is_named_with_its_bytes(make_driver: DriverFactory) -> None:
    odd = b"XYZ#" + REAL_CODE.encode() + b"#" + REAL_UNIT_ID.encode() + b"#0#0"
    async with scripted_unit(lambda request: real_unit(request, register=odd)) as url:
        driver = await make_driver(url, retries=0)
        with pytest.raises(ControlUnitUnavailable) as unavailable:
            await driver.register(1, make_receipt_data(1))

    words = str(unavailable.value)
    assert f"the control unit on {url} answered, but not in a way this gateway can use" in words
    assert "of type 'XYZ', not RRR" in words and "bytes b'#!#" in words
    assert "no answer" not in words and "check the cable" not in words


@pytest.mark.parametrize("kind", [ReceiptType.TRAINING, ReceiptType.PRO_FORMA])
async def test_training_and_pro_forma_receipts_are_registered_without_a_code(
    make_driver: DriverFactory, kind: ReceiptType
) -> None:
    blank = b"RRR# #" + REAL_UNIT_ID.encode() + b"#0#0"
    async with scripted_unit(lambda request: real_unit(request, register=blank)) as url:
        driver = await make_driver(url)
        done = await driver.register(1, make_receipt_data(1, receipt_type=kind))

    assert (done.code, done.needs_code, done.unit_id) == ("", False, REAL_UNIT_ID)
    assert (done.main, done.storage) == (MainStatus.OK, StorageStatus.OK)


async def test_a_unit_that_names_rr_unknown_is_told_apart(make_driver: DriverFactory) -> None:
    # IR says version 2, but the unit answers RR as a v1-only unit does: NAK 002.
    async with scripted_unit(lambda request: real_unit(request, register=b"NAK#002")) as url:
        driver = await make_driver(url)
        with pytest.raises(ControlUnitRefused, match="does not know this request"):
            await driver.register(1, make_receipt_data(1))
    assert driver.state is DeviceState.FAILED


async def test_a_v1_only_simulated_unit_is_served_in_v1(
    make_unit: UnitFactory, make_driver: DriverFactory
) -> None:
    unit = make_unit(protocol=1)
    async with serve(unit, "tcp") as url:
        driver = await make_driver(url)
        done = await driver.register(1, make_receipt_data(5), cashier="Kim")
    assert [r.key for r in unit.memory.records()] == ["v1:normal:5"]
    assert CLEANCASH_CODE.fullmatch(done.code)


async def test_a_unit_at_57600_baud_is_found_and_the_speed_kept(
    make_unit: UnitFactory, make_driver: DriverFactory
) -> None:
    unit = make_unit(baudrate=57600)
    async with serve(unit, "pty") as path:
        driver = await make_driver(path, speeds=CCSP_SPEEDS)
        identity = driver.unit_identity
        done = await driver.register(1, make_receipt_data(1))

    assert identity is not None and identity.line == "57600 8N1"
    assert done.code == unit.memory.records()[0].code


async def test_a_unit_at_57600_baud_is_silent_to_a_till_fixed_at_9600(
    make_unit: UnitFactory, make_driver: DriverFactory
) -> None:
    unit = make_unit(baudrate=57600)
    async with serve(unit, "pty") as path:
        driver = await make_driver(path, start=False, retries=0)
        with pytest.raises(ControlUnitUnavailable, match="no answer from the control unit"):
            await driver.start()


async def test_a_unit_at_no_speed_is_named_with_the_speeds_tried(
    make_unit: UnitFactory, make_driver: DriverFactory
) -> None:
    unit = make_unit(baudrate=38400)
    async with serve(unit, "pty") as path:
        driver = await make_driver(path, start=False, retries=0, speeds=CCSP_SPEEDS)
        with pytest.raises(ControlUnitUnavailable) as unavailable:
            await driver.start()
    assert "at 9600, 57600, 19200 baud" in str(unavailable.value)
    assert "set [control_unit] baudrate" in str(unavailable.value)


def test_the_rr_serial_number_runs_to_the_reference_ceiling() -> None:
    data: ControlData = make_receipt_data(1)
    assert ccsp.RegisterReceipt(4_294_967_295, data).seq == 4_294_967_295
    with pytest.raises(ValueError, match=r"outside 1\.\.4294967295"):
        ccsp.RegisterReceipt(4_294_967_296, data)
