"""ESC/POS builders (golden bytes), status replies, and the printer-side stream parser."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import escpos
from protocols.escpos import (
    Align,
    Alignment,
    AsbEnable,
    AsbFlag,
    Barcode,
    BarcodeSystem,
    Bold,
    CodePage,
    CodeTable,
    Command,
    CommandParser,
    Cut,
    DrawerKick,
    DrawerPin,
    EncodePolicy,
    ErrorCause,
    EscPosError,
    Feed,
    HriPosition,
    Init,
    OfflineCause,
    PaperStatus,
    PrinterStatus,
    QrCode,
    QrErrorCorrection,
    QrModel,
    Size,
    StatusByteError,
    StatusRequest,
    StatusType,
    Text,
    UnencodableCharacterError,
    Unknown,
)
from protocols.scanner import gtin_check_digit

# ---------------------------------------------------------------------------------------
# Golden bytes for every builder (checked against the Epson ESC/POS command reference)
# ---------------------------------------------------------------------------------------


def test_initialise() -> None:
    assert escpos.initialise() == b"\x1b\x40"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (CodeTable.CP437, b"\x1bt\x00"),
        (CodeTable.CP850, b"\x1bt\x02"),
        (CodeTable.CP865, b"\x1bt\x05"),
        (CodeTable.WPC1252, b"\x1bt\x10"),
        (CodeTable.CP858, b"\x1bt\x13"),
    ],
)
def test_select_code_table(table: CodeTable, expected: bytes) -> None:
    assert escpos.select_code_table(table) == expected


def test_select_code_table_rejects_non_byte() -> None:
    with pytest.raises(EscPosError) as info:
        escpos.select_code_table(256)
    assert info.value.field == "code table"


SWEDISH = "åäöÅÄÖé"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (CodeTable.CP437, b"\x86\x84\x94\x8f\x8e\x99\x82"),
        (CodeTable.CP850, b"\x86\x84\x94\x8f\x8e\x99\x82"),
        (CodeTable.CP865, b"\x86\x84\x94\x8f\x8e\x99\x82"),
        (CodeTable.WPC1252, b"\xe5\xe4\xf6\xc5\xc4\xd6\xe9"),
        (CodeTable.CP858, b"\x86\x84\x94\x8f\x8e\x99\x82"),
    ],
)
def test_swedish_letters_in_every_table(table: CodeTable, expected: bytes) -> None:
    assert escpos.encode_text(SWEDISH, table) == expected


def test_newline_becomes_lf_and_ascii_is_unchanged() -> None:
    assert escpos.encode_text("Summa 12,50\nKort", CodeTable.CP865) == b"Summa 12,50\nKort"


def test_unencodable_character_is_named() -> None:
    with pytest.raises(UnencodableCharacterError) as info:
        escpos.encode_text("Pris 5 €", CodeTable.CP437)
    err = info.value
    assert err.char == "€"
    assert err.position == 7
    assert err.table is CodeTable.CP437
    assert "'€'" in str(err) and "U+20AC" in str(err) and "CP437" in str(err)


def test_euro_sign_where_the_table_has_it() -> None:
    assert escpos.encode_text("€", CodeTable.WPC1252) == b"\x80"
    assert escpos.encode_text("€", CodeTable.CP858) == b"\xd5"


def test_replace_policy_uses_lookalikes_then_replacement() -> None:
    text = "5 € – “bra” ☃"
    out = escpos.encode_text(text, CodeTable.CP437, policy=EncodePolicy.REPLACE)
    assert out == b'5 EUR - "bra" ?'


@pytest.mark.parametrize("control", ["\x1b", "\x1d", "\x10", "\r", "\t", "\x7f", "\x85"])
def test_control_characters_cannot_smuggle_commands(control: str) -> None:
    with pytest.raises(UnencodableCharacterError, match="control character"):
        escpos.encode_text(f"Kaffe{control}p\x00\x19\xfa", CodeTable.CP865)
    replaced = escpos.encode_text(f"a{control}b", CodeTable.CP865, policy=EncodePolicy.REPLACE)
    assert all(b >= 0x20 for b in replaced)


def test_unusable_replacement_is_refused() -> None:
    with pytest.raises(EscPosError) as info:
        escpos.encode_text("☃", CodeTable.CP437, policy=EncodePolicy.REPLACE, replacement="☃")
    assert info.value.field == "replacement"


def test_decode_text_round_trip() -> None:
    for table in CodeTable:
        assert escpos.decode_text(escpos.encode_text(SWEDISH, table), table) == SWEDISH


def test_bold() -> None:
    assert escpos.bold(True) == b"\x1bE\x01"
    assert escpos.bold(False) == b"\x1bE\x00"


def test_char_size() -> None:
    assert escpos.normal_size() == b"\x1d!\x00"
    assert escpos.double_height() == b"\x1d!\x01"
    assert escpos.double_width() == b"\x1d!\x10"
    assert escpos.double_size() == b"\x1d!\x11"
    assert escpos.char_size(8, 8) == b"\x1d!\x77"
    assert escpos.char_size(3, 5) == b"\x1d!\x24"


@pytest.mark.parametrize(("width", "height", "field"), [(0, 1, "width"), (1, 9, "height")])
def test_char_size_range(width: int, height: int, field: str) -> None:
    with pytest.raises(EscPosError) as info:
        escpos.char_size(width, height)
    assert info.value.field == field


def test_align() -> None:
    assert escpos.align(Alignment.LEFT) == b"\x1ba\x00"
    assert escpos.align(Alignment.CENTRE) == b"\x1ba\x01"
    assert escpos.align(Alignment.RIGHT) == b"\x1ba\x02"


def test_feed() -> None:
    assert escpos.line_feed() == b"\n"
    assert escpos.feed(3) == b"\x1bd\x03"
    with pytest.raises(EscPosError, match="lines"):
        escpos.feed(256)


def test_cut() -> None:
    assert escpos.cut() == b"\x1dV\x00"
    assert escpos.cut(partial=True) == b"\x1dV\x01"
    assert escpos.cut(feed=3) == b"\x1dVA\x03"
    assert escpos.cut(partial=True, feed=0) == b"\x1dVB\x00"
    with pytest.raises(EscPosError, match="feed"):
        escpos.cut(feed=-1)


def test_drawer_kick_golden() -> None:
    assert escpos.drawer_kick(DrawerPin.PIN2, on_ms=50, off_ms=500) == b"\x1bp\x00\x19\xfa"
    assert escpos.drawer_kick() == b"\x1bp\x00\x19\xfa"
    assert escpos.drawer_kick(DrawerPin.PIN5, 100, 100) == b"\x1bp\x01\x32\x32"
    assert escpos.drawer_kick(DrawerPin.PIN2, 0, 510) == b"\x1bp\x00\x00\xff"


def test_drawer_kick_rounds_odd_milliseconds_up() -> None:
    assert escpos.drawer_kick(DrawerPin.PIN2, 51, 1) == b"\x1bp\x00\x1a\x01"


@pytest.mark.parametrize(("on_ms", "off_ms", "field"), [(511, 0, "on_ms"), (0, -2, "off_ms")])
def test_drawer_kick_range(on_ms: int, off_ms: int, field: str) -> None:
    with pytest.raises(EscPosError) as info:
        escpos.drawer_kick(DrawerPin.PIN2, on_ms, off_ms)
    assert info.value.field == field


def test_status_request() -> None:
    assert [escpos.status_request(n) for n in StatusType] == [
        b"\x10\x04\x01",
        b"\x10\x04\x02",
        b"\x10\x04\x03",
        b"\x10\x04\x04",
    ]
    for bad in (0, 5):
        with pytest.raises(EscPosError, match="n"):
            escpos.status_request(bad)


def test_asb_enable() -> None:
    assert escpos.asb_enable(AsbFlag.DRAWER | AsbFlag.PAPER) == b"\x1da\x09"
    assert escpos.asb_enable(0) == b"\x1da\x00"
    assert escpos.asb_enable(0xFF) == b"\x1da\xff"


BARCODE_SETTINGS = b"\x1dH\x02\x1dh\xa2\x1dw\x03"  # HRI below, 162 dots, module width 3


@pytest.mark.parametrize(
    ("system", "data", "command"),
    [
        (BarcodeSystem.EAN13, "4006381333931", b"\x1dkC\x0d4006381333931"),
        (BarcodeSystem.EAN13, "400638133393", b"\x1dkC\x0c400638133393"),
        (BarcodeSystem.EAN8, "73513537", b"\x1dkD\x0873513537"),
        (BarcodeSystem.UPC_A, "036000291452", b"\x1dkA\x0c036000291452"),
        (BarcodeSystem.CODE128, "No.123", b"\x1dkI\x08{BNo.123"),
        (BarcodeSystem.CODE128, "a{b", b"\x1dkI\x06{Ba{{b"),
    ],
)
def test_barcode_golden(system: BarcodeSystem, data: str, command: bytes) -> None:
    assert escpos.barcode(system, data) == BARCODE_SETTINGS + command


def test_barcode_settings() -> None:
    out = escpos.barcode(BarcodeSystem.EAN8, "73513537", hri=HriPosition.NONE, height=80, width=2)
    assert out == b"\x1dH\x00\x1dh\x50\x1dw\x02\x1dkD\x0873513537"


@pytest.mark.parametrize(
    ("system", "data", "message"),
    [
        (BarcodeSystem.EAN13, "40063813339", "12 digits"),
        (BarcodeSystem.EAN13, "4006381333930", "check digit should be 1"),
        (BarcodeSystem.EAN13, "40063813339X", "'X' at position 12"),
        (BarcodeSystem.EAN8, "735135370", "7 digits"),
        (BarcodeSystem.UPC_A, "036000291453", "check digit should be 2"),
        (BarcodeSystem.CODE128, "", "at least one"),
        (BarcodeSystem.CODE128, "Räka", "'ä' at position 2"),
        (BarcodeSystem.CODE128, "A" * 254, "maximum is 255"),
        (BarcodeSystem.CODE128, "{" * 127, "maximum is 255"),
    ],
)
def test_barcode_validation_names_the_problem(system: BarcodeSystem, data: str, message: str) -> None:
    with pytest.raises(EscPosError, match=message) as info:
        escpos.barcode(system, data)
    assert info.value.field == "barcode data"


def test_barcode_setting_ranges() -> None:
    with pytest.raises(EscPosError, match="height"):
        escpos.barcode(BarcodeSystem.EAN8, "73513537", height=0)
    with pytest.raises(EscPosError, match="width"):
        escpos.barcode(BarcodeSystem.EAN8, "73513537", width=7)


def test_code128_longest_payload_is_accepted() -> None:
    out = escpos.barcode(BarcodeSystem.CODE128, "A" * 253)
    assert out[len(BARCODE_SETTINGS) : len(BARCODE_SETTINGS) + 4] == b"\x1dkI\xff"


def test_qr_code_golden() -> None:
    assert escpos.qr_code("AB") == (
        b"\x1d(k\x04\x00\x31\x41\x32\x00"  # fn 165: model 2
        b"\x1d(k\x03\x00\x31\x43\x03"  # fn 167: module size 3
        b"\x1d(k\x03\x00\x31\x45\x31"  # fn 169: error correction M
        b"\x1d(k\x05\x00\x31\x50\x30AB"  # fn 180: store 2 bytes
        b"\x1d(k\x03\x00\x31\x51\x30"  # fn 181: print
    )


def test_qr_code_options_and_long_data() -> None:
    data = b"x" * 300
    out = escpos.qr_code(data, model=QrModel.MODEL1, module_size=8, error_correction=QrErrorCorrection.H)
    assert out.startswith(b"\x1d(k\x04\x001A1\x00\x1d(k\x03\x001C\x08\x1d(k\x03\x001E3")
    assert b"\x1d(k\x2f\x01\x31\x50\x30" + data in out  # pL pH = 303 = 0x012F


def test_qr_code_validation() -> None:
    with pytest.raises(EscPosError, match="qr data"):
        escpos.qr_code(b"")
    with pytest.raises(EscPosError, match="qr data"):
        escpos.qr_code(b"x" * 7090)
    with pytest.raises(EscPosError, match="module_size"):
        escpos.qr_code("x", module_size=17)


# ---------------------------------------------------------------------------------------
# DLE EOT status replies
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0x12, PrinterStatus()),
        (0x16, PrinterStatus(drawer_pin3_high=True)),
        (0x1A, PrinterStatus(offline=True)),
        (0x32, PrinterStatus(waiting_online_recovery=True)),
        (0x52, PrinterStatus(feed_button_pressed=True)),
        (0x7E, PrinterStatus(True, True, True, True)),
    ],
)
def test_printer_status(byte: int, expected: PrinterStatus) -> None:
    assert escpos.parse_status(StatusType.PRINTER, byte) == expected
    assert expected.to_byte() == byte


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0x12, OfflineCause()),
        (0x16, OfflineCause(cover_open=True)),
        (0x1A, OfflineCause(feed_button=True)),
        (0x32, OfflineCause(paper_end_stop=True)),
        (0x52, OfflineCause(error=True)),
    ],
)
def test_offline_cause(byte: int, expected: OfflineCause) -> None:
    assert escpos.parse_status(2, byte) == expected
    assert escpos.build_status(expected) == bytes([byte])


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0x12, ErrorCause()),
        (0x16, ErrorCause(recoverable=True)),
        (0x1A, ErrorCause(autocutter=True)),
        (0x32, ErrorCause(unrecoverable=True)),
        (0x52, ErrorCause(auto_recoverable=True)),
    ],
)
def test_error_cause(byte: int, expected: ErrorCause) -> None:
    assert escpos.parse_status(3, byte) == expected
    assert escpos.build_status(expected) == bytes([byte])


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0x12, PaperStatus()),
        (0x1E, PaperStatus(near_end=True)),
        (0x72, PaperStatus(paper_end=True)),
        (0x7E, PaperStatus(near_end=True, paper_end=True)),
        (0x16, PaperStatus(near_end=True)),  # one bit of a pair: read as present
        (0x32, PaperStatus(paper_end=True)),
    ],
)
def test_paper_status(byte: int, expected: PaperStatus) -> None:
    assert escpos.parse_status(StatusType.PAPER, byte) == expected


def test_paper_status_builds_both_bits_of_each_pair() -> None:
    assert PaperStatus(near_end=True).to_byte() == 0x1E
    assert PaperStatus(paper_end=True).to_byte() == 0x72


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("byte", [0x00, 0xFF, 0x13, 0x92, 0x02, 0x10, 0x0A, 0x1B])
def test_fixed_bits_are_enforced(n: int, byte: int) -> None:
    with pytest.raises(StatusByteError, match="0xx1xx10") as info:
        escpos.parse_status(n, byte)
    assert info.value.byte == byte
    assert info.value.n == n
    assert f"DLE EOT {n}" in str(info.value)


def test_reply_as_bytes_and_its_length() -> None:
    assert escpos.parse_status(1, b"\x16") == PrinterStatus(drawer_pin3_high=True)
    with pytest.raises(StatusByteError, match="exactly one byte"):
        escpos.parse_status(1, b"")
    with pytest.raises(StatusByteError, match="exactly one byte"):
        escpos.parse_status(1, b"\x12\x12")
    with pytest.raises(StatusByteError, match="not a byte"):
        escpos.parse_status(1, 256)


def test_unknown_status_n() -> None:
    with pytest.raises(EscPosError, match=r"1\.\.4"):
        escpos.parse_status(5, 0x12)


def test_status_classes_are_frozen() -> None:
    status = PrinterStatus()
    with pytest.raises(AttributeError):
        status.offline = True  # type: ignore[misc]


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_status_round_trip_all_flag_combinations(a: bool, b: bool, c: bool, d: bool) -> None:
    for status in (
        PrinterStatus(a, b, c, d),
        OfflineCause(a, b, c, d),
        ErrorCause(a, b, c, d),
        PaperStatus(a, b),
    ):
        reply = escpos.build_status(status)
        assert reply[0] & 0b1001_0011 == 0b0001_0010
        assert escpos.parse_status(status.STATUS_TYPE, reply) == status


@given(st.integers(1, 4), st.integers(0, 255))
def test_any_byte_parses_iff_fixed_bits_match(n: int, byte: int) -> None:
    if byte & 0b1001_0011 == 0b0001_0010:
        escpos.parse_status(n, byte)
    else:
        with pytest.raises(StatusByteError):
            escpos.parse_status(n, byte)


# ---------------------------------------------------------------------------------------
# Stream parser: hand-written cases
# ---------------------------------------------------------------------------------------


def parse_all(data: bytes) -> list[Command]:
    parser = CommandParser()
    return parser.feed(data) + parser.flush()


def test_receipt_stream() -> None:
    stream = (
        escpos.initialise()
        + escpos.select_code_table(CodeTable.CP865)
        + escpos.align(Alignment.CENTRE)
        + escpos.double_size()
        + escpos.bold()
        + escpos.encode_text("Kaffebön\n", CodeTable.CP865)
        + escpos.bold(False)
        + escpos.feed(2)
        + escpos.barcode(BarcodeSystem.EAN13, "7310865004703")
        + escpos.qr_code("https://kvitto.example/1")
        + escpos.cut(partial=True, feed=5)
        + escpos.drawer_kick()
        + escpos.status_request(StatusType.PAPER)
        + escpos.asb_enable(AsbFlag.DRAWER)
    )
    assert parse_all(stream) == [
        Init(),
        CodePage(5),
        Align(Alignment.CENTRE),
        Size(2, 2),
        Bold(True),
        Text(b"Kaffeb\x94n"),
        Feed(1),
        Bold(False),
        Feed(2),
        Barcode(BarcodeSystem.EAN13, "7310865004703", HriPosition.BELOW, 162, 3),
        QrCode(b"https://kvitto.example/1", QrModel.MODEL2, 3, QrErrorCorrection.M),
        Cut(partial=True, feed=5),
        DrawerKick(DrawerPin.PIN2, 50, 500),
        StatusRequest(StatusType.PAPER),
        AsbEnable(1),
    ]


def test_code_page_event_names_the_table() -> None:
    assert CodePage(16).table is CodeTable.WPC1252
    assert CodePage(99).table is None


def test_incomplete_command_waits_for_the_rest() -> None:
    parser = CommandParser()
    assert parser.feed(b"\x1bp\x00\x19") == []
    assert parser.buffered == 4
    assert parser.feed(b"\xfa") == [DrawerKick(DrawerPin.PIN2, 50, 500)]
    assert parser.buffered == 0


def test_text_is_held_until_a_control_byte_or_flush() -> None:
    parser = CommandParser()
    assert parser.feed(b"Hej") == []
    assert parser.feed(b" du") == []
    assert parser.flush() == [Text(b"Hej du")]
    assert parser.flush() == []
    parser.feed(b"abc")
    assert parser.feed(b"\x1b") == [Text(b"abc")]  # the text ended; ESC waits
    assert parser.feed(b"@") == [Init()]


def test_long_text_is_chunked_deterministically() -> None:
    events = parse_all(b"x" * 10_000)
    assert [len(e.data) for e in events if isinstance(e, Text)] == [4096, 4096, 1808]


def test_alternative_parameter_encodings() -> None:
    assert parse_all(b"\x1ba\x32\x1bp\x31\x05\x0a\x1dV\x30\x1dV\x31\x1bE\xff") == [
        Align(Alignment.RIGHT),
        DrawerKick(DrawerPin.PIN5, 10, 20),
        Cut(False),
        Cut(True),
        Bold(True),
    ]


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"\x1b-\x01abc", [Unknown(b"\x1b-\x01"), Text(b"abc")]),  # underline, not modelled
        (b"\x1bxabc", [Unknown(b"\x1bx"), Text(b"abc")]),  # unknown ESC: two bytes
        (b"ab\rcd", [Text(b"ab"), Unknown(b"\r"), Text(b"cd")]),
        (b"\x1ba\x07", [Unknown(b"\x1ba\x07")]),
        (b"\x1bp\x02\x01\x01", [Unknown(b"\x1bp\x02\x01\x01")]),
        (b"\x10\x04\x05", [Unknown(b"\x10\x04\x05")]),
        (b"\x10\x04\x07\x01", [Unknown(b"\x10\x04\x07\x01")]),
        (b"\x10\x14\x01\x00\x01", [Unknown(b"\x10\x14\x01\x00\x01")]),  # real-time pulse
        (b"\x1dVa\x05", [Unknown(b"\x1dVa\x05")]),
        (b"\x1dv0\x00\x02\x00\x02\x00ABCDz", [Unknown(b"\x1dv0\x00\x02\x00\x02\x00ABCD"), Text(b"z")]),
        (  # 24-dot bit image: 3 bytes per column, LF bytes inside are data
            b"\x1b*\x21\x02\x00" + b"\n" * 6 + b"z",
            [Unknown(b"\x1b*\x21\x02\x00" + b"\n" * 6), Text(b"z")],
        ),
        (b"\x1d(k\x03\x000A\x00", [Unknown(b"\x1d(k\x03\x000A\x00")]),  # PDF417, not QR
        (b"\x1d(L\x02\x000E", [Unknown(b"\x1d(L\x02\x000E")]),
        (b"\x1d(k\x03\x001Q0", [Unknown(b"\x1d(k\x03\x001Q0")]),  # print, nothing stored
        (b"\x1dkC\x024x", [Unknown(b"\x1dkC\x024x")]),  # EAN13 with bad data
        (b"\x1dkE\x03ABC", [Unknown(b"\x1dkE\x03ABC")]),  # CODE39: not modelled
        (b"\x1dkI\x04{CAB", [Unknown(b"\x1dkI\x04{CAB")]),  # CODE128 code set C
        (b"\x1dH\x09", [Unknown(b"\x1dH\x09")]),
        (b"\x1bD\x08\x10\x00z", [Unknown(b"\x1bD\x08\x10\x00"), Text(b"z")]),
    ],
)
def test_unknown_commands_are_skipped_whole(stream: bytes, expected: list[Command]) -> None:
    assert parse_all(stream) == expected


def test_function_a_barcode_with_settings_in_force() -> None:
    stream = b"\x1dH\x01\x1dh\x40\x1dw\x04\x1dk\x024006381333931\x00"
    assert parse_all(stream) == [Barcode(BarcodeSystem.EAN13, "4006381333931", HriPosition.ABOVE, 64, 4)]


def test_function_a_without_nul_gives_up_after_the_search_limit() -> None:
    events = parse_all(b"\x1dk\x02" + b"1" * 300)
    assert events == [Unknown(b"\x1dk\x02"), Text(b"1" * 300)]


def test_init_resets_barcode_and_qr_settings() -> None:
    stream = (
        b"\x1dH\x02\x1dh\x40"
        + escpos.qr_code("x", module_size=9)
        + escpos.initialise()
        + b"\x1dkD\x0873513537"
        + b"\x1d(k\x03\x001Q0"
    )
    assert parse_all(stream)[1:] == [
        Init(),
        Barcode(BarcodeSystem.EAN8, "73513537", HriPosition.NONE, 162, 3),
        Unknown(b"\x1d(k\x03\x001Q0"),
    ]


def test_oversized_raster_is_skipped_not_buffered() -> None:
    header = b"\x1dv0\x00\xff\x00\xff\x04"  # 255 x 1279 bytes of image data
    parser = CommandParser()
    events = parser.feed(header)
    assert events == [Unknown(header)]
    payload = 255 * 1279
    for _ in range(payload // 1000):
        assert parser.feed(b"\x1b" * 1000) == []
        assert parser.buffered == 0
    assert parser.feed(b"\x1b" * (payload % 1000) + b"ok\n") == [Text(b"ok"), Feed(1)]


def test_status_request_between_commands() -> None:
    assert parse_all(b"ab\x10\x04\x01cd") == [
        Text(b"ab"),
        StatusRequest(StatusType.PRINTER),
        Text(b"cd"),
    ]


# ---------------------------------------------------------------------------------------
# Stream parser: properties
# ---------------------------------------------------------------------------------------

_TEXT_ALPHABET = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(list(SWEDISH))


def _ean(length: int) -> st.SearchStrategy[str]:
    body = st.text("0123456789", min_size=length - 1, max_size=length - 1)
    return body.map(lambda b: b + str(gtin_check_digit(b)))


@st.composite
def _barcode_command(draw: st.DrawFn) -> tuple[bytes, list[Command]]:
    system = draw(st.sampled_from(list(BarcodeSystem)))
    if system is BarcodeSystem.CODE128:
        data = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=60))
    else:
        data = draw(_ean({BarcodeSystem.EAN13: 13, BarcodeSystem.EAN8: 8, BarcodeSystem.UPC_A: 12}[system]))
    hri = draw(st.sampled_from(list(HriPosition)))
    height = draw(st.integers(1, 255))
    width = draw(st.integers(2, 6))
    built = escpos.barcode(system, data, hri=hri, height=height, width=width)
    return built, [Barcode(system, data, hri, height, width)]


@st.composite
def _qr_command(draw: st.DrawFn) -> tuple[bytes, list[Command]]:
    data = draw(st.binary(min_size=1, max_size=300))
    model = draw(st.sampled_from(list(QrModel)))
    size = draw(st.integers(1, 16))
    level = draw(st.sampled_from(list(QrErrorCorrection)))
    built = escpos.qr_code(data, model=model, module_size=size, error_correction=level)
    return built, [QrCode(data, model, size, level)]


@st.composite
def _text_command(draw: st.DrawFn) -> tuple[bytes, list[Command]]:
    table = draw(st.sampled_from(list(CodeTable)))
    text = draw(st.text(_TEXT_ALPHABET, min_size=1, max_size=40))
    data = escpos.encode_text(text, table)
    return data, [Text(data)]


def _simple(builder: bytes, event: Command) -> tuple[bytes, list[Command]]:
    return builder, [event]


_COMMANDS = st.one_of(
    _text_command(),
    st.just(_simple(escpos.initialise(), Init())),
    st.sampled_from(list(CodeTable)).map(lambda t: _simple(escpos.select_code_table(t), CodePage(t))),
    st.booleans().map(lambda on: _simple(escpos.bold(on), Bold(on))),
    st.tuples(st.integers(1, 8), st.integers(1, 8)).map(lambda wh: _simple(escpos.char_size(*wh), Size(*wh))),
    st.sampled_from(list(Alignment)).map(lambda a: _simple(escpos.align(a), Align(a))),
    st.just(_simple(escpos.line_feed(), Feed(1))),
    st.integers(0, 255).map(lambda n: _simple(escpos.feed(n), Feed(n))),
    st.tuples(st.booleans(), st.none() | st.integers(0, 255)).map(
        lambda pf: _simple(escpos.cut(partial=pf[0], feed=pf[1]), Cut(pf[0], pf[1]))
    ),
    _barcode_command(),
    _qr_command(),
    st.tuples(st.sampled_from(list(DrawerPin)), st.integers(0, 255), st.integers(0, 255)).map(
        lambda k: _simple(escpos.drawer_kick(k[0], k[1] * 2, k[2] * 2), DrawerKick(k[0], k[1] * 2, k[2] * 2))
    ),
    st.sampled_from(list(StatusType)).map(lambda n: _simple(escpos.status_request(n), StatusRequest(n))),
    st.integers(0, 255).map(lambda n: _simple(escpos.asb_enable(n), AsbEnable(n))),
)


def _coalesce(events: Sequence[Command]) -> list[Command]:
    """Adjacent Text events as the parser reports them: one run of text, one event."""
    out: list[Command] = []
    for event in events:
        if isinstance(event, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def _feed_in_chunks(data: bytes, cuts: list[int]) -> list[Command]:
    parser = CommandParser()
    events: list[Command] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return events + parser.flush()


@given(st.lists(_COMMANDS, max_size=25), st.data())
def test_built_commands_parse_back_under_any_split(
    commands: list[tuple[bytes, list[Command]]], data: st.DataObject
) -> None:
    stream = b"".join(built for built, _ in commands)
    expected = _coalesce([event for _, events in commands for event in events])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    assert _feed_in_chunks(stream, cuts) == expected


@given(st.binary(max_size=2000), st.data())
def test_random_bytes_never_crash_and_split_does_not_matter(stream: bytes, data: st.DataObject) -> None:
    whole = parse_all(stream)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert _feed_in_chunks(stream, cuts) == whole


@given(
    st.lists(
        st.sampled_from(
            [
                b"\x1b",
                b"\x1d",
                b"\x10",
                b"\x1c",
                b"(",
                b"k",
                b"\x00",
                b"1",
                b"Q",
                b"0",
                b"\x03",
                b"\x04",
                b"\xff",
                b"v",
                b"V",
            ]
        ),
        max_size=400,
    )
)
def test_command_like_noise_never_crashes(parts: list[bytes]) -> None:
    stream = b"".join(parts)
    parser = CommandParser()
    for i in range(0, len(stream), 7):
        parser.feed(stream[i : i + 7])
    parser.flush()
    assert parser.buffered <= escpos.MAX_BUFFERED_COMMAND
