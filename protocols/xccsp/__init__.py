"""CleanCash XML protocol over HTTP (XCCSP): documents and messages.

The register POSTs one XML document to ``http://host:8081/xccsp`` (the hosted CleanCash
service and LAN servers); the server answers with one XML document. This package turns
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

One module per part, each importing only those before it:

- :mod:`~protocols.xccsp.faults`: the fault codes, the :class:`Fault` answer, the errors;
- :mod:`~protocols.xccsp.elements`: reading and writing elements, with their paths;
- :mod:`~protocols.xccsp.messages`: the typed requests and replies and their fields;
- :mod:`~protocols.xccsp.documents`: the envelope, encoding and decoding a document.
"""

from __future__ import annotations

from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ControlData
from protocols.xccsp.documents import (
    CONTENT_TYPE,
    DEFAULT_PORT,
    ENCODING,
    HTTP_PATH,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    envelope_pos_ids,
)
from protocols.xccsp.elements import NAMESPACE
from protocols.xccsp.faults import (
    DataError,
    EnvelopeError,
    Fault,
    FaultCode,
    UnknownTypeError,
    XccspError,
)
from protocols.xccsp.messages import (
    REPLIES,
    REQUESTS,
    SERIAL_MAX,
    IdentityResponse,
    RegisterReceipt,
    RegisterReceiptResponse,
    Reply,
    Request,
    RequestIdentity,
    RequestStatus,
    StatusResponse,
)

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_PORT",
    "ENCODING",
    "HTTP_PATH",
    "NAMESPACE",
    "REPLIES",
    "REQUESTS",
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
