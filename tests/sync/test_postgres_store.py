"""The sync module's store in a real PostgreSQL (a database of the test session's own): the
schema made by numbered steps once, each message stored once, processing in order with one
worker per register at a time, and an ERP refresh token refreshed once however many
workers ask at the same moment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg

from gateway.sync.adapters.sie.adapter import SieAdapter
from gateway.sync.adapters.sie.config import SieConfig
from gateway.sync.http import OAuthTokens, store_initial
from gateway.sync.inbox import Inbox
from gateway.sync.processor import Processor
from gateway.sync.routing import Routing
from gateway.sync.settings import AccountsConfig
from tests.sync.chain_tills import bus_items, till_messages
from tests.sync.fakes.fortnox import running
from tests.sync.test_fortnox_http import endpoint

ORGNR, STORE = "5560360793", "vaxjo"
ROUTING = Routing(frozenset({f"{ORGNR}/{STORE}"}), frozenset())


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


async def test_the_schema_is_made_once_and_a_message_is_stored_once(postgres_url: str) -> None:
    first, second = await Inbox.open(postgres_url), await Inbox.open(postgres_url)
    try:
        assert rows(postgres_url, "SELECT version FROM schema_version") == [(1,)]
        messages = till_messages(ORGNR, STORE, "KASSA-1", 6, z_every=3)
        items = bus_items(messages)
        # Two workers take the same messages at once (a till's resend reached the other one).
        taken = await asyncio.gather(
            first.take(items, ROUTING, "test"), second.take(items[2:], ROUTING, "test")
        )
        outcomes = [i.outcome for i in taken[0]] + [i.outcome for i in taken[1]]
        assert outcomes.count("stored") == 6 and outcomes.count("duplicate") == 4
        assert all(i.ack_status == "stored" for batch in taken for i in batch)
        assert rows(postgres_url, "SELECT COUNT(*), COUNT(DISTINCT msg_id) FROM inbox") == [(6, 6)]
    finally:
        await first.close()
        await second.close()


async def test_one_worker_at_a_time_processes_a_register_in_order(postgres_url: str, tmp_path: Path) -> None:
    a, b = await Inbox.open(postgres_url), await Inbox.open(postgres_url)
    try:
        key = (ORGNR, STORE, "KASSA-2")
        async with a.transaction() as db:
            for register in ("KASSA-2", "KASSA-3"):
                await db.execute(
                    "INSERT INTO registers (orgnr, store, register) VALUES (?, ?, ?)",
                    (ORGNR, STORE, register),
                )
        async with a.transaction() as db:
            assert await a.store.claim_register(db, key, 0)
            async with b.transaction() as other:
                assert not await b.store.claim_register(other, key, 0), "held by the first worker"
                assert await b.store.claim_register(other, (ORGNR, STORE, "KASSA-3"), 0), "another one"
            await db.execute(
                "UPDATE registers SET processed_to = 5 WHERE orgnr = ? AND store = ? AND register = ?", key
            )
        async with b.transaction() as other:
            assert not await b.store.claim_register(other, key, 0), "processed further meanwhile"
            async with a.transaction() as db:
                # b came too late and does not hold the register: the worker going on gets it.
                assert await a.store.claim_register(db, key, 5)
        async with b.transaction() as other:
            assert await b.store.claim_register(other, key, 5), "free again, as the first one committed it"
            await other.execute("UPDATE registers SET processed_to = 0")

        messages = till_messages(ORGNR, STORE, "KASSA-2", 40, z_every=10)
        items = bus_items(messages)
        await a.take(items[20:], ROUTING, "test")  # the later half first: processing waits for 1
        adapters = [SieAdapter(tmp_path / "sie", AccountsConfig(), SieConfig())]
        for inbox in (a, b):
            await adapters[0].setup(inbox.conn)
        first, second = Processor(a, adapters), Processor(b, adapters)
        waiting = await first.run_pass()
        assert waiting.processed == 0 and waiting.waiting == {key: 1}
        await b.take(items[:20], ROUTING, "test")
        results = await asyncio.gather(first.run_pass(), second.run_pass())
        assert sum(r.processed for r in results) == 40
        assert not any(r.failed for r in results)
        done = rows(postgres_url, "SELECT sequence, processed_at FROM inbox ORDER BY sequence")
        assert all(at is not None for _, at in done)
        assert [str(at) for _, at in done] == sorted(str(at) for _, at in done), "booked in sequence order"
        assert rows(postgres_url, "SELECT z_no FROM sie_files ORDER BY z_no") == [(1,), (2,), (3,), (4,)]
        assert sorted(p.name for p in (tmp_path / "sie").iterdir()) == [
            f"{ORGNR}-{STORE}-KASSA-2-Z{n:06d}.si" for n in (1, 2, 3, 4)
        ]
        assert rows(postgres_url, "SELECT processed_to FROM registers WHERE register = 'KASSA-2'") == [(40,)]
    finally:
        await a.close()
        await b.close()


async def test_workers_refreshing_at_once_refresh_once(postgres_url: str) -> None:
    async with running(max_requests=100) as fake:
        ep = endpoint(fake)
        await store_initial(postgres_url, "fortnox", "", ep, refresh_token=fake.issue_refresh_token())
        workers = [OAuthTokens(postgres_url, "fortnox", "", ep) for _ in range(4)]
        tokens = await asyncio.gather(*(w.access_token() for w in workers))
        assert len(set(tokens)) == 1
        assert sum(w.refreshes for w in workers) == 1
        assert fake.refused_grants == []
        assert rows(postgres_url, "SELECT refresh_token FROM oauth_tokens") == [(fake.refresh_token,)]


async def test_the_intake_stores_while_a_booking_transaction_is_open(postgres_url: str) -> None:
    """Processing has its own connection: a burst is stored and committed while a booking
    (an adapter writing its file, calling its ERP) holds its transaction open — on one
    shared connection the intake would wait for it."""
    inbox = await Inbox.open(postgres_url)
    try:
        await inbox.open_processing()
        items = bus_items(till_messages(ORGNR, STORE, "KASSA-7", 4, z_every=10))
        async with inbox.processing_transaction() as db:
            await db.execute("SELECT 1")
            # The safety net only: the intake does not wait for this transaction at all.
            taken = await asyncio.wait_for(inbox.take(items, ROUTING, "test"), 60)
            assert [i.outcome for i in taken] == ["stored"] * 4
            # Committed: another connection sees the burst while the booking is still open.
            assert rows(postgres_url, "SELECT COUNT(*) FROM inbox WHERE register = 'KASSA-7'") == [(4,)]
        processor = Processor(inbox, [])
        result = await processor.run_pass()
        assert result.processed == 4
        assert rows(postgres_url, "SELECT processed_to FROM registers WHERE register = 'KASSA-7'") == [(4,)]
    finally:
        await inbox.close()
