"""XCCSP codec: golden documents, round trips, and errors that name the wrong element."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import xccsp
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData, FieldError, ReceiptType, VatSlot
from protocols.xccsp import (
    DataError,
    EnvelopeError,
    Fault,
    FaultCode,
    IdentityResponse,
    RegisterReceipt,
    RegisterReceiptResponse,
    Reply,
    Request,
    RequestIdentity,
    RequestStatus,
    StatusResponse,
    UnknownTypeError,
    XccspError,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)
from protocols.xccsp.faults import element_path

CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNIT = "TGSIMSE0000000001"
ORGNR = "5561234567"
DATA = ControlData(
    moment=datetime(2026, 11, 21, 14, 5),
    orgnr=ORGNR,
    pos_id="KASSA-1",
    receipt_no=1042,
    receipt_type=ReceiptType.NORMAL,
    total=12500,
    return_total=0,
    vat=(VatSlot(2500, 2000), VatSlot(1200, 500)),
)
RETURN_DATA = ControlData(
    moment=datetime(2026, 11, 21, 9, 0),
    orgnr=ORGNR,
    pos_id="KASSA-1",
    receipt_no=1043,
    receipt_type=ReceiptType.NORMAL,
    total=-5000,
    return_total=5000,
)

# -- golden documents: the wire format, byte for byte -----------------------------------

REQUEST_IDENTITY_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<request xmlns="http://www.retailinnovation.se/xccsp">
  <type>RequestIdentity</type>
  <data>
    <IdentityRequest>
      <PosId>KASSA-1</PosId>
      <OrgNo>5561234567</OrgNo>
    </IdentityRequest>
  </data>
</request>"""

REQUEST_STATUS_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<request xmlns="http://www.retailinnovation.se/xccsp">
  <type>RequestStatus</type>
  <data>
    <StatusRequest>
      <PosId>KASSA-1</PosId>
      <OrgNo>5561234567</OrgNo>
    </StatusRequest>
  </data>
</request>"""

REGISTER_RECEIPT_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<request xmlns="http://www.retailinnovation.se/xccsp">
  <type>RegisterReceipt</type>
  <data>
    <Receipt>
      <IsNewSession>0</IsNewSession>
      <SerialNo>17</SerialNo>
      <Date>202611211405</Date>
      <ReceiptId>1042</ReceiptId>
      <PosId>KASSA-1</PosId>
      <OrgNo>5561234567</OrgNo>
      <ReceiptTotal>125,00</ReceiptTotal>
      <NegativeTotal>0,00</NegativeTotal>
      <ReceiptType>normal</ReceiptType>
      <VatList>
        <Vat>
          <Class>1</Class>
          <Percentage>25,00</Percentage>
          <Amount>20,00</Amount>
        </Vat>
        <Vat>
          <Class>2</Class>
          <Percentage>12,00</Percentage>
          <Amount>5,00</Amount>
        </Vat>
      </VatList>
    </Receipt>
  </data>
</request>"""

REGISTER_RETURN_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<request xmlns="http://www.retailinnovation.se/xccsp">
  <type>RegisterReceipt</type>
  <data>
    <Receipt>
      <IsNewSession>1</IsNewSession>
      <SerialNo>4294967295</SerialNo>
      <Date>202611210900</Date>
      <ReceiptId>1043</ReceiptId>
      <PosId>KASSA-1</PosId>
      <OrgNo>5561234567</OrgNo>
      <ReceiptTotal>-50,00</ReceiptTotal>
      <NegativeTotal>50,00</NegativeTotal>
      <ReceiptType>normal</ReceiptType>
      <VatList />
    </Receipt>
  </data>
</request>"""

REGISTER_RECEIPT_RESPONSE_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<response xmlns="http://www.retailinnovation.se/xccsp">
  <type>RegisterReceiptResponse</type>
  <data>
    <RegisterResult>
      <Code>ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ</Code>
      <UnitId>TGSIMSE0000000001</UnitId>
      <UnitMainStatus>0</UnitMainStatus>
      <UnitStorageStatus>1</UnitStorageStatus>
    </RegisterResult>
  </data>
</response>"""

STATUS_RESPONSE_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<response xmlns="http://www.retailinnovation.se/xccsp">
  <type>StatusResponse</type>
  <data>
    <Status>
      <Id>TGSIMSE0000000001</Id>
      <Firmware>tillgw-sim 1.0</Firmware>
      <InstalledLicenses>4</InstalledLicenses>
      <MainStatus>1</MainStatus>
      <StorageStatus>0</StorageStatus>
      <Type>CleanCash Type A</Type>
    </Status>
  </data>
</response>"""

IDENTITY_RESPONSE_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<response xmlns="http://www.retailinnovation.se/xccsp">
  <type>IdentityResponse</type>
  <data>
    <Identity>
      <Id>TGSIMSE0000000001</Id>
      <Firmware>tillgw-sim 1.0</Firmware>
      <Type>CleanCash Type A</Type>
    </Identity>
  </data>
</response>"""

# Latin-1 text travels as its own byte (\xe4 is 'ä'); anything beyond as a reference.
FAULT_XML = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<response xmlns="http://www.retailinnovation.se/xccsp">
  <type>Fault</type>
  <data>
    <FaultInfo>
      <Code>7</Code>
      <ShortMessage>Invalid POS Id</ShortMessage>
      <Message>Kassan KASSA-9 \xe4r inte licensierad (&#8364;)</Message>
    </FaultInfo>
  </data>
</response>"""

FAULT = Fault.of(FaultCode.INVALID_POS_ID, "Kassan KASSA-9 är inte licensierad (€)")

GOLDEN_REQUESTS: list[tuple[Request, bytes]] = [
    (RequestIdentity("KASSA-1", ORGNR), REQUEST_IDENTITY_XML),
    (RequestStatus("KASSA-1", ORGNR), REQUEST_STATUS_XML),
    (RegisterReceipt(17, False, DATA), REGISTER_RECEIPT_XML),
    (RegisterReceipt(4_294_967_295, True, RETURN_DATA), REGISTER_RETURN_XML),
]
GOLDEN_REPLIES: list[tuple[Reply | Fault, type[Request], bytes]] = [
    (
        RegisterReceiptResponse(CODE, UNIT, MainStatus.OK, StorageStatus.HIGH_LEVEL_WARNING),
        RegisterReceipt,
        REGISTER_RECEIPT_RESPONSE_XML,
    ),
    (
        StatusResponse(UNIT, "tillgw-sim 1.0", 4, MainStatus.WARNING, StorageStatus.OK, "CleanCash Type A"),
        RequestStatus,
        STATUS_RESPONSE_XML,
    ),
    (IdentityResponse(UNIT, "tillgw-sim 1.0", "CleanCash Type A"), RequestIdentity, IDENTITY_RESPONSE_XML),
    (FAULT, RegisterReceipt, FAULT_XML),
]


@pytest.mark.parametrize(
    ("msg", "xml"),
    GOLDEN_REQUESTS,
    ids=[f"{type(m).__name__}-{i}" for i, (m, _) in enumerate(GOLDEN_REQUESTS)],
)
def test_golden_requests(msg: Request, xml: bytes) -> None:
    assert encode_request(msg) == xml
    assert decode_request(xml) == msg


@pytest.mark.parametrize(
    ("msg", "answering", "xml"),
    GOLDEN_REPLIES,
    ids=[type(m).__name__ for m, _, _ in GOLDEN_REPLIES],
)
def test_golden_replies(msg: Reply | Fault, answering: type[Request], xml: bytes) -> None:
    assert encode_reply(msg) == xml
    assert decode_reply(xml, answering) == msg


def test_request_answered_by_its_reply_type() -> None:
    assert RegisterReceipt.REPLY is RegisterReceiptResponse
    assert RequestStatus.REPLY is StatusResponse
    assert RequestIdentity.REPLY is IdentityResponse


# -- round trips --------------------------------------------------------------------------

POS_ID_ALPHABET = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "#;")
# |amount| such that "-kronor,öre" / "kronor,öre" stays within 14 characters.
AMOUNT = st.integers(min_value=-(10**12) + 1, max_value=10**13 - 1)
NON_NEGATIVE_AMOUNT = st.integers(min_value=0, max_value=10**13 - 1)


@st.composite
def control_data(draw: st.DrawFn) -> ControlData:
    rates = draw(st.lists(st.sampled_from([2500, 1200, 600, 0]), unique=True, max_size=4))
    return ControlData(
        moment=draw(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31))).replace(
            second=0, microsecond=0
        ),
        orgnr=draw(st.from_regex(r"\A[0-9]{10}\Z")),
        pos_id=draw(st.text(alphabet=POS_ID_ALPHABET, min_size=1, max_size=16)),
        receipt_no=draw(st.integers(min_value=0, max_value=10**12 - 1)),
        receipt_type=draw(st.sampled_from(list(ReceiptType))),
        total=draw(AMOUNT),
        return_total=draw(NON_NEGATIVE_AMOUNT),
        vat=tuple(VatSlot(rate, draw(AMOUNT)) for rate in rates),
    )


register_receipts = st.builds(
    RegisterReceipt,
    serial_no=st.integers(min_value=1, max_value=xccsp.SERIAL_MAX),
    is_new_session=st.booleans(),
    data=control_data(),
)

# Any text XML can carry (no control characters but TAB and LF, no CR, no surrogates).
XML_TEXT = st.text(
    alphabet=st.characters(
        exclude_categories=["Cs", "Cc"],
        exclude_characters="\ufffe\uffff",
        include_characters="\t\n",
    ),
    max_size=40,
)


@settings(deadline=None)
@given(register_receipts)
def test_register_receipt_round_trip(msg: RegisterReceipt) -> None:
    xml = encode_request(msg)
    assert xml.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n')
    assert decode_request(xml) == msg


@settings(deadline=None)
@given(
    st.sampled_from([RequestIdentity, RequestStatus]),
    st.text(alphabet=POS_ID_ALPHABET, min_size=1, max_size=16),
    st.from_regex(r"\A[0-9]{10}\Z"),
)
def test_query_round_trip(kind: type[RequestIdentity | RequestStatus], pos_id: str, orgnr: str) -> None:
    msg = kind(pos_id, orgnr)
    assert decode_request(encode_request(msg)) == msg


replies = st.one_of(
    st.builds(
        RegisterReceiptResponse,
        code=st.from_regex(r"\A[A-Z2-7;]{0,59}\Z"),  # a code holds no spaces: it is read stripped
        unit_id=XML_TEXT.filter(bool),
        main=st.sampled_from(list(MainStatus)),
        storage=st.sampled_from(list(StorageStatus)),
    ),
    st.builds(
        StatusResponse,
        unit_id=XML_TEXT.filter(bool),
        firmware=XML_TEXT,
        installed_licenses=st.none() | st.integers(min_value=0, max_value=999_999),
        main=st.sampled_from(list(MainStatus)),
        storage=st.sampled_from(list(StorageStatus)),
        unit_type=XML_TEXT,
    ),
    st.builds(IdentityResponse, unit_id=XML_TEXT.filter(bool), firmware=XML_TEXT, unit_type=XML_TEXT),
)


@settings(deadline=None)
@given(replies)
def test_reply_round_trip(msg: Reply) -> None:
    answering = {
        RegisterReceiptResponse: RegisterReceipt,
        StatusResponse: RequestStatus,
        IdentityResponse: RequestIdentity,
    }[type(msg)]
    assert decode_reply(encode_reply(msg), answering) == msg


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=999_999_999), XML_TEXT, XML_TEXT)
def test_fault_round_trip(code: int, short: str, message: str) -> None:
    fault = Fault(code, short, message)
    assert decode_reply(encode_reply(fault), RequestStatus) == fault


# -- encodings and namespaces -----------------------------------------------------------


def test_decoding_honours_a_declared_utf8_encoding() -> None:
    xml = FAULT_XML.decode("latin-1").replace("ISO-8859-1", "UTF-8").encode("utf-8")
    assert b"\xc3\xa4" in xml  # 'ä' as UTF-8
    assert decode_reply(xml, RequestStatus) == FAULT


def test_decoding_honours_a_declared_single_byte_encoding() -> None:
    xml = FAULT_XML.replace(b"ISO-8859-1", b"windows-1252").replace(b"&#8364;", b"\x80")
    assert decode_reply(xml, RequestStatus) == FAULT


def test_undeclared_latin1_falls_back_to_the_protocol_charset() -> None:
    xml = FAULT_XML.split(b"\n", 1)[1]  # no XML declaration at all
    assert decode_reply(xml, RequestStatus) == FAULT


def test_undeclared_utf8_is_read_as_utf8() -> None:
    xml = FAULT_XML.split(b"\n", 1)[1].decode("latin-1").encode("utf-8")
    assert decode_reply(xml, RequestStatus) == FAULT


def test_unsupported_declared_encoding_is_an_envelope_error() -> None:
    for name in (b"no-such-charset", b"shift_jis"):
        with pytest.raises(EnvelopeError, match=r"^document: "):
            decode_request(REQUEST_STATUS_XML.replace(b"ISO-8859-1", name))


def test_un_namespaced_document_from_a_lenient_unit_is_accepted() -> None:
    xml = REGISTER_RECEIPT_XML.replace(b' xmlns="http://www.retailinnovation.se/xccsp"', b"")
    assert b"xmlns" not in xml
    assert decode_request(xml) == RegisterReceipt(17, False, DATA)


def test_prefixed_namespace_is_accepted() -> None:
    xml = (
        b'<x:response xmlns:x="http://www.retailinnovation.se/xccsp"><x:type>IdentityResponse'
        b"</x:type><x:data><x:Identity><x:Id>U1</x:Id><x:Firmware>1</x:Firmware><x:Type>T</x:Type>"
        b"</x:Identity></x:data></x:response>"
    )
    assert decode_reply(xml, RequestIdentity) == IdentityResponse("U1", "1", "T")


def test_foreign_namespace_root_is_refused() -> None:
    xml = REQUEST_STATUS_XML.replace(b"http://www.retailinnovation.se/xccsp", b"urn:other")
    with pytest.raises(EnvelopeError, match=r"^document: root element \{urn:other\}request "):
        decode_request(xml)


def test_element_in_a_foreign_namespace_counts_as_absent() -> None:
    xml = REQUEST_STATUS_XML.replace(
        b"<PosId>KASSA-1</PosId>", b'<o:PosId xmlns:o="urn:other">KASSA-1</o:PosId>'
    )
    with pytest.raises(DataError, match=r"^RequestStatus/PosId: missing$"):
        decode_request(xml)


def test_text_outside_latin1_is_written_as_a_character_reference() -> None:
    xml = encode_reply(IdentityResponse(UNIT, "v1 ✓", "Typ Ö"))
    assert b"<Firmware>v1 &#10003;</Firmware>" in xml
    assert b"<Type>Typ \xd6</Type>" in xml
    assert decode_reply(xml, RequestIdentity) == IdentityResponse(UNIT, "v1 ✓", "Typ Ö")


def test_values_are_taken_verbatim() -> None:
    msg = RequestStatus(" K 1 ", ORGNR)
    assert b"<PosId> K 1 </PosId>" in encode_request(msg)
    assert decode_request(encode_request(msg)) == msg


def test_element_order_is_free_and_unknown_elements_are_ignored() -> None:
    xml = REQUEST_STATUS_XML.replace(
        b"<PosId>KASSA-1</PosId>\n    <OrgNo>5561234567</OrgNo>",
        b"<Extra>x</Extra><OrgNo>5561234567</OrgNo><PosId>KASSA-1</PosId>",
    )
    assert decode_request(xml) == RequestStatus("KASSA-1", ORGNR)


def test_vat_elements_are_ordered_by_class_and_gaps_closed() -> None:
    xml = REGISTER_RECEIPT_XML.replace(b"<Class>1</Class>", b"<Class>4</Class>")
    reordered = dataclasses.replace(DATA, vat=(VatSlot(1200, 500), VatSlot(2500, 2000)))
    assert decode_request(xml) == RegisterReceipt(17, False, reordered)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("1", True), ("True", True), ("false", False), ("0", False), ("FALSE", False)],
)
def test_boolean_spellings(text: str, value: bool) -> None:
    xml = REGISTER_RECEIPT_XML.replace(b"<IsNewSession>0<", f"<IsNewSession>{text}<".encode())
    msg = decode_request(xml)
    assert isinstance(msg, RegisterReceipt)
    assert msg.is_new_session is value


# -- errors name the wrong element -------------------------------------------------------


def _request_with(old: bytes, new: bytes, xml: bytes = REGISTER_RECEIPT_XML) -> bytes:
    assert old in xml
    return xml.replace(old, new, 1)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"hello",
        b"<request>",
        b"<request><type>x</request>",
        b"\x00\x01\x02",
        REGISTER_RECEIPT_XML[:-5],
        b"<a/><b/>",
    ],
    ids=["empty", "blank", "text", "unclosed", "mismatched", "binary", "truncated", "two-roots"],
)
def test_not_xml(body: bytes) -> None:
    with pytest.raises(EnvelopeError, match=r"^document: "):
        decode_request(body)
    with pytest.raises(EnvelopeError, match=r"^document: "):
        decode_reply(body, RegisterReceipt)


def test_wrong_root() -> None:
    expected = r"^document: root element is <response>, expected <request>$"
    with pytest.raises(EnvelopeError, match=expected):
        decode_request(STATUS_RESPONSE_XML)
    expected = r"^document: root element is <request>, expected <response>$"
    with pytest.raises(EnvelopeError, match=expected):
        decode_reply(REQUEST_STATUS_XML, RequestStatus)


def test_unknown_request_type() -> None:
    xml = _request_with(b"<type>RequestStatus</type>", b"<type>RequestCoffee</type>", REQUEST_STATUS_XML)
    with pytest.raises(UnknownTypeError) as info:
        decode_request(xml)
    assert str(info.value).startswith("request/type: unknown request type 'RequestCoffee'")
    assert info.value.fault_code is FaultCode.UNKNOWN_REQUEST
    assert info.value.to_fault().code is FaultCode.UNKNOWN_REQUEST


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"<type>RequestStatus</type>", b"", r"^request/type: missing$"),
        (
            b"<type>RequestStatus</type>",
            b"<type>RequestStatus</type><type>X</type>",
            r"^request/type: appears 2 times; expected once$",
        ),
        (b"<type>RequestStatus</type>", b"<type><b/></type>", r"^request/type: has child elements"),
    ],
)
def test_envelope_errors(old: bytes, new: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        decode_request(_request_with(old, new, REQUEST_STATUS_XML))


def test_missing_data_element() -> None:
    xml = b'<request xmlns="http://www.retailinnovation.se/xccsp"><type>RequestStatus</type></request>'
    with pytest.raises(EnvelopeError, match=r"^request/data: missing$"):
        decode_request(xml)


@pytest.mark.parametrize(
    ("old", "new", "path", "reason"),
    [
        (b"<PosId>KASSA-1</PosId>", b"", "RegisterReceipt/PosId", "missing"),
        (
            b"<PosId>KASSA-1</PosId>",
            b"<PosId>A</PosId><PosId>B</PosId>",
            "RegisterReceipt/PosId",
            "appears 2 times; expected once",
        ),
        (
            b"<Amount>5,00</Amount>",
            b"<Amount>12.50</Amount>",
            "RegisterReceipt/VatList/Vat[2]/Amount",
            "'12.50' is not an amount with a decimal comma and two decimals",
        ),
        (
            b"<ReceiptTotal>125,00</ReceiptTotal>",
            b"<ReceiptTotal>125</ReceiptTotal>",
            "RegisterReceipt/ReceiptTotal",
            "'125' is not an amount with a decimal comma and two decimals",
        ),
        (
            b"<ReceiptTotal>125,00</ReceiptTotal>",
            b"<ReceiptTotal>123456789012,00</ReceiptTotal>",
            "RegisterReceipt/ReceiptTotal",
            "'123456789012,00' is longer than 14 characters",
        ),
        (
            b"<Percentage>25,00</Percentage>",
            b"<Percentage>25%</Percentage>",
            "RegisterReceipt/VatList/Vat[1]/Percentage",
            "'25%' is not a rate like 25,00",
        ),
        (
            b"<Percentage>12,00</Percentage>",
            b"<Percentage>25,00</Percentage>",
            "RegisterReceipt/VatList/Vat[2]/Percentage",
            "the rate 25,00 is already in RegisterReceipt/VatList/Vat[1]",
        ),
        (
            b"<Class>2</Class>",
            b"<Class>1</Class>",
            "RegisterReceipt/VatList/Vat[2]/Class",
            "class 1 appears twice",
        ),
        (
            b"<Class>2</Class>",
            b"<Class>5</Class>",
            "RegisterReceipt/VatList/Vat[2]/Class",
            "5 is outside 1..4",
        ),
        (b"<Class>2</Class>", b"", "RegisterReceipt/VatList/Vat[2]/Class", "missing"),
        (
            b"<Date>202611211405</Date>",
            b"<Date>2026-11-21 14:05</Date>",
            "RegisterReceipt/Date",
            "'2026-11-21 14:05' is not 12 digits YYYYMMDDhhmm",
        ),
        (
            b"<Date>202611211405</Date>",
            b"<Date>202602301405</Date>",
            "RegisterReceipt/Date",
            "'202602301405' is not a valid date and time (day is out of range for month)",
        ),
        (
            b"<Date>202611211405</Date>",
            b"<Date><d>1</d></Date>",
            "RegisterReceipt/Date",
            "has child elements where a value is expected",
        ),
        (
            b"<ReceiptId>1042</ReceiptId>",
            b"<ReceiptId>R-1042</ReceiptId>",
            "RegisterReceipt/ReceiptId",
            "'R-1042' is not 1 to 12 digits",
        ),
        (
            b"<OrgNo>5561234567</OrgNo>",
            b"<OrgNo>556123-4567</OrgNo>",
            "RegisterReceipt/OrgNo",
            "'556123-4567' must be 10 digits without a hyphen",
        ),
        (
            b"<ReceiptType>normal</ReceiptType>",
            b"<ReceiptType>Normal</ReceiptType>",
            "RegisterReceipt/ReceiptType",
            "'Normal' is not one of normal, kopia, ovning, profo",
        ),
        (
            b"<SerialNo>17</SerialNo>",
            b"<SerialNo>0</SerialNo>",
            "RegisterReceipt/SerialNo",
            "0 is outside 1..4294967295",
        ),
        (
            b"<SerialNo>17</SerialNo>",
            b"<SerialNo>4294967296</SerialNo>",
            "RegisterReceipt/SerialNo",
            "4294967296 is outside 1..4294967295",
        ),
        (
            b"<SerialNo>17</SerialNo>",
            b"<SerialNo>+17</SerialNo>",
            "RegisterReceipt/SerialNo",
            "'+17' is not a decimal integer",
        ),
        (
            b"<IsNewSession>0</IsNewSession>",
            b"<IsNewSession>no</IsNewSession>",
            "RegisterReceipt/IsNewSession",
            "'no' is not a boolean (1 or 0)",
        ),
        (
            b"<VatList>",
            b"<VatList><Vat/><Vat/><Vat/>",
            "RegisterReceipt/VatList",
            "5 Vat elements; a control unit takes at most 4",
        ),
    ],
)
def test_bad_register_receipt_data(old: bytes, new: bytes, path: str, reason: str) -> None:
    with pytest.raises(DataError) as info:
        decode_request(_request_with(old, new))
    assert str(info.value) == f"{path}: {reason}"
    assert info.value.path == info.value.field == path
    assert info.value.reason == reason
    assert info.value.fault_code is FaultCode.INVALID_DATA


def test_missing_vat_list() -> None:
    xml = REGISTER_RETURN_XML.replace(b"<VatList />", b"")
    with pytest.raises(DataError, match=r"^RegisterReceipt/VatList: missing$"):
        decode_request(xml)


POS_ID_PATTERN = re.compile(r"must be 1 to 16 printable ASCII characters without '#' or ';'")


@pytest.mark.parametrize("letter", ["Å", "Ä", "Ö", "å", "ä", "ö"])
@pytest.mark.parametrize("charset", ["ISO-8859-1", "UTF-8"])
def test_swedish_letter_in_pos_id_is_a_field_error_at_its_element(letter: str, charset: str) -> None:
    text = REGISTER_RECEIPT_XML.decode("latin-1").replace("KASSA-1", f"KASSA-{letter}")
    xml = text.replace("ISO-8859-1", charset).encode(charset)
    with pytest.raises(DataError) as info:
        decode_request(xml)
    error = info.value
    assert isinstance(error, FieldError)  # protocols.skv's error, named by element path
    assert error.field == "RegisterReceipt/PosId"
    assert POS_ID_PATTERN.search(str(error))
    assert str(error).startswith(f"RegisterReceipt/PosId: 'KASSA-{letter}' ")
    assert isinstance(error.__cause__, FieldError) and error.__cause__.field == "pos_id"


@pytest.mark.parametrize("kind", [RequestStatus, RequestIdentity])
def test_swedish_letter_in_pos_id_of_a_query(kind: type[Request]) -> None:
    xml = (
        REQUEST_STATUS_XML.replace(b"RequestStatus", kind.TYPE.encode())
        .replace(b"StatusRequest", kind.WRAPPER.encode())
        .replace(b"KASSA-1", b"KASSA-\xc5")
    )
    with pytest.raises(DataError) as info:
        decode_request(xml)
    assert info.value.field == f"{kind.TYPE}/PosId"
    with pytest.raises(FieldError) as direct:
        RequestStatus("KASSA-Å", ORGNR)
    assert direct.value.field == "pos_id"


# -- hostile documents --------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<request xmlns="http://www.retailinnovation.se/xccsp"><type>&lol4;</type><data/></request>"""

XXE = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE request [<!ENTITY id SYSTEM "file:///etc/passwd">]>
<request xmlns="http://www.retailinnovation.se/xccsp"><type>RequestStatus</type>
<data><PosId>&id;</PosId><OrgNo>5561234567</OrgNo></data></request>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE request [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext;]>
<request/>"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE request SYSTEM "xccsp.dtd">
""" + REQUEST_STATUS_XML.split(b"\n", 1)[1]


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, XXE, PARAMETER_ENTITY, PLAIN_DOCTYPE],
    ids=["billion-laughs", "xxe", "parameter-entity", "plain-doctype"],
)
def test_doctype_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(EnvelopeError, match=r"^document: refused: ") as info:
        decode_request(body)
    assert "lol" not in str(info.value)
    with pytest.raises(EnvelopeError, match=r"^document: refused: "):
        decode_reply(body, RequestStatus)


# -- faults and replies -------------------------------------------------------------------


@pytest.mark.parametrize("answering", [RegisterReceipt, RequestStatus, RequestIdentity])
def test_fault_is_recognised_whatever_it_answers(answering: type[Request]) -> None:
    assert decode_reply(FAULT_XML, answering) == FAULT
    bare = (
        b'<Fault xmlns="http://www.retailinnovation.se/xccsp"><FaultInfo><Code>99</Code>'
        b"<ShortMessage>no unit</ShortMessage><Message/></FaultInfo></Fault>"
    )
    assert decode_reply(bare, answering) == Fault(FaultCode.NO_UNIT, "no unit", "")


def test_fault_without_messages_and_with_an_unknown_code() -> None:
    xml = _request_with(
        b"<FaultInfo>\n      <Code>7</Code>\n      <ShortMessage>Invalid POS Id</ShortMessage>\n"
        b"      <Message>Kassan KASSA-9 \xe4r inte licensierad (&#8364;)</Message>\n    </FaultInfo>",
        b"<FaultInfo><Code>42</Code></FaultInfo>",
        FAULT_XML,
    )
    fault = decode_reply(xml, RegisterReceipt)
    assert fault == Fault(42)
    assert isinstance(fault, Fault) and not isinstance(fault.code, FaultCode)
    assert fault.text == "unknown fault code 42"


def test_fault_missing_code() -> None:
    xml = _request_with(b"<Code>7</Code>", b"", FAULT_XML)
    with pytest.raises(DataError, match=r"^Fault/Code: missing$"):
        decode_reply(xml, RequestStatus)


def test_fault_codes() -> None:
    assert [int(c) for c in FaultCode] == [2, 3, 6, 7, 8, 9, 10, 98, 99]
    assert all(code.text for code in FaultCode)
    assert FaultCode.INVALID_POS_ID.nak is NakCode.INVALID_POS_ID
    assert FaultCode.STORAGE_FULL.nak is NakCode.STORAGE_FULL
    assert FaultCode.NO_UNIT.nak is None
    assert Fault(3) == Fault(FaultCode.INVALID_DATA)
    assert Fault(3).code is FaultCode.INVALID_DATA
    assert Fault.of(FaultCode.NOT_OPERATIONAL).short_message == "CleanCash unit not operational"
    assert Fault.of(FaultCode.NO_UNIT).short_message == "No connection with CleanCash unit"


def test_data_error_becomes_an_invalid_data_fault() -> None:
    with pytest.raises(XccspError) as info:
        decode_request(_request_with(b"<Amount>5,00</Amount>", b"<Amount>5</Amount>"))
    fault = info.value.to_fault()
    assert fault.code is FaultCode.INVALID_DATA
    assert fault.message.startswith("RegisterReceipt/VatList/Vat[2]/Amount: ")


def test_reply_of_another_request_is_refused() -> None:
    with pytest.raises(
        EnvelopeError,
        match=r"^response/type: 'StatusResponse' does not answer "
        r"RegisterReceipt; expected 'RegisterReceiptResponse'",
    ):
        decode_reply(STATUS_RESPONSE_XML, RegisterReceipt)
    with pytest.raises(UnknownTypeError, match=r"^response/type: unknown reply type 'Nope'"):
        decode_reply(STATUS_RESPONSE_XML.replace(b"StatusResponse", b"Nope"), RequestStatus)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"<UnitMainStatus>0</UnitMainStatus>",
            b"<UnitMainStatus>7</UnitMainStatus>",
            r"^RegisterReceiptResponse/UnitMainStatus: 7 is not a known MainStatus \(0 OK, ",
        ),
        (
            b"<UnitStorageStatus>1</UnitStorageStatus>",
            b"<UnitStorageStatus>x</UnitStorageStatus>",
            r"^RegisterReceiptResponse/UnitStorageStatus: 'x' is not a decimal integer$",
        ),
        (b"<UnitId>TGSIMSE0000000001</UnitId>", b"", r"^RegisterReceiptResponse/UnitId: missing$"),
    ],
)
def test_bad_reply_data(old: bytes, new: bytes, message: str) -> None:
    xml = _request_with(old, new, REGISTER_RECEIPT_RESPONSE_XML)
    with pytest.raises(DataError, match=message):
        decode_reply(xml, RegisterReceipt)


# -- messages that cannot be written ------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (
            RegisterReceiptResponse("A\x01B", UNIT, MainStatus.OK, StorageStatus.OK),
            r"^RegisterReceiptResponse/Code: 'A\\x01B' holds '\\x01', which XML text cannot carry$",
        ),
        (
            RegisterReceiptResponse("AB", "U\r1", MainStatus.OK, StorageStatus.OK),
            r"^RegisterReceiptResponse/UnitId: .* which XML text cannot carry$",
        ),
        (
            RegisterReceiptResponse("AB", UNIT, 9, StorageStatus.OK),  # type: ignore[arg-type]
            r"^RegisterReceiptResponse/UnitMainStatus: 9 is not a MainStatus$",
        ),
        (
            StatusResponse(UNIT, "1", -1, MainStatus.OK, StorageStatus.OK, "T"),
            r"^StatusResponse/InstalledLicenses: -1 is not an integer in 0\.\.999999$",
        ),
    ],
)
def test_unwritable_replies(msg: Reply, message: str) -> None:
    with pytest.raises(DataError, match=message):
        encode_reply(msg)


def test_invalid_register_receipts_cannot_be_built() -> None:
    for serial in (0, xccsp.SERIAL_MAX + 1, True):
        with pytest.raises(FieldError, match=r"^serial_no: "):
            RegisterReceipt(serial, False, DATA)
    with pytest.raises(FieldError, match=r"^is_new_session: "):
        RegisterReceipt(1, "yes", DATA)  # type: ignore[arg-type]
    with pytest.raises(FieldError, match=r"^orgnr: "):
        RequestIdentity("KASSA-1", "556123-4567")
    with pytest.raises(FieldError, match=r"^code: "):
        Fault(-1)


def test_encoders_refuse_the_wrong_kind_of_message() -> None:
    with pytest.raises(TypeError):
        encode_request(FAULT)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_reply(RequestStatus("KASSA-1", ORGNR))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        decode_request("<request/>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("date", "RegisterReceipt/Date"),
        ("orgnr", "RegisterReceipt/OrgNo"),
        ("pos_id", "RegisterReceipt/PosId"),
        ("receipt_no", "RegisterReceipt/ReceiptId"),
        ("receipt_type", "RegisterReceipt/ReceiptType"),
        ("total", "RegisterReceipt/ReceiptTotal"),
        ("return_total", "RegisterReceipt/NegativeTotal"),
        ("vat", "RegisterReceipt/VatList"),
        ("vat3", "RegisterReceipt/VatList/Vat[3]"),
        ("vat2 rate", "RegisterReceipt/VatList/Vat[2]/Percentage"),
        ("vat4 amount", "RegisterReceipt/VatList/Vat[4]/Amount"),
        ("RegisterReceipt/VatList/Vat[1]/Amount", "RegisterReceipt/VatList/Vat[1]/Amount"),
    ],
)
def test_skv_field_names_map_to_element_paths(field: str, path: str) -> None:
    assert element_path("RegisterReceipt", field) == path


# -- nothing but XccspError ever escapes a decoder ----------------------------------------

GOLDEN_DOCUMENTS = [xml for _, xml in GOLDEN_REQUESTS] + [xml for _, _, xml in GOLDEN_REPLIES]


def _decode_everything(body: bytes) -> None:
    for decode in (
        decode_request,
        lambda b: decode_reply(b, RegisterReceipt),
        lambda b: decode_reply(b, RequestStatus),
        lambda b: decode_reply(b, RequestIdentity),
    ):
        with contextlib.suppress(XccspError):
            decode(body)


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_xccsp_errors(body: bytes) -> None:
    _decode_everything(body)


@settings(deadline=None)
@given(st.sampled_from(GOLDEN_DOCUMENTS), st.data())
def test_damaged_documents_raise_only_xccsp_errors(xml: bytes, data: st.DataObject) -> None:
    start = data.draw(st.integers(min_value=0, max_value=len(xml)))
    end = data.draw(st.integers(min_value=start, max_value=min(len(xml), start + 12)))
    filler = data.draw(
        st.sampled_from(
            [b"", b"<", b">", b"&", b"/", b"x", b"\xff", b"</a>", b"<b/>", b"0", b"-", b",", b'"']
        )
    )
    _decode_everything(xml[:start] + filler + xml[end:])


# -- what the real service may send: wrappers, blanks, extras ----------------------------


def test_a_reply_without_its_wrapper_is_an_envelope_error_naming_what_came() -> None:
    unwrapped = REGISTER_RECEIPT_RESPONSE_XML.replace(b"<RegisterResult>", b"").replace(
        b"</RegisterResult>", b""
    )
    with pytest.raises(
        EnvelopeError, match=r"^response/data: no <RegisterResult>, expected one; it holds <Code>"
    ):
        decode_reply(unwrapped, RegisterReceipt)


def test_a_request_without_its_wrapper_is_refused() -> None:
    xml = REQUEST_STATUS_XML.replace(b"<StatusRequest>", b"").replace(b"</StatusRequest>", b"")
    with pytest.raises(EnvelopeError, match=r"^request/data: no <StatusRequest>"):
        decode_request(xml)


def test_another_wrapper_is_refused_even_with_the_right_type() -> None:
    xml = STATUS_RESPONSE_XML.replace(b"Status>", b"Identity>")
    with pytest.raises(
        EnvelopeError, match=r"^response/data: no <Status>, expected one; it holds <Identity>$"
    ):
        decode_reply(xml, RequestStatus)


@pytest.mark.parametrize("blank", [b"<Code />", b"<Code></Code>", b"<Code>  </Code>", b""])
def test_a_blank_or_missing_code_reads_as_no_code(blank: bytes) -> None:
    xml = _request_with(b"<Code>" + CODE.encode() + b"</Code>", blank, REGISTER_RECEIPT_RESPONSE_XML)
    reply = decode_reply(xml, RegisterReceipt)
    assert isinstance(reply, RegisterReceiptResponse) and reply.code == ""


def test_a_reply_with_no_code_is_written_with_an_empty_code_element() -> None:
    xml = encode_reply(RegisterReceiptResponse("", UNIT, MainStatus.OK, StorageStatus.OK))
    assert b"<Code />" in xml


def test_extra_elements_attributes_and_padding_from_the_service_are_tolerated() -> None:
    xml = (
        STATUS_RESPONSE_XML.replace(
            b'<response xmlns="', b'<response xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="'
        )
        .replace(b"<MainStatus>1</MainStatus>", b"<MainStatus>\n 1 \n</MainStatus><Uptime>17</Uptime>")
        .replace(b"<data>", b"<data><Server>hosted</Server>")
    )
    reply = decode_reply(xml, RequestStatus)
    assert reply == StatusResponse(
        UNIT, "tillgw-sim 1.0", 4, MainStatus.WARNING, StorageStatus.OK, "CleanCash Type A"
    )


def test_status_without_licences_firmware_or_type() -> None:
    xml = (
        STATUS_RESPONSE_XML.replace(b"<InstalledLicenses>4</InstalledLicenses>", b"<InstalledLicenses />")
        .replace(b"<Firmware>tillgw-sim 1.0</Firmware>", b"")
        .replace(b"<Type>CleanCash Type A</Type>", b"")
    )
    assert decode_reply(xml, RequestStatus) == StatusResponse(
        UNIT, "", None, MainStatus.WARNING, StorageStatus.OK, ""
    )


def test_main_status_99_is_no_unit_in_both_replies() -> None:
    status = decode_reply(STATUS_RESPONSE_XML.replace(b"<MainStatus>1<", b"<MainStatus>99<"), RequestStatus)
    assert isinstance(status, StatusResponse) and status.main is MainStatus.NO_UNIT
    registered = decode_reply(
        REGISTER_RECEIPT_RESPONSE_XML.replace(b"<UnitMainStatus>0<", b"<UnitMainStatus>99<"), RegisterReceipt
    )
    assert isinstance(registered, RegisterReceiptResponse) and registered.main is MainStatus.NO_UNIT


def test_a_signed_negative_total_reads_as_the_same_sum_of_returns() -> None:
    signed = REGISTER_RETURN_XML.replace(b"<NegativeTotal>50,00<", b"<NegativeTotal>-50,00<")
    assert decode_request(signed) == decode_request(REGISTER_RETURN_XML)
    assert b"<NegativeTotal>50,00</NegativeTotal>" in encode_request(RegisterReceipt(1, True, RETURN_DATA))


def test_a_fault_says_what_the_service_said() -> None:
    assert Fault(7, "Invalid POS Id", "PosId 'X' is not licensed").said == (
        "Fault 7: Invalid POS Id (PosId 'X' is not licensed)"
    )
    assert Fault(42, "", "").said == "Fault 42: unknown fault code 42"
    assert (
        Fault(99, "No connection with CleanCash unit", "").said
        == "Fault 99: No connection with CleanCash unit"
    )
