"""The control unit as the fiscal pipeline sees it, whatever protocol reaches it.

The receipt pipeline depends on :class:`ControlUnit` only. Every driver implements it —
CCSP (:mod:`~gateway.devices.control_units.ccsp_driver`), XCCSP
(:mod:`~gateway.devices.control_units.xccsp_driver`),
Infrasec TCS and srv4pos — so nothing above this module changes with the kind of unit a
shop has.

Status and error codes are the ones CCSP and XCCSP share (XCCSP fault codes 2..10 are
the CCSP NAK codes), so :class:`~protocols.ccsp.NakCode`, :class:`MainStatus` and
:class:`StorageStatus` are the common vocabulary. This module also holds the words the
POS and the shop owner are shown for each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Self

from gateway.common.health import DeviceState, Health, HealthListener
from gateway.common.i18n import N_, tr
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData, ReceiptType

__all__ = [
    "ControlUnit",
    "ControlUnitError",
    "ControlUnitRefused",
    "ControlUnitUnavailable",
    "FrameRecord",
    "Registration",
    "UnitIdentity",
    "UnitStatus",
    "health_of_status",
    "main_status_words",
    "needs_code",
    "refusal_words",
    "storage_status_words",
]


@dataclass(frozen=True, slots=True)
class UnitIdentity:
    unit_id: (
        str  # tillverkningsnummer (17 characters on a CleanCash), TCS's ControlServerID, srv4pos's serial
    )
    protocol_version: int  # CCSP 1 or 2; 1 for the HTTP kinds
    firmware: str  # firmware, or the service's version where it says one ("" when it does not)
    protocol: str = "CCSP"  # which protocol reached it: CCSP, XCCSP, TCS or srv4pos
    licences: int | None = None  # POS ids the unit is licensed for, where it says
    line: str = ""  # the serial line it answered on ("57600 8N1"); "" off a serial line

    @property
    def protocol_name(self) -> str:
        return f"{self.protocol} v{self.protocol_version}"


@dataclass(frozen=True, slots=True)
class UnitStatus:
    main: MainStatus
    storage: StorageStatus | None  # None: not reported yet (CCSP's SIR does not carry it)
    detail: str = ""  # the unit's own status detail, as it sent it (CCSP SIR field 5)

    @property
    def main_words(self) -> str:
        return main_status_words(self.main)

    @property
    def storage_words(self) -> str:
        return storage_status_words(self.storage)


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """Raw bytes exchanged with the unit, kept with the receipt they belong to."""

    direction: Literal["tx", "rx"]
    at: datetime  # UTC
    data: bytes
    note: str = ""  # why received bytes were not used: "stale", "dropped: LRC mismatch", …


@dataclass(frozen=True, slots=True)
class Registration:
    """A receipt the control unit registered.

    Never made without a control code for a receipt that must carry one (``normal`` and
    ``kopia``); training and pro forma receipts are registered and get none
    (``needs_code=False``, code ``""``).
    """

    seq: int
    code: str  # kontrollkod; "" for a training or pro forma receipt
    unit_id: str
    main: MainStatus | None  # None: the protocol did not say, and a status query went unanswered
    storage: StorageStatus | None
    frames: tuple[FrameRecord, ...]
    attempts: int  # 1 unless the request had to be repeated
    needs_code: bool = True

    def __post_init__(self) -> None:
        if self.needs_code and not self.code.strip():
            raise ValueError("no control code, no receipt: a registration needs a control code")


def needs_code(receipt_type: ReceiptType) -> bool:
    """Whether a unit answers this receipt type with a control code (normal and copy only)."""
    return receipt_type in (ReceiptType.NORMAL, ReceiptType.COPY)


class ControlUnitError(Exception):
    """The control unit did not register the receipt. ``str()`` is words for the POS."""


class ControlUnitRefused(ControlUnitError):
    """The unit or service answered and said no. Repeating will not help.

    ``said`` is what it said, as it said it ("NAK 012", "Fault 7: …", a service's error
    name and message); ``code`` is the CCSP NAK number (an XCCSP fault's NAK of the same
    meaning), ``None`` for a service that names its errors; ``words`` tell the shop owner
    what to do.
    """

    def __init__(self, words: str, *, said: str, code: int | None = None) -> None:
        super().__init__(tr("the control unit refused it: {said} — {words}").format(said=said, words=words))
        self.code = code
        self.said = said
        self.words = words


class ControlUnitUnavailable(ControlUnitError):
    """No usable answer after every allowed try; ``reason`` says what to check."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"control unit unavailable: {reason}")
        self.reason = reason


class ControlUnit(Protocol):
    """A certified control unit, reached by some protocol. One per register (POS id)."""

    @property
    def url(self) -> str: ...

    @property
    def pos_id(self) -> str: ...

    @property
    def health(self) -> Health: ...

    @property
    def state(self) -> DeviceState: ...

    @property
    def reason(self) -> str: ...

    @property
    def unit_identity(self) -> UnitIdentity | None:
        """What the last handshake learnt, without asking again."""
        ...

    @property
    def last_status(self) -> UnitStatus | None:
        """The unit's status as last reported (by a status query or a registration)."""
        ...

    def on_change(self, listener: HealthListener) -> Callable[[], None]: ...

    async def wait_for(self, *states: DeviceState) -> Health: ...

    async def start(self) -> UnitIdentity:
        """Open the link and learn who the unit is and how it is (the handshake)."""
        ...

    async def identity(self) -> UnitIdentity: ...

    async def status(self) -> UnitStatus: ...

    async def register(self, seq: int, data: ControlData, *, cashier: str = "") -> Registration:
        """Register one receipt; the same ``seq`` and data may be sent again safely.

        ``cashier`` is the cashier's id, for the kinds that carry one (CCSP v1's ``RH``).
        """
        ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


_MAIN_WORDS = {
    MainStatus.OK: N_("OK"),
    MainStatus.WARNING: N_("warning"),
    MainStatus.PROTOCOL_ERROR: N_("protocol error (it misread something the register sent)"),
    MainStatus.NON_FATAL_ERROR: N_("error, still working"),
    MainStatus.FATAL_ERROR: N_("fatal error, not working"),
    MainStatus.BUSY: N_("busy"),
    MainStatus.NO_UNIT: N_("the server has lost its control unit"),
}

_STORAGE_WORDS = {
    StorageStatus.OK: N_("OK"),
    StorageStatus.HIGH_LEVEL_WARNING: N_("almost full"),
    StorageStatus.FULL: N_("full"),
}


def main_status_words(main: MainStatus) -> str:
    return tr(_MAIN_WORDS[main])


def storage_status_words(storage: StorageStatus | None) -> str:
    return tr("not reported yet") if storage is None else tr(_STORAGE_WORDS[storage])


MEMORY_ALMOST_FULL = N_("journal memory almost full — order a new control unit or have it emptied")
MEMORY_FULL = N_("control unit memory full — order a new control unit or have it emptied")


def health_of_status(status: UnitStatus) -> tuple[DeviceState, str | None]:
    """The device state a unit's own status report puts it in, with the words why."""
    main, storage = status.main, status.storage
    if storage is StorageStatus.FULL:
        return DeviceState.FAILED, tr(MEMORY_FULL)
    if main is MainStatus.NO_UNIT:
        return DeviceState.FAILED, (
            tr(
                "the control unit server has lost its control unit — check the "
                "unit behind the server (its power and cable), or call the "
                "service's supplier"
            )
        )
    if main is MainStatus.FATAL_ERROR:
        return DeviceState.FAILED, (
            tr(
                "the control unit reports a fatal error — restart it; if that "
                "does not help, call the supplier"
            )
        )
    if storage is StorageStatus.HIGH_LEVEL_WARNING:
        return DeviceState.DEGRADED, tr(MEMORY_ALMOST_FULL)
    if main is MainStatus.NON_FATAL_ERROR:
        return DeviceState.DEGRADED, (
            tr("the control unit reports an error but still works — restart it when the shop is quiet")
        )
    if main is MainStatus.PROTOCOL_ERROR:
        return DeviceState.DEGRADED, (
            tr("the control unit misread something the register sent — check the cable if it happens again")
        )
    if main is MainStatus.WARNING:
        return DeviceState.DEGRADED, tr("the control unit reports a warning — see its display or manual")
    return DeviceState.READY, None  # OK, or BUSY (a moment's work is no health problem)


def refusal_words(code: int, pos_id: str) -> str:
    """What the POS shows when the unit refuses a receipt with NAK ``code`` (any number)."""
    words: dict[int, str] = {
        NakCode.INVALID_LRC: tr("the control unit kept receiving damaged frames — check the cable"),
        NakCode.UNKNOWN_MESSAGE: (
            tr(
                "the control unit does not know this request — its firmware may "
                "not suit this gateway; call the supplier"
            )
        ),
        NakCode.INVALID_DATA: tr(
            "the control unit found the receipt data invalid — check the receipt's fields"
        ),
        NakCode.INVALID_SEQUENCE: tr("the control unit got the receipt's messages out of order — try again"),
        NakCode.DEPRECATED: (
            tr(
                "the control unit no longer accepts this kind of request — its "
                "firmware is newer than this gateway expects; call the supplier"
            )
        ),
        NakCode.NOT_OPERATIONAL: tr("the control unit is not operational — restart it"),
        NakCode.INVALID_POS_ID: (
            tr(
                "this register's POS id {pos_id!r} is not licensed in the "
                "control unit — use the POS id the unit was registered with, or "
                "have the supplier add this one"
            ).format(pos_id=pos_id)
        ),
        NakCode.INTERNAL_ERROR: (
            tr("the control unit reported an internal error — restart it; if it persists, call the supplier")
        ),
        NakCode.LICENSE_EXCEEDED: (
            tr(
                "the control unit has no free licence for POS id {pos_id!r} — "
                "buy another licence or free one from a register no longer in use"
            ).format(pos_id=pos_id)
        ),
        NakCode.STORAGE_FULL: tr(MEMORY_FULL),
        NakCode.INVALID_SEQUENCE_NUMBER: (
            tr(
                "the control unit already holds a different receipt under this "
                "sequence number — the register's journal and the control unit "
                "disagree; call support before selling on"
            )
        ),
    }
    known = words.get(code)
    if known is not None:
        return known
    return tr(
        "the control unit refused the receipt with code {code:03d}, "
        "which this gateway does not know — call the supplier and give "
        "them this number"
    ).format(code=code)


# Refusals that mean no receipt can be registered until someone acts, and how bad that is.
REFUSAL_HEALTH: dict[int, DeviceState] = {
    NakCode.INVALID_POS_ID: DeviceState.FAILED,
    NakCode.LICENSE_EXCEEDED: DeviceState.FAILED,
    NakCode.STORAGE_FULL: DeviceState.FAILED,
    NakCode.INTERNAL_ERROR: DeviceState.DEGRADED,
    NakCode.UNKNOWN_MESSAGE: DeviceState.FAILED,
    NakCode.DEPRECATED: DeviceState.FAILED,
}
