"""Scanner input: serial line framing, HID keyboard-wedge decoding, GTIN and in-store codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import scanner
from protocols.scanner import (
    EV_KEY,
    EV_MSC,
    EV_SYN,
    SWEDISH_IN_STORE,
    GtinError,
    GtinKind,
    HidDecoder,
    InStoreError,
    InStoreLayout,
    LineDeframer,
    MeasureKind,
    Rejected,
    ScanKind,
    Terminator,
    ValueRule,
    classify,
    decode_in_store,
    gtin_check_digit,
    price_verifier_digit,
    validate_gtin,
)

# ---------------------------------------------------------------------------------------
# Serial line framing
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terminator", "stream"),
    [
        (Terminator.CR, b"7310865004703\r4006381333931\r"),
        (Terminator.CR, b"7310865004703\r\n4006381333931\r\n"),
        (Terminator.LF, b"7310865004703\n4006381333931\n"),
        (Terminator.LF, b"7310865004703\r\n4006381333931\r\n"),
        (Terminator.CRLF, b"7310865004703\r\n4006381333931\r\n"),
        (Terminator.CRLF, b"7310865004703\r4006381333931\n"),
    ],
)
def test_each_terminator(terminator: Terminator, stream: bytes) -> None:
    deframer = LineDeframer(terminator)
    assert deframer.feed(stream) == ["7310865004703", "4006381333931"]
    assert deframer.buffered == 0


@pytest.mark.parametrize("terminator", [Terminator.CR, Terminator.CRLF])
def test_lone_cr_then_lf_in_a_later_read_gives_no_empty_code(terminator: Terminator) -> None:
    deframer = LineDeframer(terminator)
    assert deframer.feed(b"73513537\r") == ["73513537"]
    assert deframer.feed(b"\n") == []
    assert deframer.feed(b"036000291452\r") == ["036000291452"]
    assert deframer.feed(b"\n") == []


def test_lf_mode_holds_a_trailing_cr_until_it_knows() -> None:
    deframer = LineDeframer(Terminator.LF)
    assert deframer.feed(b"12\r") == []
    assert deframer.feed(b"\n") == ["12"]
    assert deframer.feed(b"a\rb\n") == ["a\rb"]  # a CR not before LF is data


def test_cr_mode_treats_a_stray_lf_as_data() -> None:
    assert LineDeframer(Terminator.CR).feed(b"a\nb\r") == ["a\nb"]


@pytest.mark.parametrize(
    ("terminator", "stream"),
    [
        (Terminator.CR, b"\r\r\n\r"),
        (Terminator.LF, b"\n\r\n\n"),
        (Terminator.CRLF, b"\r\n\r\n\n\r\r"),
    ],
)
def test_empty_lines_are_dropped(terminator: Terminator, stream: bytes) -> None:
    assert LineDeframer(terminator).feed(stream) == []


def test_terminator_accepts_config_strings() -> None:
    assert LineDeframer(Terminator("crlf")).terminator is Terminator.CRLF


_CODE_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(list("åäöÅÄÖé\x1d")),
    min_size=1,
    max_size=40,
)
_ENDINGS = {
    Terminator.CR: [b"\r", b"\r\n"],
    Terminator.LF: [b"\n", b"\r\n"],
    Terminator.CRLF: [b"\r\n", b"\r", b"\n"],
}


@given(st.sampled_from(list(Terminator)), st.lists(_CODE_TEXT, max_size=10), st.data())
def test_framing_under_random_splits(terminator: Terminator, codes: list[str], data: st.DataObject) -> None:
    endings = [data.draw(st.sampled_from(_ENDINGS[terminator])) for _ in codes]
    stream = b"".join(code.encode() + end for code, end in zip(codes, endings, strict=True))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=15)))
    deframer = LineDeframer(terminator)
    out: list[str | Rejected] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += deframer.feed(stream[start:cut])
        start = cut
    assert out == codes


def test_prefix_and_suffix_are_stripped() -> None:
    deframer = LineDeframer(Terminator.CR, prefix=b"\x02", suffix=b"\x03")
    assert deframer.feed(b"\x0273513537\x03\r\x02ABC-1\x03\r") == ["73513537", "ABC-1"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"73513537\x03", "does not start with the prefix"),
        (b"\x0273513537", "does not end with the suffix"),
        (b"\x02\x03", "no code"),
        (b"]", "shorter than"),
    ],
)
def test_missing_prefix_or_suffix_is_rejected(line: bytes, reason: str) -> None:
    deframer = LineDeframer(Terminator.CR, prefix=b"\x02", suffix=b"\x03")
    (result,) = deframer.feed(line + b"\r")
    assert isinstance(result, Rejected)
    assert reason in result.reason
    assert result.head == line
    assert deframer.feed(b"\x0242\x03\r") == ["42"]


def test_overlong_line_is_rejected_at_once_and_discarded_up_to_the_terminator() -> None:
    deframer = LineDeframer(Terminator.CR, max_length=8)
    (rejected,) = deframer.feed(b"123456789")
    assert isinstance(rejected, Rejected)
    assert "longer than 8 bytes" in rejected.reason
    assert rejected.head == b"123456789"
    assert deframer.feed(b"0" * 10_000) == []
    assert deframer.buffered == 0
    assert deframer.feed(b"tail\r42\r") == ["42"]


def test_line_of_exactly_max_length_is_accepted() -> None:
    assert LineDeframer(Terminator.CRLF, max_length=8).feed(b"12345678\r\n") == ["12345678"]


@given(st.binary(max_size=3000))
def test_buffer_stays_bounded(stream: bytes) -> None:
    deframer = LineDeframer(Terminator.CRLF, max_length=64)
    deframer.feed(stream)
    assert deframer.buffered <= 64


def test_invalid_utf8_is_rejected_with_the_position() -> None:
    (result,) = LineDeframer().feed(b"ab\xffc\r")
    assert isinstance(result, Rejected)
    assert "0xff at position 2" in result.reason


def test_deframer_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="max_length"):
        LineDeframer(max_length=0)
    with pytest.raises(ValueError, match="no room"):
        LineDeframer(prefix=b"ab", suffix=b"cd", max_length=4)


# ---------------------------------------------------------------------------------------
# HID keyboard wedge: recorded event sequences (as evtest prints them)
# ---------------------------------------------------------------------------------------

SYN = (EV_SYN, 0, 0)
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK, KEY_ENTER, KEY_KPENTER = 42, 54, 58, 28, 96
KEY_LEFTCTRL, KEY_LEFTALT, KEY_F1 = 29, 56, 59


def down(code: int, scancode: int = 0x70000) -> list[tuple[int, int, int]]:
    """A key press as a USB HID keyboard reports it: MSC_SCAN, EV_KEY, SYN_REPORT."""
    return [(EV_MSC, 4, scancode), (EV_KEY, code, 1), SYN]


def up(code: int, scancode: int = 0x70000) -> list[tuple[int, int, int]]:
    return [(EV_MSC, 4, scancode), (EV_KEY, code, 0), SYN]


def tap(code: int) -> list[tuple[int, int, int]]:
    return down(code) + up(code)


# "7310865004703" + Enter, keycodes from linux/input-event-codes.h:
# KEY_1..KEY_9 = 2..10, KEY_0 = 11.
EAN_SEQUENCE = [
    *tap(8),  # 7
    *tap(4),  # 3
    *tap(2),  # 1
    *tap(11),  # 0
    *tap(9),  # 8
    *tap(7),  # 6
    *tap(6),  # 5
    *tap(11),  # 0
    *tap(11),  # 0
    *tap(5),  # 4
    *tap(8),  # 7
    *tap(11),  # 0
    *tap(4),  # 3
    *tap(KEY_ENTER),
]

# A Code 128 payload "SE-4711/Ab" with shift pressed around the capitals.
CODE128_SEQUENCE = [
    *down(KEY_LEFTSHIFT),
    *tap(31),  # S
    *tap(18),  # E
    *up(KEY_LEFTSHIFT),
    *tap(12),  # -
    *tap(5),  # 4
    *tap(8),  # 7
    *tap(2),  # 1
    *tap(2),  # 1
    *tap(53),  # /
    *down(KEY_RIGHTSHIFT),
    *tap(30),  # A
    *up(KEY_RIGHTSHIFT),
    *tap(48),  # b
    *tap(KEY_ENTER),
]


def test_recorded_ean_sequence() -> None:
    assert HidDecoder().feed_events(EAN_SEQUENCE) == ["7310865004703"]


def test_recorded_code128_sequence_with_shift() -> None:
    assert HidDecoder().feed_events(CODE128_SEQUENCE) == ["SE-4711/Ab"]


def test_two_codes_back_to_back() -> None:
    assert HidDecoder().feed_events(EAN_SEQUENCE + CODE128_SEQUENCE) == [
        "7310865004703",
        "SE-4711/Ab",
    ]


def test_shifted_punctuation() -> None:
    events = [*down(KEY_LEFTSHIFT), *tap(3), *tap(39), *tap(52), *up(KEY_LEFTSHIFT), *tap(KEY_ENTER)]
    assert HidDecoder().feed_events(events) == ["@:>"]


def test_caps_lock_affects_letters_only_and_shift_inverts_it() -> None:
    events = [
        *tap(KEY_CAPSLOCK),
        *tap(30),  # A
        *tap(2),  # 1
        *down(KEY_LEFTSHIFT),
        *tap(48),  # b
        *tap(2),  # !
        *up(KEY_LEFTSHIFT),
        *tap(KEY_CAPSLOCK),
        *tap(46),  # c
        *tap(KEY_ENTER),
    ]
    decoder = HidDecoder()
    assert decoder.feed_events(events) == ["A1b!c"]
    assert decoder.caps_lock is False


def test_keypad_digits_and_keypad_enter() -> None:
    keypad = [82, 79, 80, 81, 75, 76, 77, 71, 72, 73, 83]  # KP0..KP9, KPDOT
    events = [e for code in keypad for e in tap(code)] + tap(KEY_KPENTER)
    assert HidDecoder().feed_events(events) == ["0123456789."]


def test_autorepeat_is_ignored() -> None:
    events = [(EV_KEY, 2, 1), (EV_KEY, 2, 2), (EV_KEY, 2, 2), (EV_KEY, 2, 0), *tap(KEY_ENTER)]
    assert HidDecoder().feed_events(events) == ["1"]


def test_unmapped_keys_and_alt_combinations_are_skipped() -> None:
    events = [*tap(2), *tap(KEY_F1), *down(KEY_LEFTALT), *tap(3), *up(KEY_LEFTALT), *tap(4)]
    assert HidDecoder().feed_events([*events, *tap(KEY_ENTER)]) == ["13"]


def test_ctrl_right_bracket_gives_the_gs1_separator() -> None:
    # GS1 element strings: (01)...(10)LOT, FNC1 sent as GS = Ctrl+]
    events = [*tap(11), *tap(2), *down(KEY_LEFTCTRL), *tap(27), *up(KEY_LEFTCTRL), *tap(3)]
    assert HidDecoder().feed_events([*events, *tap(KEY_ENTER)]) == ["01\x1d2"]


def test_enter_alone_gives_nothing() -> None:
    decoder = HidDecoder()
    assert decoder.feed_events(tap(KEY_ENTER) + tap(KEY_KPENTER)) == []


def test_pending_shows_the_partial_code() -> None:
    decoder = HidDecoder()
    decoder.feed_events(tap(8) + tap(4))
    assert decoder.pending == "73"


def test_overlong_hid_input_is_rejected_then_recovers() -> None:
    decoder = HidDecoder(max_length=4)
    results = decoder.feed_events([e for _ in range(6) for e in tap(2)] + tap(KEY_ENTER))
    assert len(results) == 1
    assert isinstance(results[0], Rejected)
    assert "more than 4 characters" in results[0].reason
    assert decoder.feed_events(tap(3) + tap(KEY_ENTER)) == ["2"]


_REVERSE_US = {}
for _code, (_plain, _shifted) in sorted(scanner.US_KEYMAP.items(), reverse=True):
    _REVERSE_US[_plain] = (_code, False)
    _REVERSE_US.setdefault(_shifted, (_code, True))


def _type(text: str) -> list[tuple[int, int, int]]:
    events: list[tuple[int, int, int]] = []
    for char in text:
        code, shifted = _REVERSE_US[char]
        if shifted:
            events += down(KEY_RIGHTSHIFT) + tap(code) + up(KEY_RIGHTSHIFT)
        else:
            events += tap(code)
    return events + tap(KEY_ENTER)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=50))
def test_any_printable_ascii_round_trips_through_key_events(text: str) -> None:
    assert HidDecoder().feed_events(_type(text)) == [text]


# ---------------------------------------------------------------------------------------
# GTIN check digits and classification
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("4006381333931", GtinKind.EAN13),
        ("7310865004703", GtinKind.EAN13),
        ("5901234123457", GtinKind.EAN13),
        ("73513537", GtinKind.EAN8),
        ("96385074", GtinKind.EAN8),
        ("036000291452", GtinKind.UPCA),
        ("10012345678902", GtinKind.GTIN14),
    ],
)
def test_valid_gtins(code: str, kind: GtinKind) -> None:
    assert validate_gtin(code) is kind
    assert gtin_check_digit(code[:-1]) == int(code[-1])


def test_check_digit_by_hand() -> None:
    # 7 3 1 0 8 6 5 0 0 4 7 0 weighted 1,3,1,3...: 7+9+1+0+8+18+5+0+0+12+7+0 = 67 -> 3
    assert gtin_check_digit("731086500470") == 3
    assert gtin_check_digit("0") == 0


@pytest.mark.parametrize(
    ("code", "field", "message"),
    [
        ("40063813339", "length", "11 characters"),
        ("", "length", "0 characters"),
        ("40063813339x1", "digits", "'x' at position 12"),
        ("4006381333932", "check digit", "should be 1"),
        ("73513538", "check digit", "should be 7"),
    ],
)
def test_gtin_errors_name_what_is_wrong(code: str, field: str, message: str) -> None:
    with pytest.raises(GtinError) as info:
        validate_gtin(code)
    assert info.value.field == field
    assert message in str(info.value)


def test_check_digit_body_errors() -> None:
    with pytest.raises(GtinError, match="empty"):
        gtin_check_digit("")
    with pytest.raises(GtinError, match="'-' at position 3"):
        gtin_check_digit("12-4")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("4006381333931", ScanKind.EAN13),
        ("73513537", ScanKind.EAN8),
        ("036000291452", ScanKind.UPCA),
        ("10012345678902", ScanKind.GTIN14),
        ("4006381333930", ScanKind.OTHER),  # 13 digits, wrong check digit
        ("SE-4711/Ab", ScanKind.OTHER),
        ("12345", ScanKind.OTHER),
        ("", ScanKind.OTHER),
        ("٤٠٠٦٣٨١٣٣٣٩٣١", ScanKind.OTHER),  # Arabic-Indic digits are not GTIN digits
    ],
)
def test_classify(code: str, kind: ScanKind) -> None:
    assert classify(code) is kind


@given(st.text("0123456789", min_size=1, max_size=13))
def test_appended_check_digit_always_validates(body: str) -> None:
    code = body + str(gtin_check_digit(body))
    if len(code) in (8, 12, 13, 14):
        validate_gtin(code)
        assert classify(code) is not ScanKind.OTHER


# ---------------------------------------------------------------------------------------
# Swedish in-store price and weight codes
# ---------------------------------------------------------------------------------------


def _in_store(prefix: str, item: str, value: str) -> str:
    body = prefix + item + value
    return body + str(gtin_check_digit(body))


@pytest.mark.parametrize(
    ("code", "grams"),
    [  # GS1 Sweden's worked example ("Meat and Game", variable weight prefix 2X8806)
        ("2388060103489", 348),
        ("2388060202977", 297),
        ("2388060310856", 1085),
    ],
)
def test_gs1_sweden_weight_examples(code: str, grams: int) -> None:
    decoded = decode_in_store(code)
    assert decoded is not None
    assert decoded.kind is MeasureKind.WEIGHT
    assert decoded.weight_g == grams
    assert decoded.price_ore is None


def test_article_key_is_the_code_with_the_value_zeroed() -> None:
    decoded = decode_in_store("2388060103489")
    assert decoded is not None
    assert decoded.article_key == "2388060100006"
    assert decoded.article_gtin14 == "02388060100006"  # as GS1 Sweden's example stores it
    validate_gtin(decoded.article_key)


@pytest.mark.parametrize(
    ("prefix", "kind", "amount"),
    [
        ("20", MeasureKind.PRICE, 1234),  # 12,34 kr
        ("21", MeasureKind.PRICE, 12340),  # 123,4 kr
        ("22", MeasureKind.PRICE, 123400),  # 1234 kr
        ("23", MeasureKind.WEIGHT, 1234),  # 1,234 kg
        ("24", MeasureKind.WEIGHT, 12340),  # 12,34 kg
        ("25", MeasureKind.WEIGHT, 123400),  # 123,4 kg
    ],
)
def test_swedish_prefixes(prefix: str, kind: MeasureKind, amount: int) -> None:
    decoded = decode_in_store(_in_store(prefix, "123456", "1234"))
    assert decoded is not None
    assert decoded.kind is kind
    value = decoded.price_ore if kind is MeasureKind.PRICE else decoded.weight_g
    assert value == amount
    assert isinstance(value, int)
    assert decoded.article_key[:8] == prefix + "123456"


@pytest.mark.parametrize("code", ["7310865004703", "73513537", "SE-4711", _in_store("26", "123456", "1234")])
def test_not_in_store_codes(code: str) -> None:
    assert decode_in_store(code) is None


def test_in_store_code_with_a_bad_check_digit() -> None:
    with pytest.raises(GtinError, match="check digit"):
        decode_in_store("2388060103488")


def test_price_verifier_digit() -> None:
    assert price_verifier_digit("2875") == 9  # GS1 General Specifications example
    assert price_verifier_digit("14685") == 6
    with pytest.raises(GtinError, match="4 or 5"):
        price_verifier_digit("123")


def test_layout_with_a_price_verifier_digit() -> None:
    # 2 X AAAAA P VVVV C: article 5 digits, verifier at index 7, price at 8..11
    layout = InStoreLayout(rules={"20": ValueRule(MeasureKind.PRICE, 1)}, value_start=8, verifier_position=7)
    good = _in_store("20", "12345" + "9", "2875")
    decoded = decode_in_store(good, layout)
    assert decoded is not None
    assert decoded.price_ore == 2875
    assert decoded.article_key[:12] == "201234500000"
    bad = _in_store("20", "12345" + "8", "2875")
    with pytest.raises(InStoreError, match="needs 9") as info:
        decode_in_store(bad, layout)
    assert info.value.field == "verifier digit"


def test_five_digit_value_layout() -> None:
    layout = InStoreLayout(rules={"28": ValueRule(MeasureKind.PRICE, 1)}, value_start=7, value_length=5)
    decoded = decode_in_store(_in_store("28", "12345", "01995"), layout)
    assert decoded is not None
    assert decoded.price_ore == 1995


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rules": {"30": ValueRule(MeasureKind.PRICE, 1)}},
        {"rules": {}, "value_length": 3},
        {"rules": {}, "value_start": 9},
        {"rules": {}, "verifier_position": 9},
        {"rules": {}, "verifier_position": 12},
    ],
)
def test_layout_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        InStoreLayout(**kwargs)  # type: ignore[arg-type]


def test_value_rule_unit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="unit"):
        ValueRule(MeasureKind.WEIGHT, 0)


def test_default_layout_is_read_only() -> None:
    with pytest.raises(TypeError):
        SWEDISH_IN_STORE.rules["26"] = ValueRule(MeasureKind.PRICE, 1)  # type: ignore[index]
