"""A store's broker bridged to a central broker, the line cut while a till sells, then back.

Real processes, as docs/mosquitto.md sets a chain up: two Mosquittos of this test's own
(``mosquitto -c <tmpfile>`` on free ports, persistence on) — the store's, carrying the
page's ``bridge`` block (its address this test's central broker; the TLS and login lines
left out, both brokers being on loopback), and the central one; the sync module
(``tillgw sync``) on the central broker; at the store a till (``tillgw run``) with its
simulated control unit and printer (``tillgw sim``) on the store's broker.

The central broker is stopped while the till sells: every sale is answered with its
number and printed, the messages wait (the till's outbox, the bridge's queue). The
central broker started again, every message reaches the inbox once, byte for byte, and
in sequence order, and is booked. What the till published is counted: a bounded few
resends, not a copy per message per second of the outage.

Nothing waits on a clock: each step looks at a condition (an HTTP answer, a file, a
database row) with a deadline as a safety net.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.stores import DEADLINE, ORGNR, Shop, outbox_rows, read_inbox, run_tag, until
from tests.e2e.test_bus_chaos import Service, read_db
from tests.mosquitto import Mosquitto

DOC = Path(__file__).resolve().parents[2] / "docs" / "mosquitto.md"
DOC_ORGNR = "5599000006"
DOC_STORE = "main"
REGISTER = "KASSA-1"


def bridge_block(orgnr: str, store: str, central_port: int) -> str:
    """docs/mosquitto.md's bridge, to this test's central broker, for this test's store."""
    match = re.search(r"<!-- tested: bridge -->\n```[a-z]*\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None, "docs/mosquitto.md has no tested bridge block"
    lines = []
    for line in match.group(1).splitlines():
        if line.startswith(("bridge_cafile", "remote_username", "remote_password")):
            continue  # TLS and the login: both brokers are on loopback, anonymous
        if line.startswith("address "):
            line = f"address 127.0.0.1:{central_port}"
        elif line.startswith("restart_timeout"):
            line = "restart_timeout 1 2"  # reconnect within a second or two, not 5-60 s
        lines.append(line.replace(f"{DOC_ORGNR}/{DOC_STORE}/", f"{orgnr}/{store}/"))
    return "\n".join(lines) + "\n"


def broker_config(port: int, data: Path) -> str:
    return (
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {data}/\nmax_queued_messages 100000\n"
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as session:
        yield session


@pytest.mark.timeout(240)  # a hang guard
async def test_the_line_to_the_central_broker_cut_while_selling_every_message_arrives_once_in_order(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    central = Mosquitto(tmp_path / "central")
    central.config = broker_config(central.port, central.data)
    store_broker = Mosquitto(tmp_path / "store-broker")
    store = f"bridged-{run_tag()}"
    store_broker.config = broker_config(store_broker.port, store_broker.data) + bridge_block(
        ORGNR, store, central.port
    )
    shop = Shop.make(store, tmp_path / "shop", central.url, session)  # the sync module: central
    printed = tmp_path / "printed"
    printer = Service(
        "printer",
        *("sim", "printer", "--listen", "tcp://127.0.0.1:0", "--output", str(printed), "--no-png"),
    )
    await central.start()
    try:
        await store_broker.start()
        await store_broker.wait_log("Received CONNACK on connection local.bridge-")
        await shop.export_key()
        await shop.start_sync()
        await shop.start_unit()
        proc = await printer.spawn()
        assert proc.stdout is not None
        printer_url = (await proc.stdout.readline()).decode().strip().replace("socket://", "tcp://")
        shop.broker_url = store_broker.url  # the till: its store's broker only
        await shop.start_till(REGISTER, mqtt=f'\n[printer]\nurl = "{printer_url}"\n')

        await shop.sell(REGISTER, 3)
        await shop.wait_booked(REGISTER)

        await central.stop()  # the line to the head office is down
        await shop.sell(REGISTER, 12)  # answered, each with its number (Shop.sell checks)
        await shop.close_day(REGISTER)

        async def all_printed() -> int | None:
            count = len(list(printed.glob("receipt-*.txt")))
            return count if count >= 15 + 1 else None  # 15 receipts and the Z report

        await until("every receipt and the Z report printed while the line is down", all_printed, printer)
        waiting = (await shop.bus(REGISTER))["depth"]
        assert waiting >= 13, waiting  # nothing acked since the cut: the outbox holds them

        await central.start()  # the line back
        await shop.wait_booked(REGISTER)
        outbox = outbox_rows(shop.tills[REGISTER])
        received = read_inbox(shop.sync, store, REGISTER)
        assert [(r[0], r[1], r[2]) for r in received] == [(r[0], r[1], r[2]) for r in outbox]
        arrived = read_db(
            shop.sync.base / "inbox.db",
            "SELECT sequence FROM inbox WHERE store = ? AND register = ? ORDER BY id",
            (store, REGISTER),
        )
        assert [int(r[0]) for r in arrived] == list(range(1, len(outbox) + 1))  # stored in order, once each
        sends = read_db(shop.tills[REGISTER].database, "SELECT SUM(sends) FROM outbox")
        assert int(sends[0][0]) < 2 * len(outbox), (sends, len(outbox))  # a few resends, not a flood
    finally:
        codes = await shop.stop()
        await printer.stop()
        await store_broker.stop()
        await central.stop()
    # The sync module ends with 1: its run logged the lost broker as an error, as it should.
    assert {name: code for name, code in codes.items() if not name.startswith("sync")} == {
        REGISTER: 0,
        f"control unit {store}": 0,
    }
    assert codes[shop.sync.name] == 1
