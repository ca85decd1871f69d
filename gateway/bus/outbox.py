"""The till's outbox: every message for the bus, written with its journal entry.

An append hook on the store (:meth:`Outbox.install`) adds an outbox row for each journal
entry that goes on the bus, inside the entry's own transaction: a receipt is never in
the journal without its message, nor a message without its receipt, whatever moment a
crash comes. The publisher (:mod:`gateway.bus.publisher`) sends the rows in order and
marks one done only when the sync module's application ack names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.bus.messages import KIND_TOPICS, Ack, BusMessage, Topics
from gateway.fiscal.journal import Entry
from gateway.fiscal.store import Store, Writer

__all__ = ["OUTBOX_SCHEMA", "Outbox", "OutboxRow", "OutboxState"]

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    sequence INTEGER PRIMARY KEY,    -- the register's message number: 1, 2, 3 ... no gaps
    msg_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    message BLOB NOT NULL,           -- the JSON sent, exactly
    journal_entry INTEGER NOT NULL REFERENCES journal (seq),
    created_at TEXT NOT NULL,
    sends INTEGER NOT NULL DEFAULT 0,
    last_sent_at TEXT,
    acked_at TEXT,                   -- NULL until the sync module's ack arrives
    ack_status TEXT,                 -- stored | rejected
    ack_reason TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unacked ON outbox (sequence) WHERE acked_at IS NULL;
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    sequence: int
    msg_id: str
    topic: str
    message: bytes
    sends: int


@dataclass(frozen=True, slots=True)
class OutboxState:
    """What ``GET /v1/status`` shows of the outbox."""

    depth: int  # messages not yet acked
    oldest_at: str | None  # when the oldest of them was written
    last_acked: int | None  # the highest sequence acked


class Outbox:
    def __init__(self, store: Store, topics: Topics) -> None:
        self.store = store
        self.topics = topics

    async def install(self) -> None:
        """Create the table and hook every journal append of a bus kind to an outbox row."""
        await self.store.executescript(OUTBOX_SCHEMA)
        self.store.append_hooks.append(self._on_append)

    def _on_append(self, w: Writer, entry: Entry) -> None:
        if entry.kind not in KIND_TOPICS:
            return
        row = w.fetchone("SELECT COALESCE(MAX(sequence), 0) + 1 FROM outbox")
        assert row is not None
        sequence = int(row[0])
        message = BusMessage(
            msg_id=f"{self.topics.orgnr}/{self.topics.store}/{self.topics.register}/{sequence}",
            kind=entry.kind,
            orgnr=self.topics.orgnr,
            store=self.topics.store,
            register=self.topics.register,
            sequence=sequence,
            journal_entry=entry.seq,
            entry_hash=entry.hash.hex(),
            at=entry.at,
            payload=_payload(w, entry),
        )
        w.execute(
            "INSERT INTO outbox (sequence, msg_id, topic, message, journal_entry, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                sequence,
                message.msg_id,
                self.topics.for_kind(entry.kind),
                message.to_bytes(),
                entry.seq,
                entry.at,
            ),
        )

    async def unacked(self, after: int = 0, limit: int = 500) -> list[OutboxRow]:
        """Messages not yet acked, in order, from ``sequence > after``."""
        rows = await self.store.fetchall(
            "SELECT sequence, msg_id, topic, message, sends FROM outbox "
            "WHERE acked_at IS NULL AND sequence > ? ORDER BY sequence LIMIT ?",
            (after, limit),
        )
        return [OutboxRow(int(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4])) for r in rows]

    async def sent(self, sequences: list[int], at: str) -> None:
        if not sequences:
            return
        await self.store.transact(
            lambda w: w.executemany(
                "UPDATE outbox SET sends = sends + 1, last_sent_at = ? WHERE sequence = ?",
                [(at, s) for s in sequences],
            )
        )

    async def acked_many(self, acks: list[Ack], at: str) -> list[str]:
        """Mark acked messages done, all in one transaction (one fsync for a burst of acks).

        Each ack's outcome: ``"done"``, ``"repeat"`` (already acked) or ``"unknown"``.
        """

        def record(w: Writer) -> list[str]:
            outcomes: list[str] = []
            for ack in acks:
                cursor = w.execute(
                    "UPDATE outbox SET acked_at = ?, ack_status = ?, ack_reason = ? "
                    "WHERE msg_id = ? AND acked_at IS NULL",
                    (at, ack.status, ack.reason, ack.msg_id),
                )
                if cursor.rowcount > 0:
                    outcomes.append("done")
                    continue
                found = w.fetchone("SELECT 1 FROM outbox WHERE msg_id = ?", (ack.msg_id,))
                outcomes.append("repeat" if found is not None else "unknown")
            return outcomes

        return await self.store.transact(record)

    async def state(self) -> OutboxState:
        row = await self.store.fetchone("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE acked_at IS NULL")
        last = await self.store.fetchone("SELECT MAX(sequence) FROM outbox WHERE acked_at IS NOT NULL")
        assert row is not None and last is not None
        return OutboxState(int(row[0]), row[1], None if last[0] is None else int(last[0]))


def _payload(w: Writer, entry: Entry) -> dict[str, Any]:
    """The message's payload: the entry's body, and for a receipt the receipt itself."""
    if entry.kind != "receipt":
        return dict(entry.body)
    pending = w.fetchone("SELECT body FROM journal WHERE seq = ?", (entry.body["pending"],))
    assert pending is not None
    sale = json.loads(pending[0])
    body = entry.body
    return {
        "receipt_no": body["receipt_no"],
        "type": body["type"],
        "at": sale["at"],
        "copy_of": body.get("copy_of"),
        "control_code": body["control_code"],
        "unit_id": body["unit_id"],
        "totals": body["totals"],  # öre
        "receipt": sale["receipt"],  # as the POS posted it (decimal strings)
        "cashier": sale["receipt"].get("cashier"),
    }
