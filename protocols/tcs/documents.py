"""The TCS documents: UTF-8 XML without a namespace, written in the DTOs' element order
and read in any order (choice 1 in the package's doc)."""

from __future__ import annotations

import enum
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Final

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from protocols.skv import (
    FieldError,
    ReceiptType,
    format_amount,
    format_rate,
    parse_amount,
    parse_rate,
    validate_orgnr,
)
from protocols.tcs.messages import (
    MAX_TEXT,
    VAT_RATES,
    ControlCode,
    RegisterStatusRequest,
    RegisterStatusResponse,
    TcsControlData,
    TcsError,
    TcsRequest,
    TcsResponse,
    TcsVat,
    check_text,
)

HTTP_PATH: Final = "/tcsserver"
CONTENT_TYPE: Final = "application/xml; charset=utf-8"


DATETIME_FORMAT: Final = "%Y%m%d%H%M%S"


class _Kind(enum.Enum):
    RECEIPT = "ControlData"
    STATUS = "RegisterStatus"


def _sub(parent: ET.Element, name: str, text: str) -> None:
    ET.SubElement(parent, name).text = text


def _document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def _amount(ore: int, field: str) -> str:
    return format_amount(ore, field)


def encode_request(msg: TcsRequest | RegisterStatusRequest) -> bytes:
    """The document for ``msg``, in the DTOs' element order (choice 1)."""
    check_text("TcsRequest/ApplicationID", msg.application_id)
    root = ET.Element("TcsRequest")
    _sub(root, "ApplicationID", msg.application_id)
    _sub(root, "RequestID", str(msg.request_id))
    if isinstance(msg, RegisterStatusRequest):
        check_text("RegisterStatus/ManRegisterID", msg.register_id)
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


class Reader:
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

    def child(self, name: str) -> Reader:
        node = self._children.get(name)
        if node is None:
            raise TcsError(self.field(name), "is missing")
        return Reader(node, self.field(name))

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


def _read_vat(data: Reader, i: int) -> TcsVat:
    slot = data.child(f"VAT{i}")
    return TcsVat(
        parse_rate(slot.text("Percent", required=True), slot.field("Percent")),
        slot.amount("Amount"),
        slot.amount("SubtotalAmount"),
    )


def _read_control_data(data: Reader) -> TcsControlData:
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
    root = Reader(_parse(body, "TcsRequest"), "TcsRequest")
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


def _read_status(root: Reader) -> RegisterStatusResponse:
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
    return _read_status(Reader(_parse(body, "TcsResponse"), "TcsResponse"))


def decode_response(body: bytes) -> TcsResponse:
    """The answer to a receipt; ``ControlCode`` and its fields may be missing or empty
    (the driver judges whether a code was needed)."""
    root = Reader(_parse(body, "TcsResponse"), "TcsResponse")
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
