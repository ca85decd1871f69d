"""Every CCSP message's field layout (``MESSAGES``), and parsing and building by layout."""

from __future__ import annotations

from typing import Any

import construct as cs

from protocols.ccsp.errors import MessageError
from protocols.ccsp.fields import Delimited, Number, Text, construct_reason


def _type_tag(name: str) -> cs.Construct:
    return cs.Const(name.encode("ascii"))


_STATUS = Number(1)
_NAK_CODE = Number(3, pad=True)  # written 001..011, as the unit documentation lists them

# The data of one receipt, in the order both RR and RH carry it (after their own heads).
_RECEIPT_TAIL = [
    "orgnr" / Text(10, 10),
    "total" / Text(1, 14),
    "return_total" / Text(1, 14),
    "receipt_type" / Text(1, 6),
    "vat1" / Text(1, 20),
    "vat2" / Text(1, 20),
    "vat3" / Text(1, 20),
    "vat4" / Text(1, 20),
]

MESSAGES: dict[str, Delimited] = {
    # requests
    "SIQ": Delimited(_type_tag("SIQ")),
    "IQ": Delimited(_type_tag("IQ")),
    "RR": Delimited(
        _type_tag("RR"),
        "seq" / Number(10, minimum=1),
        "date" / Text(12, 12),
        "receipt_no" / Text(1, 12),
        "pos_id" / Text(1, 16),
        *_RECEIPT_TAIL,
    ),
    "ST": Delimited(_type_tag("ST")),
    # v1's header: the POS id in field 3 and a cashier id in field 4, then a blank field
    # (Retail Innovation's own client log; Odoo #247521).
    "RH": Delimited(
        _type_tag("RH"),
        "date" / Text(12, 12),
        "receipt_no" / Text(1, 12),
        "pos_id" / Text(1, 16),
        "cashier" / Text(1, 16),
        "reserved" / Text(1, 16),
        *_RECEIPT_TAIL,
    ),
    "SQ": Delimited(_type_tag("SQ")),
    # replies: the type tag is checked by decode_reply, which names a wrong one
    "SIR": Delimited("type" / Text(1, 8), "main" / _STATUS, "detail" / Text(1, 64), optional=1, extra=True),
    "IR": Delimited(
        "type" / Text(1, 8),
        "unit_id" / Text(1, 32),
        "protocol" / Number(1, minimum=1),
        "firmware" / Text(1, 64),
        optional=1,
        extra=True,
    ),
    "RRR": Delimited(
        "type" / Text(1, 8),
        "code" / Text(1, 128),
        "unit_id" / Text(1, 32),
        "main" / _STATUS,
        "storage" / _STATUS,
        optional=2,
        extra=True,
    ),
    "ACK": Delimited("type" / Text(1, 8), extra=True),
    "SR": Delimited("type" / Text(1, 8), "code" / Text(1, 128), extra=True),
    "NAK": Delimited(_type_tag("NAK"), "code" / _NAK_CODE, extra=True),
}
"""Every message's field layout, keyed by the type tag we send (see the package doc)."""


def parse_fields(layout: str, message: bytes) -> cs.Container:
    try:
        return MESSAGES[layout].parse_message(message)
    except cs.ConstructError as exc:
        raise MessageError(f"{layout} message {message!r}: {construct_reason(exc)}") from None


def build_fields(layout: str, fields: dict[str, Any]) -> bytes:
    try:
        data: bytes = MESSAGES[layout].build(fields)
    except cs.ConstructError as exc:
        raise MessageError(f"cannot build {layout}: {construct_reason(exc)}") from None
    return data
