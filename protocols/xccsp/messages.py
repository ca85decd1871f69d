"""The typed XCCSP messages: the requests a register sends, the replies a unit sends
back, and how each writes and reads the fields inside its wrapper element."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from protocols.ccsp import SEQ_MAX, MainStatus, StorageStatus
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
from protocols.xccsp.elements import Reader, Writer
from protocols.xccsp.faults import DataError, Fault, field_errors

SERIAL_MAX = SEQ_MAX  # "Max value 4294967295" in the spec text NaviPartner quotes
_RECEIPT_NO_RE = re.compile(rf"^[0-9]{{1,{RECEIPT_NO_MAX_DIGITS}}}$")


class Reply:
    """A document the unit sends back on success (a :class:`Fault` is not a Reply)."""

    __slots__ = ()
    TYPE: ClassVar[str]  # the envelope's <type>
    WRAPPER: ClassVar[str]  # the one element inside <data> that holds the fields

    def _write(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: Reader) -> Self:
        raise NotImplementedError


class Request:
    """A document the register sends to the unit."""

    __slots__ = ()
    TYPE: ClassVar[str]  # the envelope's <type>
    WRAPPER: ClassVar[str]  # the one element inside <data> that holds the fields
    REPLY: ClassVar[type[Reply]]

    def _write(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: Reader) -> Self:
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

    def _write(self, w: Writer) -> None:
        w.text("Code", self.code)
        w.text("UnitId", self.unit_id, required=True)
        w.enum("UnitMainStatus", MainStatus, self.main)
        w.enum("UnitStorageStatus", StorageStatus, self.storage)

    @classmethod
    def _read(cls, r: Reader) -> Self:
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

    def _write(self, w: Writer) -> None:
        w.text("Id", self.unit_id, required=True)
        w.text("Firmware", self.firmware)
        if self.installed_licenses is not None:
            w.integer("InstalledLicenses", self.installed_licenses, 0, _LICENSES_MAX)
        w.enum("MainStatus", MainStatus, self.main)
        w.enum("StorageStatus", StorageStatus, self.storage)
        w.text("Type", self.unit_type)

    @classmethod
    def _read(cls, r: Reader) -> Self:
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

    def _write(self, w: Writer) -> None:
        w.text("Id", self.unit_id, required=True)
        w.text("Firmware", self.firmware)
        w.text("Type", self.unit_type)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(
            unit_id=r.text("Id", required=True),
            firmware=r.optional_text("Firmware"),
            unit_type=r.optional_text("Type"),
        )


_FAULT_CODE_MAX = 999_999_999


def write_fault(fault: Fault, w: Writer) -> None:
    """A fault's fields, inside its ``FaultInfo``."""
    w.integer("Code", fault.code, 0, _FAULT_CODE_MAX)
    w.text("ShortMessage", fault.short_message)
    w.text("Message", fault.message)


def read_fault(info: Reader) -> Fault:
    """A fault from its ``FaultInfo`` (whatever request it answers)."""
    return Fault(
        code=info.integer("Code", 0, _FAULT_CODE_MAX),
        short_message=info.optional_text("ShortMessage"),
        message=info.optional_text("Message"),
    )


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

    def _write(self, w: Writer) -> None:
        w.text("PosId", self.pos_id)
        w.text("OrgNo", self.orgnr)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        pos_id, orgnr = r.text("PosId"), r.text("OrgNo")
        with field_errors(r.path):
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

    def _write(self, w: Writer) -> None:
        d = self.data
        with field_errors(w.path):
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
    def _read(cls, r: Reader) -> Self:
        with field_errors(r.path):
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


def _receipt_type(node: Reader) -> ReceiptType:
    text = node.value()
    try:
        return ReceiptType(text)
    except ValueError:
        allowed = ", ".join(t.value for t in ReceiptType)
        raise DataError(node.path, f"{text!r} is not one of {allowed}") from None


def _read_vat_list(node: Reader) -> tuple[VatSlot, ...]:
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
