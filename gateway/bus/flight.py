"""The publisher's numbers, the rows it holds in hand, a message in flight (sent, not acked),
and the till's one resend timer.

At most ``window`` messages are in flight. The till keeps ONE timer for them all
(:class:`Resend`), not one per message: while acks come, nothing is sent twice. When no ack
has come for ``ack_wait`` seconds, the oldest message of the window is sent again — and
again after a jittered wait that grows to ``resend_max`` (:class:`~gateway.common.backoff.Backoff`),
for as long as the sync module stays silent. The rest of the window waits: the broker
keeps it for the sync module's persistent session, and it arrives when the module is back.
Any ack resets the wait. When a resent message is acked and no other ack follows within
``lost_wait`` (its first copy, and those after it, were lost: the sync module had no
session at the broker yet, or the broker dropped it), twice as many of the oldest are
sent again, and so on, so a lost window is filled again in a few short rounds, each
message once, before any fresh message (the inbox gets them in order); the first copies
coming in a stream end it at once.

A till away an hour thus sends its backlog once, in order, a window at a time as acks
come, instead of every message again on its own timer — which, from hundreds of tills,
would flood the broker just as the sync module comes back.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.bus.outbox import OutboxRow
from gateway.common.backoff import Backoff

__all__ = ["Flight", "InHand", "PublisherSettings", "Resend"]


@dataclass(frozen=True, slots=True)
class PublisherSettings:
    """The publisher's numbers; tests make them small."""

    ack_wait: float = 2.0  # no ack this long while messages are in flight: the oldest is sent again,
    resend_initial: float = 1.0  # then again after a random wait of up to ack_wait + 1 s,
    resend_max: float = 60.0  # + 2 s, + 4 s … + 60 s, until an ack comes
    lost_wait: float = 0.5  # a resent message acked and no other ack this long after it: resend more
    reconnect_initial: float = 1.0  # the broker unreachable: try again within 1 s,
    reconnect_max: float = 30.0  # then within 2 s, 4 s … 30 s (a random wait below each)
    window: int = 250  # messages sent and awaiting their ack, at most ([mqtt] in_flight)
    batch: int = 200  # rows read and published in one go
    degraded_after: float = 30.0  # a message unacked this long (since its first send) degrades health
    health_refresh: float = 10.0  # the degraded words' count and time are renewed this often
    keepalive: int = 20  # MQTT keepalive: a dead connection is noticed within ~2x this
    timeout: float = 10.0  # deadline for CONNACK, SUBACK and each PUBACK
    max_inflight: int = 100  # QoS 1 messages awaiting their PUBACK at the MQTT level


@dataclass(slots=True)
class Flight:
    """A message sent on the current connection and not yet acked."""

    row: OutboxRow
    first_sent: float  # loop time
    last_sent: float
    sends: int = 1  # on this connection


class Resend:
    """The till's one resend timer over its window of messages in flight.

    ``due_at`` is the loop time at which, no ack having come, the oldest messages are sent
    again (None while nothing is in flight). :meth:`sent` when fresh messages leave,
    :meth:`acked` for each ack that takes one out of flight, :meth:`stalled` when ``due_at``
    has passed: it says how many of the oldest to send again, and sets the next time.
    """

    def __init__(self, settings: PublisherSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.backoff = Backoff(settings.resend_initial, settings.resend_max, rng=rng)
        self.due_at: float | None = None
        self.resends = 0  # messages sent again after a stall, on every connection (the status and tests)
        self._count = 1  # how many of the oldest the last stall resent
        self._resent: set[int] = set()  # their sequences
        self._resent_acked = False  # an ack since the last stall took a resent message, and only such
        self._recovering = False  # the last ack took a resent message

    @property
    def recovering(self) -> bool:
        """The last ack took a resent message, not a first copy: the first copies before it were
        lost, so no fresh message goes out until they are sent again — the sync module's inbox
        gets every message in order."""
        return self._recovering

    def reset(self) -> None:
        """A new connection: nothing in flight, every wait from the start."""
        self.backoff.reset()
        self.due_at = None
        self._count = 1
        self._resent.clear()
        self._resent_acked = self._recovering = False

    def sent(self, now: float) -> None:
        """Fresh messages left: with none in flight before, the ack wait starts now."""
        if self.due_at is None:
            self.due_at = now + self.settings.ack_wait

    def acked(self, sequence: int, now: float, in_flight: int) -> None:
        """An ack took ``sequence`` out of flight (``in_flight`` are left): the sync module is
        there, so the backoff starts over and the next stall is an ack wait away — or, when
        what was acked is a resent message, the short ``lost_wait``: the first copies that
        are on their way come at once, and if none does they were lost."""
        self.backoff.reset()
        if sequence in self._resent:
            self._resent_acked = self._recovering = True
            wait = self.settings.lost_wait
        else:  # the first copies are coming: nothing was lost, the next stall resends one
            self._resent_acked = self._recovering = False
            self._count = 1
            wait = self.settings.ack_wait
        if in_flight:
            self.due_at = now + wait
        else:  # all acked: the next stall starts over with one
            self.due_at = None
            self._count = 1
            self._resent_acked = self._recovering = False

    def stalled(self, now: float, oldest: list[int]) -> int:
        """No ack for the ack wait: how many of ``oldest`` (the sequences in flight, oldest first)
        to send again — one, or twice the last count when only resent messages were acked
        since — and the next stall's time, after a jittered wait that grows."""
        count = min(2 * self._count, self.settings.window) if self._resent_acked else 1
        count = min(count, len(oldest))
        self._count = max(count, 1)
        self._resent = set(oldest[:count])
        self._resent_acked = False
        self.resends += count
        self.due_at = now + self.settings.ack_wait + self.backoff.next_delay()
        return count


class InHand:
    """Committed outbox rows handed over by the store's commit listener, not yet sent.

    At most a window of them: what falls out, or was never handed over (rows written by
    another process, or before a start), is read from the outbox.
    """

    def __init__(self) -> None:
        self._rows: collections.deque[OutboxRow] = collections.deque()

    def add(self, rows: Iterable[OutboxRow], window: int) -> None:
        self._rows.extend(rows)
        while len(self._rows) > window:  # the rest is read from the outbox
            self._rows.popleft()

    def clear(self) -> None:
        self._rows.clear()

    def take(self, after: int, limit: int) -> list[OutboxRow] | None:
        """Up to ``limit`` rows in hand that follow ``after``, the rows up to ``after`` let go
        (they were read from the outbox); None when the rows in hand do not follow ``after``
        without a gap (what is missing is read from the outbox), or ``limit`` is 0."""
        in_hand = self._rows
        while in_hand and in_hand[0].sequence <= after:
            in_hand.popleft()
        count = min(limit, len(in_hand))
        # Rows are handed over in the order of their commits, so their sequences rise: the first
        # and the last of the run tell whether it has a gap.
        if count < 1 or in_hand[0].sequence != after + 1 or in_hand[count - 1].sequence != after + count:
            return None
        return [in_hand.popleft() for _ in range(count)]
