"""The simulated control unit itself, independent of the protocol that reaches it.

Front-ends (CCSP over a pty or TCP, XCCSP over HTTP) turn their requests into calls on
:class:`ControlUnit` and its answers back into their replies. Everything that makes the
unit a unit lives here: its identity and secret, the licensed POS ids, the journal
memory and its capacity, the control codes, and the faults.

Control codes have the shape of real CleanCash codes — 32 base32 characters, ``;``, 26
more — and are an HMAC of the receipt data under the unit's own secret, so the same data
gives the same code and nobody without the secret can forge one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from firmware_sim.control_unit.faults import Fault, FaultSet, PowerCutMode
from firmware_sim.control_unit.memory import JournalMemory, Record
from protocols.ccsp import MainStatus, NakCode, StorageStatus
from protocols.skv import ControlData, ReceiptType

UNIT_ID_PREFIX = "TGSIMSE"  # 7 characters + 10 digits = the 17 of a real unit id
FIRMWARE = "tillgw-sim 1.0"
MODEL = "tillgw simulated control unit"
HIGH_LEVEL_PERCENT = 90
CODED_TYPES = (ReceiptType.NORMAL, ReceiptType.COPY)


@dataclass(frozen=True)
class UnitConfig:
    data_dir: Path
    protocol: int = 2
    licences: int = 1
    pos_ids: tuple[str, ...] = ()  # licensed at start; more are added on first use
    auto_register: bool = True  # a new POS id takes a free licence on first use
    capacity: int = 1_000_000  # registrations journal memory holds
    unit_id: str | None = None  # fixed id; otherwise made once and kept in the data dir
    reboot_seconds: float = 0.5  # how long a power cut keeps the unit dark
    baudrate: int | None = None  # on a pty: the only line speed it understands (None: any)
    frame_mode: str = "!"  # CCSP: the mode its replies are framed in, "!" (A) or "%" (B)


@dataclass(frozen=True, slots=True)
class Identity:
    unit_id: str
    protocol: int
    firmware: str
    model: str
    licences: int
    pos_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Status:
    main: MainStatus
    storage: StorageStatus


@dataclass(frozen=True, slots=True)
class Registered:
    code: str
    unit_id: str
    main: MainStatus
    storage: StorageStatus
    repeat: bool  # the same registration was already in journal memory


class Refused(Exception):
    """The unit answers with an error code (CCSP NAK, XCCSP Fault): any 3-digit number,
    so that a driver can be shown a code it does not know."""

    def __init__(self, code: int) -> None:
        known = code in NakCode.__members__.values()
        super().__init__(f"{int(code):03d} {NakCode(code).text if known else 'unknown code'}")
        self.code = code


class ServerError(Exception):
    """A service in front of the unit fails (HTTP 5xx): the request was not processed."""


class NoReply(Exception):
    """The unit says nothing: the request was swallowed, or the unit lost power."""

    def __init__(self, power_cut: bool = False) -> None:
        super().__init__("power cut" if power_cut else "no reply")
        self.power_cut = power_cut


def canonical_data(data: ControlData) -> str:
    """The receipt data as the unit signs and stores it."""
    vat = "|".join(data.vat_texts(""))
    return "|".join(
        (
            data.date_text,
            data.orgnr,
            data.pos_id,
            data.receipt_no_text,
            data.receipt_type.value,
            data.total_text,
            data.return_total_text,
            vat,
        )
    )


@dataclass
class _State:
    unit_id: str
    secret: str
    pos_ids: list[str] = field(default_factory=list)


class ControlUnit:
    def __init__(self, config: UnitConfig) -> None:
        self.config = config
        self.faults = FaultSet()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._state_path = config.data_dir / "unit.json"
        self._state = self._load_state()
        self.memory = JournalMemory(config.data_dir / "journal-memory.jsonl", config.capacity)
        self._dark_until = 0.0  # monotonic time the unit comes back after a power cut
        self._lock = asyncio.Lock()  # one registration at a time, as in a real unit

    # -- identity and state -------------------------------------------------------------

    def _load_state(self) -> _State:
        if self._state_path.exists():
            raw = json.loads(self._state_path.read_text())
            state = _State(raw["unit_id"], raw["secret"], list(raw.get("pos_ids", [])))
            if self.config.unit_id and self.config.unit_id != state.unit_id:
                state.unit_id = self.config.unit_id
        else:
            unit_id = self.config.unit_id or UNIT_ID_PREFIX + f"{secrets.randbelow(10**10):010d}"
            state = _State(unit_id, secrets.token_hex(32))
        for pos_id in self.config.pos_ids:
            if pos_id not in state.pos_ids:
                state.pos_ids.append(pos_id)
        if len(state.pos_ids) > self.config.licences:
            raise ValueError(
                f"{len(state.pos_ids)} POS ids ({', '.join(state.pos_ids)}) but only "
                f"{self.config.licences} licence(s)"
            )
        self._save_state(state)
        return state

    def _save_state(self, state: _State) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        raw = {"unit_id": state.unit_id, "secret": state.secret, "pos_ids": state.pos_ids}
        tmp.write_text(json.dumps(raw))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._state_path)

    @property
    def unit_id(self) -> str:
        return self._state.unit_id

    def close(self) -> None:
        self.memory.close()

    # -- the calls front-ends make ----------------------------------------------------------

    async def identity(self) -> Identity:
        await self._enter()
        return Identity(
            self.unit_id,
            self.config.protocol,
            FIRMWARE,
            MODEL,
            self.config.licences,
            tuple(self._state.pos_ids),
        )

    async def status(self) -> Status:
        await self._enter()
        return self.current_status()

    def current_status(self) -> Status:
        storage = self._storage_status()
        if self.faults.is_on(Fault.BUSY):
            main = MainStatus.BUSY
        elif storage is StorageStatus.FULL:
            main = MainStatus.NON_FATAL_ERROR
        elif storage is StorageStatus.HIGH_LEVEL_WARNING:
            main = MainStatus.WARNING
        else:
            main = MainStatus.OK
        return Status(main, storage)

    async def register(self, key: str, data: ControlData) -> Registered:
        """Register one receipt under ``key`` (unique per POS id) and return its code."""
        await self._enter()
        if self.faults.strike(Fault.BUSY) is not None:
            raise Refused(NakCode.NOT_OPERATIONAL)
        nak = self.faults.strike(Fault.NAK)
        if nak is not None:
            raise Refused(int(nak))
        async with self._lock:
            self._check_pos_id(data.pos_id)
            canonical = canonical_data(data)
            found = self.memory.find(data.pos_id, key)
            if found is not None:
                if found.data != canonical:
                    raise Refused(NakCode.INVALID_SEQUENCE_NUMBER)
                return self._registered(found.code, repeat=True)
            if self._storage_status() is StorageStatus.FULL:
                raise Refused(NakCode.STORAGE_FULL)
            cut = self.faults.strike(Fault.POWER_CUT)
            if cut == PowerCutMode.BEFORE_STORE:
                self._power_cut()
            # Only normal and copy receipts get a control code; training and pro forma
            # receipts are stored without one (the XCCSP spec text, in the reference).
            code = self.control_code(key, canonical) if data.receipt_type in CODED_TYPES else ""
            self.memory.append(
                Record(data.pos_id, key, canonical, code, datetime.now().isoformat(timespec="seconds"))
            )
            if cut == PowerCutMode.AFTER_STORE:
                self._power_cut()
            return self._registered(code, repeat=False)

    def take_corruption(self) -> bool:
        """Whether the reply now going out is to be corrupted (one strike)."""
        return self.faults.strike(Fault.CORRUPT_LRC) is not None

    def take_noise(self) -> bytes:
        """Line noise to send before the reply now going out (one strike), or b""."""
        count = self.faults.strike(Fault.NOISE)
        if count is None:
            return b""
        # Random bytes, but never a frame start: noise must not fake a reply.
        return secrets.token_bytes(int(count)).replace(b"#", b"*").replace(b"\r", b"\n")

    def is_dark(self) -> bool:
        return time.monotonic() < self._dark_until

    # -- internals ----------------------------------------------------------------------

    async def _enter(self) -> None:
        """Transport-independent faults every request meets first."""
        if self.is_dark():
            raise NoReply(power_cut=True)
        if self.faults.strike(Fault.NO_REPLY) is not None:
            raise NoReply()
        if self.faults.strike(Fault.SERVER_ERROR) is not None:
            raise ServerError("simulated server error")
        delay = self.faults.strike(Fault.SLOW)
        if delay is not None:
            await asyncio.sleep(float(delay))

    def _power_cut(self) -> None:
        self._dark_until = time.monotonic() + self.config.reboot_seconds
        raise NoReply(power_cut=True)

    def _check_pos_id(self, pos_id: str) -> None:
        if pos_id in self._state.pos_ids:
            return
        if not self.config.auto_register:
            raise Refused(NakCode.INVALID_POS_ID)
        if len(self._state.pos_ids) >= self.config.licences:
            raise Refused(NakCode.LICENSE_EXCEEDED)
        self._state.pos_ids.append(pos_id)
        self._save_state(self._state)

    def _storage_status(self) -> StorageStatus:
        if self.faults.is_on(Fault.STORAGE_FULL) or len(self.memory) >= self.config.capacity:
            return StorageStatus.FULL
        if self.faults.is_on(Fault.STORAGE_HIGH) or len(self.memory) * 100 >= (
            self.config.capacity * HIGH_LEVEL_PERCENT
        ):
            return StorageStatus.HIGH_LEVEL_WARNING
        return StorageStatus.OK

    def _registered(self, code: str, repeat: bool) -> Registered:
        status = self.current_status()
        return Registered(code, self.unit_id, status.main, status.storage, repeat)

    def control_code(self, key: str, canonical: str) -> str:
        mac = hmac.new(
            bytes.fromhex(self._state.secret),
            f"{self.unit_id}|{key}|{canonical}".encode(),
            hashlib.sha512,
        ).digest()
        text = base64.b32encode(mac).decode("ascii")
        return f"{text[:32]};{text[32:58]}"
