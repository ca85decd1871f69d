"""Simulated tills for the chain's tests and its benchmark: many registers publishing real bus
messages — receipts and Z reports, built with the bus contract's own Structs
(:mod:`tests.sync.payloads`) in the envelope the till sends (:class:`BusMessage`) — to one
broker, each sending its messages in order, encoded once beforehand.

Each till resends as the real till's publisher does (gateway/bus/publisher.py,
gateway/bus/flight.py), so a slow sync module is not flooded with copies the real tills
would never send: at most ``window`` messages of a till await their ack at once; the till
has ONE resend timer, not one per message; when no ack has come for it, only the OLDEST
unacked message is sent again, and the next wait is twice as long, up to ``resend_cap``
(each wait drawn from half to all of that, so that hundreds of tills do not resend in the
same instant); any ack starts the wait over at ``resend_after`` and refills the window at
once. When a resent message is acked and no other ack follows within ``lost_wait``, the
first copies were lost — a worker's session took them and the worker is gone (Mosquitto
hands a shared subscription's messages to the group's offline sessions too) — and the next
resend sends twice as many of the oldest, so a lost window is sent again in a few short
rounds. A till sleeps until an ack or its timer wakes it — nothing polls — and finds its
oldest unacked message and its next fresh one from two positions that only move forward.

What the real till does beyond this (no fresh message while it recovers lost ones, a
``held`` ack stopping the resends, reconnecting) is left out: the sync module here always
stores, and the broker stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import aiomqtt

from gateway.messages.envelope import BusMessage, Topics, decode_ack
from gateway.mqtt.client import NO_DELAY
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt
from tests.sync.payloads import sale_payload, z_payload

__all__ = ["ChainTills", "bus_items", "register_names", "till_messages"]


def bus_items(messages: Sequence[BusMessage]) -> list[tuple[str, bytes]]:
    """Each message as (topic, bytes), as it comes off the broker."""
    return [(Topics(m.orgnr, m.store, m.register).for_kind(m.kind), m.to_bytes()) for m in messages]


def register_names(count: int) -> list[str]:
    return [f"KASSA-{n:03d}" for n in range(1, count + 1)]


def _sale(n: int) -> Receipt:
    price = 10_00 + (n % 50) * 100
    return Receipt(
        (Line(f"Kaffe {n % 7}", Decimal(1), price, 2500),),
        (Payment(PaymentMethod.CARD if n % 2 else PaymentMethod.CASH, price),),
    )


def till_messages(orgnr: str, store: str, register: str, count: int, z_every: int) -> list[BusMessage]:
    """``count`` messages of one register: receipts, and after every ``z_every``-th a Z report."""
    out: list[BusMessage] = []
    z_no = 0
    for sequence in range(1, count + 1):
        at = "2026-03-02T10:15:00+01:00"
        if sequence % z_every == 0:
            z_no += 1
            kind = "report.z"
            payload = z_payload(
                z_no=z_no, pos_id=register, company={"name": "Kaffebaren i Växjö AB", "orgnr": orgnr}
            )
        else:
            kind = "receipt"
            payload = sale_payload(_sale(sequence), sequence, at=at)
        entry_hash = hashlib.sha256(f"{register}/{sequence}".encode()).hexdigest()
        out.append(
            BusMessage(
                msg_id=f"{orgnr}/{store}/{register}/{sequence}",
                kind=kind,
                orgnr=orgnr,
                store=store,
                register=register,
                sequence=sequence,
                journal_entry=sequence,
                entry_hash=entry_hash,
                at=at,
                payload=payload,
            )
        )
    return out


class _Till:
    """One register's messages and where it stands with them."""

    __slots__ = (
        "acked",
        "ceiling",
        "count",
        "due_at",
        "items",
        "left",
        "next_fresh",
        "oldest",
        "outstanding",
        "resent",
        "resent_acked",
        "wake",
    )

    def __init__(self, items: list[tuple[str, bytes]], resend_after: float) -> None:
        self.items = items  # (topic, bytes), in sequence order
        self.acked = [False] * len(items)
        self.left = len(items)  # not yet acked
        self.next_fresh = 0  # the first message never sent
        self.oldest = 0  # no message before it is unacked (it may be acked itself: moved on lazily)
        self.outstanding = 0  # sent and not acked: at most the window
        self.ceiling = resend_after  # the longest the next wait for an ack may be
        self.due_at: float | None = None  # loop time the oldest is sent again; None: nothing awaits an ack
        self.wake = asyncio.Event()  # an ack came
        self.count = 1  # how many of the oldest the last resend sent again
        self.resent: set[int] = set()  # which
        self.resent_acked = False  # since the last resend, acks took resent messages and only such


@dataclass
class ChainTills:
    """Every register's messages, published over ``connections`` MQTT connections, until acked."""

    host: str
    port: int
    orgnr: str
    store: str
    messages: dict[str, list[BusMessage]]  # register -> its messages, in order
    resend_after: float = 5.0  # no ack this long (jittered): the oldest unacked is sent again
    resend_cap: float = 60.0  # the wait doubles after each resend, up to this
    lost_wait: float = 0.5  # a resent message acked and no other ack this long after: resend more
    connections: int = 4
    window: int = 200  # messages a till has sent and not had acked, at most
    acked: set[str] = field(default_factory=set)
    sent: int = 0  # publications PUBACKed by the broker, resends included
    published: int = 0  # messages PUBACKed by the broker at least once
    all_published: asyncio.Event = field(default_factory=asyncio.Event)  # every message at the broker
    _tills: dict[str, _Till] = field(init=False, repr=False)
    _where: dict[str, tuple[_Till, int]] = field(init=False, repr=False)  # msg_id -> its till, index
    _total: int = field(init=False, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._tills = {}
        self._where = {}
        for register, items in self.messages.items():
            till = _Till(bus_items(items), self.resend_after)
            self._tills[register] = till
            for index, message in enumerate(items):
                self._where[message.msg_id] = (till, index)
        self._total = len(self._where)

    @property
    def total(self) -> int:
        return self._total

    def _wait(self, till: _Till) -> float:
        """The next wait for an ack: half to all of the ceiling, drawn."""
        return till.ceiling * self._rng.uniform(0.5, 1.0)

    def _on_ack(self, payload: bytes) -> None:
        ack = decode_ack(payload)
        if ack.status != "stored" or ack.msg_id in self.acked:
            return  # a held message stays unacked; a second ack for one changes nothing
        self.acked.add(ack.msg_id)
        found = self._where.get(ack.msg_id)
        if found is not None:
            till, index = found
            till.acked[index] = True
            till.left -= 1
            if index < till.next_fresh:
                till.outstanding -= 1
            # The sync module is there: the wait starts over, and the window is refilled at once.
            till.ceiling = self.resend_after
            if index in till.resent:
                # Only a resent copy came: if no first copy follows at once, they were lost (a
                # session that took them and is gone), and the next resend sends more of them.
                till.resent_acked = True
                wait = self.lost_wait
            else:
                till.resent_acked = False
                till.count = 1
                wait = self._wait(till)
            if till.outstanding:
                till.due_at = asyncio.get_running_loop().time() + wait
            else:
                till.due_at = None
                till.count = 1
                till.resent_acked = False
            till.wake.set()

    async def _publish(self, client: aiomqtt.Client, till: _Till, index: int) -> None:
        """One message, returning once the broker has it (its PUBACK)."""
        topic, data = till.items[index]
        await client.publish(topic, data, qos=1)
        self.sent += 1

    def _published(self) -> None:
        self.published += 1
        if self.published >= self.total:
            self.all_published.set()

    async def _till(self, client: aiomqtt.Client, till: _Till) -> None:
        loop = asyncio.get_running_loop()
        messages = len(till.items)
        while till.left:
            till.wake.clear()  # cleared before the state is read: an ack after this wakes the wait below
            while till.next_fresh < messages and till.outstanding < self.window:
                index = till.next_fresh
                till.next_fresh += 1
                if till.acked[index]:  # already acked: nothing to send
                    self._published()
                    continue
                till.outstanding += 1
                if till.due_at is None:
                    till.due_at = loop.time() + self._wait(till)
                await self._publish(client, till, index)
                self._published()
            if not till.left:
                return
            if till.wake.is_set():
                continue  # acks came while publishing: refill first
            due = till.due_at if till.due_at is not None else loop.time() + self._wait(till)
            try:
                async with asyncio.timeout_at(due):
                    await till.wake.wait()
            except TimeoutError:
                if till.wake.is_set():
                    continue  # an ack came as the time ran out
                # No ack for the whole wait: the oldest unacked again (twice as many as the last
                # time when only resent ones were acked since), and a longer wait after it.
                how_many = min(2 * till.count, self.window) if till.resent_acked else 1
                while till.acked[till.oldest]:
                    till.oldest += 1
                again: list[int] = []
                index = till.oldest
                while len(again) < how_many and index < till.next_fresh:
                    if not till.acked[index]:
                        again.append(index)
                    index += 1
                till.count = max(len(again), 1)
                till.resent = set(again)
                till.resent_acked = False
                till.ceiling = min(2 * till.ceiling, self.resend_cap)
                till.due_at = loop.time() + self._wait(till)
                for index in again:
                    await self._publish(client, till, index)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            if isinstance(m.payload, bytes | bytearray):
                self._on_ack(bytes(m.payload))

    @contextlib.asynccontextmanager
    async def _client(self, index: int) -> AsyncIterator[aiomqtt.Client]:
        async with aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"chain-till-{index}-{id(self)}",
            # MQTT 3.1.1, as the till's publisher speaks (gateway/mqtt/client.py): MQTT 5 would add
            # paho's properties to every PUBLISH and ack, a cost no real till has.
            protocol=aiomqtt.ProtocolVersion.V311,
            max_inflight_messages=self.window,  # many tills share a connection: theirs together
            socket_options=NO_DELAY,
        ) as client:
            client.pending_calls_threshold = 100_000  # many tills publish at once on one connection
            yield client

    async def run(self) -> None:
        """Publish everything and return once every message is acked ``stored``."""
        registers = sorted(self.messages)
        groups = [registers[i :: self.connections] for i in range(self.connections)]
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(self._client(i)) for i in range(self.connections)]
            listeners = []
            for client, group in zip(clients, groups, strict=True):
                for register in group:
                    await client.subscribe(Topics(self.orgnr, self.store, register).acks, qos=1)
                listeners.append(asyncio.create_task(self._listen(client)))
            try:
                await asyncio.gather(
                    *(
                        self._till(client, self._tills[register])
                        for client, group in zip(clients, groups, strict=True)
                        for register in group
                    )
                )
            finally:
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
