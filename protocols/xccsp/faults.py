"""What can go wrong: the fault codes a unit answers with, the :class:`Fault` answer, and
the errors a document can have, each naming the fault a server answers it with."""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from protocols.ccsp import NakCode
from protocols.skv import FieldError

FAULT_TYPE = "Fault"  # the envelope's <type> of a fault, and the root of a bare one


class FaultCode(enum.IntEnum):
    """``FaultInfo/Code``: why a unit refused a request."""

    UNKNOWN_REQUEST = 2
    INVALID_DATA = 3
    NOT_OPERATIONAL = 6
    INVALID_POS_ID = 7
    INTERNAL_ERROR = 8
    LICENSE_EXCEEDED = 9
    STORAGE_FULL = 10
    SERVER_ERROR = 98
    NO_UNIT = 99

    @property
    def text(self) -> str:
        return _FAULT_TEXTS[self]

    @property
    def nak(self) -> NakCode | None:
        """The CCSP ``NAK`` code with the same meaning, if there is one."""
        return _FAULT_NAKS.get(self)


_FAULT_NAKS = {
    FaultCode.UNKNOWN_REQUEST: NakCode.UNKNOWN_MESSAGE,
    FaultCode.INVALID_DATA: NakCode.INVALID_DATA,
    FaultCode.NOT_OPERATIONAL: NakCode.NOT_OPERATIONAL,
    FaultCode.INVALID_POS_ID: NakCode.INVALID_POS_ID,
    FaultCode.INTERNAL_ERROR: NakCode.INTERNAL_ERROR,
    FaultCode.LICENSE_EXCEEDED: NakCode.LICENSE_EXCEEDED,
    FaultCode.STORAGE_FULL: NakCode.STORAGE_FULL,
}

# The captions of the fault codes in the spec text NaviPartner's client carries.
_FAULT_TEXTS = {
    FaultCode.UNKNOWN_REQUEST: "Unknown request",
    FaultCode.INVALID_DATA: "Invalid data or parameter",
    FaultCode.NOT_OPERATIONAL: "CleanCash unit not operational",
    FaultCode.INVALID_POS_ID: "Invalid POS Id",
    FaultCode.INTERNAL_ERROR: "CleanCash Internal Error",
    FaultCode.LICENSE_EXCEEDED: "License Exceeded",
    FaultCode.STORAGE_FULL: "Internal storage in CleanCash full",
    FaultCode.SERVER_ERROR: "CleanCash server internal error",
    FaultCode.NO_UNIT: "No connection with CleanCash unit",
}


class XccspError(ValueError):
    """Bytes that are not a valid XCCSP document, or a message that cannot be written.

    ``path`` names the wrong element (``document`` for the document as a whole) and
    ``reason`` says what is wrong with it; ``str(error)`` is ``"path: reason"``.
    """

    fault_code: ClassVar[FaultCode] = FaultCode.INVALID_DATA

    def __init__(self, path: str, reason: str) -> None:
        # Not super(): in DataError the next class in line is FieldError, whose
        # constructor formats the same message from other arguments.
        ValueError.__init__(self, f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def to_fault(self) -> Fault:
        """The fault a unit answers this error with."""
        return Fault.of(self.fault_code, str(self))


class EnvelopeError(XccspError):
    """The document is not XML, or its root, ``type`` or ``data`` is wrong."""


class UnknownTypeError(EnvelopeError):
    """The envelope's ``type`` names no message we know."""

    fault_code: ClassVar[FaultCode] = FaultCode.UNKNOWN_REQUEST


class DataError(XccspError, FieldError):
    """The message's data is wrong: an element is missing, repeated or has a bad value.

    Also a :class:`protocols.skv.FieldError` whose ``field`` is the element path.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.field = path


# Where each protocols.skv field name travels in a RegisterReceipt (or another request).
_ELEMENT_OF_FIELD = {
    "date": "Date",
    "orgnr": "OrgNo",
    "pos_id": "PosId",
    "receipt_no": "ReceiptId",
    "receipt_type": "ReceiptType",
    "total": "ReceiptTotal",
    "return_total": "NegativeTotal",
    "vat": "VatList",
    "serial_no": "SerialNo",
    "is_new_session": "IsNewSession",
}
_VAT_FIELD_RE = re.compile(r"^vat(\d+)(?: (rate|amount))?$")


def element_path(prefix: str, field: str) -> str:
    """The element path of a :class:`FieldError`'s ``field`` inside message ``prefix``."""
    if "/" in field:  # already a path: we passed it to the skv parser ourselves
        return field
    element = _ELEMENT_OF_FIELD.get(field)
    if element is not None:
        return f"{prefix}/{element}"
    m = _VAT_FIELD_RE.match(field)
    if m is not None:
        leaf = {"rate": "/Percentage", "amount": "/Amount"}.get(m.group(2) or "", "")
        return f"{prefix}/VatList/Vat[{m.group(1)}]{leaf}"
    return f"{prefix}/{field}"


@contextlib.contextmanager
def field_errors(prefix: str) -> Iterator[None]:
    """Turn a :class:`FieldError` named by skv field into a :class:`DataError` by path."""
    try:
        yield
    except DataError:
        raise
    except FieldError as exc:
        raise DataError(element_path(prefix, exc.field), exc.reason) from exc


@dataclass(frozen=True, slots=True)
class Fault:
    """The unit refused the request. ``code`` is a :class:`FaultCode` when known.

    Not a :class:`Reply`: ``isinstance(answer, Fault)`` is the failure test.
    """

    TYPE: ClassVar[str] = FAULT_TYPE
    WRAPPER: ClassVar[str] = "FaultInfo"
    code: FaultCode | int
    short_message: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.code, bool) or not isinstance(self.code, int) or self.code < 0:
            raise FieldError("code", f"must be a non-negative integer, got {self.code!r}")
        if not isinstance(self.code, FaultCode):
            with contextlib.suppress(ValueError):
                object.__setattr__(self, "code", FaultCode(self.code))

    @classmethod
    def of(cls, code: FaultCode, message: str = "") -> Fault:
        """A fault with the code's own text as its short message."""
        return cls(code, code.text, message)

    @property
    def text(self) -> str:
        """What the code means, in words."""
        if isinstance(self.code, FaultCode):
            return self.code.text
        return f"unknown fault code {self.code}"

    @property
    def said(self) -> str:
        """The fault as the server put it: ``Fault 7: Invalid POS Id (…)``."""
        words = [w for w in (self.short_message.strip(), self.message.strip()) if w]
        if len(words) == 2 and words[0] != words[1]:
            return f"Fault {int(self.code)}: {words[0]} ({words[1]})"
        return f"Fault {int(self.code)}: {words[0] if words else self.text}"
