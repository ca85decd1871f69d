"""Infrasec TCS: the XML documents a register exchanges with Infrasec's cloud control unit.

The register POSTs one UTF-8 XML document without a namespace to ``/tcsserver`` over
HTTPS, authenticated by its TLS client certificate only, and gets one document back.
This module turns those documents into typed, frozen messages and back. Pure: no I/O.

A receipt (``TcsRequest`` with ``ControlData``), as we write it::

    <?xml version="1.0" encoding="utf-8"?>
    <TcsRequest>
      <ApplicationID>…</ApplicationID><RequestID>GUID</RequestID>
      <ControlData>
        <DateTime>yyyyMMddHHmmss</DateTime> [<CopyDateTime>…</CopyDateTime>]
        <OrgNr>…</OrgNr><ManRegisterID>…</ManRegisterID><RegisterAddress>…</RegisterAddress>
        <SequenceNumber>…</SequenceNumber> [<CopySequenceNumber>…</CopySequenceNumber>]
        <ReceiptType Type="normal|kopia|ovning|profo" />
        [<SaleAmount>116,26</SaleAmount>] [<RefundAmount>…</RefundAmount>]
        <VAT1><Percent>25,00</Percent><Amount>…</Amount><SubtotalAmount>…</SubtotalAmount></VAT1>
        … VAT2 (12), VAT3 (6), VAT4 (0): always all four
      </ControlData>
    </TcsRequest>

a register's status is the same envelope with ``RegisterStatus{OrgNr, ManRegisterID}``
instead of ``ControlData``, and the answer is ``TcsResponse{ResponseCode, ResponseMessage,
ResponseReason, ApplicationID, RequestID, SKVResponseCode, SKVResponseMessage,
SequenceNumber, ControlCode{ControlServerID, Code}}`` (the status answer stops after
``SKVResponseMessage``). Element names and order are MewsSystems/fiscalizations'
``src/Sweden`` DTOs (docs/protocols/tcs.md names the commit); what they do not fix is
chosen there and numbered:

1. *choice* We write elements in the DTOs' declaration order (the order .NET's
   XmlSerializer writes them) and no whitespace between them; we read in any order,
   ignore elements we do not know, and take a missing optional element as empty.
2. *choice* Amounts and rates: decimal comma, two decimals, no thousands separator
   (MEWS formats ``N2``/``F2`` in fr-FR and strips the separator), never negative: a
   return receipt is ``RefundAmount`` with positive figures (MEWS: "all numbers must be
   positive").
3. *choice* ``SubtotalAmount`` is the net sum at that rate (MEWS' test: 5,70 VAT on a
   subtotal of 47,50 at 12 %); see :func:`control_data_of` for how we derive it.
"""

from __future__ import annotations

import enum
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from protocols.skv import (
    ControlData,
    FieldError,
    ReceiptType,
    VatSlot,
    format_amount,
    format_rate,
    parse_amount,
    parse_rate,
    validate_orgnr,
)

__all__ = [
    "CONTENT_TYPE",
    "HTTP_PATH",
    "OK",
    "VAT_RATES",
    "ControlCode",
    "RegisterStatusRequest",
    "RegisterStatusResponse",
    "TcsControlData",
    "TcsError",
    "TcsRequest",
    "TcsResponse",
    "TcsVat",
    "control_data_of",
    "decode_request",
    "decode_response",
    "decode_status_response",
    "encode_request",
    "encode_response",
    "request_id_of",
    "skv_data_of",
]

HTTP_PATH: Final = "/tcsserver"
CONTENT_TYPE: Final = "application/xml; charset=utf-8"
OK: Final = 0  # ResponseCode of an accepted request
VAT_RATES: Final = (2500, 1200, 600, 0)  # VAT1..VAT4, in hundredths of a percent
DATETIME_FORMAT: Final = "%Y%m%d%H%M%S"
MAX_TEXT: Final = 256  # longest text field we write or read (ours; TCS publishes none)

_ROUNDING_SLACK: Final = 6  # öre: the most VAT rounding can hide across three rates
_REQUEST_ID_NAMESPACE: Final = uuid.UUID("9a4f3d0e-7c1b-5e26-b1a8-54c3f0e6d2a1")


class TcsError(FieldError):
    """A TCS document or value that cannot be read or written; ``field`` names where."""


class _Kind(enum.Enum):
    RECEIPT = "ControlData"
    STATUS = "RegisterStatus"


@dataclass(frozen=True, slots=True)
class TcsVat:
    """One VAT slot: rate in hundredths of a percent, VAT and net subtotal in öre."""

    percent: int
    amount: int
    subtotal: int


@dataclass(frozen=True, slots=True)
class TcsControlData:
    date_time: datetime
    org_nr: str
    register_id: str  # ManRegisterID
    register_address: str
    sequence_number: int
    receipt_type: ReceiptType
    vat: tuple[TcsVat, TcsVat, TcsVat, TcsVat]  # 25, 12, 6, 0 %, always all four
    sale_amount: int | None = None
    refund_amount: int | None = None
    copy_date_time: datetime | None = None
    copy_sequence_number: int | None = None

    def __post_init__(self) -> None:
        validate_orgnr(self.org_nr)
        _check_text("ControlData/ManRegisterID", self.register_id)
        _check_text("ControlData/RegisterAddress", self.register_address)
        _check_number("ControlData/SequenceNumber", self.sequence_number)
        if self.copy_sequence_number is not None:
            _check_number("ControlData/CopySequenceNumber", self.copy_sequence_number)
        if tuple(v.percent for v in self.vat) != VAT_RATES:
            raise TcsError("ControlData/VAT1", f"the four slots must be 25, 12, 6 and 0 %, got {self.vat}")
        for name, value in (("SaleAmount", self.sale_amount), ("RefundAmount", self.refund_amount)):
            if value is not None and value < 0:
                raise TcsError(f"ControlData/{name}", f"{value} öre: TCS amounts are never negative")


@dataclass(frozen=True, slots=True)
class TcsRequest:
    application_id: str
    request_id: uuid.UUID
    control_data: TcsControlData


@dataclass(frozen=True, slots=True)
class RegisterStatusRequest:
    application_id: str
    request_id: uuid.UUID
    org_nr: str
    register_id: str


@dataclass(frozen=True, slots=True)
class ControlCode:
    control_server_id: str
    code: str  # "" when the service sends none (copies, pro forma, training)


@dataclass(frozen=True, slots=True)
class RegisterStatusResponse:
    response_code: int
    response_message: str = ""
    response_reason: str = ""
    application_id: str = ""
    request_id: str = ""
    skv_response_code: str = ""
    skv_response_message: str = ""

    @property
    def ok(self) -> bool:
        return self.response_code == OK

    @property
    def said(self) -> str:
        """The service's words, as it said them, for a log or a refusal."""
        said = f"ResponseCode {self.response_code}"
        if self.response_message:
            said += f": {self.response_message}"
        if self.response_reason:
            said += f" ({self.response_reason})"
        if self.skv_response_code or self.skv_response_message:
            said += f"; SKVResponseCode {self.skv_response_code or '-'}"
            if self.skv_response_message:
                said += f": {self.skv_response_message}"
        return said


@dataclass(frozen=True, slots=True)
class TcsResponse(RegisterStatusResponse):
    sequence_number: str = ""
    control_code: ControlCode = ControlCode("", "")


# -- building a request from the register's data ---------------------------------------


def request_id_of(register_id: str, org_nr: str, seq: int) -> uuid.UUID:
    """The RequestID of registration ``seq``: the same every time it is sent, so a resend
    after a lost answer or a crash is recognisably the same request."""
    return uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{org_nr}/{register_id}/{seq}")


def _net_of(vat: int, rate: int) -> int:
    """The net amount whose VAT at ``rate`` (hundredths of %) is ``vat`` öre, to the öre."""
    return (abs(vat) * 10000 * 2 + rate) // (2 * rate)


def control_data_of(data: ControlData, *, register_id: str, register_address: str) -> TcsControlData:
    """The TCS ``ControlData`` for the register's receipt ``data``.

    ``SequenceNumber`` is the receipt number (TCS has no other field for it); a copy
    sends the original's number in both ``SequenceNumber`` and ``CopySequenceNumber``
    and its own time in ``DateTime`` and ``CopyDateTime``, as MEWS' test does. A return
    receipt (negative total) is ``RefundAmount``; a sale is ``SaleAmount`` (with any
    returns on it as ``RefundAmount``). ``ControlData`` carries VAT amounts only, so a
    slot's ``SubtotalAmount`` is derived: the VAT divided by the rate, to the öre; the
    0 % slot (when the receipt has one) gets what is left of the receipt's amount, and
    otherwise a rounding difference of a few öre goes to the highest rate with VAT.
    """
    by_rate = {slot.rate: slot.amount for slot in data.vat}
    unknown = sorted(set(by_rate) - set(VAT_RATES))
    if unknown:
        raise TcsError("ControlData/VAT", f"rate {format_rate(unknown[0])} is none of TCS's 25, 12, 6, 0 %")
    sale: int | None = data.total
    refund: int | None = data.return_total or None
    if data.total < 0:
        sale, refund = None, -data.total
    gross = abs(data.total)
    slots = [TcsVat(rate, abs(by_rate.get(rate, 0)), 0) for rate in VAT_RATES]
    slots = [TcsVat(s.percent, s.amount, _net_of(s.amount, s.percent) if s.percent else 0) for s in slots]
    rest = gross - sum(s.amount + s.subtotal for s in slots)
    if 0 in by_rate:  # the 0 % sales are what the other rates do not explain
        slots[3] = TcsVat(0, 0, max(rest, 0))
    elif rest and abs(rest) <= _ROUNDING_SLACK:
        # VAT rounded to the öre hides up to ~2 öre of the net: give the difference to the
        # highest rate with VAT, so that the slots add up to the receipt (MEWS: 50,45 + 12,61
        # + 47,50 + 5,70 = 116,26).
        for i, s in enumerate(slots[:3]):
            if s.amount:
                slots[i] = TcsVat(s.percent, s.amount, s.subtotal + rest)
                break
    copy = data.receipt_type is ReceiptType.COPY
    return TcsControlData(
        date_time=data.moment,
        org_nr=data.orgnr,
        register_id=register_id,
        register_address=register_address,
        sequence_number=data.receipt_no,
        receipt_type=data.receipt_type,
        vat=(slots[0], slots[1], slots[2], slots[3]),
        sale_amount=sale,
        refund_amount=refund,
        copy_date_time=data.moment if copy else None,
        copy_sequence_number=data.receipt_no if copy else None,
    )


def skv_data_of(control: TcsControlData, pos_id: str) -> ControlData:
    """The register's receipt data back from a TCS ``ControlData`` (what a unit stores)."""
    if control.sale_amount is None and control.refund_amount is None:
        raise TcsError("ControlData/SaleAmount", "a receipt needs SaleAmount or RefundAmount")
    if control.sale_amount is not None:
        total, returns = control.sale_amount, control.refund_amount or 0
    else:
        assert control.refund_amount is not None
        total, returns = -control.refund_amount, control.refund_amount
    sign = -1 if total < 0 else 1
    slots = tuple(VatSlot(v.percent, sign * v.amount) for v in control.vat if v.amount or v.subtotal)
    return ControlData(
        moment=control.date_time,
        orgnr=control.org_nr,
        pos_id=pos_id,
        receipt_no=control.sequence_number,
        receipt_type=control.receipt_type,
        total=total,
        return_total=returns,
        vat=slots,
    )


# -- writing ----------------------------------------------------------------------------


def _check_text(field: str, text: str) -> None:
    if not text.strip() or len(text) > MAX_TEXT:
        raise TcsError(field, f"{text!r} must be 1 to {MAX_TEXT} characters, not blank")
    if any(ord(ch) < 0x20 for ch in text):
        raise TcsError(field, f"{text!r} holds a control character")


def _check_number(field: str, number: int) -> None:
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**63:
        raise TcsError(field, f"{number!r} is not a whole number 0 or more")


def _sub(parent: ET.Element, name: str, text: str) -> None:
    ET.SubElement(parent, name).text = text


def _document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def _amount(ore: int, field: str) -> str:
    return format_amount(ore, field)


def encode_request(msg: TcsRequest | RegisterStatusRequest) -> bytes:
    """The document for ``msg``, in the DTOs' element order (choice 1)."""
    _check_text("TcsRequest/ApplicationID", msg.application_id)
    root = ET.Element("TcsRequest")
    _sub(root, "ApplicationID", msg.application_id)
    _sub(root, "RequestID", str(msg.request_id))
    if isinstance(msg, RegisterStatusRequest):
        _check_text("RegisterStatus/ManRegisterID", msg.register_id)
        status = ET.SubElement(root, _Kind.STATUS.value)
        _sub(status, "OrgNr", validate_orgnr(msg.org_nr))
        _sub(status, "ManRegisterID", msg.register_id)
        return _document(root)
    c = msg.control_data
    data = ET.SubElement(root, _Kind.RECEIPT.value)
    _sub(data, "DateTime", c.date_time.strftime(DATETIME_FORMAT))
    if c.copy_date_time is not None:
        _sub(data, "CopyDateTime", c.copy_date_time.strftime(DATETIME_FORMAT))
    _sub(data, "OrgNr", c.org_nr)
    _sub(data, "ManRegisterID", c.register_id)
    _sub(data, "RegisterAddress", c.register_address)
    _sub(data, "SequenceNumber", str(c.sequence_number))
    if c.copy_sequence_number is not None:
        _sub(data, "CopySequenceNumber", str(c.copy_sequence_number))
    ET.SubElement(data, "ReceiptType", {"Type": c.receipt_type.value})
    if c.sale_amount is not None:
        _sub(data, "SaleAmount", _amount(c.sale_amount, "ControlData/SaleAmount"))
    if c.refund_amount is not None:
        _sub(data, "RefundAmount", _amount(c.refund_amount, "ControlData/RefundAmount"))
    for i, vat in enumerate(c.vat, start=1):
        slot = ET.SubElement(data, f"VAT{i}")
        _sub(slot, "Percent", format_rate(vat.percent, f"ControlData/VAT{i}/Percent"))
        _sub(slot, "Amount", _amount(vat.amount, f"ControlData/VAT{i}/Amount"))
        _sub(slot, "SubtotalAmount", _amount(vat.subtotal, f"ControlData/VAT{i}/SubtotalAmount"))
    return _document(root)


def encode_response(msg: RegisterStatusResponse) -> bytes:
    """The service's answer (the simulator writes it): the status answer stops after
    ``SKVResponseMessage``; a receipt's goes on with ``SequenceNumber`` and ``ControlCode``."""
    root = ET.Element("TcsResponse")
    _sub(root, "ResponseCode", str(msg.response_code))
    for name, text in (
        ("ResponseMessage", msg.response_message),
        ("ResponseReason", msg.response_reason),
        ("ApplicationID", msg.application_id),
        ("RequestID", msg.request_id),
        ("SKVResponseCode", msg.skv_response_code),
        ("SKVResponseMessage", msg.skv_response_message),
    ):
        _sub(root, name, text)
    if isinstance(msg, TcsResponse):
        _sub(root, "SequenceNumber", msg.sequence_number)
        code = ET.SubElement(root, "ControlCode")
        _sub(code, "ControlServerID", msg.control_code.control_server_id)
        _sub(code, "Code", msg.control_code.code)
    return _document(root)


# -- reading ----------------------------------------------------------------------------


def _parse(body: bytes, root_name: str) -> ET.Element:
    try:
        root: ET.Element = DET.fromstring(body)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise TcsError(root_name, f"not a well-formed XML document ({exc})") from None
    if root.tag != root_name:
        raise TcsError(root_name, f"the document is <{root.tag}>, not <{root_name}>")
    return root


class _Reader:
    """The children of one element, read by name in any order (choice 1)."""

    def __init__(self, element: ET.Element, path: str) -> None:
        self.element = element
        self.path = path
        self._children: dict[str, ET.Element] = {}
        for child in element:  # the parser drops comments and processing instructions
            if child.tag in self._children:
                raise TcsError(f"{path}/{child.tag}", "appears twice")
            self._children[child.tag] = child

    def field(self, name: str) -> str:
        return f"{self.path}/{name}"

    def has(self, name: str) -> bool:
        return name in self._children

    def child(self, name: str) -> _Reader:
        node = self._children.get(name)
        if node is None:
            raise TcsError(self.field(name), "is missing")
        return _Reader(node, self.field(name))

    def text(self, name: str, *, required: bool = False) -> str:
        node = self._children.get(name)
        if node is None:
            if required:
                raise TcsError(self.field(name), "is missing")
            return ""
        text = (node.text or "").strip()
        if len(text) > MAX_TEXT:
            raise TcsError(self.field(name), f"is longer than {MAX_TEXT} characters")
        if required and not text:
            raise TcsError(self.field(name), "is empty")
        return text

    def integer(self, name: str) -> int:
        text = self.text(name, required=True)
        if not text.lstrip("-").isdigit():
            raise TcsError(self.field(name), f"{text!r} is not a whole number")
        return int(text)

    def moment(self, name: str) -> datetime:
        text = self.text(name, required=True)
        try:
            if len(text) != 14 or not text.isdigit():
                raise ValueError("not 14 digits")
            return datetime.strptime(text, DATETIME_FORMAT)
        except ValueError:
            raise TcsError(self.field(name), f"{text!r} is not a date and time yyyyMMddHHmmss") from None

    def amount(self, name: str) -> int:
        value = parse_amount(self.text(name, required=True), self.field(name))
        if value < 0:
            raise TcsError(self.field(name), f"{value} öre: TCS amounts are never negative")
        return value


def _read_vat(data: _Reader, i: int) -> TcsVat:
    slot = data.child(f"VAT{i}")
    return TcsVat(
        parse_rate(slot.text("Percent", required=True), slot.field("Percent")),
        slot.amount("Amount"),
        slot.amount("SubtotalAmount"),
    )


def _read_control_data(data: _Reader) -> TcsControlData:
    kind = data.child("ReceiptType").element.get("Type", "")
    try:
        receipt_type = ReceiptType(kind)
    except ValueError:
        allowed = ", ".join(t.value for t in ReceiptType)
        raise TcsError(data.field("ReceiptType/@Type"), f"{kind!r} is not one of {allowed}") from None
    org_nr = data.text("OrgNr", required=True)
    try:
        validate_orgnr(org_nr)
    except FieldError as exc:
        raise TcsError(data.field("OrgNr"), exc.reason) from None
    vat = (_read_vat(data, 1), _read_vat(data, 2), _read_vat(data, 3), _read_vat(data, 4))
    if tuple(v.percent for v in vat) != VAT_RATES:
        rates = ", ".join(format_rate(v.percent) for v in vat)
        raise TcsError(data.field("VAT1"), f"VAT1..VAT4 must be 25, 12, 6, 0 %, got {rates}")
    return TcsControlData(
        date_time=data.moment("DateTime"),
        org_nr=org_nr,
        register_id=data.text("ManRegisterID", required=True),
        register_address=data.text("RegisterAddress", required=True),
        sequence_number=data.integer("SequenceNumber"),
        receipt_type=receipt_type,
        vat=vat,
        sale_amount=data.amount("SaleAmount") if data.has("SaleAmount") else None,
        refund_amount=data.amount("RefundAmount") if data.has("RefundAmount") else None,
        copy_date_time=data.moment("CopyDateTime") if data.has("CopyDateTime") else None,
        copy_sequence_number=data.integer("CopySequenceNumber") if data.has("CopySequenceNumber") else None,
    )


def decode_request(body: bytes) -> TcsRequest | RegisterStatusRequest:
    """A register's request (the simulator reads it); errors name the bad field."""
    root = _Reader(_parse(body, "TcsRequest"), "TcsRequest")
    application_id = root.text("ApplicationID", required=True)
    text = root.text("RequestID", required=True)
    try:
        request_id = uuid.UUID(text)
    except ValueError:
        raise TcsError(root.field("RequestID"), f"{text!r} is not a GUID") from None
    if root.has(_Kind.STATUS.value):
        status = root.child(_Kind.STATUS.value)
        org_nr = status.text("OrgNr", required=True)
        try:
            validate_orgnr(org_nr)
        except FieldError as exc:
            raise TcsError(status.field("OrgNr"), exc.reason) from None
        return RegisterStatusRequest(
            application_id, request_id, org_nr, status.text("ManRegisterID", required=True)
        )
    try:
        control = _read_control_data(root.child(_Kind.RECEIPT.value))
    except FieldError as exc:  # TcsErrors name their field; skv's checks name theirs only
        if isinstance(exc, TcsError):
            raise
        where = exc.field if exc.field.startswith("TcsRequest/") else f"TcsRequest/ControlData/{exc.field}"
        raise TcsError(where, exc.reason) from None
    return TcsRequest(application_id, request_id, control)


def _read_status(root: _Reader) -> RegisterStatusResponse:
    return RegisterStatusResponse(
        response_code=root.integer("ResponseCode"),
        response_message=root.text("ResponseMessage"),
        response_reason=root.text("ResponseReason"),
        application_id=root.text("ApplicationID"),
        request_id=root.text("RequestID"),
        skv_response_code=root.text("SKVResponseCode"),
        skv_response_message=root.text("SKVResponseMessage"),
    )


def decode_status_response(body: bytes) -> RegisterStatusResponse:
    """The answer to a ``RegisterStatus`` request."""
    return _read_status(_Reader(_parse(body, "TcsResponse"), "TcsResponse"))


def decode_response(body: bytes) -> TcsResponse:
    """The answer to a receipt; ``ControlCode`` and its fields may be missing or empty
    (the driver judges whether a code was needed)."""
    root = _Reader(_parse(body, "TcsResponse"), "TcsResponse")
    status = _read_status(root)
    code = ControlCode("", "")
    if root.has("ControlCode"):
        node = root.child("ControlCode")
        code = ControlCode(node.text("ControlServerID"), node.text("Code"))
    return TcsResponse(
        status.response_code,
        status.response_message,
        status.response_reason,
        status.application_id,
        status.request_id,
        status.skv_response_code,
        status.skv_response_message,
        sequence_number=root.text("SequenceNumber"),
        control_code=code,
    )
