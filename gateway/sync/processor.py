"""Processing: from the inbox to the adapters, per register in ``sequence`` order, once.

A pass takes every register with unprocessed messages. For each it starts at the
message after the last one processed; if that one has not arrived (a gap — the till
sends in order but a resend can overtake), the register waits: the till resends until
it has its ack, so the missing message will come. Messages no adapter needs (a receipt,
for the SIE adapter) are marked processed in batches, the runs of many registers in one
transaction (a pass while the tills are busy finds a few new messages at each register:
a commit per register would be a commit, an fsync, per message or two); a message an adapter needs is
handed to it alone, inside the transaction that marks it processed. If the adapter
fails, that transaction is rolled back, an ``ERROR`` line quotes the receiving system's
message (once per run for the same failure), the message is *held* with that reason (shown
in ``tillgw sync --status`` and on the tills' pages) and the register stops there until the
next pass, which tries it again. A message held by the intake (a register not in the
configuration) stops its register too, until ``tillgw sync --reprocess`` takes it: later
messages are never booked past a held one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.sync.adapters import Adapter, AdapterError
from gateway.sync.database import now_text
from gateway.sync.inbox import Inbox, Pending, RegisterKey
from gateway.sync.runlog import LOGGER

__all__ = ["PassResult", "Processor"]

log = logging.getLogger(LOGGER)

Run = tuple[RegisterKey, list[Pending]]
"""A register's next messages in unbroken sequence."""


@dataclass
class PassResult:
    processed: int = 0
    failed: int = 0  # registers stopped by an adapter's failure
    waiting: dict[RegisterKey, int] = field(default_factory=dict)  # register -> the sequence awaited
    held: dict[RegisterKey, int] = field(default_factory=dict)  # register -> its held message's sequence


def _ranges(numbers: Sequence[int]) -> str:
    return f"{numbers[0]}" if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"


class Processor:
    def __init__(self, inbox: Inbox, adapters: Sequence[Adapter], batch: int = 500) -> None:
        self.inbox = inbox
        self.adapters = tuple(adapters)
        self.batch = batch
        self._reported: set[tuple[str, str]] = set()  # (msg_id, error) already logged this run
        self._waiting: dict[RegisterKey, int] = {}
        self._held: dict[RegisterKey, int] = {}
        self.total = 0

    def _needs(self, item: Pending) -> bool:
        return any(a.handles(item.message.kind) for a in self.adapters)

    async def run_pass(self) -> PassResult:
        result = PassResult()
        keys = await self.inbox.pending_registers()
        if keys and self.inbox.dialect == "postgresql":
            # Workers sharing the database each start at a register of their own: in one order
            # they would all reach for the same register, and all but one would read its
            # messages only to find it claimed.
            start = random.randrange(len(keys))
            keys = keys[start:] + keys[:start]
        while keys:
            group: list[Run] = []
            again: list[RegisterKey] = []
            for key in keys:
                await self._register(key, result, group)
                if sum(len(run) for _, run in group) >= self.batch:
                    again += await self._mark_group(group, result)
                    group = []
            again += await self._mark_group(group, result)
            keys = again  # each register whose run was marked: what comes after it
        self.total += result.processed
        return result

    async def _mark_group(self, group: list[Run], result: PassResult) -> list[RegisterKey]:
        """Runs no adapter needs, of many registers, marked processed in one transaction (one
        commit, one fsync, for what would otherwise be one per register); the registers marked.
        A register another worker has claimed (or processed meanwhile) is left to it."""
        if not group:
            return []
        marked: list[Run] = []
        try:
            async with self.inbox.processing_transaction() as db:
                at = now_text()
                for key, run in group:
                    if await self.inbox.claim(db, key, run):
                        await self.inbox.mark_processed(db, key, run, at)
                        marked.append((key, run))
        except Exception as exc:  # the database: nothing of the group is marked; the next pass tries again
            self._error("inbox:mark", f"inbox: messages not marked processed: {type(exc).__name__}: {exc}")
            result.failed += 1
            return []
        for key, run in marked:
            result.processed += len(run)
            log.info(
                "processed %s %s: %s",
                "/".join(key),
                _ranges([i.message.sequence for i in run]),
                ", ".join(sorted({i.message.kind for i in run})),
            )
        return [key for key, _ in marked]

    async def _register(self, key: RegisterKey, result: PassResult, group: list[Run]) -> None:
        """The register's messages an adapter needs, each in its transaction, up to its first run
        of messages none needs: that run joins ``group`` (:meth:`_mark_group`)."""
        name = "/".join(key)
        while True:
            try:
                expected, items, waiting = await self.inbox.pending(key, self.batch)
            except Exception as exc:
                self._error(f"inbox:{name}", f"inbox: the messages of {name} cannot be read: {exc}")
                result.failed += 1
                return
            if not items:
                if waiting is None:
                    held = await self.inbox.first_held(key)
                    if held is not None:
                        result.held[key] = held[0]
                        if self._held.get(key) != held[0]:
                            self._held[key] = held[0]
                            log.warning(
                                "%s: message %d is held; the register's later messages wait behind it: %s",
                                name,
                                held[0],
                                held[1],
                            )
                if waiting is not None:
                    result.waiting[key] = expected
                    if self._waiting.get(key) != expected:
                        self._waiting[key] = expected
                        log.warning(
                            "%s: waiting for message %d (the next one here is %d); the till resends it",
                            name,
                            expected,
                            waiting,
                        )
                return
            # A run of messages no adapter needs, or the one message an adapter needs.
            run = items[:1] if self._needs(items[0]) else []
            if not run:
                for item in items:
                    if self._needs(item):
                        break
                    run.append(item)
                group.append((key, run))
                return
            done = await self._process(key, run)
            if done is None:
                result.failed += 1
                return
            if not done:
                return  # another worker sharing the store has the register: it carries on
            result.processed += len(run)
            log.info(
                "processed %s %s: %s",
                name,
                _ranges([i.message.sequence for i in run]),
                ", ".join(sorted({i.message.kind for i in run})),
            )

    async def _process(self, key: RegisterKey, run: list[Pending]) -> bool | None:
        """True: processed; False: another worker has the register or got there first; None: failed."""
        name = "/".join(key)
        done: list[str] = []
        current: tuple[Adapter, Pending] | None = None
        try:
            async with self.inbox.processing_transaction() as db:
                if not await self.inbox.claim(db, key, run):
                    return False
                for item in run:
                    for adapter in self.adapters:
                        if adapter.handles(item.message.kind):
                            current = (adapter, item)
                            what = await adapter.process(db, item.message)
                            if what:
                                done.append(f"{adapter.name}: {what}")
                await self.inbox.mark_processed(db, key, run, now_text())
        except AdapterError as exc:
            assert current is not None
            adapter, item = current
            self._error(
                item.message.msg_id,
                f"{adapter.name}: {item.message.msg_id} ({item.message.kind}) not processed: {exc}",
            )
            await self._hold(item, f"{adapter.name} refused it: {exc}")
            return None
        except Exception as exc:  # an adapter's bug or the database: log it, never crash the module
            where = f"{current[0].name}: {current[1].message.msg_id}" if current else f"inbox: {name}"
            self._error(where, f"{where} not processed: unexpected {type(exc).__name__}: {exc}")
            if current is not None:
                await self._hold(current[1], f"{current[0].name} failed: {type(exc).__name__}: {exc}")
            return None
        for line in done:
            log.info("%s", line)
        return True

    async def _hold(self, item: Pending, reason: str) -> None:
        """Mark the message held with the reason (shown until a pass books it); never raises."""
        text = (
            f"{reason} — fix the cause (the ERP's data, its connection, the folder); it is tried again "
            "every retry_interval, or now with tillgw sync --reprocess"
        )
        try:
            await self.inbox.hold_processing(item.id, text)
        except Exception as exc:
            log.warning("inbox: could not mark %s held: %s", item.message.msg_id, exc)

    def _error(self, what: str, text: str) -> None:
        if (what, text) not in self._reported:
            self._reported.add((what, text))
            log.error("%s", text)
