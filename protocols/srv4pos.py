"""srv4pos: the JSON a register exchanges with srv4pos's cloud control unit.

The register POSTs ``/{corporateId}/registration/{cashRegisterName}/kd`` under the
service's base URL (``https://s.srv4pos.com/v45``) with ``Authorization: Basic
base64(apiKey)`` — the key alone, no user name — and a body like::

    {"brutto": 11626, "vatRateToSum": {"0": 0, "6": 0, "12": 570, "25": 1261},
     "refund": false, "printType": "Normal", "receiptNumber": 123, "date": 1750154405000}

and gets ``{"response": "<control code>", "controlUnitSerial": "<unit>"}``. An error is
an HTTP 4xx/5xx with ``{"error": "<Name>JsonException", "details": [...]}`` (srv4pos's
published REST error list). Pure: no I/O. Sources and choices: docs/protocols/srv4pos.md.

1. *choice* ``printType`` is written as its name (``"Normal"``, ``"Copy"``,
   ``"Proforma"``), as Retail Innovation's production client sends it and as MEWS'
   model documents the values; MEWS' DTO serialised the numbers 0, 1, 2, so we read both.
2. *choice* srv4pos has no training print type in any source: a training receipt is
   sent as ``Proforma`` — like pro forma, it is no sale and needs no code.
3. *choice* amounts are whole öre, never negative: a return receipt is ``refund: true``
   with a positive ``brutto`` (MEWS: "brutto is positive for both cases"); the four
   keys of ``vatRateToSum`` are always sent (both clients do), each the VAT at that rate.
4. *choice* ``date`` is the receipt's Swedish local time as Unix milliseconds.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from protocols.skv import ControlData, FieldError, ReceiptType, VatSlot, format_rate, validate_receipt_no

__all__ = [
    "CONTENT_TYPE",
    "VAT_KEYS",
    "ErrorDetail",
    "ErrorReply",
    "KdReply",
    "KdRequest",
    "PrintType",
    "Srv4posError",
    "authorization",
    "control_data_of",
    "decode_error",
    "decode_kd",
    "decode_kd_reply",
    "encode_error",
    "encode_kd",
    "encode_kd_reply",
    "kd_path",
    "kd_request_of",
    "receipt_type_of",
]

CONTENT_TYPE: Final = "application/json"
VAT_KEYS: Final = ("0", "6", "12", "25")  # vatRateToSum's keys, whole percent
SWEDEN: Final = ZoneInfo("Europe/Stockholm")
MAX_ORE: Final = 2**53  # a JSON number a JavaScript or Java double still holds exactly
MAX_TEXT: Final = 256  # the longest code or serial we read (ours; srv4pos publishes none)

# Published names (srv4pos REST reference, "Errors") the gateway and the simulator use.
UNAUTHORIZED: Final = "UnauthorizedJsonException"  # 401: no or unknown credentials
FORBIDDEN: Final = "ForbiddenJsonException"  # 403: key expired, register not approved
VALUE_NOT_VALID: Final = "ValueNotValidJsonException"  # 400, details [{field, message, code}]
MESSAGE_NOT_READABLE: Final = "MessageNotReadableJsonException"  # 400: not JSON
NOT_FOUND: Final = "NotFoundJsonException"  # 404
INTERNAL_SERVER_ERROR: Final = "InternalServerErrorJsonException"  # 500
CONTROL_UNIT_RECEIPT: Final = "ControlUnitReceiptJsonException"  # the unit said no
NON_UNIQUE: Final = "NonUniqueJsonException"


class Srv4posError(FieldError):
    """A srv4pos document or value that cannot be read or written; ``field`` names where."""


class PrintType(enum.IntEnum):
    NORMAL = 0
    COPY = 1
    PROFORMA = 2

    @property
    def wire(self) -> str:
        return {0: "Normal", 1: "Copy", 2: "Proforma"}[self.value]


_PRINT_TYPES: Final = {t.wire: t for t in PrintType}


@dataclass(frozen=True, slots=True)
class KdRequest:
    """One registration: amounts in öre, ``date`` in Unix milliseconds."""

    brutto: int
    vat_rate_to_sum: Mapping[str, int]  # "0", "6", "12", "25" -> VAT in öre
    refund: bool
    print_type: PrintType
    receipt_number: int
    date: int

    def __post_init__(self) -> None:
        _check_ore("brutto", self.brutto)
        if tuple(sorted(self.vat_rate_to_sum, key=int)) != VAT_KEYS:
            raise Srv4posError("vatRateToSum", f"keys must be {', '.join(VAT_KEYS)}")
        for key, value in self.vat_rate_to_sum.items():
            _check_ore(f"vatRateToSum.{key}", value)
        validate_receipt_no(self.receipt_number)
        if isinstance(self.date, bool) or not isinstance(self.date, int) or self.date < 0:
            raise Srv4posError("date", f"{self.date!r} is not Unix milliseconds")


@dataclass(frozen=True, slots=True)
class KdReply:
    response: str  # the control code ("" if none came)
    control_unit_serial: str


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of ``details``: its members as sent, in order (``field``, ``message``,
    ``code`` for a value error; ``command``, ``response``, ``name`` for the unit's own)."""

    items: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str:
        return next((v for k, v in self.items if k == key), "")

    @classmethod
    def of(cls, **members: str) -> ErrorDetail:
        return cls(tuple((k, v) for k, v in members.items() if v))


@dataclass(frozen=True, slots=True)
class ErrorReply:
    error: str  # "<Name>JsonException"
    details: tuple[ErrorDetail, ...] = field(default_factory=tuple)

    @property
    def said(self) -> str:
        """The service's words, as it said them: the name and every detail."""
        parts = [", ".join(f"{k}={v}" for k, v in d.items) for d in self.details if d.items]
        return self.error + (f": {'; '.join(parts)}" if parts else "")


def _check_ore(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_ORE:
        raise Srv4posError(name, f"{value!r} is not a whole number of öre, 0 or more")


# -- paths and credentials ----------------------------------------------------------------


def kd_path(corporate_id: str, cash_register_name: str) -> str:
    """``/{corporateId}/registration/{cashRegisterName}/kd``, each part quoted."""
    for name, value in (("corporateId", corporate_id), ("cashRegisterName", cash_register_name)):
        if not value.strip() or len(value) > MAX_TEXT or any(ord(c) < 0x20 for c in value):
            raise Srv4posError(name, f"{value!r} must be 1 to {MAX_TEXT} printable characters")
    return f"/{quote(corporate_id, safe='')}/registration/{quote(cash_register_name, safe='')}/kd"


def authorization(api_key: str) -> str:
    """The ``Authorization`` header value: ``Basic`` and the key alone, base64."""
    if not api_key or any(ord(c) < 0x20 for c in api_key):
        raise Srv4posError("api_key", "is empty or holds a control character")
    return "Basic " + base64.b64encode(api_key.encode("utf-8")).decode("ascii")


# -- the register's data and back ----------------------------------------------------------


def receipt_type_of(print_type: PrintType) -> ReceiptType:
    return {
        PrintType.NORMAL: ReceiptType.NORMAL,
        PrintType.COPY: ReceiptType.COPY,
        PrintType.PROFORMA: ReceiptType.PRO_FORMA,
    }[print_type]


_PRINT_TYPE_OF: Final = {
    ReceiptType.NORMAL: PrintType.NORMAL,
    ReceiptType.COPY: PrintType.COPY,
    ReceiptType.PRO_FORMA: PrintType.PROFORMA,
    ReceiptType.TRAINING: PrintType.PROFORMA,  # choice 2
}


def kd_request_of(data: ControlData, zone: ZoneInfo = SWEDEN) -> KdRequest:
    """The registration for the register's receipt ``data`` (choices 2-4)."""
    sums = dict.fromkeys(VAT_KEYS, 0)
    for slot in data.vat:
        key = str(slot.rate // 100)
        if slot.rate % 100 or key not in sums:
            raise Srv4posError("vatRateToSum", f"rate {format_rate(slot.rate)} is none of 0, 6, 12, 25 %")
        sums[key] = abs(slot.amount)
    moment = data.moment if data.moment.tzinfo else data.moment.replace(tzinfo=zone)
    return KdRequest(
        brutto=abs(data.total),
        vat_rate_to_sum=sums,
        refund=data.total < 0,
        print_type=_PRINT_TYPE_OF[data.receipt_type],
        receipt_number=data.receipt_no,
        date=int(moment.timestamp() * 1000),
    )


def control_data_of(kd: KdRequest, *, orgnr: str, pos_id: str, zone: ZoneInfo = SWEDEN) -> ControlData:
    """The register's receipt data back from a registration (what a unit stores)."""
    moment = datetime.fromtimestamp(kd.date / 1000, UTC).astimezone(zone).replace(tzinfo=None)
    sign = -1 if kd.refund else 1
    vat = tuple(
        VatSlot(int(k) * 100, sign * kd.vat_rate_to_sum[k]) for k in VAT_KEYS[::-1] if kd.vat_rate_to_sum[k]
    )
    return ControlData(
        moment=moment,
        orgnr=orgnr,
        pos_id=pos_id,
        receipt_no=kd.receipt_number,
        receipt_type=receipt_type_of(kd.print_type),
        total=sign * kd.brutto,
        return_total=kd.brutto if kd.refund else 0,
        vat=vat,
    )


# -- JSON ---------------------------------------------------------------------------------


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _loads(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Srv4posError(what, f"not a JSON document ({exc})") from None
    if not isinstance(value, dict):
        raise Srv4posError(what, "is not a JSON object")
    return value


def encode_kd(kd: KdRequest) -> bytes:
    """The body, keys in the clients' declared order (brutto … date)."""
    return _dumps(
        {
            "brutto": kd.brutto,
            "vatRateToSum": {k: kd.vat_rate_to_sum[k] for k in VAT_KEYS},
            "refund": kd.refund,
            "printType": kd.print_type.wire,
            "receiptNumber": kd.receipt_number,
            "date": kd.date,
        }
    )


def _int(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Srv4posError(name, f"{value!r} is not a whole number" if name in raw else "is missing")
    return value


def decode_kd(body: bytes) -> KdRequest:
    """A register's registration (the simulator reads it); errors name the bad field."""
    raw = _loads(body, "body")
    sums = raw.get("vatRateToSum")
    if not isinstance(sums, dict):
        raise Srv4posError("vatRateToSum", "is missing or not an object")
    for key in sums:
        if key not in VAT_KEYS:
            raise Srv4posError(f"vatRateToSum.{key}", "is not a Swedish VAT rate (0, 6, 12, 25)")
    vat = {k: _int(sums, k) if k in sums else 0 for k in VAT_KEYS}
    refund = raw.get("refund")
    if not isinstance(refund, bool):
        raise Srv4posError("refund", f"{refund!r} is not true or false")
    kind = raw.get("printType")
    if isinstance(kind, str) and kind in _PRINT_TYPES:
        print_type = _PRINT_TYPES[kind]
    elif isinstance(kind, int) and not isinstance(kind, bool) and kind in PrintType._value2member_map_:
        print_type = PrintType(kind)
    else:
        raise Srv4posError("printType", f"{kind!r} is not Normal, Copy or Proforma")
    try:
        return KdRequest(
            _int(raw, "brutto"), vat, refund, print_type, _int(raw, "receiptNumber"), _int(raw, "date")
        )
    except FieldError as exc:
        if isinstance(exc, Srv4posError):
            raise
        raise Srv4posError("receiptNumber" if exc.field == "receipt_no" else exc.field, exc.reason) from None


def encode_kd_reply(reply: KdReply) -> bytes:
    return _dumps({"response": reply.response, "controlUnitSerial": reply.control_unit_serial})


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Srv4posError(name, f"{value!r} is not a text of at most {MAX_TEXT} characters")
    return value.strip()


def decode_kd_reply(body: bytes) -> KdReply:
    """The service's answer; a missing or null ``response`` reads as no code (the driver
    judges whether one was needed)."""
    raw = _loads(body, "reply")
    return KdReply(_text(raw, "response"), _text(raw, "controlUnitSerial"))


def encode_error(reply: ErrorReply) -> bytes:
    return _dumps({"error": reply.error, "details": [dict(d.items) for d in reply.details]})


def _member(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:MAX_TEXT]


def decode_error(body: bytes) -> ErrorReply:
    """An error body; ``details`` may be missing, a list of objects (their text and
    number members are kept, in order; nested ones, like ``params``, are dropped) or
    of texts."""
    raw = _loads(body, "error")
    name = raw.get("error")
    if not isinstance(name, str) or not name:
        raise Srv4posError("error", "is missing")
    details: list[ErrorDetail] = []
    listed = raw.get("details") or []
    if not isinstance(listed, list):
        listed = [listed]
    for item in listed[:16]:
        if isinstance(item, dict):
            members = tuple(
                (str(k)[:64], _member(v))
                for k, v in item.items()
                if isinstance(v, str | int | float) and not isinstance(v, bool) and v != ""
            )
            details.append(ErrorDetail(members))
        elif item is not None:
            details.append(ErrorDetail((("message", _member(item)),)))
    return ErrorReply(name[:MAX_TEXT], tuple(details))
