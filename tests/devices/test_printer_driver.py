"""The printer driver against the simulated ESC/POS printer over real ptys and TCP.

The simulator runs in this process (``PrinterDevice`` with its ``serve_pty`` /
``serve_tcp`` front-ends), so a test switches its faults and counts the receipts it
wrote. Nothing is synchronised by sleeping: a test waits for the driver's state
(``wait_for``), for a job's result, or for the simulator's own change listeners; the
simulator answers a status request only after carrying out what came before it.
Timeouts are short so a fault costs a fraction of a second; ``IO_TIMEOUT`` only bounds
a failing test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tty
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from firmware_sim.printer import Fault, PrinterDevice, parse_fault
from gateway.common.health import DeviceState, Health
from gateway.devices.links.line import LineSettings
from gateway.devices.printer.driver import RESEND_PREFIX
from gateway.devices.printer.job import JobStatus, Outcome
from gateway.devices.printer.status import STATUS_QUERY, PrinterCondition, PrinterUnavailable, StatusReader
from protocols import escpos
from protocols.escpos import Alignment, BarcodeSystem, CodeTable
from tests.devices.printer_parts import PrinterFactory, serve
from tests.devices.printer_parts import make_device as printer_device

IO_TIMEOUT = 10.0  # bounds a failing test; never waited out by a passing one
T = TypeVar("T")


async def within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, IO_TIMEOUT)


def make_device(tmp_path: Path, **config: Any) -> PrinterDevice:
    """The shared simulated printer, quick to come back after a disconnect."""
    return printer_device(tmp_path, **{"disconnect_seconds": 0.05, **config})


def receipt(title: str = "KVITTO") -> bytes:
    """One receipt as a caller builds it: Swedish letters, double height, a barcode, a cut."""
    table = CodeTable.CP865
    return b"".join(
        [
            escpos.initialise(),
            escpos.select_code_table(table),
            escpos.align(Alignment.CENTRE),
            escpos.double_height(),
            escpos.encode_text(f"{title}\n", table),
            escpos.normal_size(),
            escpos.align(Alignment.LEFT),
            escpos.encode_text("Räksmörgås           45,00\n", table),
            escpos.bold(),
            escpos.encode_text("SUMMA                45,00\n", table),
            escpos.bold(False),
            escpos.barcode(BarcodeSystem.EAN13, "731086500470", height=60, width=2),
            escpos.cut(feed=3),
        ]
    )


def receipt_text(title: str = "KVITTO") -> str:
    return (
        " " * ((48 - len(title)) // 2) + title + "\n"
        "Räksmörgås           45,00\n"
        "SUMMA                45,00\n"
        "[EAN13 7310865004703]\n"
    )


def texts(device: PrinterDevice) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in device.receipts]


@pytest.fixture
def device(tmp_path: Path) -> PrinterDevice:
    return make_device(tmp_path)


def fail_on_first_job_chunk(device: PrinterDevice, fault: str) -> None:
    """Switch ``fault`` on as the first job bytes arrive, before the printer reads them.

    Status requests start with DLE; a job starts with ESC @. This is the paper running
    out (or the cover opening) between the status before a job and the job itself.
    """
    original = device.received
    fired = False

    def received(data: bytes) -> bytes:
        nonlocal fired
        if not fired and data[:1] == b"\x1b":
            fired = True
            device.set_fault(*parse_fault(fault))
        return original(data)

    device.received = received  # type: ignore[method-assign]


# -- status decoding -------------------------------------------------------------------

OUT_OF_PAPER = "failed: out of paper — put in a new roll"

FAULT_WORDS: dict[str, tuple[DeviceState, str]] = {
    "": (DeviceState.READY, "ready"),
    "paper-near-end": (DeviceState.DEGRADED, "degraded: paper nearly out — change the roll soon"),
    "paper-out": (DeviceState.FAILED, OUT_OF_PAPER),
    "cover-open": (DeviceState.FAILED, "failed: cover open — close the printer's cover"),
    "offline": (
        DeviceState.FAILED,
        "failed: printer offline (print head too hot) — wait a few minutes; it goes on by itself",
    ),
    "offline=cutter": (
        DeviceState.FAILED,
        "failed: printer offline (the paper cutter is stuck) — open the cover, clear the paper from "
        "the cutter and close the cover",
    ),
    "offline=unrecoverable": (
        DeviceState.FAILED,
        "failed: printer offline (internal error) — switch the printer off and on, then check that the "
        "last receipt printed; if the error stays, call for service",
    ),
    "offline=feed": (
        DeviceState.FAILED,
        "failed: printer offline (the feed button is held down) — let go of the feed button",
    ),
    "slow=5": (DeviceState.READY, "ready"),  # it prints, late: nothing to tell the shop
    "disconnect=100": (DeviceState.READY, "ready"),  # until a job trips it (tests below)
}


@pytest.mark.parametrize("fault", list(FAULT_WORDS), ids=lambda f: f or "ready")
async def test_every_fault_shows_as_a_state_in_words(
    device: PrinterDevice, url: str, make_printer: PrinterFactory, fault: str
) -> None:
    if fault:
        device.set_fault(*parse_fault(fault))
    driver = make_printer(url)

    condition = await within(driver.status())

    assert (driver.state, driver.reason) == FAULT_WORDS[fault]
    assert condition.online is (driver.state is not DeviceState.FAILED)
    assert condition == driver.condition
    # The decoded flags are exactly what the simulator sent.
    sent = b"".join(escpos.build_status(device.status(n)) for n in escpos.StatusType)
    assert condition == PrinterCondition.from_replies(sent)


def test_status_bytes_of_a_real_printer_out_of_paper_decode_to_words() -> None:
    condition = PrinterCondition.from_replies(bytes([0x1A, 0x32, 0x12, 0x7E]))
    assert condition.words() == (DeviceState.FAILED, "out of paper — put in a new roll")
    assert (condition.online, condition.paper_words) == (False, "out")
    assert condition.flags()["paper"] == {"near_end": True, "paper_end": True}
    assert condition.flags()["offline_cause"]["paper_end_stop"] is True


def test_a_byte_that_is_no_status_is_skipped_not_taken_for_status() -> None:
    reader = StatusReader()
    assert reader.feed(b"\xff\x16\x12") is None  # noise, then two of four replies
    condition = reader.feed(b"\x00\x12\x12")
    assert condition is not None and condition.words()[0] is DeviceState.READY
    assert condition.printer.drawer_pin3_high is True  # 0x16: bit 2 set


async def test_the_observers_hear_each_change(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    driver = make_printer(url)
    states: list[Health] = []
    conditions: list[PrinterCondition] = []
    driver.on_change(states.append)
    stop = driver.on_condition(conditions.append)

    await within(driver.status())
    device.set_fault(Fault.PAPER_OUT)
    await within(driver.status())
    await within(driver.status())  # unchanged: nobody is told again
    device.clear_fault()
    await within(driver.status())
    stop()
    device.set_fault(Fault.PAPER_NEAR_END)
    await within(driver.status())

    assert [h.reason for h in states] == [
        "ready",
        OUT_OF_PAPER,
        "ready",
        "degraded: paper nearly out — change the roll soon",
    ]
    assert [c.paper_words for c in conditions] == ["ok", "out", "ok"]


async def test_the_idle_watch_notices_paper_running_out(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    driver = make_printer(url, watch_interval=0.02)
    await within(driver.start())
    device.set_fault(Fault.PAPER_OUT)
    health = await within(driver.wait_for(DeviceState.FAILED))
    assert health.reason == OUT_OF_PAPER


# -- jobs ------------------------------------------------------------------------------


async def test_a_job_is_printed_once_and_confirmed_by_the_status_after_it(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    driver = make_printer(url)

    result = await within(driver.print(receipt()))

    assert (result.outcome, result.reason, result.sends) == (Outcome.PRINTED, "printed", 1)
    assert texts(device) == [receipt_text()]
    assert driver.queue_depth == 0 and driver.state is DeviceState.READY


async def test_a_job_queued_while_out_of_paper_prints_exactly_once_when_paper_returns(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    device.set_fault(Fault.PAPER_OUT)
    driver = make_printer(url)

    job = driver.submit(receipt())
    await within(driver.wait_for(DeviceState.FAILED))

    assert job.status is JobStatus.WAITING and job.waiting_for == OUT_OF_PAPER
    assert driver.queue_depth == 1 and not job.done
    assert device.receipts == [] and device.held_bytes == 0  # it was never sent
    device.clear_fault()
    result = await within(job)
    assert (result.outcome, result.sends) == (Outcome.PRINTED, 1)
    await within(driver.status())  # the printer has nothing more to print
    assert texts(device) == [receipt_text()]
    assert driver.queue_depth == 0


@pytest.mark.parametrize("fault", ["paper-out", "cover-open", "offline=feed"])
async def test_a_job_the_printer_holds_is_never_sent_again(
    device: PrinterDevice, url: str, make_printer: PrinterFactory, fault: str
) -> None:
    driver = make_printer(url)
    await within(driver.start())
    fail_on_first_job_chunk(device, fault)

    job = driver.submit(receipt())
    await within(driver.wait_for(DeviceState.FAILED))

    # The status after the job said offline: the printer has the job and keeps it.
    assert job.status is JobStatus.HELD and job.sends == 1
    assert device.receipts == [] and device.held_bytes > 0
    device.clear_fault()
    result = await within(job)
    assert (result.outcome, result.sends) == (Outcome.PRINTED, 1)
    assert texts(device) == [receipt_text()]


async def test_jobs_keep_their_order_across_a_paper_change(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    driver = make_printer(url)
    first = await within(driver.print(receipt("ETT")))
    device.set_fault(Fault.PAPER_OUT)
    jobs = [driver.submit(receipt(title)) for title in ("TVÅ", "TRE", "FYRA")]
    await within(driver.wait_for(DeviceState.FAILED))

    assert [job.status for job in jobs] == [JobStatus.WAITING, JobStatus.QUEUED, JobStatus.QUEUED]
    assert driver.queue_depth == 3 and driver.jobs == tuple(jobs)
    device.clear_fault()
    results = await within(asyncio.gather(*(asyncio.ensure_future(job) for job in jobs)))

    assert first.outcome is Outcome.PRINTED
    assert [(r.job_id, r.outcome, r.sends) for r in results] == [(j.id, Outcome.PRINTED, 1) for j in jobs]
    assert texts(device) == [receipt_text(t) for t in ("ETT", "TVÅ", "TRE", "FYRA")]


async def test_a_slow_printer_is_ready_and_finishes_the_receipt_on_its_own(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    device.set_fault(Fault.SLOW, 0.05)
    driver = make_printer(url)

    result = await within(driver.print(receipt()))

    # The status after the job answers at once; the paper comes out a little later.
    assert result.outcome is Outcome.PRINTED and driver.state is DeviceState.READY
    changed = asyncio.Event()
    device.subscribe(changed.set)
    while not device.receipts:
        changed.clear()
        await within(changed.wait())
    assert texts(device) == [receipt_text()]


async def test_a_waiting_job_can_be_withdrawn(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    device.set_fault(Fault.COVER_OPEN)
    driver = make_printer(url)
    waiting, queued = driver.submit(receipt("ETT")), driver.submit(receipt("TVÅ"))
    await within(driver.wait_for(DeviceState.FAILED))

    assert queued.cancel() and waiting.cancel()
    assert not waiting.cancel()  # once is enough
    assert (await within(waiting)).outcome is Outcome.NOT_PRINTED
    assert driver.queue_depth == 0
    device.clear_fault()
    assert (await within(driver.print(receipt("TRE")))).outcome is Outcome.PRINTED
    assert texts(device) == [receipt_text("TRE")]


async def test_a_job_withdrawn_while_the_paper_comes_back_is_not_printed(
    device: PrinterDevice, url: str, make_printer: PrinterFactory
) -> None:
    device.set_fault(Fault.PAPER_OUT)
    driver = make_printer(url)
    job = driver.submit(receipt())
    await within(driver.wait_for(DeviceState.FAILED))
    original = device.received

    def received(data: bytes) -> bytes:
        # The paper is back and the cashier withdraws the job in the same instant: the
        # worker's next status request is answered "online" after the job was withdrawn.
        if data == STATUS_QUERY and not job.done:
            device.clear_fault()
            assert job.cancel()
        return original(data)

    device.received = received  # type: ignore[method-assign]
    assert (await within(job)).outcome is Outcome.NOT_PRINTED
    await within(driver.wait_for(DeviceState.READY))
    await within(driver.status())
    assert device.receipts == [] and device.held_bytes == 0


# -- a link that drops mid-job ---------------------------------------------------------


@pytest.mark.parametrize(
    ("drop_after", "partial"),
    [
        # 12 bytes: ESC @, ESC t, ESC a, GS ! and "KVIT" -- nothing reached the paper.
        (12, []),
        # 21 bytes: past the title's LF -- the title is on the paper when the line drops;
        # the resend cuts it off as its own piece before printing the whole receipt.
        (21, [" " * 21 + "KVITTO\n"]),
    ],
)
async def test_a_tcp_drop_mid_job_is_resent_after_the_reconnect(
    device: PrinterDevice, make_printer: PrinterFactory, drop_after: int, partial: list[str]
) -> None:
    device.set_fault(*parse_fault(f"disconnect={drop_after}*1"))
    async with serve(device, "tcp") as url:
        driver = make_printer(url)
        result = await within(driver.print(receipt()))

    assert (result.outcome, result.sends) == (Outcome.PRINTED, 2)
    assert driver.link_opens == 2
    assert texts(device) == [*partial, receipt_text()]


async def test_a_serial_line_that_goes_dead_mid_job_is_resent_when_it_is_back(
    device: PrinterDevice, make_printer: PrinterFactory
) -> None:
    # On a pty the fault makes the printer deaf for disconnect_seconds: what was sent
    # meanwhile is lost, and no status answer comes. The job fits the printer's buffer,
    # so silence means the bytes were lost: the line is reopened and the job resent.
    device.set_fault(*parse_fault("disconnect=12*1"))
    async with serve(device, "pty") as url:
        driver = make_printer(url)
        result = await within(driver.print(receipt()))

    assert result.outcome is Outcome.PRINTED and result.sends >= 2
    assert texts(device) == [receipt_text()]


async def test_resends_are_bounded_and_the_receipt_is_left_unconfirmed(
    device: PrinterDevice, make_printer: PrinterFactory
) -> None:
    device.set_fault(Fault.DISCONNECT, 12)  # every connection drops 12 bytes into a job
    async with serve(device, "tcp") as url:
        driver = make_printer(url, resend_limit=1)
        result = await within(driver.print(receipt("ETT")))
        device.clear_fault()
        after = await within(driver.print(receipt("TVÅ")))

    assert (result.outcome, result.sends) == (Outcome.UNCONFIRMED, 2)
    assert result.reason == (
        "the connection to the printer dropped 2 time(s) while it printed — check the receipt, "
        "print a copy if it is missing, and check the cable"
    )
    assert after.outcome is Outcome.PRINTED
    assert texts(device) == [receipt_text("TVÅ")]


# -- nothing there ---------------------------------------------------------------------


@pytest.fixture
def closed_tcp_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"socket://127.0.0.1:{port}"


@pytest.fixture
def silent_pty() -> Iterator[tuple[int, str]]:
    """A raw pty whose far end says nothing unless the test makes it: (master, path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


async def test_with_nothing_listening_jobs_wait_and_closing_says_they_were_not_printed(
    closed_tcp_url: str, make_printer: PrinterFactory
) -> None:
    driver = make_printer(closed_tcp_url)
    health = await within(driver.start())
    assert health.state is DeviceState.FAILED
    assert health.reason == (
        f"failed: cannot open {closed_tcp_url}: connection refused — check that the device is on and "
        "listens on that port"
    )
    job = driver.submit(receipt())
    with pytest.raises(PrinterUnavailable, match="connection refused"):
        await within(driver.status())

    await driver.close()

    result = await within(job)
    assert (result.outcome, result.sends) == (Outcome.NOT_PRINTED, 0)
    assert result.reason == "the gateway stopped before the receipt was sent"


async def test_a_silent_serial_port_is_no_answer(
    silent_pty: tuple[int, str], make_printer: PrinterFactory
) -> None:
    _, path = silent_pty
    driver = make_printer(path)
    health = await within(driver.start())
    assert health.reason == f"failed: no answer from the printer at {path} — check the cable and power"


class ScriptedPrinter:
    """The far end of a pty answering status requests as told: for odd answers the
    simulator never gives (silence right after one particular job)."""

    READY = bytes([0x12, 0x12, 0x12, 0x12])

    def __init__(self, master: int, silent_after: bytes) -> None:
        self.master = master
        self.silent_after = silent_after
        self.received = bytearray()
        self.jobs_seen = 0
        self._answered_up_to = 0
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.received += os.read(self.master, 65536)
        while (end := self.received.find(STATUS_QUERY, self._answered_up_to)) >= 0:
            before = bytes(self.received[self._answered_up_to : end])
            self._answered_up_to = end + len(STATUS_QUERY)
            if before.endswith(self.silent_after):
                self.jobs_seen += 1
                if self.jobs_seen == 1:
                    continue  # the first time: say nothing, as a printer whose line died
            os.write(self.master, self.READY)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)


@pytest.mark.parametrize(
    ("size", "outcome", "sends"), [(1000, Outcome.PRINTED, 2), (6000, Outcome.UNCONFIRMED, 1)]
)
async def test_silence_after_a_job_resends_only_what_fits_the_printers_buffer(
    silent_pty: tuple[int, str], make_printer: PrinterFactory, size: int, outcome: Outcome, sends: int
) -> None:
    master, path = silent_pty
    job = b"x" * (size - 1) + b"\n"
    printer = ScriptedPrinter(master, silent_after=job)
    try:
        # A fast line: the job's deadline includes its line time (6000 bytes: 6 s at 9600 baud).
        driver = make_printer(path, printer_buffer=4096, line=LineSettings(baudrate=921600))
        result = await within(driver.print(job))
    finally:
        printer.close()

    assert (result.outcome, result.sends) == (outcome, sends)
    if outcome is Outcome.PRINTED:
        # Silent on a job that fits: its bytes were lost; sent again after a cut.
        assert bytes(printer.received).count(RESEND_PREFIX + job) == 1
    else:
        # Silent on a job bigger than the buffer: the printer may be holding it, so it is
        # not sent again; the caller is told to check the receipt.
        assert bytes(printer.received).count(job) == 1
        assert result.reason.startswith("the printer stopped answering in the middle of a long receipt")
