"""The simulated ESC/POS printer: receipts on paper and on disk, status, drawer, faults.

Over real ptys (pyserial on the slave) and real TCP sockets. Synchronisation is by
protocol, never by sleeping: a ``DLE EOT`` sent after a job is answered only once the job
has been carried out, and state changes are awaited through the device's listeners.
Time-dependent behaviour (drawer closing, slow printing) runs on a fake clock.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import serial
from PIL import Image

from firmware_sim.printer import Fault, FaultError, PrinterConfig, PrinterDevice, parse_fault
from firmware_sim.printer.paper import Paper, Style, to_text
from firmware_sim.printer.server import READ_SIZE, serve_pty, serve_tcp
from protocols import escpos
from protocols.escpos import (
    Alignment,
    BarcodeSystem,
    CodeTable,
    DrawerPin,
    ErrorCause,
    OfflineCause,
    PaperStatus,
    PrinterStatus,
    StatusType,
)

IO_TIMEOUT = 10.0  # bounds a failing test; never waited out by a passing one


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_device(tmp_path: Path, clock: Callable[[], float] | None = None, **config: object) -> PrinterDevice:
    settings = PrinterConfig(output=tmp_path / "receipts", **config)  # type: ignore[arg-type]
    return PrinterDevice(settings) if clock is None else PrinterDevice(settings, clock=clock)


def receipt_bytes(title: str = "KVITTO") -> bytes:
    """A receipt with Swedish letters (CP865), double height, bold, an EAN-13 and a cut."""
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
            escpos.encode_text("Ål och ägg på bröd   30,50\n", table),
            escpos.bold(),
            escpos.encode_text("SUMMA                75,50\n", table),
            escpos.bold(False),
            escpos.double_height(),
            escpos.encode_text("SUMMA                75,50\n", table),
            escpos.normal_size(),
            escpos.align(Alignment.CENTRE),
            escpos.barcode(BarcodeSystem.EAN13, "731086500470", height=60, width=2),
            escpos.feed(2),
            escpos.cut(feed=3),
        ]
    )


def expected_text(title: str = "KVITTO") -> str:
    left = (48 - len(title)) // 2
    return (
        " " * left + title + "\n"
        "Räksmörgås           45,00\n"
        "Ål och ägg på bröd   30,50\n"
        "SUMMA                75,50\n"
        "SUMMA                75,50\n" + " " * 13 + "[EAN13 7310865004703]\n"  # centred: (48 - 21) // 2
        "\n\n"  # ESC d 2
    )


def status_of(device: PrinterDevice, n: StatusType) -> escpos.StatusReply:
    return escpos.parse_status(n, device.received(escpos.status_request(n)))


def dark_bands(path: Path) -> list[tuple[int, int]]:
    """(first row, height) of each run of image rows that hold a dark pixel."""
    image = Image.open(path).convert("L")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    rows = [any(int(pixels[x, y]) < 128 for x in range(width)) for y in range(height)]  # type: ignore[arg-type]
    bands: list[tuple[int, int]] = []
    start: int | None = None
    for y, dark in enumerate([*rows, False]):
        if dark and start is None:
            start = y
        elif not dark and start is not None:
            bands.append((start, y - start))
            start = None
    return bands


async def wait_until(device: PrinterDevice, condition: Callable[[], bool]) -> None:
    """Wait (without polling) until ``condition`` holds after a change of the device."""
    reached = asyncio.Event()

    def check() -> None:
        if condition():
            reached.set()

    unsubscribe = device.subscribe(check)
    try:
        check()
        await asyncio.wait_for(reached.wait(), IO_TIMEOUT)
    finally:
        unsubscribe()


class SerialLine:
    """A pyserial port on the simulator's pty, read off the event loop."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, timeout=IO_TIMEOUT)

    def write(self, data: bytes) -> None:
        self.port.write(data)

    async def read(self, n: int) -> bytes:
        return await asyncio.to_thread(self.port.read, n)

    async def status(self, n: StatusType) -> escpos.StatusReply:
        self.write(escpos.status_request(n))
        return escpos.parse_status(n, await self.read(1))

    def close(self) -> None:
        self.port.close()


@pytest.fixture
async def pty_printer(tmp_path: Path) -> AsyncIterator[tuple[PrinterDevice, SerialLine]]:
    device = make_device(tmp_path, drawer_close_seconds=0, disconnect_seconds=0.05)
    async with serve_pty(device) as path:
        line = SerialLine(path)
        try:
            yield device, line
        finally:
            line.close()


async def tcp_status(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: StatusType
) -> escpos.StatusReply:
    writer.write(escpos.status_request(n))
    return escpos.parse_status(n, await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT))


# ---------------------------------------------------------------------------------------
# Receipts
# ---------------------------------------------------------------------------------------


async def test_receipt_over_pty_is_written_as_text_and_png(
    pty_printer: tuple[PrinterDevice, SerialLine],
) -> None:
    device, line = pty_printer
    line.write(receipt_bytes())
    assert await line.status(StatusType.PRINTER) == PrinterStatus()  # answered after the job
    folder = device.config.output
    assert sorted(p.name for p in folder.iterdir()) == ["receipt-0001.png", "receipt-0001.txt"]
    assert (folder / "receipt-0001.txt").read_text(encoding="utf-8") == expected_text()

    png = folder / "receipt-0001.png"
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.width == 48 * 12 + 32
        assert 300 < image.height < 1000
    bands = dark_bands(png)
    # KVITTO (double height), three normal lines, SUMMA (double height), the barcode + HRI
    assert len(bands) >= 6
    title, first, second, summa, big_summa = (h for _, h in bands[:5])
    assert big_summa >= 1.8 * summa  # the same text, at double height
    assert title > max(first, second, summa)


async def test_bold_is_drawn_heavier(pty_printer: tuple[PrinterDevice, SerialLine]) -> None:
    device, line = pty_printer
    line.write(b"SUMMA\n" + escpos.bold() + b"SUMMA\n" + escpos.bold(False) + escpos.cut())
    await line.status(StatusType.PRINTER)
    png = device.receipts[0].with_suffix(".png")
    with Image.open(png) as image:
        gray = image.convert("L")
    ink = [gray.crop((0, top, gray.width, top + h)).histogram()[0] for top, h in dark_bands(png)[:2]]
    assert ink[1] > ink[0] * 1.2


async def test_receipt_over_tcp_on_port_zero_with_qr_code(tmp_path: Path) -> None:
    device = make_device(tmp_path)
    async with serve_tcp(device, "127.0.0.1", 0) as url:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        assert url.startswith("socket://127.0.0.1:") and int(port) > 0
        reader, writer = await asyncio.open_connection(host, int(port))
        job = receipt_bytes()[:-4] + escpos.qr_code("https://example.se/kvitto/42") + escpos.cut(feed=3)
        writer.write(job)
        assert await tcp_status(reader, writer, StatusType.PAPER) == PaperStatus()
        writer.close()
        await writer.wait_closed()
    text = device.receipts[0].read_text(encoding="utf-8")
    qr_line = "[QR https://example.se/kvitto/42]"
    assert text == expected_text() + " " * ((48 - len(qr_line)) // 2) + qr_line + "\n"
    assert device.receipts[0].with_suffix(".png").stat().st_size > 1000


async def test_receipts_are_numbered_and_numbering_survives_a_restart(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    for title in ("ETT", "TVÅ"):
        device.received(receipt_bytes(title))
    again = make_device(tmp_path, png=False)
    again.received(receipt_bytes("TRE"))
    names = sorted(p.name for p in (tmp_path / "receipts").iterdir())
    assert names == ["receipt-0001.txt", "receipt-0002.txt", "receipt-0003.txt"]
    assert (tmp_path / "receipts" / "receipt-0003.txt").read_text(encoding="utf-8").strip().startswith("TRE")


def test_code_table_default_and_esc_at(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, code_table=CodeTable.WPC1252)
    device.received("Blåbär\n".encode("cp1252") + escpos.select_code_table(CodeTable.CP850))
    device.received(
        "Smörgås\n".encode("cp850") + escpos.initialise() + "Ärter\n".encode("cp1252") + escpos.cut()
    )
    assert device.receipts[0].read_text(encoding="utf-8") == "Blåbär\nSmörgås\nÄrter\n"


def test_esc_at_drops_an_unfinished_line_but_keeps_printed_ones(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.received(b"printed\nhalf a li" + escpos.initialise() + b"again\n" + escpos.cut())
    assert device.receipts[0].read_text(encoding="utf-8") == "printed\nagain\n"


def test_a_cut_with_nothing_printed_writes_nothing(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.received(escpos.cut() + escpos.cut())
    assert device.receipts == []


def test_paper_wraps_aligns_and_feeds() -> None:
    paper = Paper(10)
    paper.add_text("0123456789AB", Style(), Alignment.LEFT)
    paper.feed(1, Alignment.LEFT)
    paper.add_text("mitt", Style(width=2), Alignment.CENTRE)
    paper.feed(3, Alignment.CENTRE)
    paper.add_text("höger", Style(), Alignment.RIGHT)
    items = paper.take(Alignment.RIGHT)
    assert to_text(items, 10) == "0123456789\nAB\n mitt\n\n\n     höger\n"


# ---------------------------------------------------------------------------------------
# Status (DLE EOT 1..4) for every state and fault
# ---------------------------------------------------------------------------------------

N = StatusType

STATUS_CASES: dict[str, dict[StatusType, escpos.StatusReply]] = {
    "": {
        N.PRINTER: PrinterStatus(),
        N.OFFLINE_CAUSE: OfflineCause(),
        N.ERROR_CAUSE: ErrorCause(),
        N.PAPER: PaperStatus(),
    },
    "paper-near-end": {N.PRINTER: PrinterStatus(), N.PAPER: PaperStatus(near_end=True)},
    "paper-out": {
        N.PRINTER: PrinterStatus(offline=True),
        N.OFFLINE_CAUSE: OfflineCause(paper_end_stop=True),
        N.ERROR_CAUSE: ErrorCause(),
        N.PAPER: PaperStatus(near_end=True, paper_end=True),
    },
    "cover-open": {
        N.PRINTER: PrinterStatus(offline=True),
        N.OFFLINE_CAUSE: OfflineCause(cover_open=True),
        N.ERROR_CAUSE: ErrorCause(),
        N.PAPER: PaperStatus(),
    },
    "offline": {
        N.PRINTER: PrinterStatus(offline=True),
        N.OFFLINE_CAUSE: OfflineCause(error=True),
        N.ERROR_CAUSE: ErrorCause(auto_recoverable=True),
    },
    "offline=cutter": {
        N.PRINTER: PrinterStatus(offline=True, waiting_online_recovery=True),
        N.OFFLINE_CAUSE: OfflineCause(error=True),
        N.ERROR_CAUSE: ErrorCause(autocutter=True),
    },
    "offline=unrecoverable": {
        N.PRINTER: PrinterStatus(offline=True),
        N.OFFLINE_CAUSE: OfflineCause(error=True),
        N.ERROR_CAUSE: ErrorCause(unrecoverable=True),
    },
    "offline=feed": {
        N.PRINTER: PrinterStatus(offline=True, feed_button_pressed=True),
        N.OFFLINE_CAUSE: OfflineCause(feed_button=True),
        N.ERROR_CAUSE: ErrorCause(),
    },
    "slow=5": {N.PRINTER: PrinterStatus(), N.OFFLINE_CAUSE: OfflineCause(), N.PAPER: PaperStatus()},
    "disconnect=100": {N.PRINTER: PrinterStatus(), N.OFFLINE_CAUSE: OfflineCause(), N.PAPER: PaperStatus()},
}


@pytest.mark.parametrize("fault", list(STATUS_CASES), ids=lambda f: f or "ready")
def test_status_bytes_for_each_fault(tmp_path: Path, fault: str) -> None:
    device = make_device(tmp_path, png=False)
    if fault:
        device.set_fault(*parse_fault(fault))
    for n, expected in STATUS_CASES[fault].items():
        assert status_of(device, n) == expected, n


def test_paper_out_bytes_are_the_ones_real_printers_send(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.set_fault(Fault.PAPER_OUT)
    replies = device.received(b"".join(escpos.status_request(n) for n in (1, 2, 4)))
    assert replies == bytes([0x1A, 0x32, 0x7E])


async def test_status_over_pty_follows_faults_switched_at_run_time(
    pty_printer: tuple[PrinterDevice, SerialLine],
) -> None:
    device, line = pty_printer
    assert await line.status(N.PAPER) == PaperStatus()
    device.set_fault(Fault.COVER_OPEN)
    assert await line.status(N.PRINTER) == PrinterStatus(offline=True)
    assert await line.status(N.OFFLINE_CAUSE) == OfflineCause(cover_open=True)
    device.clear_fault(Fault.COVER_OPEN)
    device.set_fault(Fault.PAPER_NEAR_END)
    assert await line.status(N.PRINTER) == PrinterStatus()
    assert await line.status(N.PAPER) == PaperStatus(near_end=True)


def test_status_is_answered_mid_command_stream(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.set_fault(Fault.PAPER_OUT)
    reply = device.received(b"half a line" + escpos.status_request(4) + b" more" + escpos.status_request(1))
    assert [escpos.parse_status(n, bytes([b])) for n, b in zip((4, 1), reply, strict=True)] == [
        PaperStatus(near_end=True, paper_end=True),
        PrinterStatus(offline=True),
    ]


def test_slow_delays_the_receipt_but_not_the_status(tmp_path: Path) -> None:
    clock = FakeClock()
    device = make_device(tmp_path, clock, png=False)
    device.set_fault(Fault.SLOW, 5)
    reply = device.received(receipt_bytes() + escpos.status_request(1))
    assert escpos.parse_status(1, reply) == PrinterStatus()
    assert device.receipts == []
    assert device.wake_delay() == 5.0
    clock.advance(4.9)
    device.drain()
    assert device.receipts == []
    clock.advance(0.1)
    device.drain()
    assert len(device.receipts) == 1
    assert device.wake_delay() is None


def test_slow_strikes_only_as_often_as_asked(tmp_path: Path) -> None:
    clock = FakeClock()
    device = make_device(tmp_path, clock, png=False)
    device.set_fault(*parse_fault("slow=2*1"))
    device.received(receipt_bytes("ETT") + receipt_bytes("TVÅ"))
    assert device.receipts == []
    clock.advance(2)
    device.drain()
    assert len(device.receipts) == 2


async def test_slow_printing_finishes_on_its_own_over_a_pty(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.set_fault(Fault.SLOW, 0.05)
    async with serve_pty(device) as path:
        line = SerialLine(path)
        line.write(receipt_bytes())
        assert await line.status(N.PRINTER) == PrinterStatus()  # answered before the receipt
        await wait_until(device, lambda: len(device.receipts) == 1)
        line.close()


def test_fault_syntax_is_checked() -> None:
    assert parse_fault("disconnect=40*2") == (Fault.DISCONNECT, "40", 2)
    assert parse_fault("offline=cutter") == (Fault.OFFLINE, "cutter", None)
    for bad in ("paper-out*2", "offline=smoke", "slow=-1", "disconnect=0", "paper-out=1", "jam"):
        with pytest.raises(FaultError):
            parse_fault(bad)


# ---------------------------------------------------------------------------------------
# Drawer
# ---------------------------------------------------------------------------------------


async def test_drawer_kick_opens_and_the_drawer_stays_open_until_closed(
    pty_printer: tuple[PrinterDevice, SerialLine],
) -> None:
    device, line = pty_printer
    closed, opened = PrinterStatus(drawer_pin3_high=False), PrinterStatus(drawer_pin3_high=True)
    assert await line.status(N.PRINTER) == closed
    line.write(escpos.drawer_kick(DrawerPin.PIN2, 100, 200))
    assert await line.status(N.PRINTER) == opened
    assert device.drawer_kicks == 1
    device.close_drawer()
    assert await line.status(N.PRINTER) == closed


def test_drawer_closes_after_the_configured_time(tmp_path: Path) -> None:
    clock = FakeClock()
    device = make_device(tmp_path, clock, png=False, drawer_close_seconds=3.0)
    device.received(escpos.drawer_kick())
    assert status_of(device, N.PRINTER) == PrinterStatus(drawer_pin3_high=True)
    clock.advance(2.99)
    assert device.drawer_open
    clock.advance(0.01)
    assert status_of(device, N.PRINTER) == PrinterStatus(drawer_pin3_high=False)


def test_drawer_polarity_low_when_open(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, drawer_close_seconds=0, drawer_open_high=False)
    assert status_of(device, N.PRINTER) == PrinterStatus(drawer_pin3_high=True)  # closed
    device.received(escpos.drawer_kick())
    assert status_of(device, N.PRINTER) == PrinterStatus(drawer_pin3_high=False)  # open
    device.close_drawer()
    device.open_drawer()  # by hand, with the key
    assert device.drawer_open


def test_drawer_on_pin_5_ignores_pin_2_and_zero_pulses(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, drawer_close_seconds=0, drawer_pin=DrawerPin.PIN5)
    device.received(escpos.drawer_kick(DrawerPin.PIN2) + escpos.drawer_kick(DrawerPin.PIN5, on_ms=0))
    assert not device.drawer_open
    device.received(escpos.drawer_kick(DrawerPin.PIN5))
    assert device.drawer_open


# ---------------------------------------------------------------------------------------
# Paper out: data is held (bounded) and printed once, in order, when the paper returns
# ---------------------------------------------------------------------------------------


def test_paper_out_holds_the_job_and_its_kick_until_the_paper_returns(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, drawer_close_seconds=0)
    device.set_fault(Fault.PAPER_OUT)
    reply = device.received(receipt_bytes() + escpos.drawer_kick() + escpos.status_request(1))
    assert escpos.parse_status(1, reply) == PrinterStatus(offline=True)
    assert device.receipts == [] and device.drawer_kicks == 0
    assert device.held_bytes > 100
    device.clear_fault(Fault.PAPER_OUT)
    assert len(device.receipts) == 1
    assert status_of(device, N.PRINTER) == PrinterStatus(drawer_pin3_high=True)  # the held kick fired
    assert device.receipts[0].read_text(encoding="utf-8") == expected_text()
    device.clear_fault()
    assert len(device.receipts) == 1  # printed exactly once
    assert device.held_bytes == 0


def test_paper_near_end_still_prints(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.set_fault(Fault.PAPER_NEAR_END)
    device.received(receipt_bytes())
    assert len(device.receipts) == 1


@pytest.mark.parametrize("fault", ["cover-open", "offline", "offline=feed"])
def test_every_offline_fault_holds_print_data(tmp_path: Path, fault: str) -> None:
    device = make_device(tmp_path, png=False)
    device.set_fault(*parse_fault(fault))
    device.received(receipt_bytes())
    assert device.receipts == []
    device.clear_fault()
    assert len(device.receipts) == 1


async def test_a_full_receive_buffer_stops_reading_until_the_paper_returns(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, buffer_bytes=300)
    device.set_fault(Fault.PAPER_OUT)
    count = 60
    stream = b"".join(receipt_bytes(f"KVITTO {i}") for i in range(1, count + 1))
    assert len(stream) > 2 * READ_SIZE
    async with serve_tcp(device) as url:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(stream)
        await wait_until(device, lambda: not device.accepting)
        assert device.receipts == []
        assert device.held_bytes < len(stream) // 2  # one read, about 4 KiB: the rest waits
        device.clear_fault(Fault.PAPER_OUT)
        # Reading resumes; the status request is answered once everything before it printed.
        assert await tcp_status(reader, writer, N.PRINTER) == PrinterStatus()
        writer.close()
        await writer.wait_closed()
    texts = [p.read_text(encoding="utf-8") for p in device.receipts]
    assert texts == [expected_text(f"KVITTO {i}") for i in range(1, count + 1)]


async def test_paper_out_over_pty_resumes_reading_when_cleared(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, buffer_bytes=200)
    device.set_fault(Fault.PAPER_OUT)
    async with serve_pty(device) as path:
        line = SerialLine(path)
        line.write(receipt_bytes("ETT") + receipt_bytes("TVÅ"))
        await wait_until(device, lambda: not device.accepting)
        device.clear_fault()
        assert await line.status(N.PAPER) == PaperStatus()
        line.close()
    assert [p.read_text(encoding="utf-8") for p in device.receipts] == [
        expected_text("ETT"),
        expected_text("TVÅ"),
    ]


# ---------------------------------------------------------------------------------------
# Disconnect mid-job
# ---------------------------------------------------------------------------------------


async def test_disconnect_drops_the_tcp_connection_mid_job_and_a_resend_prints_once(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    # 12 bytes: ESC @, ESC t, ESC a, GS ! and "KVIT" -- the drop comes before the first LF, so
    # nothing reached the paper and the resend's ESC @ clears the unfinished line.
    device.set_fault(*parse_fault("disconnect=12*1"))
    async with serve_tcp(device) as url:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        assert await tcp_status(reader, writer, N.PRINTER) == PrinterStatus()  # not counted
        writer.write(receipt_bytes())
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT)
        writer.close()
        assert device.receipts == []
        assert not device.faults.is_on(Fault.DISCONNECT)  # its one strike is used

        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(receipt_bytes())
        assert await tcp_status(reader, writer, N.PRINTER) == PrinterStatus()
        writer.close()
        await writer.wait_closed()
    assert len(device.receipts) == 1
    assert device.receipts[0].read_text(encoding="utf-8") == expected_text()


def test_lines_fed_before_a_disconnect_stay_on_the_paper(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    device.set_fault(*parse_fault("disconnect=20*1"))  # past "KVITTO\n"
    device.received(receipt_bytes())
    assert device.line_dropped and device.receipts == []
    device.line_reset()
    device.received(receipt_bytes())
    title = " " * 21 + "KVITTO\n"
    assert device.receipts[0].read_text(encoding="utf-8") == title + expected_text()


async def test_disconnect_on_a_pty_makes_the_line_dead_for_a_while(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False, disconnect_seconds=0.05)
    device.set_fault(*parse_fault("disconnect=12*1"))
    async with serve_pty(device) as path:
        line = SerialLine(path)
        line.write(receipt_bytes())
        await wait_until(device, lambda: device.line_dropped)
        await wait_until(device, lambda: not device.line_dropped)
        line.write(receipt_bytes())
        assert await line.status(N.PRINTER) == PrinterStatus()
        line.close()
    assert [p.read_text(encoding="utf-8") for p in device.receipts] == [expected_text()]


async def test_a_second_tcp_client_waits_for_the_first(tmp_path: Path) -> None:
    device = make_device(tmp_path, png=False)
    async with serve_tcp(device) as url:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        r1, w1 = await asyncio.open_connection(host, int(port))
        assert await tcp_status(r1, w1, N.PRINTER) == PrinterStatus()
        r2, w2 = await asyncio.open_connection(host, int(port))
        w2.write(escpos.status_request(1))
        w1.write(receipt_bytes("FÖRST"))
        assert await tcp_status(r1, w1, N.PRINTER) == PrinterStatus()
        w1.close()
        assert (
            escpos.parse_status(1, await asyncio.wait_for(r2.readexactly(1), IO_TIMEOUT)) == PrinterStatus()
        )
        w2.close()
    assert len(device.receipts) == 1


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------


def _sim_module() -> str:
    """``tillgw`` itself once the gateway's CLI imports, else the simulators' own entry point."""
    try:
        found = importlib.util.find_spec("tools.diag.command") is not None
    except ImportError:
        found = False
    return "gateway.cli" if found else "firmware_sim.cli"


async def test_tillgw_sim_printer_serves_tcp_and_takes_faults_on_stdin(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        _sim_module(),
        "sim",
        "printer",
        "--listen",
        "tcp://127.0.0.1:0",
        "--output",
        str(tmp_path / "out"),
        "--width",
        "42",
        "--fault",
        "paper-near-end",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), IO_TIMEOUT)).decode().strip()
        assert first.startswith("socket://127.0.0.1:") and not first.endswith(":0")
        host, port = first.removeprefix("socket://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        assert await tcp_status(reader, writer, N.PAPER) == PaperStatus(near_end=True)

        proc.stdin.write(b"fault paper-out\n")
        await proc.stdin.drain()
        while not (await asyncio.wait_for(proc.stdout.readline(), IO_TIMEOUT)).startswith(b"ok:"):
            pass
        assert await tcp_status(reader, writer, N.PAPER) == PaperStatus(near_end=True, paper_end=True)
        writer.write(receipt_bytes())
        proc.stdin.write(b"clear\n")
        await proc.stdin.drain()
        while not (await asyncio.wait_for(proc.stdout.readline(), IO_TIMEOUT)).startswith(b"ok:"):
            pass
        assert await tcp_status(reader, writer, N.PAPER) == PaperStatus()
        writer.close()
        text = (tmp_path / "out" / "receipt-0001.txt").read_text(encoding="utf-8")
        assert text.splitlines()[0] == " " * 18 + "KVITTO"  # 42 columns
        assert (tmp_path / "out" / "receipt-0001.png").exists()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), IO_TIMEOUT) == 0
