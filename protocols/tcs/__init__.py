"""Infrasec TCS: the XML documents a register exchanges with Infrasec's cloud control unit.

The register POSTs one UTF-8 XML document without a namespace to ``/tcsserver`` over
HTTPS, authenticated by its TLS client certificate only, and gets one document back.
This package turns those documents into typed, frozen messages and back. Pure: no I/O.

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

One module per part, each importing only those before it:

- :mod:`~protocols.tcs.messages`: the typed requests and answers;
- :mod:`~protocols.tcs.control_data`: ``ControlData`` from the register's receipt data and
  back, and the request id;
- :mod:`~protocols.tcs.documents`: writing and reading the documents.
"""

from __future__ import annotations

from protocols.tcs.control_data import control_data_of, request_id_of, skv_data_of
from protocols.tcs.documents import (
    CONTENT_TYPE,
    DATETIME_FORMAT,
    HTTP_PATH,
    decode_request,
    decode_response,
    decode_status_response,
    encode_request,
    encode_response,
)
from protocols.tcs.messages import (
    MAX_TEXT,
    OK,
    VAT_RATES,
    ControlCode,
    RegisterStatusRequest,
    RegisterStatusResponse,
    TcsControlData,
    TcsError,
    TcsRequest,
    TcsResponse,
    TcsVat,
)

__all__ = [
    "CONTENT_TYPE",
    "DATETIME_FORMAT",
    "HTTP_PATH",
    "MAX_TEXT",
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
