"""The typed CCSP messages: the requests a register sends and the replies a unit sends
back, each a frozen dataclass that gives its fields for building and is made from the
fields parsed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import construct as cs

from protocols.ccsp.codes import (
    NAK_BY_NUMBER,
    SEVERITY_BY_NUMBER,
    MainStatus,
    NakCode,
    Severity,
    StorageStatus,
    nak_text,
)
from protocols.ccsp.errors import MessageError
from protocols.ccsp.fields import BLANK
from protocols.skv import ControlData, FieldError

SEQ_MAX = 4_294_967_295  # the serial number's ceiling in the XCCSP spec text (an unsigned 32 bits)


class Request:
    """A message the register sends to the unit."""

    TYPE: ClassVar[str]
    REPLY: ClassVar[type[Reply]]

    def fields(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> Request:
        return cls()


class Reply:
    """A message the unit sends back."""

    TYPE: ClassVar[str]

    def fields(self) -> dict[str, Any]:
        return {"type": self.TYPE}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> Reply:
        return cls()


@dataclass(frozen=True, slots=True)
class StatusReply(Reply):
    """``SIR``: the main status and the unit's status detail, a text of several characters.

    The detail is kept as the unit sent it; it is not the storage status (that comes with
    ``RRR``). Its second character, when it is a digit, is the severity (Odoo's reading).
    """

    TYPE: ClassVar[str] = "SIR"
    main: MainStatus
    detail: str = ""

    @property
    def severity(self) -> Severity | None:
        mark = self.detail[1:2]
        if mark.isdigit() and int(mark) in SEVERITY_BY_NUMBER:
            return SEVERITY_BY_NUMBER[int(mark)]
        return None

    def fields(self) -> dict[str, Any]:
        return {"type": self.TYPE, "main": int(self.main), "detail": self.detail or None}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> StatusReply:
        return cls(_enum(MainStatus, fields["main"], "main status"), fields["detail"] or "")


@dataclass(frozen=True, slots=True)
class IdentityReply(Reply):
    """``IR``: unit id, protocol version, firmware; a newer unit's extra fields are kept."""

    TYPE: ClassVar[str] = "IR"
    unit_id: str
    protocol: int
    firmware: str = ""
    extra: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "unit_id": self.unit_id,
            "protocol": self.protocol,
            "firmware": self.firmware or None,
        }

    @classmethod
    def from_fields(cls, fields: cs.Container) -> IdentityReply:
        return cls(fields["unit_id"], fields["protocol"], fields["firmware"] or "", fields["extra"])


@dataclass(frozen=True, slots=True)
class RegisterReply(Reply):
    """``RRR``, the answer to RR: control code (one space: none, for training and pro
    forma), unit id, main status and storage status (either may be missing)."""

    TYPE: ClassVar[str] = "RRR"
    code: str
    unit_id: str
    main: MainStatus | None
    storage: StorageStatus | None

    def fields(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "code": self.code or BLANK,
            "unit_id": self.unit_id,
            "main": None if self.main is None else int(self.main),
            "storage": None if self.storage is None else int(self.storage),
        }

    @classmethod
    def from_fields(cls, fields: cs.Container) -> RegisterReply:
        main, storage = fields["main"], fields["storage"]
        return cls(
            fields["code"].strip(),
            fields["unit_id"],
            None if main is None else _enum(MainStatus, main, "main status"),
            None if storage is None else _enum(StorageStatus, storage, "storage status"),
        )


@dataclass(frozen=True, slots=True)
class Ack(Reply):
    """The reply to v1's ST and RH: nothing but 'not a NAK'."""

    TYPE: ClassVar[str] = "ACK"


@dataclass(frozen=True, slots=True)
class SignatureReply(Reply):
    """``SR``, the reply to v1's SQ: the control code only (the unit id comes from IQ)."""

    TYPE: ClassVar[str] = "SR"
    code: str

    def fields(self) -> dict[str, Any]:
        return {"type": self.TYPE, "code": self.code or BLANK}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> SignatureReply:
        return cls(fields["code"].strip())


@dataclass(frozen=True, slots=True)
class Nak(Reply):
    """``NAK`` with its three-digit code: any number, known (:class:`NakCode`) or not."""

    TYPE: ClassVar[str] = "NAK"
    code: int

    @property
    def known(self) -> NakCode | None:
        return NAK_BY_NUMBER.get(self.code)

    @property
    def text(self) -> str:
        return nak_text(self.code)

    def fields(self) -> dict[str, Any]:
        return {"code": int(self.code)}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> Nak:
        return cls(fields["code"])


@dataclass(frozen=True, slots=True)
class StatusQuery(Request):
    TYPE: ClassVar[str] = "SIQ"
    REPLY: ClassVar[type[Reply]] = StatusReply


@dataclass(frozen=True, slots=True)
class IdentityQuery(Request):
    TYPE: ClassVar[str] = "IQ"
    REPLY: ClassVar[type[Reply]] = IdentityReply


def _receipt_fields(data: ControlData) -> dict[str, Any]:
    vat = data.vat_texts(BLANK)
    return {
        "date": data.date_text,
        "receipt_no": data.receipt_no_text,
        "pos_id": data.pos_id,
        "orgnr": data.orgnr,
        "total": data.total_text,
        "return_total": data.return_total_text,
        "receipt_type": data.receipt_type.value,
        "vat1": vat[0],
        "vat2": vat[1],
        "vat3": vat[2],
        "vat4": vat[3],
    }


def _receipt_data(fields: cs.Container) -> ControlData:
    # Item access: a Container is a dict, and its attribute access costs several times more.
    try:
        return ControlData.from_texts(
            date=fields["date"],
            orgnr=fields["orgnr"],
            pos_id=fields["pos_id"],
            receipt_no=fields["receipt_no"],
            receipt_type=fields["receipt_type"],
            total=fields["total"],
            return_total=fields["return_total"],
            vat=(fields["vat1"], fields["vat2"], fields["vat3"], fields["vat4"]),
        )
    except FieldError as exc:
        raise MessageError(f"bad receipt data: {exc}") from None


@dataclass(frozen=True, slots=True)
class RegisterReceipt(Request):
    """v2 ``RR``: one message registers one receipt; ``seq`` lets the unit spot a repeat."""

    TYPE: ClassVar[str] = "RR"
    REPLY: ClassVar[type[Reply]] = RegisterReply
    seq: int
    data: ControlData

    def __post_init__(self) -> None:
        if not 1 <= self.seq <= SEQ_MAX:
            raise FieldError("seq", f"{self.seq} is outside 1..{SEQ_MAX}")

    def fields(self) -> dict[str, Any]:
        return {"seq": self.seq, **_receipt_fields(self.data)}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> RegisterReceipt:
        return cls(fields.seq, _receipt_data(fields))


@dataclass(frozen=True, slots=True)
class StartReceipt(Request):
    """v1 ``ST``: opens a receipt on this line."""

    TYPE: ClassVar[str] = "ST"
    REPLY: ClassVar[type[Reply]] = Ack


@dataclass(frozen=True, slots=True)
class ReceiptHeader(Request):
    """v1 ``RH``: the receipt's data, the POS id in field 3 and the cashier's id in field 4
    (one space when none), then a reserved field sent blank."""

    TYPE: ClassVar[str] = "RH"
    REPLY: ClassVar[type[Reply]] = Ack
    data: ControlData
    cashier: str = BLANK

    def fields(self) -> dict[str, Any]:
        return {"cashier": self.cashier or BLANK, "reserved": BLANK, **_receipt_fields(self.data)}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> ReceiptHeader:
        return cls(_receipt_data(fields), fields["cashier"])


@dataclass(frozen=True, slots=True)
class SignatureQuery(Request):
    """v1 ``SQ``: asks for the control code of the receipt given by ``RH``."""

    TYPE: ClassVar[str] = "SQ"
    REPLY: ClassVar[type[Reply]] = SignatureReply


REQUESTS: dict[bytes, type[Request]] = {
    cls.TYPE.encode("ascii"): cls
    for cls in (StatusQuery, IdentityQuery, RegisterReceipt, StartReceipt, ReceiptHeader, SignatureQuery)
}

E = TypeVar("E", bound=enum.IntEnum)


def _enum(kind: type[E], value: int, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise MessageError(f"{name} {value} is not a known {kind.__name__}") from None
