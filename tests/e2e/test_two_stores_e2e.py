"""Two stores of one company on one broker, each with its own sync module — real processes.

Each store (tests/e2e/stores.py) has its own simulated control unit, a till called
KASSA-1 (``tillgw run --config``) and its own sync module (``tillgw sync --config`` with a
file holding only ``[mqtt]`` and ``[sync]``: ``stores = ["<orgnr>/<store>"]``, its own
``client_id``, the default ``share_group``). The till has the module's public key as
``tillgw sync --export-key`` printed it, so its acks are signed and checked. The broker is
the machine's Mosquitto (anonymous), or a private Mosquitto with an ACL: each store's
sync user reads only its store's messages and writes only its acks; each till's user
writes only its own messages.

Receipts 1..N are sold at each till through its HTTP API (a different N in each store, so
that a message taken by the wrong module shows), the day is closed with a Z report, and
the test waits until each till's ``GET /v1/status`` shows ``bus.depth`` 0 and its module
has booked all of it. Then:

* every message of each till is in its own module's inbox exactly once, byte for byte,
  in sequence order, booked — and none in the other module's;
* each module's SIE folder holds exactly its store's Z report,
  ``<orgnr>-<store>-KASSA-1-Z000001.si``, whose voucher debits what that store's
  receipts took in;
* each till's acks are ``signed``, none ignored (no module acks the other store's till);
* no module logged an ERROR, or a message of a store it does not serve.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.bus.test_mosquitto_acl import make_passwd
from tests.e2e.stores import (
    DEADLINE,
    ORGNR,
    Shop,
    forget,
    machine_broker_url,
    outbox_rows,
    read_inbox,
    run_tag,
)
from tests.e2e.test_bus_chaos import read_db, voucher_amounts
from tests.mosquitto import Mosquitto, free_port
from tests.sync.sie_reader import read_sie

REGISTER = "KASSA-1"
SOLD = (5, 3)  # receipts at the first store's till, and at the second's


def acl_config(root: Path, port: int, stores: list[str]) -> str:
    """A private Mosquitto with users and an ACL: per store a sync user and a till user."""
    lines: list[str] = []
    for store in stores:
        base = f"tillgw/{ORGNR}/{store}"
        lines += [f"user sync-{store}"]
        lines += [
            f"topic read {base}/+/{leaf}"
            for leaf in ("receipts", "reports", "events", "customers", "catalog-request", "order-request")
        ]
        lines += [
            f"topic write {base}/+/acks",
            f"topic write {base}/+/order-answer",
            f"topic write {base}/catalog/#",
            f"topic write {base}/sync/status",
            f"topic readwrite tillgw-sync/tillgw-sync-e2e-{store}/#",  # its --once marker
            "",
            f"user till-{store}",
        ]
        lines += [
            f"topic write {base}/{REGISTER}/{leaf}"
            for leaf in ("receipts", "reports", "events", "customers", "catalog-request", "order-request")
        ]
        lines += [
            f"topic read {base}/{REGISTER}/acks",
            f"topic read {base}/{REGISTER}/order-answer",
            f"topic read {base}/catalog/#",
            f"topic read {base}/sync/status",
            "",
        ]
    (root / "acl").write_text("\n".join(lines), encoding="utf-8")
    return (
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {root}/passwd\n"
        f"acl_file {root}/acl\npersistence true\npersistence_location {root}/data/\n"
    )


@contextlib.asynccontextmanager
async def broker_for(acl: bool, root: Path, stores: list[str]) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The broker's URL and the ``[mqtt]`` lines of each user (``sync-<store>``, ``till-<store>``)."""
    if not acl:
        yield machine_broker_url(), {}
        return
    folder = root / "acl-broker"
    (folder / "data").mkdir(parents=True)
    passwords = {f"{who}-{s}": f"pw-{who}-{s}" for s in stores for who in ("sync", "till")}
    await make_passwd(folder / "passwd", passwords)
    port = free_port()
    broker = Mosquitto(folder, acl_config(folder, port, stores), port)
    await broker.start()
    try:
        yield broker.url, {u: f'username = "{u}"\npassword = "{p}"\n' for u, p in passwords.items()}
    finally:
        await broker.stop()


@pytest.mark.timeout(180)  # a hang guard; the test takes about 15 s
@pytest.mark.parametrize("acl", [False, True], ids=["anonymous", "acl"])
async def test_two_stores_each_book_their_own_till_once(tmp_path: Path, acl: bool) -> None:
    tag = run_tag()
    names = [f"vaxjo-{tag}", f"lund-{tag}"]
    shops: list[Shop] = []
    async with (
        broker_for(acl, tmp_path, names) as (url, users),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as session,
    ):
        try:
            for name in names:
                shop = Shop.make(name, tmp_path, url, session, sync_mqtt=users.get(f"sync-{name}", ""))
                shops.append(shop)
                await shop.export_key()
                await shop.start_sync()  # its session exists: the broker queues for it from now on
                await shop.start_unit()
                await shop.start_till(REGISTER, users.get(f"till-{name}", ""))
            for shop, count in zip(shops, SOLD, strict=True):
                await shop.sell(REGISTER, count)
                assert await shop.close_day(REGISTER) == 1
            buses = [await shop.wait_booked(REGISTER) for shop in shops]
        finally:
            codes = [await shop.stop() for shop in shops]
            if not acl:
                await forget(shops)
    for shop, code in zip(shops, codes, strict=True):
        assert set(code.values()) == {0}, f"{shop.store}: not every process stopped cleanly: {code}"

    for shop, other, bus in ((shops[0], shops[1], buses[0]), (shops[1], shops[0], buses[1])):
        till = shop.tills[REGISTER]
        assert bus["depth"] == 0 and bus["held"] == [] and bus["held_count"] == 0, bus
        assert bus["acks"] == "signed" and bus["acks_ignored"] == {}, bus
        outbox = outbox_rows(till)
        assert [r[0] for r in outbox] == list(range(1, len(outbox) + 1))
        assert all(r[3] == "stored" for r in outbox), outbox
        # In its own module's inbox exactly once, byte for byte, booked; in the other's not at all.
        received = read_inbox(shop.sync, shop.store, REGISTER)
        assert [(r[0], r[1], r[2]) for r in received] == [(r[0], r[1], r[2]) for r in outbox]
        assert all(r[3] is not None and r[4] is None for r in received), received
        assert read_inbox(other.sync, shop.store, REGISTER) == []
        stamps = [str(r[3]) for r in received]
        assert stamps == sorted(stamps), f"{shop.store}: booked out of sequence order"
        # The store's Z report, and only it, in its module's SIE folder.
        messages = [json.loads(r[2]) for r in outbox]
        assert sum(m["kind"] == "receipt" for m in messages) == len(shop.sold[REGISTER])
        name = f"{ORGNR}-{shop.store}-{REGISTER}-Z000001.si"
        assert shop.sie_files() == [name]
        [z] = [m for m in messages if m["kind"] == "report.z"]
        period = z["payload"]["period"]
        receipts = read_db(
            till.database, "SELECT entry_seq, cash + card + gift_card + swish + other FROM receipts"
        )
        took = sum(r[1] for r in receipts if period["after_entry"] < r[0] <= period["through_entry"])
        doc = read_sie((shop.sync.base / "sie" / name).read_bytes())  # balances, or AssertionError
        assert voucher_amounts(doc) == (took, -took), f"{name}: not the takings of {shop.store}"
        log = "\n".join(shop.sync.lines)
        assert "ERROR" not in log, log
        assert "does not serve" not in log, log
