"""Held messages and authentic acks through real processes on the machine's Mosquitto.

Each test is one store (tests/e2e/stores.py) of its own name: its simulated control unit,
its tills (``tillgw run --config``, given the sync module's key as ``tillgw sync
--export-key`` printed it) and its sync module (``tillgw sync --config``).

* A till added before the sync configuration knows it: the module serves
  ``registers = ["<orgnr>/<store>/KASSA-1"]`` and KASSA-2 sells. Its messages are held:
  acked ``held``, listed with the reason in the till's ``bus.held`` and in the sync status
  the till shows, ``tillgw sync --status`` exits 1 naming each with what to do. The
  configuration is fixed, the service stopped, ``tillgw sync --reprocess --config F``
  exits 0, and once the service runs again the till's held list is empty (``stored``
  acks): every sequence in the inbox once, booked in order, each Z report's SIE file.
* Forged and replayed acks, and acks for another till, published with a plain MQTT client
  on the till's ``…/acks`` while its sync module is stopped: the till counts each in
  ``bus.acks_ignored`` and keeps the message; the real module, started again, delivers it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from gateway.messages.ack_proof import AckSigner
from gateway.messages.envelope import Ack
from tests.e2e.stores import (
    DEADLINE,
    MACHINE_BROKER,
    ORGNR,
    Shop,
    forget,
    held_ids,
    machine_broker_url,
    outbox_rows,
    read_inbox,
    run_tag,
    run_tillgw,
    until,
)
from tests.e2e.test_bus_chaos import read_db


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as session:
        yield session


def check_booked_in_order(shop: Shop, register: str) -> list[tuple[int, str, bytes, str | None, str | None]]:
    """Every message of the till once in the inbox, byte for byte, booked in sequence order."""
    outbox = outbox_rows(shop.tills[register])
    received = read_inbox(shop.sync, shop.store, register)
    assert [(r[0], r[1], r[2]) for r in received] == [(r[0], r[1], r[2]) for r in outbox], register
    assert [r[0] for r in received] == list(range(1, len(outbox) + 1))
    assert all(r[3] is not None and r[4] is None for r in received), received
    stamps = [str(r[3]) for r in received]
    assert stamps == sorted(stamps), f"{register}: booked out of sequence order"
    assert all(r[3] == "stored" for r in outbox), outbox
    return received


@pytest.mark.timeout(180)  # a hang guard; the test takes about 15 s
async def test_a_till_added_before_the_config_knows_it_is_held_then_reprocessed_in_order(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    store = f"malmo-{run_tag()}"
    known, added = "KASSA-1", "KASSA-2"
    shop = Shop.make(
        store, tmp_path, machine_broker_url(), session, registers=(known,), serve_store=False, licences=2
    )
    try:
        await shop.export_key()
        await shop.start_sync()
        await shop.start_unit()
        for register in (known, added):
            await shop.start_till(register)
        await shop.sell(known, 2)
        await shop.sell(added, 3)
        await shop.close_day(added)
        await shop.wait_booked(known)
        held_msg_ids = [r[1] for r in outbox_rows(shop.tills[added])]

        # The added till's messages: acked held, every one, with the reason and what to do.
        async def all_held() -> dict[str, Any] | None:
            bus = await shop.bus(added)
            return bus if bus["held_count"] == len(held_msg_ids) and bus["depth"] == 0 else None

        bus = await until(f"{added}: every message held", all_held, *shop.services)
        assert held_ids(bus) == held_msg_ids
        assert [h["sequence"] for h in bus["held"]] == list(range(1, len(held_msg_ids) + 1))
        what = f'add "{ORGNR}/{store}/{added}" to [sync].registers'
        assert all(what in h["reason"] and "--reprocess" in h["reason"] for h in bus["held"]), bus["held"]
        assert bus["state"] == "degraded" and f"holds {len(held_msg_ids)} messages" in bus["reason"], bus
        assert [r[3] for r in outbox_rows(shop.tills[added])] == ["held"] * len(held_msg_ids)

        # The sync status the till shows (retained by the module) holds them too.
        async def status_holds() -> dict[str, Any] | None:
            sync = (await shop.status(added))["sync"]
            return sync if sync is not None and sync.get("held_count") == len(held_msg_ids) else None

        sync_status = await until("the sync status on the till lists the held messages", status_holds)
        assert {h["msg_id"] for h in sync_status["held"]} == set(held_msg_ids)

        report = await run_tillgw("--language", "en", "sync", "--status", "--config", str(shop.sync.config))
        assert report.code == 1, report
        assert f"HELD: {len(held_msg_ids)} message(s)" in report.out, report.out
        assert all(msg_id in report.out for msg_id in held_msg_ids), report.out
        assert what in report.out and "tillgw sync --reprocess" in report.out, report.out

        # The configuration fixed, the service stopped, --reprocess with no filter.
        shop.sync.write_config(
            shop.broker_url,
            registers=(f"{ORGNR}/{store}/{known}", f"{ORGNR}/{store}/{added}"),
            stores=(),
            client_id=shop.sync.client_id,
            retry_interval=1,
        )
        assert await shop.stop_sync() == 0, shop.sync.tail()
        again = await run_tillgw("sync", "--reprocess", "--config", str(shop.sync.config))
        assert again.code == 0, again
        n = len(held_msg_ids)
        assert f"reprocess: {n} held message(s)" in again.err, again.err
        assert f"reprocess: sent {n} ack(s) stored to the tills" in again.err, again.err
        logged = "".join(p.read_text() for p in sorted((shop.sync.base / "logs").glob("sync-*.log")))
        assert f": reprocessed {n} held message(s): {n} booked, 0 not; 0 errors" in logged, logged
        # The log above is English; the summary for the person who ran it is in the default, Swedish.
        assert f"tog om {n} kvarhållna meddelande(n): {n} bokförda, 0 inte" in again.out, again.out
        report = await run_tillgw("--language", "en", "sync", "--status", "--config", str(shop.sync.config))
        assert report.code == 0 and "nothing held" in report.out, report

        await shop.start_sync()

        async def cleared() -> dict[str, Any] | None:
            # The list is the outbox's; the state follows it once the publisher has looked again.
            bus = await shop.bus(added)
            return bus if bus["held_count"] == 0 and bus["held"] == [] and bus["state"] == "ready" else None

        bus = await until(f"{added}: the held list empties and the bus is ready", cleared, *shop.services)
        assert bus["depth"] == 0, bus
        # Later messages of the till go straight through.
        await shop.sell(added, 1)
        assert await shop.close_day(added) == 2
        for register in (known, added):
            await shop.wait_booked(register)
    finally:
        codes = await shop.stop()
        await forget([shop])
    assert set(codes.values()) == {0}, codes

    received = check_booked_in_order(shop, added)
    assert [r[1] for r in received][: len(held_msg_ids)] == held_msg_ids  # nothing lost
    check_booked_in_order(shop, known)
    assert shop.sie_files() == [f"{ORGNR}-{store}-{added}-Z00000{n}.si" for n in (1, 2)]
    files = read_db(shop.sync.base / "inbox.db", "SELECT z_no, msg_id FROM sie_files ORDER BY z_no")
    zs = [m for m in (json.loads(r[2]) for r in received) if m["kind"] == "report.z"]
    assert files == [(m["payload"]["z_no"], m["msg_id"]) for m in zs]


async def listen(client: aiomqtt.Client, acks: dict[str, Ack], until_seen: set[str]) -> None:
    """The acks ``client`` receives, by msg_id, until it has seen each of ``until_seen``."""
    async for message in client.messages:
        assert isinstance(message.payload, bytes)
        body = json.loads(message.payload)
        acks[body["msg_id"]] = Ack(body["msg_id"], body["status"], body.get("reason"), body["proof"])
        if until_seen <= set(acks):
            return


@pytest.mark.timeout(180)  # a hang guard; the test takes about 15 s
async def test_forged_replayed_and_foreign_acks_are_ignored_and_the_real_ack_still_delivers(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    store = f"umea-{run_tag()}"
    shop = Shop.make(store, tmp_path, machine_broker_url(), session, licences=2)
    # Another store's sync module: a key of its own, which no till of this store was given.
    stranger = Shop.make(f"kiruna-{run_tag()}", tmp_path, shop.broker_url, session)
    host, port = MACHINE_BROKER
    base = f"tillgw/{ORGNR}/{store}"
    genuine: dict[str, Ack] = {}  # msg_id -> the real module's ack, as it went over the wire
    try:
        await shop.export_key()
        await stranger.export_key()
        await shop.start_sync()
        await shop.start_unit()
        till = await shop.start_till("KASSA-1")
        await shop.start_till("KASSA-2")
        first, other = f"{ORGNR}/{store}/KASSA-1/1", f"{ORGNR}/{store}/KASSA-2/1"
        async with aiomqtt.Client(host, port, identifier=f"tillgw-e2e-intruder-{store}") as intruder:
            # Listening on the store's acks while the real module acks each till's first sale.
            await intruder.subscribe(f"{base}/+/acks", qos=1)
            reader = asyncio.create_task(listen(intruder, genuine, {first, other}))
            try:
                await shop.sell("KASSA-1", 1)
                await shop.sell("KASSA-2", 1)
                for register in ("KASSA-1", "KASSA-2"):
                    await shop.wait_booked(register)
                async with asyncio.timeout(DEADLINE):
                    await reader
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            await intruder.unsubscribe(f"{base}/+/acks")
            # The module stopped: whatever acks the next message now, it is not the module.
            assert await shop.stop_sync() == 0, shop.sync.tail()
            await shop.sell("KASSA-1", 1)
            # The sale's messages (a cash sale opens the drawer too); the forgeries aim at the last.
            unacked = [
                (int(r[0]), str(r[1]), str(r[2]))
                for r in read_db(
                    till.database,
                    "SELECT sequence, msg_id, entry_hash FROM outbox WHERE acked_at IS NULL "
                    "ORDER BY sequence",
                )
            ]
            sequence, msg_id, entry_hash = unacked[-1]
            stranger_key = AckSigner.of_inbox(stranger.sync.base / "inbox.db")
            earlier = genuine[first].proof
            forged = [
                genuine[first],  # an earlier message's real ack, again: already acked, changes nothing
                Ack(msg_id, "stored"),  # no proof at all
                stranger_key.ack(msg_id, "stored", None, entry_hash),  # another store's module
                Ack(msg_id, "stored", None, earlier),  # an earlier message's proof on this one
                Ack(msg_id, "stored", None, genuine[other].proof),  # another till's proof on this one
                Ack(msg_id, "stored", None, base64.b64encode(b"\0" * 64).decode()),  # a made-up one
                genuine[other],  # another till's real ack
                Ack(f"{ORGNR}/{store}/KASSA-9/1", "stored", None, earlier),  # for a till not this one
            ]
            for ack in forged:
                await intruder.publish(f"{base}/KASSA-1/acks", ack.to_bytes(), qos=1)

        async def all_ignored() -> dict[str, Any] | None:
            bus = await shop.bus("KASSA-1")
            return bus if sum(bus["acks_ignored"].values()) >= len(forged) - 1 else None

        bus = await until("KASSA-1 ignores the forged acks", all_ignored, *shop.services)
        assert bus["acks_ignored"] == {"unproven": 5, "foreign": 2}, bus
        assert bus["depth"] == len(unacked) and bus["acks"] == "signed", bus
        rows = outbox_rows(till)
        waiting = {s for s, _, _ in unacked}
        assert [r[3] for r in rows if r[0] in waiting] == [None] * len(waiting), "a forged ack was honoured"
        assert [r[3] for r in rows if r[0] not in waiting] == ["stored"] * (len(rows) - len(waiting))
        log = "\n".join(till.lines)
        assert "whose proof does not verify" in log and "not a message of" in log, log

        # The real module, started again, delivers the message.
        await shop.start_sync()
        await shop.wait_booked("KASSA-1")
    finally:
        codes = await shop.stop()
        await forget([shop, stranger])
    assert set(codes.values()) == {0}, codes
    received = check_booked_in_order(shop, "KASSA-1")
    assert msg_id in [r[1] for r in received]
    assert sequence == received[-1][0]
