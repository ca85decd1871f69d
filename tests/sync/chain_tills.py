"""Simulated tills for the chain's tests and its benchmark: many registers publishing real bus
messages — receipts and Z reports, built with the bus contract's own Structs
(:mod:`tests.sync.payloads`) in the envelope the till sends (:class:`BusMessage`) — to one
broker, each sending its messages in order and sending again what the sync module has
not acked, after ``resend_after`` seconds and then twice as long each time up to
``resend_cap`` (60 s, as a till's publisher does: gateway/bus/publisher.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
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


@dataclass
class ChainTills:
    """Every register's messages, published over ``connections`` MQTT connections, until acked."""

    host: str
    port: int
    orgnr: str
    store: str
    messages: dict[str, list[BusMessage]]  # register -> its messages, in order
    resend_after: float = 5.0
    resend_cap: float = 60.0
    connections: int = 4
    window: int = 200  # messages a till has sent and not had acked, at most
    acked: set[str] = field(default_factory=set)
    sent: int = 0  # publications, resends included
    all_acked: asyncio.Event = field(default_factory=asyncio.Event)
    first_ack: float | None = None

    @property
    def total(self) -> int:
        return sum(len(m) for m in self.messages.values())

    def _on_ack(self, payload: bytes) -> None:
        ack = decode_ack(payload)
        if ack.status == "stored":
            self.acked.add(ack.msg_id)
            if self.first_ack is None:
                self.first_ack = time.perf_counter()
            if len(self.acked) >= self.total:
                self.all_acked.set()

    async def _till(self, client: aiomqtt.Client, items: Sequence[BusMessage]) -> None:
        encoded = [(topic, data, m.msg_id) for (topic, data), m in zip(bus_items(items), items, strict=True)]
        last_sent: dict[str, float] = {}
        sends: dict[str, int] = {}
        while True:
            now = time.monotonic()
            waiting = [e for e in encoded if e[2] not in self.acked]
            if not waiting:
                return
            due = [
                e
                for e in waiting[: self.window]
                if now - last_sent.get(e[2], -1e9)
                >= min(self.resend_after * 2 ** (sends.get(e[2], 1) - 1), self.resend_cap)
            ]
            for topic, data, msg_id in due:
                await client.publish(topic, data, qos=1)
                last_sent[msg_id] = time.monotonic()
                sends[msg_id] = sends.get(msg_id, 0) + 1
                self.sent += 1
            await asyncio.sleep(0.05 if not due else 0)

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
            protocol=aiomqtt.ProtocolVersion.V5,
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
                        self._till(client, self.messages[register])
                        for client, group in zip(clients, groups, strict=True)
                        for register in group
                    )
                )
            finally:
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
