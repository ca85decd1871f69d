"""CleanCash Serial Protocol (CCSP) v1 and v2: framing, LRC and messages.

The frame, as an executable spec (``FRAME`` below)::

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

Pure: bytes in, typed messages out, and back. No I/O.
"""

from __future__ import annotations

import enum
import io
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import construct as cs

from protocols.skv import ControlData, FieldError

__all__ = [
    "FRAME",
    "FRAME_OVERHEAD",
    "FRAME_SPEC",
    "MAX_FRAME_LENGTH",
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
    "escape_field",
    "frame",
    "lrc",
    "nak_text",
    "split_fields",
    "unframe",
]

FRAME_START = b"#!#"  # mode A: what a register sends
FRAME_START_B = b"#%#"  # mode B: accepted in what comes back
FRAME_OVERHEAD = 11  # '#!#' + LLL + '#' + '#' + CC + CR
MAX_FRAME_LENGTH = 0xFFF
MAX_MESSAGE_LENGTH = MAX_FRAME_LENGTH - FRAME_OVERHEAD
SEQ_MAX = 4_294_967_295  # the serial number's ceiling in the XCCSP spec text (an unsigned 32 bits)

BLANK = " "  # an empty field (unused VAT slot, v1's reserved RH fields) is one space


class CcspError(ValueError):
    """Bytes that are not a valid CCSP frame or message."""


class FrameError(CcspError):
    """The frame itself is wrong: start, length, separators, LRC or terminator."""


class LrcError(FrameError):
    """The frame is well formed but its LRC does not match its bytes."""


class MessageError(CcspError):
    """The frame is sound but its message is not one we can read."""


class MainStatus(enum.IntEnum):
    OK = 0
    WARNING = 1
    PROTOCOL_ERROR = 2
    NON_FATAL_ERROR = 3
    FATAL_ERROR = 4
    BUSY = 5  # "not used in v2" (the reference), still answered by some units
    NO_UNIT = 99  # XCCSP only: the server has no connection with its CleanCash unit


class StorageStatus(enum.IntEnum):
    OK = 0
    HIGH_LEVEL_WARNING = 1
    FULL = 2


class NakCode(enum.IntEnum):
    INVALID_LRC = 1
    UNKNOWN_MESSAGE = 2
    INVALID_DATA = 3
    INVALID_SEQUENCE = 4
    DEPRECATED = 5
    NOT_OPERATIONAL = 6
    INVALID_POS_ID = 7
    INTERNAL_ERROR = 8
    LICENSE_EXCEEDED = 9
    STORAGE_FULL = 10
    INVALID_SEQUENCE_NUMBER = 11

    @property
    def text(self) -> str:
        return _NAK_TEXTS[self]


def nak_text(code: int) -> str:
    """The meaning of NAK ``code`` in words, also for a code this gateway does not know."""
    known = _NAK_BY_NUMBER.get(code)
    return known.text if known is not None else "an error code this gateway does not know"


_NAK_TEXTS = {
    NakCode.INVALID_LRC: "invalid LRC",
    NakCode.UNKNOWN_MESSAGE: "unknown message type",
    NakCode.INVALID_DATA: "invalid data or parameter",
    NakCode.INVALID_SEQUENCE: "invalid message sequence",
    NakCode.DEPRECATED: "deprecated message",
    NakCode.NOT_OPERATIONAL: "control unit not operational",
    NakCode.INVALID_POS_ID: "invalid POS id (not licensed in this unit)",
    NakCode.INTERNAL_ERROR: "internal error in the control unit",
    NakCode.LICENSE_EXCEEDED: "licence count exceeded",
    NakCode.STORAGE_FULL: "journal memory full",
    NakCode.INVALID_SEQUENCE_NUMBER: "sequence number already used for other data",
}
_NAK_BY_NUMBER: dict[int, NakCode] = {int(code): code for code in NakCode}


# --------------------------------------------------------------------------------------
# The frame, declared with construct
# --------------------------------------------------------------------------------------


def lrc(data: bytes) -> int:
    """XOR of every byte: the frame's longitudinal redundancy check.

    Folds the bytes as one big integer, halving its width each step: a handful of C-level
    operations per frame instead of a Python loop over every byte.
    """
    value = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = (width + 1) // 2
        value = (value & ((1 << (8 * half)) - 1)) ^ (value >> (8 * half))
        width = half
    return value


_HEX_DIGITS = frozenset(b"0123456789ABCDEF")


class _HexNumber(cs.Adapter):  # type: ignore[misc]
    """An unsigned integer written as a fixed number of uppercase hex digits."""

    def __init__(self, digits: int) -> None:
        super().__init__(cs.Bytes(digits))
        self.digits = digits

    def _decode(self, obj: bytes, context: Any, path: str) -> int:
        if not obj or not _HEX_DIGITS.issuperset(obj):
            raise cs.ValidationError(f"{obj!r} is not {self.digits} uppercase hex digits", path=path)
        return int(obj, 16)

    def _encode(self, obj: int, context: Any, path: str) -> bytes:
        text = b"%0*X" % (self.digits, obj)
        if len(text) != self.digits or obj < 0:
            raise cs.ValidationError(f"{obj} does not fit {self.digits} hex digits", path=path)
        return text


def _frame_head(ctx: Any) -> bytes:
    return b"#%s#%03X#%s#" % (ctx.mode, ctx.length, ctx.message)


FRAME_SPEC = cs.Struct(
    cs.Const(b"#"),
    "mode" / cs.Default(cs.OneOf(cs.Bytes(1), [b"!", b"%"]), b"!"),
    cs.Const(b"#"),
    "length" / cs.Rebuild(_HexNumber(3), cs.len_(cs.this.message) + FRAME_OVERHEAD),
    cs.Const(b"#"),
    "message" / cs.Bytes(cs.this.length - FRAME_OVERHEAD),
    cs.Const(b"#"),
    "lrc" / cs.Checksum(_HexNumber(2), lrc, _frame_head),
    cs.Const(b"\r"),
    cs.Terminated,
)
"""One CCSP frame. ``FRAME.build({"message": b"IQ"})`` -> ``b"#!#00D#IQ#7D\r"``;
``{"mode": b"%", …}`` builds mode B."""

# construct compiles the spec to plain Python (lengths are `this` expressions so that it
# can); parsing and building a frame then costs a third of the interpreted struct.
FRAME = FRAME_SPEC.compile()


def frame(message: bytes, mode: bytes = b"!") -> bytes:
    """Wrap a message (``b"SIQ"``, ``b"RR#1#..."``) in a frame of ``mode`` (``!`` or ``%``)."""
    if len(message) > MAX_MESSAGE_LENGTH:
        raise FrameError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE_LENGTH}")
    if b"\r" in message:
        raise FrameError("a message cannot contain CR")
    if mode not in (b"!", b"%"):
        raise FrameError(f"frame mode {mode!r} is neither '!' (A) nor '%' (B)")
    return bytes(FRAME.build({"mode": mode, "message": message}))


def unframe(data: bytes) -> bytes:
    """The message inside one complete frame; :class:`FrameError` says what is wrong."""
    if len(data) < FRAME_OVERHEAD:
        raise FrameError(f"{len(data)} bytes is shorter than the smallest frame")
    try:
        parsed = FRAME.parse(data)
    except cs.ChecksumError:
        raise LrcError(f"LRC mismatch in {data!r}") from None
    except cs.ConstructError:
        raise FrameError(f"malformed frame {data!r}: {_frame_fault(data)}") from None
    message: bytes = parsed.message
    return message


def _frame_fault(data: bytes) -> str:
    """Which part of a frame is wrong, in words (construct's compiled parser does not say)."""
    if not data.startswith((FRAME_START, FRAME_START_B)):
        return "does not start with #!# or #%#"
    length = _hex3(data[3:6])
    if length is None:
        return f"length field {data[3:6]!r} is not 3 uppercase hex digits"
    if length != len(data):
        return f"length field says {length} bytes but the frame has {len(data)}"
    if data[6:7] != b"#" or data[-4:-3] != b"#":
        return "a '#' separator is missing around the message"
    if not data.endswith(b"\r"):
        return "does not end with CR"
    return f"LRC field {data[-3:-1]!r} is not 2 uppercase hex digits"


def _construct_reason(exc: cs.ConstructError) -> str:
    """``"<field>: <what is wrong>"`` from construct's ``"Error in path ...\n<message>"``."""
    head, _, message = str(exc).partition("\n")
    field = (exc.path or "").replace("(parsing)", "").replace("(building)", "").strip(" ->")
    return f"{field}: {message}" if field else message or head


# --------------------------------------------------------------------------------------
# Messages, declared with construct: '#'-separated text fields
# --------------------------------------------------------------------------------------


class _Delimited(cs.Construct):  # type: ignore[misc]
    """Fields separated by ``#``; each named subcon parses exactly its field's bytes.

    Like :class:`construct.Struct`, but a field's extent is found by the separator
    rather than by its own size, which is what CCSP's text messages need. ``##`` inside
    a field is a literal ``#``. The last ``optional`` fields may be missing (decoded as
    ``None``), and with ``extra`` a newer unit's additional fields are kept, unread, in
    ``"extra"`` rather than refused.
    """

    def __init__(self, *subcons: cs.Construct, optional: int = 0, extra: bool = False) -> None:
        super().__init__()
        self.subcons = subcons
        self.required = len(subcons) - optional
        self.extra = extra
        # Fast path: our text adapters decode a field's bytes directly, with no stream
        # per field; anything else goes through construct's ordinary parse.
        self._decoders = [_field_decoder(sc) for sc in subcons]
        self._encoders = [_field_encoder(sc) for sc in subcons]

    def _parse(self, stream: Any, context: Any, path: str) -> cs.Container:
        return self.parse_message(cs.stream_read_entire(stream, path), context, path)

    def parse_message(self, data: bytes, context: Any = None, path: str = "(parsing)") -> cs.Container:
        """Parse a whole message's bytes; what ``parse`` does, without a stream per call."""
        if not _TEXT_RE.match(data):
            raise cs.ValidationError(f"{data!r} has a character outside printable ASCII", path=path)
        parts = split_fields(data)
        expected = len(self.subcons)
        if not self.required <= len(parts) <= expected and not (self.extra and len(parts) > expected):
            count = f"{self.required} to {expected}" if self.required < expected else str(expected)
            raise cs.ValidationError(f"{len(parts)} fields where {count} are expected", path=path)
        obj = cs.Container()
        for (name, decode), part in zip(self._decoders, parts, strict=False):
            try:
                value = decode(part, context, path)
            except cs.ConstructError as exc:
                # Say which field: the fast path does not build a path per field.
                message = str(exc).partition("\n")[2] or str(exc)
                raise cs.ValidationError(message, path=f"{path} -> {name or 'type'}") from None
            if name is not None:
                obj[name] = value
        for name, _ in self._decoders[len(parts) :]:
            obj[name] = None
        if self.extra:
            obj["extra"] = tuple(part.decode("ascii") for part in parts[expected:])
        return obj

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        parts = [
            encode(obj.get(name) if name is not None else None, context, path)
            for name, encode in self._encoders
        ]
        while len(parts) > self.required and obj.get(self.subcons[len(parts) - 1].name) is None:
            parts.pop()  # an optional field left out
        cs.stream_write(stream, b"#".join(parts), sum(map(len, parts)) + len(parts) - 1, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("a delimited message has no fixed size", path=path)


_FIELD_OR_SEPARATOR = re.compile(rb"##|#")


def split_fields(message: bytes) -> list[bytes]:
    """A message's fields: split on ``#``, with ``##`` a literal ``#`` (read left to right)."""
    if b"##" not in message:
        return message.split(b"#")  # the common case, at C speed
    fields: list[bytes] = []
    current = bytearray()
    last = 0
    for match in _FIELD_OR_SEPARATOR.finditer(message):
        current += message[last : match.start()]
        if match.end() - match.start() == 2:
            current += b"#"
        else:
            fields.append(bytes(current))
            current.clear()
        last = match.end()
    current += message[last:]
    fields.append(bytes(current))
    return fields


def escape_field(text: bytes) -> bytes:
    """A field's text as sent: every ``#`` doubled."""
    return text.replace(b"#", b"##")


def _field_decoder(sc: cs.Construct) -> tuple[str | None, Callable[[bytes, Any, str], Any]]:
    inner = sc.subcon if isinstance(sc, cs.Renamed) else sc
    if isinstance(inner, _Text):
        return sc.name, inner._decode_checked
    if isinstance(inner, _Number):
        return sc.name, inner._decode
    if isinstance(inner, cs.Const):
        expected = inner.value

        def check_const(part: bytes, context: Any, path: str) -> Any:
            if part != expected:
                raise cs.ConstError(f"expected {expected!r} but got {part!r}", path=path)
            return part

        return sc.name, check_const

    def parse_any(part: bytes, context: Any, path: str) -> Any:
        return sc._parsereport(io.BytesIO(part), context, f"{path} -> {sc.name}")

    return sc.name, parse_any


def _field_encoder(sc: cs.Construct) -> tuple[str | None, Callable[[Any, Any, str], bytes]]:
    inner = sc.subcon if isinstance(sc, cs.Renamed) else sc
    if isinstance(inner, _Text | _Number):
        return sc.name, inner._encode
    if isinstance(inner, cs.Const):
        value: bytes = inner.value
        return sc.name, lambda obj, context, path: value

    def build_any(obj: Any, context: Any, path: str) -> bytes:
        buffer = io.BytesIO()
        sc._build(obj, buffer, context, f"{path} -> {sc.name}")
        return buffer.getvalue()

    return sc.name, build_any


_TEXT_RE = re.compile(rb"^[\x20-\x7e]*$")  # printable ASCII ('#' doubled inside a field)


class _Text(cs.Adapter):  # type: ignore[misc]
    """A text field: printable ASCII, ``min_len``..``max_len`` characters; a ``#`` in it
    is sent doubled. It may not begin with ``#``: after a separator, ``###`` would read
    as a field ending in ``#`` (units read left to right)."""

    def __init__(self, min_len: int = 0, max_len: int = MAX_MESSAGE_LENGTH) -> None:
        super().__init__(cs.GreedyBytes)
        self.min_len = min_len
        self.max_len = max_len

    def _decode(self, obj: bytes, context: Any, path: str) -> str:
        self._check(obj, path)
        return obj.decode("ascii")

    def _decode_checked(self, obj: bytes, context: Any, path: str) -> str:
        """Decode a field whose characters the enclosing message has already checked."""
        if not self.min_len <= len(obj) <= self.max_len:
            raise cs.ValidationError(f"{obj!r} is not {self.min_len} to {self.max_len} characters", path=path)
        return obj.decode("ascii")

    def _encode(self, obj: str | None, context: Any, path: str) -> bytes:
        if obj is None:
            return b""  # an optional field left out (the message drops it)
        if not isinstance(obj, str):
            raise cs.ValidationError(f"expected text, got {obj!r}", path=path)
        try:
            data = obj.encode("ascii")
        except UnicodeEncodeError:
            raise cs.ValidationError(f"{obj!r} is not ASCII", path=path) from None
        self._check(data, path)
        if data.startswith(b"#"):
            raise cs.ValidationError(f"{obj!r} begins with '#', which a unit would misread", path=path)
        return escape_field(data)

    def _check(self, data: bytes, path: str) -> None:
        if not _TEXT_RE.match(data):
            raise cs.ValidationError(f"{data!r} has a character outside printable ASCII", path=path)
        if not self.min_len <= len(data) <= self.max_len:
            raise cs.ValidationError(
                f"{data!r} is not {self.min_len} to {self.max_len} characters", path=path
            )


class _Number(cs.Adapter):  # type: ignore[misc]
    """A non-negative decimal integer of 1..``digits`` digits, zero-padded when ``pad``."""

    def __init__(self, digits: int, minimum: int = 0, pad: bool = False) -> None:
        super().__init__(cs.GreedyBytes)
        self.digits = digits
        self.minimum = minimum
        self.width = digits if pad else 1

    def _decode(self, obj: bytes, context: Any, path: str) -> int:
        if not obj.isdigit() or not 1 <= len(obj) <= self.digits:
            raise cs.ValidationError(f"{obj!r} is not 1 to {self.digits} digits", path=path)
        value = int(obj)
        if value < self.minimum:
            raise cs.ValidationError(f"{value} is below {self.minimum}", path=path)
        return value

    def _encode(self, obj: int | None, context: Any, path: str) -> bytes:
        if obj is None:
            return b""  # an optional field left out (the message drops it)
        if not isinstance(obj, int) or obj < self.minimum or len(str(obj)) > self.digits:
            raise cs.ValidationError(f"{obj!r} is not a {self.digits}-digit number", path=path)
        return b"%0*d" % (self.width, obj)


def _type_tag(name: str) -> cs.Construct:
    return cs.Const(name.encode("ascii"))


_STATUS = _Number(1)
_NAK_CODE = _Number(3, pad=True)  # written 001..011, as the unit documentation lists them

# The data of one receipt, in the order both RR and RH carry it (after their own heads).
_RECEIPT_TAIL = [
    "orgnr" / _Text(10, 10),
    "total" / _Text(1, 14),
    "return_total" / _Text(1, 14),
    "receipt_type" / _Text(1, 6),
    "vat1" / _Text(1, 20),
    "vat2" / _Text(1, 20),
    "vat3" / _Text(1, 20),
    "vat4" / _Text(1, 20),
]

MESSAGES: dict[str, _Delimited] = {
    # requests
    "SIQ": _Delimited(_type_tag("SIQ")),
    "IQ": _Delimited(_type_tag("IQ")),
    "RR": _Delimited(
        _type_tag("RR"),
        "seq" / _Number(10, minimum=1),
        "date" / _Text(12, 12),
        "receipt_no" / _Text(1, 12),
        "pos_id" / _Text(1, 16),
        *_RECEIPT_TAIL,
    ),
    "ST": _Delimited(_type_tag("ST")),
    # v1's header: the POS id in field 3 and a cashier id in field 4, then a blank field
    # (Retail Innovation's own client log; Odoo #247521).
    "RH": _Delimited(
        _type_tag("RH"),
        "date" / _Text(12, 12),
        "receipt_no" / _Text(1, 12),
        "pos_id" / _Text(1, 16),
        "cashier" / _Text(1, 16),
        "reserved" / _Text(1, 16),
        *_RECEIPT_TAIL,
    ),
    "SQ": _Delimited(_type_tag("SQ")),
    # replies: the type tag is checked by decode_reply, which names a wrong one
    "SIR": _Delimited(
        "type" / _Text(1, 8), "main" / _STATUS, "detail" / _Text(1, 64), optional=1, extra=True
    ),
    "IR": _Delimited(
        "type" / _Text(1, 8),
        "unit_id" / _Text(1, 32),
        "protocol" / _Number(1, minimum=1),
        "firmware" / _Text(1, 64),
        optional=1,
        extra=True,
    ),
    "RRR": _Delimited(
        "type" / _Text(1, 8),
        "code" / _Text(1, 128),
        "unit_id" / _Text(1, 32),
        "main" / _STATUS,
        "storage" / _STATUS,
        optional=2,
        extra=True,
    ),
    "ACK": _Delimited("type" / _Text(1, 8), extra=True),
    "SR": _Delimited("type" / _Text(1, 8), "code" / _Text(1, 128), extra=True),
    "NAK": _Delimited(_type_tag("NAK"), "code" / _NAK_CODE, extra=True),
}
"""Every message's field layout, keyed by the type tag we send (see the module doc)."""


def _parse_fields(layout: str, message: bytes) -> cs.Container:
    try:
        return MESSAGES[layout].parse_message(message)
    except cs.ConstructError as exc:
        raise MessageError(f"{layout} message {message!r}: {_construct_reason(exc)}") from None


def _build_fields(layout: str, fields: dict[str, Any]) -> bytes:
    try:
        data: bytes = MESSAGES[layout].build(fields)
    except cs.ConstructError as exc:
        raise MessageError(f"cannot build {layout}: {_construct_reason(exc)}") from None
    return data


# --------------------------------------------------------------------------------------
# Typed messages
# --------------------------------------------------------------------------------------


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
        if mark.isdigit() and int(mark) in _SEVERITY_BY_NUMBER:
            return _SEVERITY_BY_NUMBER[int(mark)]
        return None

    def fields(self) -> dict[str, Any]:
        return {"type": self.TYPE, "main": int(self.main), "detail": self.detail or None}

    @classmethod
    def from_fields(cls, fields: cs.Container) -> StatusReply:
        return cls(_enum(MainStatus, fields["main"], "main status"), fields["detail"] or "")


class Severity(enum.IntEnum):
    """The severity a unit's status detail carries (its second character)."""

    INFORMATIONAL = 0
    WARNING = 1
    PROTOCOL_ERROR = 2
    NON_FATAL_ERROR = 3
    FATAL_ERROR = 4


_SEVERITY_BY_NUMBER = {int(s): s for s in Severity}


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
        return _NAK_BY_NUMBER.get(self.code)

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


# --------------------------------------------------------------------------------------
# Encoding and decoding
# --------------------------------------------------------------------------------------


def encode_message(msg: Request | Reply) -> bytes:
    """The message bytes (no frame)."""
    return _build_fields(msg.TYPE, msg.fields())


def encode(msg: Request | Reply) -> bytes:
    """A whole frame for ``msg``."""
    return frame(encode_message(msg))


def message_type(message: bytes) -> bytes:
    return message.split(b"#", 1)[0]


def decode_request(message: bytes) -> Request:
    """A request by its type tag (what a unit does). Raises :class:`MessageError`."""
    tag = message_type(message)
    cls = REQUESTS.get(tag)
    if cls is None:
        raise MessageError(f"unknown message type {tag!r}")
    return cls.from_fields(_parse_fields(cls.TYPE, message))


def decode_reply(message: bytes, answering: type[Request]) -> Reply:
    """The reply to a request of type ``answering``, read by position.

    ``NAK`` is always recognised; otherwise the type tag must be the one reply this
    request has (``SIR`` to ``SIQ``, ``RRR`` to ``RR``, …): any other is a
    :class:`MessageError` that names it, never a success.
    """
    tag = message_type(message)
    if tag == b"NAK":
        return Nak.from_fields(_parse_fields("NAK", message))
    reply_cls = answering.REPLY
    if tag != reply_cls.TYPE.encode("ascii"):
        raise MessageError(
            f"the answer to {answering.TYPE} is of type {tag.decode('ascii', 'replace')!r}, "
            f"not {reply_cls.TYPE}: {message!r}"
        )
    return reply_cls.from_fields(_parse_fields(reply_cls.TYPE, message))


# --------------------------------------------------------------------------------------
# Streaming deframer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Discard:
    """Bytes the deframer threw away, and why (for the frame log)."""

    data: bytes
    reason: str


class Deframer:
    """Finds whole, valid frames in a byte stream of arbitrary splits.

    Garbage before a frame is skipped, a frame split over many reads is reassembled,
    several frames in one read all come out, and a candidate whose length field,
    separators, terminator or LRC is wrong is dropped one byte at a time until the
    next start marker — so a yielded frame always has a correct length and LRC.
    Because field text never contains CR, a CR inside a claimed frame proves the claim
    wrong at once instead of waiting for up to 4 KiB of bytes that may never come.
    """

    __slots__ = ("_buffer", "discards", "lrc_errors")

    def __init__(self, keep_discards: int = 64) -> None:
        self._buffer = bytearray()
        # A bounded record of what was dropped, for the frame log; never grows forever.
        self.discards: deque[Discard] = deque(maxlen=keep_discards)
        self.lrc_errors = 0

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buffer)

    def reset(self) -> bytes:
        """Forget a partial frame (after a timeout); returns what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete valid frames now available, in order."""
        self._buffer += data
        return [f for f in self._frames() if f is not None]

    def feed_marking_lrc_errors(self, data: bytes) -> list[bytes | None]:
        """Like :meth:`feed`, with ``None`` where a frame failed its LRC, in stream order.

        A unit answers each frame in turn, a bad LRC with NAK 001; it needs to know where
        in the stream the damaged frame stood.
        """
        self._buffer += data
        return list(self._frames())

    def _discard(self, count: int, reason: str) -> None:
        self.discards.append(Discard(bytes(self._buffer[:count]), reason))
        del self._buffer[:count]

    def _frames(self) -> Iterator[bytes | None]:
        buf = self._buffer
        while buf:
            found = _START_RE.search(buf)
            start = -1 if found is None else found.start()
            if start < 0:
                # Keep a tail that may be the beginning of a start marker.
                keep = 2 if buf.endswith((b"#!", b"#%")) else 1 if buf.endswith(b"#") else 0
                if len(buf) > keep:
                    self._discard(len(buf) - keep, "no frame start")
                return
            if start:
                self._discard(start, "garbage before frame start")
            if len(buf) < 7:
                # A frame's head (#!#LLL#) holds no CR: a CR already here proves this start
                # false at once, rather than waiting for bytes that may never come.
                if b"\r" in buf[3:]:
                    self._discard(1, "CR inside a frame head")
                    continue
                return
            length = _hex3(buf[3:6])
            if length is None or buf[6] != 0x23 or length < FRAME_OVERHEAD:
                self._discard(1, "bad length field")
                continue
            end_cr = buf.find(b"\r", 7, length)
            if 0 <= end_cr < length - 1:
                self._discard(1, "CR inside claimed frame length")
                continue
            if len(buf) < length:
                return
            candidate = bytes(buf[:length])
            try:
                unframe(candidate)
            except LrcError:
                # Drop one byte only: the claimed length may be garbage that swallowed
                # the start of a real frame. The reason lets a unit answer NAK 001.
                self.lrc_errors += 1
                self._discard(1, LRC_MISMATCH)
                yield None
                continue
            except FrameError:
                self._discard(1, "bad separator or terminator")
                continue
            del buf[:length]
            yield candidate


LRC_MISMATCH = "LRC mismatch"
_START_RE = re.compile(rb"#[!%]#")  # a frame start of either mode


def _hex3(data: bytes | bytearray) -> int | None:
    if len(data) != 3 or not _HEX_DIGITS.issuperset(data):
        return None
    return int(data, 16)


def message_of(frame_bytes: bytes) -> bytes:
    """The message of a frame already validated by the deframer."""
    return frame_bytes[7:-4]
