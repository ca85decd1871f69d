"""The XCCSP driver against the simulated unit served over real HTTP, for every fault.

Each case asserts the whole outcome, as the CCSP driver's fault tests do: the control
code the driver returns is the one the unit stored, journal memory holds exactly one
record for the SerialNo, and the driver's state, reason, exception and NAK code are
exactly right. The unit is the real simulator (``ControlUnit`` + ``serve_http``) in
this process, so a test switches its faults and reads its journal memory directly. The
checks both drivers must pass are in unit_faults.py.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit, Registered
from firmware_sim.control_unit.unit import FIRMWARE, MODEL
from firmware_sim.control_unit.xccsp_server import serve_http
from gateway.devices import ControlUnitRefused, ControlUnitUnavailable, DeviceState, UnitIdentity
from gateway.devices.control_units.interface import ControlUnit as ControlUnitProtocol
from gateway.devices.control_units.interface import refusal_words
from gateway.devices.control_units.xccsp_driver import XCCSP_VERSION, XccspControlUnit
from protocols import xccsp
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData
from tests.devices.unit_drivers import driver_factory, serve_handler
from tests.devices.unit_faults import (
    almost_full_memory_degrades_and_recovers,
    busy_wait_ends_when_the_unit_is_free,
    lasting_fault_fails_then_the_same_seq_registers,
    passing_fault_costs_a_retry,
    refusal_is_final,
    stored,
    switch_on,
    watched_unit_fails_and_recovers_while_idle,
)

# The fixtures' shapes (see tests/conftest.py).
UnitFactory = Callable[..., ControlUnit]
ReceiptFactory = Callable[..., ControlData]
DriverFactory = Callable[..., Awaitable[XccspControlUnit]]

POS_ID = "KASSA1"  # the conftest's receipts use this POS id and organisation number
ORGNR = "5561234567"
CODE_SHAPE = re.compile(r"^[A-Z2-7]{32};[A-Z2-7]{26}$")
MEMORY_FULL = "failed: control unit memory full — order a new control unit or have it emptied"

# Short deadlines so a fault costs a fraction of a second; four tries so that a
# simulated power cut (dark for the conftest's 0.2 s) is always outlasted.
FAST: dict[str, Any] = {"request_timeout": 0.3, "retries": 3, "busy_timeout": 0.3, "busy_poll": 0.05}


def sent(registration_frames: tuple[Any, ...]) -> list[xccsp.Request]:
    return [xccsp.decode_request(f.data) for f in registration_frames if f.direction == "tx"]


def closed_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def xccsp_url(unit: ControlUnit) -> AsyncIterator[str]:
    async with serve_http(unit, "127.0.0.1", 0) as url:
        yield url


@pytest.fixture
async def make_driver() -> AsyncIterator[DriverFactory]:
    """``await make_driver(url, **overrides)``: a fast driver, started, closed after."""

    def build(url: str, *, pos_id: str = POS_ID, **overrides: Any) -> XccspControlUnit:
        return XccspControlUnit(url, pos_id, ORGNR, **{**FAST, **overrides})

    async with driver_factory(build) as make:
        yield make


@pytest.fixture
async def driver(xccsp_url: str, make_driver: DriverFactory) -> XccspControlUnit:
    return await make_driver(xccsp_url)


# -- the handshake and a registration ----------------------------------------------------


async def test_start_learns_who_and_how_the_unit_is(
    unit: ControlUnit, xccsp_url: str, make_driver: DriverFactory
) -> None:
    driver = await make_driver(xccsp_url, start=False)
    protocol_view: ControlUnitProtocol = driver  # the pipeline's view type-checks
    assert protocol_view.state is DeviceState.CONNECTING

    identity = await driver.start()

    assert identity.unit_id == unit.unit_id and len(identity.unit_id) == 17
    assert identity == UnitIdentity(unit.unit_id, XCCSP_VERSION, FIRMWARE, protocol="XCCSP", licences=1)
    assert identity.protocol_name == "XCCSP v1"
    assert driver.unit_identity == identity and driver.unit_type == MODEL
    status = driver.last_status
    assert status is not None and (status.main, status.storage) == (MainStatus.OK, StorageStatus.OK)
    assert (driver.state, driver.reason) == (DeviceState.READY, "ready")
    assert driver.url == xccsp_url and driver.pos_id == POS_ID


async def test_register_returns_the_code_the_unit_stored_with_both_documents(
    unit: ControlUnit, driver: XccspControlUnit, receipt: ReceiptFactory
) -> None:
    done = await driver.register(1, receipt(1))

    [record] = stored(unit, 1)
    assert CODE_SHAPE.match(done.code) and done.code == record.code
    assert (done.seq, done.unit_id, done.attempts) == (1, unit.unit_id, 1)
    assert (done.main, done.storage) == (MainStatus.OK, StorageStatus.OK)
    tx, rx = done.frames
    assert (tx.direction, rx.direction, tx.note, rx.note) == ("tx", "rx", "", "")
    assert xccsp.decode_request(tx.data) == xccsp.RegisterReceipt(1, True, receipt(1))
    assert xccsp.decode_reply(rx.data, xccsp.RegisterReceipt) == xccsp.RegisterReceiptResponse(
        done.code, unit.unit_id, MainStatus.OK, StorageStatus.OK
    )


async def test_is_new_session_is_true_until_the_unit_answered_one_after_start(
    driver: XccspControlUnit, receipt: ReceiptFactory
) -> None:
    first = await driver.register(1, receipt(1))
    second = await driver.register(2, receipt(2))
    await driver.start()
    third = await driver.register(3, receipt(3))

    flags = [
        [r.is_new_session for r in sent(d.frames) if isinstance(r, xccsp.RegisterReceipt)]
        for d in (first, second, third)
    ]
    assert flags == [[True], [False], [True]]


async def test_the_same_seq_again_gives_the_same_code_and_one_record(
    unit: ControlUnit, driver: XccspControlUnit, receipt: ReceiptFactory
) -> None:
    first = await driver.register(7, receipt(7))
    again = await driver.register(7, receipt(7))

    assert again.code == first.code
    assert [r.code for r in unit.memory.records()] == [first.code]


async def test_register_without_start_shakes_hands_first(
    unit: ControlUnit, xccsp_url: str, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    driver = await make_driver(xccsp_url, start=False)

    done = await driver.register(1, receipt(1))

    kinds = [type(r).__name__ for r in sent(done.frames)]
    assert kinds == ["RequestIdentity", "RequestStatus", "RegisterReceipt"]
    assert driver.unit_identity is not None and driver.unit_identity.unit_id == unit.unit_id
    assert done.code == stored(unit, 1)[0].code


async def test_a_url_without_a_path_gets_xccsp(
    unit: ControlUnit, xccsp_url: str, make_driver: DriverFactory
) -> None:
    driver = await make_driver(xccsp_url.removesuffix("/xccsp"))

    assert driver.url == xccsp_url
    assert driver.state is DeviceState.READY


async def test_concurrent_registrations_go_one_at_a_time_and_all_register(
    unit: ControlUnit, driver: XccspControlUnit, receipt: ReceiptFactory
) -> None:
    done = await asyncio.gather(*(driver.register(n, receipt(n)) for n in range(1, 6)))

    assert [d.code for d in done] == [stored(unit, n)[0].code for n in range(1, 6)]
    assert len(unit.memory) == 5


# -- faults the driver rides out ---------------------------------------------------------

# fault, how many tries it takes (None where the count depends on the clock)
RECOVERED = [
    pytest.param("no-reply*1", 2, id="no-reply"),
    pytest.param("corrupt-lrc*1", 2, id="corrupt-lrc-garbled-xml"),
    pytest.param("slow=0.5*1", 2, id="slow-beyond-deadline"),
    pytest.param("nak=6*1", 2, id="fault-6-not-busy"),
    pytest.param("busy*1", 2, id="busy-once"),
    pytest.param("busy*2", 3, id="busy-beyond-busy-timeout"),
    pytest.param("power-cut=after-store*1", None, id="power-cut-after-store"),
    pytest.param("power-cut=before-store*1", None, id="power-cut-before-store"),
    pytest.param("power-cut=after-store", None, id="power-cut-after-store-every-time"),
    pytest.param("noise*1", 2, id="noise"),
    pytest.param("noise=2000*1", 2, id="noise-long"),
]


@pytest.mark.parametrize(("fault", "tries"), RECOVERED)
async def test_a_passing_fault_costs_a_retry_never_a_receipt(
    unit: ControlUnit, driver: XccspControlUnit, receipt: ReceiptFactory, fault: str, tries: int | None
) -> None:
    done = await passing_fault_costs_a_retry(unit, driver, receipt, fault, tries)

    registers = [r for r in sent(done.frames) if isinstance(r, xccsp.RegisterReceipt)]
    assert len(registers) == done.attempts
    assert set(registers) == {xccsp.RegisterReceipt(2, False, receipt(2))}  # the same request every try
    notes = [f.note for f in done.frames if f.direction == "rx"]
    if fault.startswith(("corrupt-lrc", "noise")):
        # Garbled XML is dropped (noted in the frames) and the request sent again.
        assert any(n.startswith("dropped: document: not well-formed XML") for n in notes)


async def test_a_server_error_fault_is_retried(
    unit: ControlUnit, driver: XccspControlUnit, receipt: ReceiptFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_register = unit.register
    calls = 0

    async def broken_once(key: str, data: ControlData) -> Registered:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the simulated unit tripped")  # the server answers Fault 98
        return await real_register(key, data)

    monkeypatch.setattr(unit, "register", broken_once)

    done = await driver.register(1, receipt(1))

    assert done.attempts == 2
    assert [done.code] == [r.code for r in stored(unit, 1)]
    faults = [f for f in done.frames if f.direction == "rx" and b"<type>Fault</type>" in f.data]
    assert len(faults) == 1 and b"<Code>98</Code>" in faults[0].data
    assert driver.state is DeviceState.READY


async def test_busy_wait_ends_when_the_unit_is_free(
    unit: ControlUnit,
    xccsp_url: str,
    make_driver: DriverFactory,
    receipt: ReceiptFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = await make_driver(xccsp_url, busy_timeout=30.0)  # Fault 6, then RequestStatus says busy

    await busy_wait_ends_when_the_unit_is_free(unit, driver, receipt, monkeypatch)


# -- refusals ------------------------------------------------------------------------------

REFUSED = [
    pytest.param("nak=2", NakCode.UNKNOWN_MESSAGE, DeviceState.FAILED, None, id="fault-2"),
    pytest.param("nak=3", NakCode.INVALID_DATA, DeviceState.READY, "ready", id="fault-3"),
    pytest.param("nak=7", NakCode.INVALID_POS_ID, DeviceState.FAILED, None, id="fault-7"),
    pytest.param("nak=8", NakCode.INTERNAL_ERROR, DeviceState.DEGRADED, None, id="fault-8"),
    pytest.param("nak=9", NakCode.LICENSE_EXCEEDED, DeviceState.FAILED, None, id="fault-9"),
    pytest.param("nak=10", NakCode.STORAGE_FULL, DeviceState.FAILED, MEMORY_FULL, id="fault-10"),
    pytest.param("storage-full", NakCode.STORAGE_FULL, DeviceState.FAILED, MEMORY_FULL, id="storage-full"),
]


@pytest.mark.parametrize(("fault", "code", "state", "reason"), REFUSED)
async def test_a_refusal_is_final_and_registers_nothing(
    unit: ControlUnit,
    driver: XccspControlUnit,
    receipt: ReceiptFactory,
    fault: str,
    code: NakCode,
    state: DeviceState,
    reason: str | None,
) -> None:
    words = refusal_words(code, POS_ID)

    refused = await refusal_is_final(
        unit, driver, receipt, fault, code, state, reason or f"{state.value}: {words}"
    )

    assert (refused.code, refused.words) == (code, words)
    fault_code = xccsp.FaultCode(int(code))  # the fault of the same number says it over XCCSP
    assert refused.said.startswith(f"Fault {int(code)}: {fault_code.text} (")
    assert str(refused) == f"the control unit refused it: {refused.said} — {words}"


async def test_an_unknown_pos_id_is_refused_007_when_the_unit_does_not_add_it(
    make_unit: UnitFactory, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    unit = make_unit(auto_register=False)
    async with serve_http(unit, "127.0.0.1", 0) as url:
        driver = await make_driver(url)

        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, receipt(1))

        assert refused.value.code == NakCode.INVALID_POS_ID
        assert driver.reason == (
            f"failed: this register's POS id {POS_ID!r} is not licensed in the control unit — "
            "use the POS id the unit was registered with, or have the supplier add this one"
        )
        # A status report cannot clear it: the unit is fine, this register is not licensed.
        await driver.status()
        assert driver.state is DeviceState.FAILED
        assert len(unit.memory) == 0


async def test_no_free_licence_is_refused_009(
    make_unit: UnitFactory, make_driver: DriverFactory, receipt: ReceiptFactory
) -> None:
    unit = make_unit(licences=1, pos_ids=("KASSA9",))
    async with serve_http(unit, "127.0.0.1", 0) as url:
        driver = await make_driver(url)

        with pytest.raises(ControlUnitRefused) as refused:
            await driver.register(1, receipt(1))

        assert refused.value.code == NakCode.LICENSE_EXCEEDED
        assert (driver.state, driver.reason) == (
            DeviceState.FAILED,
            f"failed: the control unit has no free licence for POS id {POS_ID!r} — "
            "buy another licence or free one from a register no longer in use",
        )
        assert len(unit.memory) == 0


# -- faults that last ----------------------------------------------------------------------


class MatchingReasons(set[str]):
    """Reasons that hold what came back (random noise, say): matched by a pattern."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)

    def __contains__(self, reason: object) -> bool:
        return isinstance(reason, str) and self.pattern.fullmatch(reason) is not None


def unusable_reply_reason(url: str, why: str) -> MatchingReasons:
    return MatchingReasons(
        f"failed: the control unit at {re.escape(url)} answered with something that is no usable "
        f"XCCSP reply \\(document: {why}.*; it began '.*'; 4 tries\\) — restart it; "
        "if that does not help, call the supplier"
    )


def unavailable_reason(fault: str, url: str) -> set[str]:
    if fault in ("corrupt-lrc", "noise"):
        return unusable_reply_reason(url, "not well-formed XML")
    no_answer = (
        f"failed: no answer from the control unit at {url} after 4 tries — "
        "check that it is powered and on the network"
    )
    return {
        {
            "no-reply": no_answer,
            "power-cut=before-store": no_answer,
            "busy": f"failed: the control unit at {url} stayed busy for more than 0.3 s — "
            "wait a minute and try again; if it stays busy, restart it",
        }[fault]
    }


# fault, and whether the unit stored the receipt although no answer got through
LASTING = [
    pytest.param("no-reply", False, id="no-reply"),
    pytest.param("corrupt-lrc", True, id="corrupt-lrc"),  # stored; every answer garbled
    pytest.param("noise", True, id="noise"),
    pytest.param("busy", False, id="busy"),
    pytest.param("power-cut=before-store", False, id="power-cut-before-store"),
]


@pytest.mark.parametrize(("fault", "stored_anyway"), LASTING)
async def test_a_lasting_fault_fails_in_words_and_the_same_seq_registers_once_it_clears(
    unit: ControlUnit,
    xccsp_url: str,
    driver: XccspControlUnit,
    receipt: ReceiptFactory,
    fault: str,
    stored_anyway: bool,
) -> None:
    expected = unavailable_reason(fault, xccsp_url)

    await lasting_fault_fails_then_the_same_seq_registers(
        unit, driver, receipt, fault, stored_anyway, expected
    )


async def test_start_fails_in_words_when_the_unit_says_nothing(
    unit: ControlUnit, xccsp_url: str, make_driver: DriverFactory
) -> None:
    driver = await make_driver(xccsp_url, start=False, retries=1)
    switch_on(unit, "no-reply")

    with pytest.raises(ControlUnitUnavailable):
        await driver.start()

    assert driver.unit_identity is None
    assert driver.reason == (
        f"failed: no answer from the control unit at {xccsp_url} after 2 tries — "
        "check that it is powered and on the network"
    )


async def test_nothing_listening_fails_in_words(make_driver: DriverFactory) -> None:
    url = f"http://127.0.0.1:{closed_port()}/xccsp"
    driver = await make_driver(url, start=False, retries=0)

    with pytest.raises(ControlUnitUnavailable):
        await driver.start()

    assert driver.reason == (
        f"failed: cannot connect to the control unit at {url} (connection refused) after 1 try — "
        "check that it is powered and on the network, and that the address is right"
    )


async def test_a_wrong_path_fails_at_once_without_retries(xccsp_url: str, make_driver: DriverFactory) -> None:
    url = xccsp_url.replace("/xccsp", "/cleancash")
    driver = await make_driver(url, start=False)

    with pytest.raises(ControlUnitUnavailable):
        await driver.start()

    assert driver.reason == (
        f"failed: {url} answered HTTP 404 Not Found instead of an XCCSP reply — "
        "check the control unit's address (like http://host:8081/xccsp)"
    )


async def test_http_5xx_is_retried_then_fails_in_words(make_driver: DriverFactory) -> None:
    hits = 0

    async def unavailable(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(status=503, text="maintenance")

    async with serve_handler(unavailable) as url:
        driver = await make_driver(url, start=False, retries=1, request_timeout=0.05)

        with pytest.raises(ControlUnitUnavailable):
            await driver.start()

    assert hits == 2
    assert driver.reason == (
        f"failed: the control unit server at {url} reported a server error (HTTP 503 Service Unavailable, "
        "the reply began 'maintenance'; 2 tries) — restart it; if that does not help, call the supplier"
    )


# -- health --------------------------------------------------------------------------------


async def test_almost_full_memory_degrades_and_recovers(
    unit: ControlUnit, driver: XccspControlUnit, receipt: ReceiptFactory
) -> None:
    await almost_full_memory_degrades_and_recovers(unit, driver, receipt)


async def test_full_memory_at_start_is_failed(
    unit: ControlUnit, xccsp_url: str, make_driver: DriverFactory
) -> None:
    switch_on(unit, "storage-full")

    await make_driver(xccsp_url)  # the handshake works; the unit is not usable
    driver = await make_driver(xccsp_url)

    assert (driver.state, driver.reason) == (DeviceState.FAILED, MEMORY_FULL)


async def test_a_watched_unit_is_seen_to_fail_and_recover_while_idle(
    unit: ControlUnit, xccsp_url: str, make_driver: DriverFactory
) -> None:
    driver = await make_driver(xccsp_url, watch_interval=0.05, retries=0)

    await watched_unit_fails_and_recovers_while_idle(
        unit, driver, f"failed: no answer from the control unit at {xccsp_url} after 1 try"
    )


# -- misuse --------------------------------------------------------------------------------


async def test_a_closed_driver_says_so(driver: XccspControlUnit, receipt: ReceiptFactory) -> None:
    await driver.close()

    with pytest.raises(ControlUnitUnavailable, match="the gateway is shutting down"):
        await driver.register(1, receipt(1))


async def test_wrong_arguments_are_refused_before_anything_is_sent(
    driver: XccspControlUnit, receipt: ReceiptFactory
) -> None:
    with pytest.raises(ValueError, match="seq 0"):
        await driver.register(0, receipt(1))
    with pytest.raises(ValueError, match="POS id 'KASSA2'"):
        await driver.register(1, receipt(1, pos_id="KASSA2"))
    with pytest.raises(ValueError, match="not an XCCSP address"):
        XccspControlUnit("socket://127.0.0.1:1", POS_ID, ORGNR)
    assert XccspControlUnit("http://unit.local:8081/xccsp", POS_ID, "556123-4567").orgnr == ORGNR
