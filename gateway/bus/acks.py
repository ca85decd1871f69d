"""The sync module's acks as the publisher takes them: read, matched, proven, recorded.

An ack names a message of this register's outbox (``{orgnr}/{store}/{register}/{sequence}``).
With the sync module's public key (``[mqtt] sync_public_key``, :mod:`gateway.messages.ack_proof`)
an ack counts only when its proof verifies for the outbox row's own entry hash; a forged
ack, one replayed from another incarnation of the till, or one signed by another store's
sync module is logged — once per cause, then counted in the status (``acks_ignored``,
:class:`IgnoredAcks`) — and ignored, and the message goes on being sent until a real ack
comes. Without the key acks are taken as they come, and the status says so (``acks``:
``unauthenticated``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.bus.outbox import AckOutcome, Outbox
from gateway.messages.ack_proof import AckVerifier
from gateway.messages.envelope import Ack, MessageError, decode_ack

__all__ = ["IgnoredAcks", "record_acks", "sequence_of"]

# The publisher's log: what it does with acks is part of its story.
log = logging.getLogger("tillgw.bus.publisher")


class IgnoredAcks:
    """Acks not honoured, counted by cause (``unreadable``, ``foreign``, ``unknown``, ``unproven``)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}  # cause -> how many acks were ignored for it
        self._changed = asyncio.Event()
        self._logged: set[tuple[str, str]] = set()

    def ignore(self, cause: str, text: str, detail: str = "") -> None:
        """An ack not honoured: logged the first time for its cause (and ``detail``: what exactly
        was wrong with an unreadable one), counted every time."""
        self.counts[cause] = self.counts.get(cause, 0) + 1
        if (cause, detail) not in self._logged:
            self._logged.add((cause, detail))
            log.warning("ignored %s (further acks ignored for the same cause are only counted)", text)
        else:
            log.debug("ignored %s", text)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, cause: str, count: int = 1) -> None:
        """Return once ``count`` acks have been ignored for ``cause``."""
        while self.counts.get(cause, 0) < count:
            changed = self._changed
            await changed.wait()


def sequence_of(prefix: str, msg_id: str) -> int | None:
    """The outbox sequence an ack's ``msg_id`` names, when it is of the register ``prefix`` names."""
    if not msg_id.startswith(prefix):
        return None
    tail = msg_id[len(prefix) :]
    return int(tail) if tail.isdigit() else None


async def record_acks(
    received: list[tuple[str, Any]],
    outbox: Outbox,
    verifier: AckVerifier | None,
    prefix: str,
    base: str,
    ignored: IgnoredAcks,
) -> list[tuple[int, AckOutcome]] | None:
    """Record the acks received (``(topic, payload)``) in one transaction; ignore what is not
    honoured. The sequence and outcome of each ack recorded; None when none was an ack of ours."""
    acks: list[tuple[int, Ack]] = []
    for topic, payload in received:
        try:
            ack = decode_ack(payload if isinstance(payload, bytes) else b"")
        except MessageError as exc:
            text = f"an ack on {topic} that is not one: {exc}: {payload[:200]!r}"
            ignored.ignore("unreadable", text, str(exc)[:80])
            continue
        sequence = sequence_of(prefix, ack.msg_id)
        if sequence is None:
            ignored.ignore("foreign", f"an ack for {ack.msg_id!r}: not a message of {base}")
            continue
        acks.append((sequence, ack))
    if not acks:
        return None
    proven = None if verifier is None else verifier.valid
    # A store transaction ends whole even if this task is cancelled meanwhile.
    outcomes = await outbox.acked_many([ack for _, ack in acks], outbox.store.clock.now().isoformat(), proven)
    recorded: list[tuple[int, AckOutcome]] = []
    for (sequence, ack), outcome in zip(acks, outcomes, strict=True):
        if outcome == "unknown":
            ignored.ignore("unknown", f"an ack for {ack.msg_id!r}: no such message in the outbox")
            continue
        if outcome == "unproven":
            ignored.ignore(
                "unproven",
                f"an ack for {ack.msg_id} whose proof does not verify with the sync module's key for "
                "this message (forged, replayed from another till database, or from another store's "
                "sync module); the message is sent again until a real ack comes",
            )
            continue
        if outcome == "repeat":
            log.debug("repeated ack for %s", ack.msg_id)
        elif outcome == "held":
            log.warning("the sync module holds message %s: %s", ack.msg_id, ack.reason)
        elif outcome == "released":
            log.info("the sync module has taken message %s, held before", ack.msg_id)
        recorded.append((sequence, outcome))
    return recorded
