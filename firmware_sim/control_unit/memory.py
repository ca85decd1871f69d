"""The control unit's non-volatile journal memory.

An append-only file of JSON lines under the unit's data directory, written and fsynced
before the unit answers, so that a registration the unit acknowledged survives a power
cut and a restart. A torn last line (power lost mid-write) is ignored on load: that
registration never reached memory, and was never answered.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Record:
    """One registration as the unit stored it."""

    pos_id: str
    key: str  # "seq:<n>" for CCSP v2 / XCCSP, "v1:<type>:<receipt no>" for CCSP v1
    data: str  # canonical text of the receipt data
    code: str
    stored_at: str


class JournalMemory:
    def __init__(self, path: Path, capacity: int) -> None:
        self.path = path
        self.capacity = capacity
        self._index: dict[tuple[str, str], Record] = {}
        self._records: list[Record] = []
        self._load()
        self._file = open(path, "ab")  # noqa: SIM115 - held open for the unit's lifetime

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # torn write: never acknowledged
                try:
                    record = Record(**json.loads(line))
                except (ValueError, TypeError):
                    continue
                self._index[(record.pos_id, record.key)] = record
                self._records.append(record)

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[Record]:
        return list(self._records)

    def find(self, pos_id: str, key: str) -> Record | None:
        return self._index.get((pos_id, key))

    def append(self, record: Record) -> None:
        line = json.dumps(asdict(record), separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._index[(record.pos_id, record.key)] = record
        self._records.append(record)

    def close(self) -> None:
        self._file.close()
