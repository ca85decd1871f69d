"""The till's outbox: every message for the bus, written with its journal entry.

An append hook on the store (:meth:`Outbox.install`) adds an outbox row for each journal
entry that goes on the bus, inside the entry's own transaction: a receipt is never in
the journal without its message, nor a message without its receipt, whatever moment a
crash comes. The publisher (:mod:`gateway.bus.publisher`) sends the rows in order and
stops sending one only when the sync module's application ack names it: ``stored`` (in
its inbox: done) or ``held`` (it cannot take it yet, with the reason: kept and shown as
something to act on until a ``stored`` ack follows).

The publisher gets each new row in hand (:meth:`Outbox.hand_over`): the row the hook
made is given to it once its transaction has committed, so a message just written is not
read back from the database before it is sent. The table stays the record: a row a
publisher did not get in hand — after a restart, a reconnection, or written by another
process (``tillgw report``) — is read from it (:meth:`Outbox.unacked`).

A till.db of an earlier version is brought up to date when it is opened
(:meth:`Outbox.install`): the ``entry_hash`` column is added and filled from the messages
themselves, and rows an older sync module acked ``rejected`` become ``held`` — they were
never booked, so they are shown again instead of being forgotten.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway.fiscal.bodies import PendingBody, ReceiptBody
from gateway.fiscal.journal import Entry
from gateway.fiscal.store import Store, Writer
from gateway.messages.bodies import PriceChangeBody
from gateway.messages.envelope import KIND_TOPICS, Ack, AckStatus, BusMessage, Topics
from gateway.messages.price_change import price_change_payload_of
from gateway.messages.receipt_payload import ReceiptPayload, receipt_payload_of

__all__ = [
    "AckOutcome",
    "HeldMessage",
    "Outbox",
    "OutboxRow",
    "OutboxState",
    "receipt_payload",
]


AckOutcome = str
"""What an ack did: ``done`` (stored), ``held``, ``released`` (a held message now stored),
``repeat`` (nothing new), ``unknown`` (no such message here) or ``unproven`` (its proof does
not verify for this message)."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    sequence: int
    msg_id: str
    topic: str
    message: bytes
    sends: int


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message the sync module holds: it has it, but cannot take it until a person acts."""

    msg_id: str
    kind: str
    sequence: int
    reason: str
    since: str  # when the held ack came

    def to_json(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "kind": self.kind,
            "sequence": self.sequence,
            "reason": self.reason,
            "since": self.since,
        }


@dataclass(frozen=True, slots=True)
class OutboxState:
    """What ``GET /v1/status`` shows of the outbox."""

    depth: int  # messages acked neither stored nor held
    oldest_at: str | None  # when the oldest of them was written
    last_acked: int | None  # the highest sequence acked
    held: tuple[HeldMessage, ...] = field(default=())  # at most HELD_SHOWN, the oldest first
    held_count: int = 0


HELD_SHOWN = 50  # held messages listed in the status; held_count says how many there are


class Outbox:
    def __init__(self, store: Store, topics: Topics) -> None:
        self.store = store
        self.topics = topics
        # Rows made by the append hook (on the database thread), by journal entry, until their
        # transaction's commit hands them over (on the event loop): only while handing over.
        self._handing_over = False
        self._made: dict[int, OutboxRow] = {}
        self._made_lock = threading.Lock()

    async def install(self) -> None:
        """Hook every journal append of a bus kind to an outbox row (the table is the till
        database's, made by the store: gateway/fiscal/schema.py)."""
        self.store.append_hooks.append(self._on_append)

    def hand_over(self, on: bool) -> None:
        """Keep each new row in hand for :meth:`committed`, or stop (the publisher's start and close)."""
        with self._made_lock:
            self._handing_over = on
            self._made.clear()

    def committed(self, entries: list[Entry]) -> list[OutboxRow]:
        """The rows the committed ``entries`` made, in order, as they were written: for a store
        commit listener (the event loop), after the commit. Rows of entries before them still in
        hand were rolled back (or their listener is late: the publisher reads those instead)."""
        if not entries:
            return []
        with self._made_lock:
            rows = [row for entry in entries if (row := self._made.pop(entry.seq, None)) is not None]
            for seq in [seq for seq in self._made if seq < entries[0].seq]:
                del self._made[seq]
        return rows

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
        made = OutboxRow(sequence, message.msg_id, self.topics.for_kind(entry.kind), message.to_bytes(), 0)
        w.execute(
            "INSERT INTO outbox (sequence, msg_id, topic, message, journal_entry, created_at, entry_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (made.sequence, made.msg_id, made.topic, made.message, entry.seq, entry.at, message.entry_hash),
        )
        if self._handing_over:
            with self._made_lock:
                self._made[entry.seq] = made  # a rolled-back entry's row is replaced: its number comes again

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

    async def acked_many(
        self, acks: list[Ack], at: str, proven: Callable[[Ack, str], bool] | None = None
    ) -> list[AckOutcome]:
        """Record acks, all in one transaction (one fsync for a burst of acks).

        ``proven(ack, entry_hash)``: whether the ack's proof holds for the row's entry hash
        (None: acks are taken unproven, as from a sync module whose key the till was not
        given). A ``stored`` ack is final; a ``held`` one stops the resending and shows the
        message as held until a ``stored`` ack follows — a held ack after the stored one
        changes nothing. Each ack's outcome: see :data:`AckOutcome`.
        """

        def record(w: Writer) -> list[AckOutcome]:
            outcomes: list[AckOutcome] = []
            for ack in acks:
                row = w.fetchone("SELECT entry_hash, ack_status FROM outbox WHERE msg_id = ?", (ack.msg_id,))
                if row is None:
                    outcomes.append("unknown")
                    continue
                if proven is not None and not proven(ack, str(row[0] or "")):
                    outcomes.append("unproven")
                    continue
                status = row[1]
                if status == AckStatus.STORED or status == ack.status:
                    outcomes.append("repeat")
                    continue
                w.execute(
                    "UPDATE outbox SET acked_at = COALESCE(acked_at, ?), ack_status = ?, ack_reason = ? "
                    "WHERE msg_id = ?",
                    (at, ack.status, ack.reason, ack.msg_id),
                )
                if ack.status == AckStatus.HELD:
                    outcomes.append("held")
                else:
                    outcomes.append("released" if status == AckStatus.HELD else "done")
            return outcomes

        return await self.store.transact(record)

    async def held_first(self) -> tuple[HeldMessage | None, int]:
        """The first held message and how many are held."""
        state = await self.state(shown=1)
        return (state.held[0] if state.held else None), state.held_count

    async def state(self, shown: int = HELD_SHOWN) -> OutboxState:
        row = await self.store.fetchone("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE acked_at IS NULL")
        last = await self.store.fetchone("SELECT MAX(sequence) FROM outbox WHERE acked_at IS NOT NULL")
        count = await self.store.fetchone("SELECT COUNT(*) FROM outbox WHERE ack_status = 'held'")
        held = await self.store.fetchall(
            "SELECT msg_id, json_extract(CAST(message AS TEXT), '$.kind'), sequence, ack_reason, acked_at "
            "FROM outbox WHERE ack_status = 'held' ORDER BY sequence LIMIT ?",
            (shown,),
        )
        assert row is not None and last is not None and count is not None
        return OutboxState(
            int(row[0]),
            row[1],
            None if last[0] is None else int(last[0]),
            tuple(
                HeldMessage(str(r[0]), str(r[1] or "?"), int(r[2]), str(r[3] or "no reason given"), str(r[4]))
                for r in held
            ),
            int(count[0]),
        )


def _payload(w: Writer, entry: Entry) -> dict[str, Any]:
    """The message's payload: the entry's body; for a receipt the projection of its two entries,
    for a price change its prices in öre (the journal's bodies stay as signed; only the message
    has the bus's shape, money in öre)."""
    if entry.kind == "price.change":
        return price_change_payload_of(entry.body_as(PriceChangeBody)).to_json()
    if entry.kind != "receipt":
        return dict(entry.body)
    done = entry.body_as(ReceiptBody)
    row = w.fetchone("SELECT body FROM journal WHERE seq = ?", (done.pending,))
    assert row is not None
    return receipt_payload(done, msgspec.json.decode(row[0], type=PendingBody)).to_json()


def receipt_payload(done: ReceiptBody, pending: PendingBody) -> ReceiptPayload:
    """A receipt's message (``tillgw.bus/2``): its ``receipt`` entry (``done``) with the sale of its
    pending entry, every amount in öre and the VAT in labelled rows."""
    return receipt_payload_of(
        receipt_no=done.receipt_no,
        type=done.type,
        at=pending.at,
        copy_of=done.copy_of,
        control_code=done.control_code,
        unit_id=done.unit_id,
        totals=done.totals,
        sale=pending.sale(),
        cashier=pending.receipt.get("cashier"),
    )
