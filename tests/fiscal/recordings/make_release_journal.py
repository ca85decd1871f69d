# mypy: ignore-errors
# (This script runs against release 2084e15, whose module paths this tree no longer has.)
# ruff: noqa: I001  (its imports are the old release's modules, sorted as that tree sorts them)
"""Make ``release-2084e15.db``: a till's journal written by the release before the typed bodies.

It drives that release's real pipeline against the project's simulated control unit over
TCP, with its outbox installed, and writes a journal holding every kind of entry the
release wrote: sales (card, cash with öresavrundning, Swish, gift card, a return, line and
receipt discounts, a service, main groups, a sale on account, one paying an order), a
copy, training and pro forma receipts, a refusal, a receipt left in doubt and resolved,
printed receipts, drawer openings, logins and logouts, price and float changes, a customer
and an order made at the till, a registration change, X and Z reports; then, with the
till stopped, receipts recorded as lost (``series.gap``) and a lost key replaced
(``key.replaced``), and more sales and a Z signed by the new key.

Run from the root of a checkout of that release, in its own virtual environment::

    git worktree add /tmp/oldrel 2084e15        # in a clone of the repository
    cd /tmp/oldrel && python3 -m venv .venv && .venv/bin/pip install -q -e .
    .venv/bin/python /path/to/tests/fiscal/recordings/make_release_journal.py /path/to/tests/fiscal/recordings

It writes ``release-2084e15.db`` (the till database, its WAL folded in, vacuumed) and
``release-2084e15.pub.pem`` (the public half of the key that signs the journal's head).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

from gateway.bus.catalog import Customer
from gateway.bus.messages import Topics
from gateway.model import Line, LineKind, Payment, PaymentMethod, Receipt, ReceiptKind
from gateway.registration_check import RegistrationState

from firmware_sim.control_unit import ControlUnit, Fault, UnitConfig
from firmware_sim.control_unit.ccsp_server import serve_tcp
from gateway.bus.outbox import Outbox
from gateway.devices.control_unit import ControlUnitDriver
from gateway.devices.port import Backoff
from gateway.fiscal.key_rotation import rotate_key
from gateway.fiscal.pipeline import FiscalError, Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.series_gap import accept_gap
from gateway.fiscal.signing import Signer, load_or_create_key, public_pem
from gateway.fiscal.store import Store

SHOP = Shop("Kaffebaren i Växjö AB", "5560360793", ("Storgatan 1", "352 30 Växjö"))
POS_ID = "KASSA1"
NAME = "release-2084e15"
DRIVER = {"request_timeout": 0.3, "retries": 3, "busy_timeout": 0.3, "busy_poll": 0.05}


class PaperPrinter:
    """Takes every job: the receipts are journaled as printed, the drawer opens."""

    async def print_job(self, data: bytes) -> None:
        return None

    async def kick_drawer(self) -> None:
        return None


def line(text: str, qty: str, price: int, rate: int = 2500, **more: object) -> Line:
    return Line(text, Decimal(qty), price, rate, **more)


def sales() -> list[Receipt]:
    card, cash = PaymentMethod.CARD, PaymentMethod.CASH
    return [
        Receipt((line("Kaffe", "1", 32_00, 1200, group="Dryck"),), (Payment(card, 32_00, "AUTH123"),)),
        # Cash, rounded to whole kronor: 124.45 is 124 to pay; 150 handed over, 26 back.
        Receipt(
            (line("Bulle", "3", 28_50, 1200, group="Bröd"), line("Tidning", "1", 38_95, 600)),
            (Payment(cash, 150_00),),
            cashier="Anna",
        ),
        # Weighed goods, a line discount, a receipt discount, a service, Swish and a gift card.
        Receipt(
            (
                line("Ost", "0.347", 189_00, 1200, discount=5_00, article="2001", group="Chark"),
                line("Presentinslagning", "1", 25_00, kind=LineKind.SERVICE),
                line("Vykort", "2", 15_00, 0),
            ),
            (Payment(PaymentMethod.SWISH, 50_00, "SW1"), Payment(PaymentMethod.GIFT_CARD, 55_58, "GC-77")),
            discount=10_00,
            cashier="Anna",
        ),
        # A return, in cash.
        Receipt((line("Kaffe", "-1", 32_00, 1200, group="Dryck"),), (Payment(cash, -32_00),)),
        # A sale on account, and one that pays an order fetched from the ERP.
        Receipt(
            (line("Catering", "10", 95_00, 1200, article="3001"),),
            (Payment(PaymentMethod.OTHER, 950_00),),
            customer="20000",
        ),
        Receipt(
            (line("Tårta", "1", 450_00, 1200, article="3002"),), (Payment(card, 450_00),), order="S-1001"
        ),
    ]


async def open_till(db: Path, key: Path, url: str) -> tuple[Store, Pipeline, ControlUnitDriver]:
    store = await Store.open(db, Signer(load_or_create_key(key)))
    await Outbox(store, Topics(SHOP.orgnr, "main", POS_ID)).install()
    driver = ControlUnitDriver(url, POS_ID, backoff=Backoff(initial=0.02, maximum=0.2), **DRIVER)
    pipeline = Pipeline(store, driver, SHOP, POS_ID, printer=PaperPrinter())
    await pipeline.start()
    return store, pipeline, driver


async def close_till(store: Store, pipeline: Pipeline, driver: ControlUnitDriver) -> None:
    await pipeline.settle()
    await pipeline.close()
    await driver.close()
    await store.close()


async def first_day(pipeline: Pipeline, unit: ControlUnit) -> None:
    await pipeline.record("cashier.login", {"cashier": "Anna"})
    await pipeline.record("float.change", {"amount": "2000.00", "cashier": "Anna", "note": "morgonkassa"})
    for n, receipt in enumerate(sales(), start=1):
        await pipeline.submit(f"sale-{n}", receipt)
    await pipeline.copy(2)
    await pipeline.submit(
        "training-1",
        Receipt(
            (line("Kaffe", "1", 32_00, 1200),),
            (Payment(PaymentMethod.CASH, 32_00),),
            kind=ReceiptKind.TRAINING,
        ),
    )
    await pipeline.submit(
        "proforma-1",
        Receipt(
            (line("Tårta", "2", 450_00, 1200),),
            (Payment(PaymentMethod.OTHER, 900_00),),
            kind=ReceiptKind.PRO_FORMA,
        ),
    )
    # Refused by the unit (NAK 007): journaled, and the number is not burnt.
    unit.faults.set(Fault.NAK, "7", times=1)
    with contextlib.suppress(FiscalError):
        await pipeline.submit("refused-1", sales()[0])
    # The unit silent: the receipt waits in doubt, and is completed when the POS asks again.
    unit.faults.set(Fault.NO_REPLY)
    with contextlib.suppress(FiscalError):
        await pipeline.submit("doubt-1", sales()[0])
    unit.faults.clear()
    await pipeline.submit("doubt-1", sales()[0])
    await pipeline.open_drawer("Anna")
    await pipeline.open_drawer(None, "count")
    await pipeline.record(
        "price.change",
        {"article": "1001", "text": "Kaffe", "old_price": "30.00", "new_price": "32.00", "cashier": "Anna"},
    )
    await pipeline.record(
        "price.change",
        {"article": "1002", "text": None, "old_price": None, "new_price": "12.00", "cashier": None},
    )
    await pipeline.record("float.change", {"amount": "-500.00"})
    customer = Customer(
        "30000", "Ny Kund AB", "5560000000", "kund@example.se", None, ("Gatan 2", "123 45 Ort")
    )
    await pipeline.record("customer.change", customer.to_json())
    await pipeline.record(
        "order.new",
        {
            "customer": "30000",
            "lines": [{"article": "3002", "quantity": "2", "text": None}],
            "delivery": "later",
            "note": "Hämtas fredag",
        },
    )
    changed = RegistrationState(
        {
            "control_unit.manufacturing_number": "AAAA0000000000000",
            "register.manufacturing_number": "TG-0001",
            "register.designation": POS_ID,
            "business.orgnr": "556036-0793",
        },
        date(2026, 1, 2),
        {
            "control_unit.manufacturing_number": unit.unit_id,
            "register.manufacturing_number": "TG-0001",
            "register.designation": POS_ID,
            "business.orgnr": "556036-0793",
        },
        ["control_unit.manufacturing_number"],
        first_seen=date.today(),
    )
    await pipeline.record("registration.changed", changed.journal_body())
    await pipeline.report("x")
    await pipeline.record("cashier.logout", {"cashier": "Anna"})
    await pipeline.report("z")
    await pipeline.record("cashier.login", {"cashier": "Bo"})
    await pipeline.submit("sale-7", sales()[1])
    await pipeline.report("z")


async def after_the_key(pipeline: Pipeline) -> None:
    await pipeline.record("cashier.login", {"cashier": "Bo"})
    for n, receipt in enumerate(sales()[:3], start=8):
        done = await pipeline.submit(f"sale-{n}", receipt)
    await pipeline.copy(done.receipt_no)
    await pipeline.report("x")
    await pipeline.record("cashier.logout", {"cashier": "Bo"})
    await pipeline.report("z")


async def main(out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="tillgw-recording-"))
    db, key = work / "till" / "till.db", work / "till" / "signing-key.pem"
    unit = ControlUnit(UnitConfig(data_dir=work / "unit", reboot_seconds=0.2))
    try:
        async with serve_tcp(unit) as url:
            till = await open_till(db, key, url)
            await first_day(till[1], unit)
            await close_till(*till)
            # Stopped: a backup restored that lacks receipts 21-22 (sold on another database),
            # recorded as lost; then the key lost with it and replaced on purpose.
            with contextlib.closing(sqlite3.connect(db)) as conn:
                last = conn.execute("SELECT MAX(receipt_no) FROM receipts").fetchone()[0]
                head = conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0]
            accept_gap(db, key, int(last) + 2, int(head) + 10, "återställd från säkerhetskopia")
            key.rename(key.with_name("lost-key.pem"))
            rotate_key(db, key, "nyckeln förlorad med disken")
            till = await open_till(db, key, url)
            await after_the_key(till[1])
            await close_till(*till)
    finally:
        unit.close()
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=1024")
        conn.execute("VACUUM")
    shutil.copyfile(db, out / f"{NAME}.db")
    (out / f"{NAME}.pub.pem").write_bytes(public_pem(load_or_create_key(key).public_key()))
    shutil.rmtree(work)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
