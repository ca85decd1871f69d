"""The publisher's numbers, the rows it holds in hand, and a message in flight (sent, not acked).

An unacked message is sent again after 1 s, 2 s, 4 s … at most ``resend_max`` after its
last send; while acks keep coming for others, the wait counts from the last of them (the
sync module is busy, not gone) — :meth:`Flight.due`.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.bus.outbox import OutboxRow

__all__ = ["Flight", "InHand", "PublisherSettings"]


@dataclass(frozen=True, slots=True)
class PublisherSettings:
    """The publisher's numbers; tests make them small."""

    resend_initial: float = 1.0  # an unacked message is sent again after 1 s,
    resend_max: float = 60.0  # then 2 s, 4 s … at most 60 s after its last send
    reconnect_initial: float = 1.0  # the broker unreachable: try again within 1 s,
    reconnect_max: float = 30.0  # then within 2 s, 4 s … 30 s (a random wait below each)
    window: int = 1000  # messages sent and awaiting their ack, at most
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

    def due(self, settings: PublisherSettings, progress_at: float) -> float:
        """When to send it again: the backoff after its last send — counted from the last ack
        that came, while acks keep coming (the sync module is busy, not gone), but never more
        than ``resend_max`` after its last send."""
        wait = min(settings.resend_initial * 2.0 ** (self.sends - 1), settings.resend_max)
        return min(max(self.last_sent, progress_at) + wait, self.last_sent + settings.resend_max)


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
