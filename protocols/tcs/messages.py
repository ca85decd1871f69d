"""The typed TCS messages: a receipt's ``ControlData`` and a register's status request,
and the service's answers, each a frozen dataclass that checks what it holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from protocols.skv import FieldError, ReceiptType, validate_orgnr

OK: Final = 0  # ResponseCode of an accepted request
VAT_RATES: Final = (2500, 1200, 600, 0)  # VAT1..VAT4, in hundredths of a percent


MAX_TEXT: Final = 256  # longest text field we write or read (ours; TCS publishes none)


class TcsError(FieldError):
    """A TCS document or value that cannot be read or written; ``field`` names where."""


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
        check_text("ControlData/ManRegisterID", self.register_id)
        check_text("ControlData/RegisterAddress", self.register_address)
        check_number("ControlData/SequenceNumber", self.sequence_number)
        if self.copy_sequence_number is not None:
            check_number("ControlData/CopySequenceNumber", self.copy_sequence_number)
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


def check_text(field: str, text: str) -> None:
    """Raise :class:`TcsError` unless ``text`` is 1 to ``MAX_TEXT`` characters, not blank,
    without control characters."""
    if not text.strip() or len(text) > MAX_TEXT:
        raise TcsError(field, f"{text!r} must be 1 to {MAX_TEXT} characters, not blank")
    if any(ord(ch) < 0x20 for ch in text):
        raise TcsError(field, f"{text!r} holds a control character")


def check_number(field: str, number: int) -> None:
    """Raise :class:`TcsError` unless ``number`` is a whole number 0 or more (64-bit)."""
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**63:
        raise TcsError(field, f"{number!r} is not a whole number 0 or more")
