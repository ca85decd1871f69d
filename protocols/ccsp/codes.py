"""The numbers a unit answers with: main status, storage status, NAK codes (with their
meaning in words) and the severity in a status detail."""

from __future__ import annotations

import enum


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
    known = NAK_BY_NUMBER.get(code)
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
NAK_BY_NUMBER: dict[int, NakCode] = {int(code): code for code in NakCode}


class Severity(enum.IntEnum):
    """The severity a unit's status detail carries (its second character)."""

    INFORMATIONAL = 0
    WARNING = 1
    PROTOCOL_ERROR = 2
    NON_FATAL_ERROR = 3
    FATAL_ERROR = 4


SEVERITY_BY_NUMBER = {int(s): s for s in Severity}
