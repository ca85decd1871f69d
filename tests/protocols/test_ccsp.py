"""CCSP codec: golden frames, round trips, and a deframer that survives any byte stream."""

from __future__ import annotations

from datetime import datetime
from functools import reduce

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocols import ccsp
from protocols.skv import ControlData, FieldError, ReceiptType, VatSlot

CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNIT = "TGSIMSE0000000001"
DATA = ControlData(
    moment=datetime(2026, 11, 21, 14, 5),
    orgnr="5561234567",
    pos_id="KASSA-1",
    receipt_no=1042,
    receipt_type=ReceiptType.NORMAL,
    total=12500,
    return_total=0,
    vat=(VatSlot(2500, 2000), VatSlot(1200, 500)),
)

# Every message of the reference, with its frame written out. The LRC and length of each
# were checked independently by test_golden_frames_are_self_consistent below.
GOLDEN: list[tuple[ccsp.Request | ccsp.Reply, bytes]] = [
    (ccsp.StatusQuery(), b"#!#00E#SIQ#2F\r"),
    (ccsp.IdentityQuery(), b"#!#00D#IQ#7D\r"),
    (
        ccsp.RegisterReceipt(17, DATA),
        b"#!#063#RR#17#202611211405#1042#KASSA-1#5561234567#125,00#0,00#normal"
        b"#25,00;20,00#12,00;5,00# # #67\r",
    ),
    (ccsp.StartReceipt(), b"#!#00D#ST#62\r"),
    (
        ccsp.ReceiptHeader(DATA, "TedF"),
        b"#!#067#RH#202611211405#1042#KASSA-1#TedF# #5561234567#125,00"
        b"#0,00#normal#25,00;20,00#12,00;5,00# # #6F\r",
    ),
    (ccsp.SignatureQuery(), b"#!#00D#SQ#67\r"),
    (ccsp.StatusReply(ccsp.MainStatus.WARNING, "01001"), b"#!#016#SIR#1#01001#5F\r"),
    (ccsp.IdentityReply(UNIT, 2, "tillgw-sim 1.0"), b"#!#030#IR#TGSIMSE0000000001#2#tillgw-sim 1.0#13\r"),
    (
        ccsp.RegisterReply(CODE, UNIT, ccsp.MainStatus.OK, ccsp.StorageStatus.HIGH_LEVEL_WARNING),
        b"#!#060#RRR#" + CODE.encode() + b"#TGSIMSE0000000001#0#1#2D\r",
    ),
    (ccsp.Ack(), b"#!#00E#ACK#2D\r"),
    (ccsp.SignatureReply(CODE), b"#!#049#SR#" + CODE.encode() + b"#04\r"),
    (ccsp.Nak(ccsp.NakCode.INVALID_POS_ID), b"#!#012#NAK#007#42\r"),
    (ccsp.Nak(42), b"#!#012#NAK#042#43\r"),
]
IDS = [type(m).__name__ for m, _ in GOLDEN]


def answering(reply: ccsp.Reply) -> type[ccsp.Request]:
    return {
        ccsp.StatusReply: ccsp.StatusQuery,
        ccsp.IdentityReply: ccsp.IdentityQuery,
        ccsp.RegisterReply: ccsp.RegisterReceipt,
        ccsp.Ack: ccsp.StartReceipt,
        ccsp.SignatureReply: ccsp.SignatureQuery,
        ccsp.Nak: ccsp.RegisterReceipt,
    }[type(reply)]


@pytest.mark.parametrize(("message", "wire"), GOLDEN, ids=IDS)
def test_golden_frames_are_self_consistent(message: object, wire: bytes) -> None:
    assert wire.startswith(b"#!#") and wire.endswith(b"\r")
    assert int(wire[3:6], 16) == len(wire)
    assert int(wire[-3:-1], 16) == reduce(lambda a, b: a ^ b, wire[:-3], 0)


@pytest.mark.parametrize(("message", "wire"), GOLDEN, ids=IDS)
def test_build_matches_golden(message: ccsp.Request | ccsp.Reply, wire: bytes) -> None:
    assert ccsp.encode(message) == wire


@pytest.mark.parametrize(("message", "wire"), GOLDEN, ids=IDS)
def test_parse_matches_golden(message: ccsp.Request | ccsp.Reply, wire: bytes) -> None:
    body = ccsp.unframe(wire)
    if isinstance(message, ccsp.Request):
        assert ccsp.decode_request(body) == message
    else:
        assert ccsp.decode_reply(body, answering(message)) == message


def test_frame_is_declared_with_construct() -> None:
    parsed = ccsp.FRAME.parse(b"#!#00E#SIQ#2F\r")
    assert parsed.length == 14 and parsed.message == b"SIQ" and parsed.lrc == 0x2F
    assert ccsp.FRAME.build({"message": b"SIQ"}) == b"#!#00E#SIQ#2F\r"


def test_a_reply_of_another_type_is_an_error_never_a_success() -> None:
    # A reply with an unknown tag to RR must never be taken for a registration.
    body = ("XYZ#" + CODE + "#" + UNIT + "#1#1").encode()
    with pytest.raises(ccsp.MessageError, match="of type 'XYZ', not RRR"):
        ccsp.decode_reply(body, ccsp.RegisterReceipt)
    with pytest.raises(ccsp.MessageError, match="not ACK"):
        ccsp.decode_reply(b"OK", ccsp.StartReceipt)
    with pytest.raises(ccsp.MessageError, match="not SIR"):
        ccsp.decode_reply(b"IR#" + UNIT.encode() + b"#2#1.0", ccsp.StatusQuery)


def test_nak_accepts_unpadded_and_unknown_codes_and_names_every_reference_code() -> None:
    assert ccsp.decode_reply(b"NAK#7", ccsp.RegisterReceipt) == ccsp.Nak(ccsp.NakCode.INVALID_POS_ID)
    unknown = ccsp.decode_reply(b"NAK#042", ccsp.RegisterReceipt)
    assert isinstance(unknown, ccsp.Nak) and unknown.code == 42 and unknown.known is None
    assert unknown.text == "an error code this gateway does not know"
    assert [int(c) for c in ccsp.NakCode] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert all(c.text for c in ccsp.NakCode)


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"#!#00E#SIQ#2E\r", "LRC mismatch"),
        (b"#!#00F#SIQ#2F\r", "length field says 15 bytes but the frame has 14"),
        (b"#!#00E#SIQ#2F\n", "does not end with CR"),
        (b"#!#00e#SIQ#2F\r", "not 3 uppercase hex digits"),
        (b"#!$00E#SIQ#2F\r", "does not start with #!# or #%#"),
        (b"#!#00E$SIQ#2F\r", "separator is missing"),
        (b"#!#00E#SIQ#2f\r", "LRC field b'2f'"),
        (b"#!#00", "shorter"),
    ],
)
def test_unframe_names_what_is_wrong(wire: bytes, reason: str) -> None:
    with pytest.raises(ccsp.FrameError, match=reason):
        ccsp.unframe(wire)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"XX", "unknown message type"),
        (b"RR#1#2026", "fields where"),
        (b"RR#0#202611211405#1#K#5561234567#1,00#0,00#normal# # # # ", "below 1"),
        (b"RR#1#202613211405#1#K#5561234567#1,00#0,00#normal# # # # ", "date"),
        (b"RR#1#202611211405#1#K#5561234567#1.00#0,00#normal# # # # ", "total"),
        (b"RR#1#202611211405#1#K#5561234567#1,00#0,00#normal#25;1,00# # # ", "vat1 rate"),
        (b"RR#1#202611211405#1#K#5561234567#1,00#0,00#kvitto# # # # ", "receipt_type"),
        (b"RR#1#202611211405#1#K#556123456#1,00#0,00#normal# # # # ", "orgnr"),
    ],
)
def test_decode_request_names_the_bad_field(body: bytes, reason: str) -> None:
    with pytest.raises(ccsp.MessageError, match=reason):
        ccsp.decode_request(body)


def test_message_cannot_carry_separator_or_non_ascii() -> None:
    with pytest.raises(FieldError, match="pos_id"):
        ControlData(datetime(2026, 1, 1), "5561234567", "A#B", 1, ReceiptType.NORMAL, 100)
    with pytest.raises(FieldError, match="pos_id"):
        ControlData(datetime(2026, 1, 1), "5561234567", "KASSÅ", 1, ReceiptType.NORMAL, 100)
    with pytest.raises(FieldError, match="seq"):
        ccsp.RegisterReceipt(0, DATA)


# -- round trips ---------------------------------------------------------------------------

pos_ids = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="#;"),
    min_size=1,
    max_size=16,
)
amounts = st.integers(min_value=-(10**11) + 1, max_value=10**11 - 1)
CCSP_MAIN = [m for m in ccsp.MainStatus if m < 10]  # 99 is XCCSP's alone
control_data = st.builds(
    ControlData,
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    orgnr=st.from_regex(r"\A[0-9]{10}\Z"),
    pos_id=pos_ids,
    receipt_no=st.integers(min_value=0, max_value=10**12 - 1),
    receipt_type=st.sampled_from(list(ReceiptType)),
    total=amounts,
    return_total=st.integers(min_value=0, max_value=10**11 - 1),
    vat=st.lists(st.sampled_from([2500, 1200, 600, 0]), unique=True, max_size=4).flatmap(
        lambda rates: st.tuples(*[st.builds(VatSlot, st.just(r), amounts) for r in rates])
    ),
)
codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;", min_size=1, max_size=80)
requests = st.one_of(
    st.just(ccsp.StatusQuery()),
    st.just(ccsp.IdentityQuery()),
    st.just(ccsp.StartReceipt()),
    st.just(ccsp.SignatureQuery()),
    st.builds(ccsp.RegisterReceipt, st.integers(1, ccsp.SEQ_MAX), control_data),
    st.builds(ccsp.ReceiptHeader, control_data, st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9 #]{0,15}\Z")),
)
replies = st.one_of(
    st.builds(ccsp.StatusReply, st.sampled_from(CCSP_MAIN), st.from_regex(r"\A[0-9A-Z][0-9A-Z#]{0,7}\Z")),
    st.builds(ccsp.IdentityReply, st.from_regex(r"\A[A-Z0-9]{17}\Z"), st.integers(1, 2), st.just("1.2.3")),
    st.builds(
        ccsp.RegisterReply,
        codes,
        st.from_regex(r"\A[A-Z0-9]{17}\Z"),
        st.sampled_from(CCSP_MAIN),
        st.sampled_from(list(ccsp.StorageStatus)),
    ),
    st.builds(ccsp.SignatureReply, codes),
    st.builds(ccsp.Nak, st.integers(1, 999)),
    st.just(ccsp.Ack()),
)


@given(requests)
def test_request_round_trip(message: ccsp.Request) -> None:
    assert ccsp.decode_request(ccsp.unframe(ccsp.encode(message))) == message


@given(replies)
def test_reply_round_trip(message: ccsp.Reply) -> None:
    assert ccsp.decode_reply(ccsp.unframe(ccsp.encode(message)), answering(message)) == message


# -- the deframer --------------------------------------------------------------------------

frames = st.lists(requests.map(ccsp.encode), min_size=1, max_size=5)
noise = st.binary(max_size=40).map(lambda b: b.replace(b"#", b"").replace(b"\r", b""))


def feed_in_pieces(deframer: ccsp.Deframer, data: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        out += deframer.feed(data[start:cut])
        start = max(start, cut)
    out += deframer.feed(data[start:])
    return out


@given(frames, st.lists(noise, min_size=6, max_size=6), st.lists(st.integers(0, 10_000), max_size=30))
def test_deframer_finds_every_frame_between_garbage_in_any_split(
    wires: list[bytes], garbage: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(g + w for g, w in zip(garbage, wires, strict=False)) + garbage[-1]
    got = feed_in_pieces(ccsp.Deframer(), stream, cuts)
    assert got == wires


@given(frames, st.integers(0, 10_000), st.integers(1, 255))
# A flipped space that makes "#!#" just before the CR: a false start with a CR in its head.
@example([b"#!#056#RH#200001010000#100000#00000000#0# #0000000000#-1000,00#0,00#normal# # # # #37\r"], 824, 1)
def test_deframer_drops_a_corrupted_frame_and_keeps_the_next(
    wires: list[bytes], where: int, flip: int
) -> None:
    bad = bytearray(wires[0])
    i = 7 + where % (len(bad) - 11)  # inside the message, so structure stays plausible
    bad[i] ^= flip
    deframer = ccsp.Deframer()
    got = deframer.feed(bytes(bad) + b"".join(wires[1:]))
    for frame in got:
        ccsp.unframe(frame)  # every yielded frame is valid
    assert bytes(bad) not in got
    assert got[len(got) - len(wires) + 1 :] == wires[1:]
    assert deframer.pending == 0


@settings(max_examples=300)
@given(st.binary(max_size=600), st.lists(st.integers(0, 1000), max_size=20))
def test_deframer_never_yields_an_invalid_frame_from_random_bytes(data: bytes, cuts: list[int]) -> None:
    deframer = ccsp.Deframer()
    for frame in feed_in_pieces(deframer, data, cuts):
        assert int(frame[3:6], 16) == len(frame)
        assert int(frame[-3:-1], 16) == reduce(lambda a, b: a ^ b, frame[:-3], 0)
    assert deframer.pending <= len(data)


@settings(max_examples=200)
@given(st.binary(max_size=300), frames)
def test_deframer_recovers_after_random_prefix_ending_in_start_marker(
    data: bytes, wires: list[bytes]
) -> None:
    deframer = ccsp.Deframer()
    got = deframer.feed(data + b"#!#" + b"".join(wires))
    for frame in got:
        ccsp.unframe(frame)
    # A bogus claim from the random prefix can delay but never swallow a CR-terminated frame
    # that starts after it, except by coinciding with it exactly: the last frame always comes out.
    assert got[-1] == wires[-1]


def test_deframer_reports_lrc_errors_and_bounds_its_discard_log() -> None:
    deframer = ccsp.Deframer(keep_discards=4)
    assert deframer.feed(b"#!#00E#SIQ#2E\r" + b"#!#00E#SIQ#2F\r") == [b"#!#00E#SIQ#2F\r"]
    assert deframer.lrc_errors == 1
    deframer.feed(b"x" * 10_000)
    assert len(deframer.discards) <= 4
    assert deframer.pending == 0


def test_deframer_does_not_wait_on_a_false_length_when_a_cr_proves_it_wrong() -> None:
    deframer = ccsp.Deframer()
    assert deframer.feed(b"#!#FFF#" + b"#!#00E#SIQ#2F\r") == [b"#!#00E#SIQ#2F\r"]
    assert deframer.pending == 0


def test_lrc_errors_are_marked_where_they_stood_in_the_stream() -> None:
    good, bad = b"#!#00E#SIQ#2F\r", b"#!#00D#IQ#7C\r"
    assert ccsp.Deframer().feed_marking_lrc_errors(good + bad + good) == [good, None, good]
