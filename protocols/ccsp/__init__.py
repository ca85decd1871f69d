"""CleanCash Serial Protocol (CCSP) v1 and v2: framing, LRC and messages.

The frame (:mod:`~protocols.ccsp.framing`, where ``FRAME`` is its executable spec)::

    # <mode> # LLL # <message> # CC \\r

``mode`` is ``!`` (mode A, what registers send) or ``%`` (mode B, accepted when read);
``LLL`` is the whole frame's length in bytes as three uppercase hex digits
(11 + len(message)); ``CC`` is the XOR of every byte before it, as two uppercase hex
digits. The message is ``#``-separated text fields, the first naming the message type.
A literal ``#`` inside a field is written ``##`` (so no field is ever empty: a blank is
one space). Field texts are printable ASCII and never CR (the frame end), which is what
lets :class:`Deframer` resynchronise quickly.

Requests are decoded strictly by type (that is what a unit does). Replies are decoded
for the request they answer: ``NAK`` (with any three-digit code) or the one reply type
that request has, read by position and tolerant of fields a newer unit adds; any other
reply is an error, never a success (see docs/protocols/ccsp.md for every choice).

One module per part, each importing only those before it:

- :mod:`~protocols.ccsp.errors`: what the codec raises;
- :mod:`~protocols.ccsp.codes`: main and storage status, NAK codes and their meanings;
- :mod:`~protocols.ccsp.framing`: the frame and its LRC;
- :mod:`~protocols.ccsp.deframer`: whole frames out of a byte stream;
- :mod:`~protocols.ccsp.fields`: the ``#``-separated text fields, declared with construct;
- :mod:`~protocols.ccsp.layouts`: every message's fields (``MESSAGES``);
- :mod:`~protocols.ccsp.messages`: the typed requests and replies;
- :mod:`~protocols.ccsp.codec`: typed message to frame and back.

Pure: bytes in, typed messages out, and back. No I/O.
"""

from __future__ import annotations

from protocols.ccsp.codec import decode_reply, decode_request, encode, encode_message, message_type
from protocols.ccsp.codes import MainStatus, NakCode, Severity, StorageStatus, nak_text
from protocols.ccsp.deframer import LRC_MISMATCH, Deframer, Discard, message_of
from protocols.ccsp.errors import CcspError, FrameError, LrcError, MessageError
from protocols.ccsp.fields import BLANK, escape_field, split_fields
from protocols.ccsp.framing import (
    FRAME,
    FRAME_OVERHEAD,
    FRAME_SPEC,
    FRAME_START,
    FRAME_START_B,
    MAX_FRAME_LENGTH,
    MAX_MESSAGE_LENGTH,
    frame,
    lrc,
    unframe,
)
from protocols.ccsp.layouts import MESSAGES
from protocols.ccsp.messages import (
    REQUESTS,
    SEQ_MAX,
    Ack,
    IdentityQuery,
    IdentityReply,
    Nak,
    ReceiptHeader,
    RegisterReceipt,
    RegisterReply,
    Reply,
    Request,
    SignatureQuery,
    SignatureReply,
    StartReceipt,
    StatusQuery,
    StatusReply,
)
from protocols.skv import ControlData

__all__ = [
    "BLANK",
    "FRAME",
    "FRAME_OVERHEAD",
    "FRAME_SPEC",
    "FRAME_START",
    "FRAME_START_B",
    "LRC_MISMATCH",
    "MAX_FRAME_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "MESSAGES",
    "REQUESTS",
    "SEQ_MAX",
    "Ack",
    "CcspError",
    "ControlData",
    "Deframer",
    "Discard",
    "FrameError",
    "IdentityQuery",
    "IdentityReply",
    "LrcError",
    "MainStatus",
    "MessageError",
    "Nak",
    "NakCode",
    "ReceiptHeader",
    "RegisterReceipt",
    "RegisterReply",
    "Reply",
    "Request",
    "Severity",
    "SignatureQuery",
    "SignatureReply",
    "StartReceipt",
    "StatusQuery",
    "StatusReply",
    "StorageStatus",
    "decode_reply",
    "decode_request",
    "encode",
    "encode_message",
    "escape_field",
    "frame",
    "lrc",
    "message_of",
    "message_type",
    "nak_text",
    "split_fields",
    "unframe",
]
