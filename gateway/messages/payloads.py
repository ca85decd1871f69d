"""Which Struct a bus message's payload is, by the message's schema version and kind.

The version is per message shape: a message whose payload changes gets the next version,
the others keep theirs, so a sync module that does not know the new version still takes
every other kind. This release writes:

==========================  ================  =============================================
kind                        schema            payload
==========================  ================  =============================================
``receipt``                 ``tillgw.bus/2``  :class:`~gateway.messages.receipt_payload.ReceiptPayload`
``price.change``            ``tillgw.bus/2``  :class:`~gateway.messages.price_change.PriceChangePayload`
every other kind            ``tillgw.bus/1``  its journal entry's body (:data:`ENTRY_PAYLOAD_TYPES`)
==========================  ================  =============================================

and reads both versions of every kind: a ``tillgw.bus/1`` receipt is
:class:`~gateway.messages.receipt_payload.ReceiptPayloadV1`, a ``tillgw.bus/1`` price change
its journal body (prices as kronor text); any other kind has one payload in both versions.
Both changed so that money on the bus is integer öre everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import msgspec

from gateway.messages.bodies import ENTRY_PAYLOAD_TYPES, Body, body_error
from gateway.messages.price_change import PriceChangePayload
from gateway.messages.receipt_payload import ReceiptPayload, ReceiptPayloadV1

__all__ = [
    "BUS_SCHEMAS",
    "BUS_V1",
    "BUS_V2",
    "PAYLOAD_TYPES",
    "decode_payload",
    "payload_type",
    "schema_of",
]

BUS_V1 = "tillgw.bus/1"
BUS_V2 = "tillgw.bus/2"
BUS_SCHEMAS = (BUS_V1, BUS_V2)

_WRITTEN_AS_V2 = frozenset({"receipt", "price.change"})

PAYLOAD_TYPES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        BUS_V1: MappingProxyType({"receipt": ReceiptPayloadV1, **ENTRY_PAYLOAD_TYPES}),
        BUS_V2: MappingProxyType(
            {**ENTRY_PAYLOAD_TYPES, "receipt": ReceiptPayload, "price.change": PriceChangePayload}
        ),
    }
)
"""By schema, by kind: the Struct of the payload."""


def schema_of(kind: str) -> str:
    """The schema this release writes a message of ``kind`` in."""
    return BUS_V2 if kind in _WRITTEN_AS_V2 else BUS_V1


def payload_type(kind: str, schema: str | None = None) -> Any:
    """The Struct a message of ``kind`` carries in ``schema`` (by default, the one this release
    writes); ``KeyError`` for a kind or schema that is not on the bus."""
    return PAYLOAD_TYPES[schema or schema_of(kind)][kind]


def decode_payload(kind: str, payload: Any, schema: str | None = None) -> Body:
    """``payload`` as the Struct of ``kind`` in ``schema``; :class:`FieldError` names a bad field
    from ``payload`` on (``payload.totals.to_pay: expected int, got str``)."""
    try:
        body: Body = msgspec.convert(payload, payload_type(kind, schema))
    except msgspec.ValidationError as exc:
        raise body_error(exc, "payload") from None
    return body
