"""CleanCash XML protocol over HTTP (XCCSP): documents and messages.

The register POSTs one XML document to ``http://host:8081/xccsp`` (the hosted CleanCash
service and LAN servers); the server answers with one XML document. This module turns
those documents into typed, frozen messages and back. Pure: bytes in, typed messages
out, and back. No I/O, no HTTP.

A request, as real clients send it and as we write it (``encode_request``)::

    <?xml version="1.0" encoding="ISO-8859-1"?>
    <request xmlns="http://www.retailinnovation.se/xccsp">
      <type>RequestStatus</type>
      <data>
        <StatusRequest>
          <PosId>KASSA-1</PosId>
          <OrgNo>5560360793</OrgNo>
        </StatusRequest>
      </data>
    </request>

and a reply, as the real service sends it::

    <?xml version="1.0" encoding="iso-8859-1"?>
    <response xmlns:xsi="…" xmlns:xsd="…" xmlns="http://www.retailinnovation.se/xccsp">
      <type>RegisterReceiptResponse</type>
      <data>
        <RegisterResult>
          <Code>WKZQUH56H7X3DVQEJPHOYNWDV7HS223N;BA7WNV7ODW6RCY4ZLNLF4J66IM</Code>
          <UnitId>RIHTT131550010466</UnitId>
          <UnitMainStatus>0</UnitMainStatus>
          <UnitStorageStatus>0</UnitStorageStatus>
        </RegisterResult>
      </data>
    </response>

What the sources fix (docs/protocols/xccsp.md names the source of each): the URL and
port, ISO-8859-1, the namespace, the envelope, that ``data`` holds ONE wrapper element
(``Receipt``, ``StatusRequest``, ``IdentityRequest``; ``RegisterResult``, ``Status``,
``Identity``, ``FaultInfo``) around the fields, the element names, the fault codes,
``IsNewSession`` written ``1``/``0``, amounts and rates with a decimal comma, main status
99 (no connection with the CleanCash unit), and that a training or pro forma receipt
gets no control code. Where the sources stop, the choices are ours:

1. *choice* Decoding is lenient where real peers may differ and strict where a wrong
   reading could make a receipt: extra elements and attributes (``xmlns:xsi``) are
   ignored, fields are read in any order, elements in no namespace are read too (a
   prefix is fine), numbers may be padded with whitespace; a known element twice, a
   missing wrapper or a reply ``type`` that does not answer the request is an error.
2. *choice* ``Code`` may be empty or missing (training and pro forma receipts); whether
   a code is needed is the driver's judgement, not the codec's. ``Firmware``, ``Type`` and
   ``InstalledLicenses`` may be missing or empty (``""``, ``None``).
3. *choice* Statuses are decimal integers with the meanings of CCSP's
   :class:`~protocols.ccsp.MainStatus` (0 OK … 5 busy, 99 no unit behind the server)
   and :class:`~protocols.ccsp.StorageStatus` (0 OK, 1 high-level warning, 2 full);
   any other number is an error.
4. *choice* ``NegativeTotal`` is returbelopp, the absolute sum of the return lines. We
   write it without a sign (``12,00``) as NaviPartner's client does; a ``-12,00`` is read
   as the same amount.
5. *choice* ``Vat/Class`` is the slot 1..4; we write the slots in order; decoding orders
   ``Vat`` elements by Class. An unused slot is not written; a Class or rate only once.
6. *choice* A fault is recognised whatever request it answers. A fault code outside
   the known list is kept as its number (still a :class:`Fault`, never an error).
   A bare root ``<Fault><FaultInfo>…`` is read too.
7. *choice* We write ISO-8859-1 with its XML declaration, the default namespace on the
   root, two-space indentation and the reference's element order. A character outside
   Latin-1 becomes a character reference.
8. *choice* Decoding honours the declared encoding (or a BOM); with none, UTF-8 and,
   if that fails, ISO-8859-1. Untrusted bytes are parsed with ``defusedxml``, DTDs
   forbidden.

Errors: every problem with a document raises :class:`XccspError` (a ``ValueError``) whose
message starts with the path of the wrong element. :class:`EnvelopeError` is about the
document or envelope (``document: not well-formed XML …``, ``response/data: holds no
<RegisterResult>``), :class:`UnknownTypeError` about an unknown ``type``, and
:class:`DataError` (also a :class:`protocols.skv.FieldError`, whose ``field`` is the path)
about the message's data. Data paths start with the message's ``type`` name, standing
for its wrapper element: ``RegisterReceipt/VatList/Vat[2]/Amount: '12.50' is not an
amount with a decimal comma and two decimals``. Each error class names the
:class:`FaultCode` a server answers it with (``to_fault``).
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar, overload
from xml.etree import ElementTree as ET

import defusedxml
import defusedxml.ElementTree as SafeET

from protocols.ccsp import SEQ_MAX, MainStatus, NakCode, StorageStatus
from protocols.skv import (
    RECEIPT_NO_MAX_DIGITS,
    VAT_SLOTS,
    ControlData,
    FieldError,
    ReceiptType,
    VatSlot,
    format_amount,
    format_rate,
    parse_amount,
    parse_datetime,
    parse_rate,
    validate_orgnr,
    validate_pos_id,
)

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_PORT",
    "ENCODING",
    "HTTP_PATH",
    "NAMESPACE",
    "SERIAL_MAX",
    "ControlData",
    "DataError",
    "EnvelopeError",
    "Fault",
    "FaultCode",
    "IdentityResponse",
    "MainStatus",
    "RegisterReceipt",
    "RegisterReceiptResponse",
    "Reply",
    "Request",
    "RequestIdentity",
    "RequestStatus",
    "StatusResponse",
    "StorageStatus",
    "UnknownTypeError",
    "XccspError",
    "decode_reply",
    "decode_request",
    "encode_reply",
    "encode_request",
    "envelope_pos_ids",
]

NAMESPACE = "http://www.retailinnovation.se/xccsp"
ENCODING = "ISO-8859-1"
DEFAULT_PORT = 8081
HTTP_PATH = "/xccsp"
CONTENT_TYPE = "text/xml; charset=iso-8859-1"  # as the reference and real clients send it
SERIAL_MAX = SEQ_MAX  # "Max value 4294967295" in the spec text NaviPartner quotes

_DECLARATION = f'<?xml version="1.0" encoding="{ENCODING}"?>\n'
_INDENT = "  "
_FAULT = "Fault"


# --------------------------------------------------------------------------------------
# Fault codes and errors
# --------------------------------------------------------------------------------------


class FaultCode(enum.IntEnum):
    """``FaultInfo/Code``: why a unit refused a request."""

    UNKNOWN_REQUEST = 2
    INVALID_DATA = 3
    NOT_OPERATIONAL = 6
    INVALID_POS_ID = 7
    INTERNAL_ERROR = 8
    LICENSE_EXCEEDED = 9
    STORAGE_FULL = 10
    SERVER_ERROR = 98
    NO_UNIT = 99

    @property
    def text(self) -> str:
        return _FAULT_TEXTS[self]

    @property
    def nak(self) -> NakCode | None:
        """The CCSP ``NAK`` code with the same meaning, if there is one."""
        return _FAULT_NAKS.get(self)


_FAULT_NAKS = {
    FaultCode.UNKNOWN_REQUEST: NakCode.UNKNOWN_MESSAGE,
    FaultCode.INVALID_DATA: NakCode.INVALID_DATA,
    FaultCode.NOT_OPERATIONAL: NakCode.NOT_OPERATIONAL,
    FaultCode.INVALID_POS_ID: NakCode.INVALID_POS_ID,
    FaultCode.INTERNAL_ERROR: NakCode.INTERNAL_ERROR,
    FaultCode.LICENSE_EXCEEDED: NakCode.LICENSE_EXCEEDED,
    FaultCode.STORAGE_FULL: NakCode.STORAGE_FULL,
}

# The captions of the fault codes in the spec text NaviPartner's client carries.
_FAULT_TEXTS = {
    FaultCode.UNKNOWN_REQUEST: "Unknown request",
    FaultCode.INVALID_DATA: "Invalid data or parameter",
    FaultCode.NOT_OPERATIONAL: "CleanCash unit not operational",
    FaultCode.INVALID_POS_ID: "Invalid POS Id",
    FaultCode.INTERNAL_ERROR: "CleanCash Internal Error",
    FaultCode.LICENSE_EXCEEDED: "License Exceeded",
    FaultCode.STORAGE_FULL: "Internal storage in CleanCash full",
    FaultCode.SERVER_ERROR: "CleanCash server internal error",
    FaultCode.NO_UNIT: "No connection with CleanCash unit",
}


class XccspError(ValueError):
    """Bytes that are not a valid XCCSP document, or a message that cannot be written.

    ``path`` names the wrong element (``document`` for the document as a whole) and
    ``reason`` says what is wrong with it; ``str(error)`` is ``"path: reason"``.
    """

    fault_code: ClassVar[FaultCode] = FaultCode.INVALID_DATA

    def __init__(self, path: str, reason: str) -> None:
        # Not super(): in DataError the next class in line is FieldError, whose
        # constructor formats the same message from other arguments.
        ValueError.__init__(self, f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def to_fault(self) -> Fault:
        """The fault a unit answers this error with."""
        return Fault.of(self.fault_code, str(self))


class EnvelopeError(XccspError):
    """The document is not XML, or its root, ``type`` or ``data`` is wrong."""


class UnknownTypeError(EnvelopeError):
    """The envelope's ``type`` names no message we know."""

    fault_code: ClassVar[FaultCode] = FaultCode.UNKNOWN_REQUEST


class DataError(XccspError, FieldError):
    """The message's data is wrong: an element is missing, repeated or has a bad value.

    Also a :class:`protocols.skv.FieldError` whose ``field`` is the element path.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.field = path


# Where each protocols.skv field name travels in a RegisterReceipt (or another request).
_ELEMENT_OF_FIELD = {
    "date": "Date",
    "orgnr": "OrgNo",
    "pos_id": "PosId",
    "receipt_no": "ReceiptId",
    "receipt_type": "ReceiptType",
    "total": "ReceiptTotal",
    "return_total": "NegativeTotal",
    "vat": "VatList",
    "serial_no": "SerialNo",
    "is_new_session": "IsNewSession",
}
_VAT_FIELD_RE = re.compile(r"^vat(\d+)(?: (rate|amount))?$")


def _element_path(prefix: str, field: str) -> str:
    """The element path of a :class:`FieldError`'s ``field`` inside message ``prefix``."""
    if "/" in field:  # already a path: we passed it to the skv parser ourselves
        return field
    element = _ELEMENT_OF_FIELD.get(field)
    if element is not None:
        return f"{prefix}/{element}"
    m = _VAT_FIELD_RE.match(field)
    if m is not None:
        leaf = {"rate": "/Percentage", "amount": "/Amount"}.get(m.group(2) or "", "")
        return f"{prefix}/VatList/Vat[{m.group(1)}]{leaf}"
    return f"{prefix}/{field}"


@contextlib.contextmanager
def _field_errors(prefix: str) -> Iterator[None]:
    """Turn a :class:`FieldError` named by skv field into a :class:`DataError` by path."""
    try:
        yield
    except DataError:
        raise
    except FieldError as exc:
        raise DataError(_element_path(prefix, exc.field), exc.reason) from exc


# --------------------------------------------------------------------------------------
# Reading and writing elements
# --------------------------------------------------------------------------------------

# Characters XML 1.0 text can carry, less CR (a parser turns a raw CR into LF).
_BAD_TEXT_RE = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DIGITS_RE = re.compile(r"^[0-9]{1,18}$")
_RECEIPT_NO_RE = re.compile(rf"^[0-9]{{1,{RECEIPT_NO_MAX_DIGITS}}}$")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

E = TypeVar("E", bound=enum.IntEnum)


def _local_name(tag: object) -> str | None:
    """An element's name if it is in our namespace or in none; else ``None``."""
    if not isinstance(tag, str):
        return None
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return local if namespace == NAMESPACE else None
    return tag


class _Reader:
    """An element being read, with its path for error messages."""

    __slots__ = ("elem", "path")

    def __init__(self, elem: ET.Element, path: str) -> None:
        self.elem = elem
        self.path = path

    def _found(self, name: str) -> list[ET.Element]:
        return [child for child in self.elem if _local_name(child.tag) == name]

    def one(self, name: str) -> _Reader:
        found = self._found(name)
        path = f"{self.path}/{name}"
        if not found:
            raise DataError(path, "missing")
        if len(found) > 1:
            raise DataError(path, f"appears {len(found)} times; expected once")
        return _Reader(found[0], path)

    def many(self, name: str) -> list[_Reader]:
        return [
            _Reader(elem, f"{self.path}/{name}[{i}]") for i, elem in enumerate(self._found(name), start=1)
        ]

    def value(self) -> str:
        if len(self.elem):
            raise DataError(self.path, "has child elements where a value is expected")
        return self.elem.text or ""

    def text(self, name: str, *, required: bool = False) -> str:
        node = self.one(name)
        value = node.value()
        if required and not value:
            raise DataError(node.path, "must not be empty")
        return value

    def optional_text(self, name: str) -> str:
        return self.text(name) if self._found(name) else ""

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        """An integer that may be missing or empty (``None``)."""
        if not self._found(name) or not self.one(name).value().strip():
            return None
        return self.integer(name, low, high)

    def wrapper(self, name: str, root_name: str) -> _Reader:
        """The one element ``data`` wraps a message's fields in (``Receipt``, ``Status``, …)."""
        found = self._found(name)
        if len(found) != 1:
            others = [str(_local_name(c.tag) or c.tag) for c in self.elem]
            held = f"holds {', '.join(f'<{o}>' for o in others)}" if others else "is empty"
            count = "no" if not found else f"{len(found)} times"
            raise EnvelopeError(f"{root_name}/data", f"{count} <{name}>, expected one; it {held}")
        return _Reader(found[0], self.path)

    def integer(self, name: str, low: int, high: int) -> int:
        node = self.one(name)
        text = node.value().strip()  # a number padded by a pretty-printer is still that number
        if not _DIGITS_RE.match(text):
            raise DataError(node.path, f"{text!r} is not a decimal integer")
        value = int(text)
        if not low <= value <= high:
            raise DataError(node.path, f"{value} is outside {low}..{high}")
        return value

    def boolean(self, name: str) -> bool:
        node = self.one(name)
        text = node.value()
        value = _BOOLEANS.get(text.strip().lower())
        if value is None:
            raise DataError(node.path, f"{text!r} is not a boolean (1 or 0)")
        return value

    def enum(self, name: str, kind: type[E]) -> E:
        value = self.integer(name, 0, 999)
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(f"{m.value} {m.name}" for m in kind)
            raise DataError(
                f"{self.path}/{name}", f"{value} is not a known {kind.__name__} ({known})"
            ) from None


class _Writer:
    """An element being written, with its path for error messages."""

    __slots__ = ("elem", "path")

    def __init__(self, elem: ET.Element, path: str) -> None:
        self.elem = elem
        self.path = path

    def child(self, name: str, index: int | None = None) -> _Writer:
        path = f"{self.path}/{name}" if index is None else f"{self.path}/{name}[{index}]"
        return _Writer(ET.SubElement(self.elem, name), path)

    def text(self, name: str, value: str, *, required: bool = False) -> None:
        path = f"{self.path}/{name}"
        if not isinstance(value, str):
            raise DataError(path, f"must be text, got {value!r}")
        if required and not value:
            raise DataError(path, "must not be empty")
        bad = _BAD_TEXT_RE.search(value)
        if bad is not None:
            raise DataError(path, f"{value!r} holds {bad.group()!r}, which XML text cannot carry")
        ET.SubElement(self.elem, name).text = value

    def integer(self, name: str, value: int, low: int, high: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DataError(f"{self.path}/{name}", f"{value!r} is not an integer in {low}..{high}")
        self.text(name, str(int(value)))

    def boolean(self, name: str, value: bool) -> None:
        if not isinstance(value, bool):
            raise DataError(f"{self.path}/{name}", f"{value!r} is not True or False")
        self.text(name, "1" if value else "0")  # as every known client writes IsNewSession

    def enum(self, name: str, kind: type[E], value: E) -> None:
        try:
            member = kind(value)
        except ValueError:
            raise DataError(f"{self.path}/{name}", f"{value!r} is not a {kind.__name__}") from None
        self.text(name, str(member.value))


# --------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------


class Reply:
    """A document the unit sends back on success (a :class:`Fault` is not a Reply)."""

    __slots__ = ()
    TYPE: ClassVar[str]  # the envelope's <type>
    WRAPPER: ClassVar[str]  # the one element inside <data> that holds the fields

    def _write(self, w: _Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        raise NotImplementedError


class Request:
    """A document the register sends to the unit."""

    __slots__ = ()
    TYPE: ClassVar[str]  # the envelope's <type>
    WRAPPER: ClassVar[str]  # the one element inside <data> that holds the fields
    REPLY: ClassVar[type[Reply]]

    def _write(self, w: _Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class RegisterReceiptResponse(Reply):
    """The control code for one receipt, the unit's id and its state after registering."""

    TYPE: ClassVar[str] = "RegisterReceiptResponse"
    WRAPPER: ClassVar[str] = "RegisterResult"
    code: str  # "" for a training or pro forma receipt (choice 2)
    unit_id: str
    main: MainStatus
    storage: StorageStatus

    def _write(self, w: _Writer) -> None:
        w.text("Code", self.code)
        w.text("UnitId", self.unit_id, required=True)
        w.enum("UnitMainStatus", MainStatus, self.main)
        w.enum("UnitStorageStatus", StorageStatus, self.storage)

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        return cls(
            code=r.optional_text("Code").strip(),
            unit_id=r.text("UnitId", required=True),
            main=r.enum("UnitMainStatus", MainStatus),
            storage=r.enum("UnitStorageStatus", StorageStatus),
        )


@dataclass(frozen=True, slots=True)
class StatusResponse(Reply):
    TYPE: ClassVar[str] = "StatusResponse"
    WRAPPER: ClassVar[str] = "Status"
    unit_id: str
    firmware: str
    installed_licenses: int | None  # None: the server did not say
    main: MainStatus
    storage: StorageStatus
    unit_type: str

    def _write(self, w: _Writer) -> None:
        w.text("Id", self.unit_id, required=True)
        w.text("Firmware", self.firmware)
        if self.installed_licenses is not None:
            w.integer("InstalledLicenses", self.installed_licenses, 0, _LICENSES_MAX)
        w.enum("MainStatus", MainStatus, self.main)
        w.enum("StorageStatus", StorageStatus, self.storage)
        w.text("Type", self.unit_type)

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        return cls(
            unit_id=r.text("Id", required=True),
            firmware=r.optional_text("Firmware"),
            installed_licenses=r.optional_integer("InstalledLicenses", 0, _LICENSES_MAX),
            main=r.enum("MainStatus", MainStatus),
            storage=r.enum("StorageStatus", StorageStatus),
            unit_type=r.optional_text("Type"),
        )


_LICENSES_MAX = 999_999


@dataclass(frozen=True, slots=True)
class IdentityResponse(Reply):
    TYPE: ClassVar[str] = "IdentityResponse"
    WRAPPER: ClassVar[str] = "Identity"
    unit_id: str
    firmware: str
    unit_type: str

    def _write(self, w: _Writer) -> None:
        w.text("Id", self.unit_id, required=True)
        w.text("Firmware", self.firmware)
        w.text("Type", self.unit_type)

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        return cls(
            unit_id=r.text("Id", required=True),
            firmware=r.optional_text("Firmware"),
            unit_type=r.optional_text("Type"),
        )


@dataclass(frozen=True, slots=True)
class Fault:
    """The unit refused the request. ``code`` is a :class:`FaultCode` when known.

    Not a :class:`Reply`: ``isinstance(answer, Fault)`` is the failure test.
    """

    TYPE: ClassVar[str] = _FAULT
    WRAPPER: ClassVar[str] = "FaultInfo"
    code: FaultCode | int
    short_message: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.code, bool) or not isinstance(self.code, int) or self.code < 0:
            raise FieldError("code", f"must be a non-negative integer, got {self.code!r}")
        if not isinstance(self.code, FaultCode):
            with contextlib.suppress(ValueError):
                object.__setattr__(self, "code", FaultCode(self.code))

    @classmethod
    def of(cls, code: FaultCode, message: str = "") -> Fault:
        """A fault with the code's own text as its short message."""
        return cls(code, code.text, message)

    @property
    def text(self) -> str:
        """What the code means, in words."""
        if isinstance(self.code, FaultCode):
            return self.code.text
        return f"unknown fault code {self.code}"

    @property
    def said(self) -> str:
        """The fault as the server put it: ``Fault 7: Invalid POS Id (…)``."""
        words = [w for w in (self.short_message.strip(), self.message.strip()) if w]
        if len(words) == 2 and words[0] != words[1]:
            return f"Fault {int(self.code)}: {words[0]} ({words[1]})"
        return f"Fault {int(self.code)}: {words[0] if words else self.text}"

    def _write(self, w: _Writer) -> None:
        w.integer("Code", self.code, 0, _FAULT_CODE_MAX)
        w.text("ShortMessage", self.short_message)
        w.text("Message", self.message)

    @classmethod
    def _read(cls, info: _Reader) -> Fault:
        return cls(
            code=info.integer("Code", 0, _FAULT_CODE_MAX),
            short_message=info.optional_text("ShortMessage"),
            message=info.optional_text("Message"),
        )


_FAULT_CODE_MAX = 999_999_999


def _check_pos_and_orgnr(pos_id: str, orgnr: str) -> None:
    validate_pos_id(pos_id)
    if validate_orgnr(orgnr) != orgnr:
        raise FieldError("orgnr", f"{orgnr!r} must be 10 digits without a hyphen")


@dataclass(frozen=True, slots=True)
class _Query(Request):
    """A request that carries only the register's POS id and the shop's organisation number."""

    pos_id: str
    orgnr: str

    def __post_init__(self) -> None:
        _check_pos_and_orgnr(self.pos_id, self.orgnr)

    def _write(self, w: _Writer) -> None:
        w.text("PosId", self.pos_id)
        w.text("OrgNo", self.orgnr)

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        pos_id, orgnr = r.text("PosId"), r.text("OrgNo")
        with _field_errors(r.path):
            return cls(pos_id, orgnr)


@dataclass(frozen=True, slots=True)
class RequestIdentity(_Query):
    """Asks the unit who it is."""

    TYPE: ClassVar[str] = "RequestIdentity"
    WRAPPER: ClassVar[str] = "IdentityRequest"
    REPLY: ClassVar[type[Reply]] = IdentityResponse


@dataclass(frozen=True, slots=True)
class RequestStatus(_Query):
    """Asks the unit for its state."""

    TYPE: ClassVar[str] = "RequestStatus"
    WRAPPER: ClassVar[str] = "StatusRequest"
    REPLY: ClassVar[type[Reply]] = StatusResponse


@dataclass(frozen=True, slots=True)
class RegisterReceipt(Request):
    """Registers one receipt. ``serial_no`` lets the server spot a repeat: "if the same
    serialnumber is sent repeatedly all but the first are ignored" (the spec text NP quotes)."""

    TYPE: ClassVar[str] = "RegisterReceipt"
    WRAPPER: ClassVar[str] = "Receipt"
    REPLY: ClassVar[type[Reply]] = RegisterReceiptResponse
    serial_no: int
    is_new_session: bool
    data: ControlData

    def __post_init__(self) -> None:
        serial = self.serial_no
        if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= SERIAL_MAX:
            raise FieldError("serial_no", f"{serial!r} is not an integer in 1..{SERIAL_MAX}")
        if not isinstance(self.is_new_session, bool):
            raise FieldError("is_new_session", f"{self.is_new_session!r} is not True or False")
        if not isinstance(self.data, ControlData):
            raise FieldError("data", f"{self.data!r} is not a ControlData")

    def _write(self, w: _Writer) -> None:
        d = self.data
        with _field_errors(w.path):
            w.boolean("IsNewSession", self.is_new_session)
            w.integer("SerialNo", self.serial_no, 1, SERIAL_MAX)
            w.text("Date", d.date_text)
            w.text("ReceiptId", d.receipt_no_text)
            w.text("PosId", d.pos_id)
            w.text("OrgNo", d.orgnr)
            w.text("ReceiptTotal", d.total_text)
            w.text("NegativeTotal", d.return_total_text)
            w.text("ReceiptType", d.receipt_type.value)
            vat_list = w.child("VatList")
            for vat_class, slot in enumerate(d.vat, start=1):
                vat = vat_list.child("Vat", vat_class)
                vat.integer("Class", vat_class, 1, VAT_SLOTS)
                vat.text("Percentage", format_rate(slot.rate, f"{vat.path}/Percentage"))
                vat.text("Amount", format_amount(slot.amount, f"{vat.path}/Amount"))

    @classmethod
    def _read(cls, r: _Reader) -> Self:
        with _field_errors(r.path):
            is_new_session = r.boolean("IsNewSession")
            serial_no = r.integer("SerialNo", 1, SERIAL_MAX)
            moment = parse_datetime(r.text("Date"))
            receipt_id = r.one("ReceiptId")
            receipt_no = receipt_id.value()
            if not _RECEIPT_NO_RE.match(receipt_no):
                raise DataError(receipt_id.path, f"{receipt_no!r} is not 1 to {RECEIPT_NO_MAX_DIGITS} digits")
            pos_id = validate_pos_id(r.text("PosId"))
            orgnr = r.text("OrgNo")
            if validate_orgnr(orgnr) != orgnr:
                raise FieldError("orgnr", f"{orgnr!r} must be 10 digits without a hyphen")
            total = parse_amount(r.text("ReceiptTotal"), f"{r.path}/ReceiptTotal")
            # Returbelopp is a sum of returns: "-12,00" and "12,00" say the same (choice 4).
            return_total = abs(parse_amount(r.text("NegativeTotal"), f"{r.path}/NegativeTotal"))
            receipt_type = _receipt_type(r.one("ReceiptType"))
            vat = _read_vat_list(r.one("VatList"))
            data = ControlData(
                moment=moment,
                orgnr=orgnr,
                pos_id=pos_id,
                receipt_no=int(receipt_no),
                receipt_type=receipt_type,
                total=total,
                return_total=return_total,
                vat=vat,
            )
            return cls(serial_no, is_new_session, data)


def _receipt_type(node: _Reader) -> ReceiptType:
    text = node.value()
    try:
        return ReceiptType(text)
    except ValueError:
        allowed = ", ".join(t.value for t in ReceiptType)
        raise DataError(node.path, f"{text!r} is not one of {allowed}") from None


def _read_vat_list(node: _Reader) -> tuple[VatSlot, ...]:
    entries = node.many("Vat")
    if len(entries) > VAT_SLOTS:
        raise DataError(node.path, f"{len(entries)} Vat elements; a control unit takes at most {VAT_SLOTS}")
    by_class: dict[int, VatSlot] = {}
    rate_at: dict[int, str] = {}
    for vat in entries:
        vat_class = vat.integer("Class", 1, VAT_SLOTS)
        if vat_class in by_class:
            raise DataError(f"{vat.path}/Class", f"class {vat_class} appears twice")
        rate_path = f"{vat.path}/Percentage"
        rate = parse_rate(vat.text("Percentage"), rate_path)
        if rate in rate_at:
            where = rate_at[rate]
            raise DataError(rate_path, f"the rate {format_rate(rate)} is already in {where}")
        rate_at[rate] = vat.path
        by_class[vat_class] = VatSlot(rate, parse_amount(vat.text("Amount"), f"{vat.path}/Amount"))
    return tuple(by_class[c] for c in sorted(by_class))


REQUESTS: dict[str, type[Request]] = {
    cls.TYPE: cls for cls in (RequestIdentity, RequestStatus, RegisterReceipt)
}
REPLIES: dict[str, type[Reply]] = {
    cls.TYPE: cls for cls in (RegisterReceiptResponse, StatusResponse, IdentityResponse)
}


# --------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------

_DECLARED_ENCODING_RE = re.compile(rb"^<\?xml[^>]*?\sencoding\s*=", re.ASCII)
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")


def _document(root_name: str, type_name: str, wrapper: str, write: Callable[[_Writer], None]) -> bytes:
    root = ET.Element(root_name, {"xmlns": NAMESPACE})
    ET.SubElement(root, "type").text = type_name
    data = ET.SubElement(root, "data")
    write(_Writer(ET.SubElement(data, wrapper), type_name))
    ET.indent(root, space=_INDENT)
    text = _DECLARATION + ET.tostring(root, encoding="unicode")
    return text.encode(ENCODING, "xmlcharrefreplace")


def _parse(body: bytes) -> ET.Element:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"an XCCSP document is bytes, not {type(body).__name__}")
    data = bytes(body)
    if not data.strip():
        raise EnvelopeError("document", "empty")
    if not data.startswith(_BOMS) and not _DECLARED_ENCODING_RE.match(data):
        # No declared encoding: XML says UTF-8; a unit that sends bare ISO-8859-1 gets
        # the protocol's charset instead of a parse error (module doc, choice 8).
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode(ENCODING).encode("utf-8")
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise EnvelopeError(
            "document",
            f"refused: {type(exc).__name__} (no DOCTYPE, entity or external reference allowed)",
        ) from None
    except ET.ParseError as exc:
        raise EnvelopeError("document", f"not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # an unknown or unsupported declared encoding
        raise EnvelopeError("document", f"cannot be read ({exc})") from None
    return root


def _open_envelope(root: ET.Element, root_name: str) -> tuple[str, ET.Element]:
    """``(type name, data element)`` of a ``<request>`` or ``<response>`` document."""
    local = _local_name(root.tag)
    if local is None:
        raise EnvelopeError("document", f"root element {root.tag} is not in namespace {NAMESPACE}")
    if local != root_name:
        raise EnvelopeError("document", f"root element is <{local}>, expected <{root_name}>")
    parts: dict[str, ET.Element] = {}
    for name in ("type", "data"):
        found = [child for child in root if _local_name(child.tag) == name]
        if len(found) != 1:
            reason = "missing" if not found else f"appears {len(found)} times; expected once"
            raise EnvelopeError(f"{root_name}/{name}", reason)
        parts[name] = found[0]
    type_elem = parts["type"]
    if len(type_elem):
        raise EnvelopeError(f"{root_name}/type", "has child elements where a name is expected")
    return (type_elem.text or "").strip(), parts["data"]


def encode_request(msg: Request) -> bytes:
    """The document for ``msg``, ISO-8859-1 with its XML declaration."""
    if not isinstance(msg, Request):
        raise TypeError(f"{msg!r} is not an XCCSP request")
    return _document("request", msg.TYPE, msg.WRAPPER, msg._write)


def encode_reply(msg: Reply | Fault) -> bytes:
    """The document for a reply or a fault, ISO-8859-1 with its XML declaration."""
    if not isinstance(msg, Reply | Fault):
        raise TypeError(f"{msg!r} is not an XCCSP reply or fault")
    return _document("response", msg.TYPE, msg.WRAPPER, msg._write)


def decode_request(body: bytes) -> Request:
    """The request in a document (what a unit does). Raises :class:`XccspError`."""
    type_name, data = _open_envelope(_parse(body), "request")
    cls = REQUESTS.get(type_name)
    if cls is None:
        known = ", ".join(REQUESTS)
        raise UnknownTypeError("request/type", f"unknown request type {type_name!r} (known: {known})")
    return cls._read(_Reader(data, cls.TYPE).wrapper(cls.WRAPPER, "request"))


def envelope_pos_ids(body: bytes) -> tuple[str, ...]:
    """Every ``PosId`` on a request's envelope (beside ``type`` and ``data``), in order.

    The codec reads a request's POS id from ``data`` only; a register may also put one on
    the envelope, and a unit can check that the two agree. Most documents have none
    (``()``). Values are verbatim, like every text value; an empty element reads
    as ``""``. Raises :class:`EnvelopeError` for a document that is not a request.
    """
    root = _parse(body)
    _open_envelope(root, "request")
    return tuple(child.text or "" for child in root if _local_name(child.tag) == "PosId")


@overload
def decode_reply(body: bytes, answering: type[RegisterReceipt]) -> RegisterReceiptResponse | Fault: ...
@overload
def decode_reply(body: bytes, answering: type[RequestStatus]) -> StatusResponse | Fault: ...
@overload
def decode_reply(body: bytes, answering: type[RequestIdentity]) -> IdentityResponse | Fault: ...
@overload
def decode_reply(body: bytes, answering: type[Request]) -> Reply | Fault: ...


def decode_reply(body: bytes, answering: type[Request]) -> Reply | Fault:
    """The reply to a request of type ``answering``, or the :class:`Fault` the unit sent.

    A fault is recognised whatever request it answers; any other reply must be the one
    ``answering`` expects. Raises :class:`XccspError`.
    """
    if not (isinstance(answering, type) and issubclass(answering, Request)):
        raise TypeError(f"{answering!r} is not an XCCSP request type")
    root = _parse(body)
    if _local_name(root.tag) == _FAULT:  # a bare <Fault> from a lenient unit
        return Fault._read(_Reader(root, _FAULT).wrapper(Fault.WRAPPER, _FAULT))
    type_name, data = _open_envelope(root, "response")
    if type_name == _FAULT:
        return Fault._read(_Reader(data, _FAULT).wrapper(Fault.WRAPPER, "response"))
    expected = answering.REPLY
    if type_name != expected.TYPE:
        why = f"{type_name!r} does not answer {answering.TYPE}; expected {expected.TYPE!r} or 'Fault'"
        if type_name in REPLIES:
            raise EnvelopeError("response/type", why)
        raise UnknownTypeError("response/type", f"unknown reply type {type_name!r}; {why}")
    return expected._read(_Reader(data, expected.TYPE).wrapper(expected.WRAPPER, "response"))
