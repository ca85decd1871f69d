"""What every control-unit driver shares: an operation, its tries, and the words it ends in.

A public call (the handshake, a status query, a registration) is one :class:`Operation`.
It is tried at most ``1 + retries`` times; a try that failed in a way another try may
mend raises :class:`Retry`. Out of tries, the last problem becomes words for the shop
owner, the state becomes ``failed`` with them, and :class:`ControlUnitUnavailable`
carries them to the POS. A refusal is final at once: :class:`ControlUnitRefused`.

:class:`RetryingUnit` holds this loop, the wait while a unit says it is busy, the health
its status reports put it in, and the idle watch. A driver adds what its wire needs
(:mod:`gateway.devices.control_units.ccsp_driver`: framing and the ``SIQ`` resynchronisation;
:mod:`gateway.devices.control_units.http_driver`: HTTP) and says in its own words what its own
problems mean.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Generic, Literal, NoReturn, Self, TypedDict, TypeVar, Unpack

from gateway.common.health import DeviceState, HealthReporter, HealthTracker
from gateway.common.i18n import tr
from gateway.devices.control_units.interface import (
    REFUSAL_HEALTH,
    ControlUnitError,
    ControlUnitRefused,
    ControlUnitUnavailable,
    FrameRecord,
    Registration,
    UnitIdentity,
    UnitStatus,
    health_of_status,
    needs_code,
    refusal_words,
)
from protocols.ccsp import MainStatus, StorageStatus
from protocols.skv import ReceiptType, validate_pos_id

__all__ = [
    "CLEANCASH_CODE",
    "DEFAULT_BUSY_POLL",
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_RETRIES",
    "Direction",
    "FrameJournal",
    "Operation",
    "Retry",
    "RetryingUnit",
    "Tries",
    "UnitProblem",
    "tries_words",
]

P = TypeVar("P", bound=enum.Enum)
R = TypeVar("R")

Direction = Literal["tx", "rx"]


class UnitProblem(enum.Enum):
    """Problems that mean the same whatever the protocol; each driver adds its own."""

    BUSY = "busy"
    NOT_OPERATIONAL = "not operational"
    NO_CODE = "no control code"
    BAD_CODE = "not a control code"


CLEANCASH_CODE = re.compile(r"[A-Z2-7]{32};[A-Z2-7]{26}")
"""A CleanCash control code: 32 base32 characters, ``;``, 26 more (59 in all)."""


DEFAULT_REQUEST_TIMEOUT = 2.0  # an RR at 9600 baud is ~0.1 s each way; units answer well within 1 s
DEFAULT_RETRIES = 2
DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_BUSY_POLL = 0.5


class Tries(TypedDict, total=False):
    """The retry and deadline settings every driver takes (the defaults above apply)."""

    request_timeout: float  # seconds for one request, connecting included
    retries: int  # a request is tried 1 + retries times
    busy_timeout: float  # how long to wait, per call, while the unit says it is busy
    busy_poll: float  # how often to ask it meanwhile
    watch_interval: float | None  # ask the unit's status while idle this often (None: never)


class Retry(Exception, Generic[P]):
    """One try failed in a way that another try may mend."""

    def __init__(self, problem: P, detail: str, *, pause: bool = False) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail
        self.pause = pause  # wait out the rest of the try's deadline before the next


class FrameJournal:
    """The frames of one operation: logged at once, and kept for its Registration.

    ``log_frame`` writes one frame to the driver's frame log, in the driver's layout.
    """

    def __init__(self, label: str, log_frame: Callable[[str, Direction, bytes, str], None]) -> None:
        self.label = label
        self.records: list[FrameRecord] = []
        self._log_frame = log_frame

    def _add(self, direction: Direction, data: bytes, note: str = "") -> None:
        self.records.append(FrameRecord(direction, datetime.now(UTC), data, note))
        self._log_frame(self.label, direction, data, note)

    def sent(self, data: bytes) -> None:
        self._add("tx", data)

    def received(self, data: bytes, note: str = "") -> None:
        self._add("rx", data, note)


@dataclass(slots=True)
class Operation(Generic[P]):
    """One public call (register, status, …) across all its tries."""

    label: str
    journal: FrameJournal
    attempt: int = 0
    busy_since: float | None = None
    last_problem: Retry[P] | None = None


def tries_words(attempts: int) -> str:
    return tr("1 try") if attempts == 1 else tr("{attempts} tries").format(attempts=attempts)


class RetryingUnit(HealthReporter, Generic[P], abc.ABC):
    """A control unit reached by some protocol, with the retry, deadline and health rules
    both drivers promise (the drivers' module docs give the numbers).

    ``P`` is the driver's problems: :class:`UnitProblem` and its own.
    """

    _log: ClassVar[logging.Logger]  # the driver's logger: tries that failed, refusals

    def __init__(self, url: str, pos_id: str, **tries: Unpack[Tries]) -> None:
        request_timeout = tries.get("request_timeout", DEFAULT_REQUEST_TIMEOUT)
        retries = tries.get("retries", DEFAULT_RETRIES)
        busy_timeout = tries.get("busy_timeout", DEFAULT_BUSY_TIMEOUT)
        busy_poll = tries.get("busy_poll", DEFAULT_BUSY_POLL)
        watch_interval = tries.get("watch_interval")
        if request_timeout <= 0 or busy_timeout < 0 or busy_poll <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0:
            raise ValueError(f"retries {retries} must be 0 or more")
        if watch_interval is not None and watch_interval <= 0:
            raise ValueError(f"watch_interval {watch_interval} must be positive")
        self._url = self._checked_url(url)
        self._pos_id = validate_pos_id(pos_id)
        self.request_timeout = request_timeout
        self.retries = retries
        self.busy_timeout = busy_timeout
        self.busy_poll = busy_poll
        self.watch_interval = watch_interval
        self._health = HealthTracker(f"control unit {self._url}")
        self._lock = asyncio.Lock()  # one operation at a time
        self._identity: UnitIdentity | None = None
        self._last_status: UnitStatus | None = None
        # A refusal that no status report can clear (POS id not licensed): kept until a
        # receipt is registered again.
        self._sticky: tuple[DeviceState, str] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    @property
    def pos_id(self) -> str:
        return self._pos_id

    @property
    def unit_identity(self) -> UnitIdentity | None:
        return self._identity

    @property
    def last_status(self) -> UnitStatus | None:
        return self._last_status

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def status(self) -> UnitStatus:
        """Ask the unit how it is; updates :attr:`state` and :attr:`reason`."""

        async def body(op: Operation[P]) -> UnitStatus:
            status = await self._query_status(op)
            self._apply_status(status)
            return status

        return await self._operate("status", body, identify=False)

    @abc.abstractmethod
    async def close(self) -> None: ...

    # -- what each driver supplies ----------------------------------------------------

    def _checked_url(self, url: str) -> str:
        """``url`` as the driver keeps it; raises ValueError for one it cannot use."""
        return url

    @abc.abstractmethod
    def _log_frame(self, label: str, direction: Direction, data: bytes, note: str) -> None:
        """Write one frame to the driver's frame log."""

    @abc.abstractmethod
    async def _try(
        self, op: Operation[P], body: Callable[[Operation[P]], Awaitable[R]], *, identify: bool
    ) -> R:
        """One try of ``op``: whatever the protocol needs first, then ``body``."""

    @abc.abstractmethod
    async def _query_status(self, op: Operation[P]) -> UnitStatus:
        """Ask the unit's status once (raises :class:`Retry`)."""

    @abc.abstractmethod
    def _give_up_words(self, last: Retry[P], tries: str) -> str:
        """What to tell the shop owner when every try failed, the last with ``last``."""

    # -- operations and their tries -----------------------------------------------------

    async def _operate(
        self, label: str, body: Callable[[Operation[P]], Awaitable[R]], *, identify: bool
    ) -> R:
        op: Operation[P] = Operation(label, FrameJournal(label, self._log_frame))
        tries = self.retries + 1
        loop = asyncio.get_running_loop()
        async with self._lock:
            for attempt in range(1, tries + 1):
                op.attempt = attempt
                started = loop.time()
                try:
                    return await self._try(op, body, identify=identify)
                except Retry as retry:
                    op.last_problem = retry
                    self._log.warning(
                        "%s %s: try %d of %d failed: %s", self.url, label, attempt, tries, retry
                    )
                    if retry.pause and attempt < tries:
                        # A policy pause, not a synchronisation: a unit that hangs up at
                        # once (rebooting) gets the same time to come back as a silent one.
                        await asyncio.sleep(max(0.0, started + self.request_timeout - loop.time()))
            assert op.last_problem is not None
            words = self._give_up_words(op.last_problem, tries_words(op.attempt))
            self._health.set(DeviceState.FAILED, words)
            raise ControlUnitUnavailable(words)

    def _unit_problem_words(self, problem: UnitProblem, unit: str, detail: str = "") -> str:
        """The words for a :class:`UnitProblem`; ``unit`` names it ("the control unit on …"),
        ``detail`` is the try's own account (what came back)."""
        match problem:
            case UnitProblem.BUSY:
                return tr(
                    "{unit} stayed busy for more than {busy_timeout:g} s — wait a "
                    "minute and try again; if it stays busy, restart it"
                ).format(unit=unit, busy_timeout=self.busy_timeout)
            case UnitProblem.NOT_OPERATIONAL:
                return tr(
                    "{unit} says it is not operational — restart it; if that does not help, call the supplier"
                ).format(unit=unit)
            case UnitProblem.NO_CODE:
                return tr(
                    "{unit} answered without a control code — restart it; if that "
                    "does not help, call the supplier"
                ).format(unit=unit)
            case UnitProblem.BAD_CODE:
                return tr(
                    "{unit} answered, but what came back is not a control code "
                    "({detail}) — restart it; if that does not help, call the "
                    "supplier"
                ).format(unit=unit, detail=detail)

    @staticmethod
    def _code_of(code: str, receipt_type: ReceiptType, shape: re.Pattern[str] | None = None) -> str:
        """No control code, no receipt: a blank one for a normal or copy receipt, or one not
        of ``shape`` (CleanCash's :data:`CLEANCASH_CODE`), is a fault worth another try —
        never a receipt. A training or pro forma receipt gets none (one it gets is kept)."""
        code = code.strip()
        if not needs_code(receipt_type):
            return code
        if not code:
            raise Retry(UnitProblem.NO_CODE, "the answer's control code is blank")
        if shape is not None and not shape.fullmatch(code):
            raise Retry(UnitProblem.BAD_CODE, f"{code!r} is not a control code")
        return code

    def _registered(
        self,
        op: Operation[P],
        seq: int,
        code: str,
        unit_id: str,
        main: MainStatus | None,
        storage: StorageStatus | None,
        receipt_type: ReceiptType,
        *,
        status: UnitStatus | None = None,
        code_needed: bool | None = None,
    ) -> Registration:
        """The unit registered receipt ``seq`` with ``code``: its :class:`Registration`.

        A refusal kept until a receipt is registered again ends here, and the unit's
        health follows ``status`` (default: ``main`` and ``storage``, when the answer gave
        both). ``code_needed`` says whether the receipt had to carry a code (default: as
        its type says, :func:`needs_code`).
        """
        self._sticky = None
        if status is None and main is not None and storage is not None:
            status = UnitStatus(main, storage)
        if status is not None:
            self._apply_status(status)
        return Registration(
            seq,
            code,
            unit_id,
            main,
            storage,
            tuple(op.journal.records),
            op.attempt,
            needs_code(receipt_type) if code_needed is None else code_needed,
        )

    def _refuse(self, code: int, op: Operation[P], said: str) -> NoReturn:
        """The unit said no with NAK ``code`` (``said``, as it said it): final, in words for the POS."""
        self._refuse_with(
            refusal_words(code, self._pos_id), op, said, code=code, state=REFUSAL_HEALTH.get(code)
        )

    def _refuse_with(
        self,
        words: str,
        op: Operation[P],
        said: str,
        *,
        code: int | None = None,
        state: DeviceState | None = None,
    ) -> NoReturn:
        """The unit or service said no: final. ``state`` is the health it leaves the unit in
        until a receipt is registered again (``None``: the refusal was about this receipt)."""
        if state is not None:
            self._sticky = (state, words)
            self._health.set(state, words)
        self._log.warning("%s %s: refused: %s", self.url, op.label, said)
        raise ControlUnitRefused(words, said=said, code=code)

    async def _wait_while_busy(self, op: Operation[P]) -> None:
        """After "not operational": while the status says busy, wait (up to busy_timeout per call)."""
        loop = asyncio.get_running_loop()
        status = await self._query_status(op)
        if status.main is MainStatus.BUSY:
            if op.busy_since is None:
                op.busy_since = loop.time()
            busy_end = op.busy_since + self.busy_timeout
            while status.main is MainStatus.BUSY and loop.time() < busy_end:
                # A poll period, not a synchronisation: the unit gives no "ready" signal.
                await asyncio.sleep(min(self.busy_poll, busy_end - loop.time()))
                status = await self._query_status(op)
            if status.main is MainStatus.BUSY:
                raise Retry(UnitProblem.BUSY, f"still busy after {self.busy_timeout:g} s")
        self._apply_status(status)
        if self.state is DeviceState.FAILED:
            raise ControlUnitUnavailable(self.detail)

    # -- health -------------------------------------------------------------------------

    def _apply_status(self, status: UnitStatus) -> None:
        self._last_status = status
        state, words = health_of_status(status)
        if self._sticky is not None and state is not DeviceState.FAILED:
            state, words = self._sticky
        self._health.set(state, words)

    def _start_watching(self) -> None:
        """With a ``watch_interval``, ask the unit's status while idle (once started)."""
        if self.watch_interval is not None and self._watch_task is None:
            self._watch_task = asyncio.create_task(self._watch(), name=f"control unit watch {self.url}")

    async def _stop_watching(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None

    async def _watch(self) -> None:
        assert self.watch_interval is not None
        while True:
            # The watch period: how soon a change is noticed while the till is idle.
            await asyncio.sleep(self.watch_interval)
            if self._lock.locked():
                continue  # a sale is talking to the unit; that tells us enough
            with contextlib.suppress(ControlUnitError):
                await self.status()
