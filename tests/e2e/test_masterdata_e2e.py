"""Master data through the real system: export files → ``tillgw sync`` → the broker → a till's API, and back.

Real processes, real SQLite, real TCP, as in a store (the processes of
tests/e2e/test_bus_chaos.py, without the failures):

* a real Mosquitto on a free port, with a temporary configuration;
* the simulated control unit, its own process (``tillgw sim control-unit``, over TCP);
* one till, ``tillgw run --config KASSA-1.toml``: ``[mqtt]`` the test's broker;
* the sync service, ``tillgw sync --config sync.toml``, running throughout:
  ``[sync.masterdata] source = "file"`` reading a folder of CSV exports, prices excl.
  VAT rounded up to whole kronor incl. VAT, no syncs on a schedule (``interval_minutes =
  0``): every sync is a ``tillgw sync --all`` or ``--changes`` the test runs, each its own
  process beside the service.

What is checked, in order, each on the till's own API:

a. after ``tillgw sync --all`` an article answers its barcode with its price incl. VAT
   rounded as configured; an ``#E#`` article does not answer at all, and a barcode on two
   articles answers for neither;
b. a price changed in ``articles.csv`` and ``tillgw sync --changes``: the till answers
   the new price;
c. a customer posted at the till without a number gets a provisional one; the running
   sync service writes it to ``customers.csv`` with the next number there, and after the
   next sync the till answers it under that number, and no longer under the provisional one;
d. a sale of a stock article at the till, and a delivery booked in ``stock.csv``
   meanwhile: after the next sync ``stock.csv`` holds the three-way merge (the file's
   quantity less the sale) and the till's catalog shows it.

Nothing is timed: the test waits for a process's output, its exit, or a condition it
polls a bounded number of times with a short wait between looks.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bus.conftest import Mosquitto
from tests.e2e.test_bus_chaos import Service, Sync, Till, read_db
from tests.fiscal.test_crash import tillgw

ORGNR = "5560360793"
STORE = "vaxjo"  # the store of test_bus_chaos's Till
REGISTER = "KASSA-1"
LOOKS = 200  # looks at a condition before the test gives up on it …
BETWEEN_LOOKS = 0.1  # … with this many seconds between two

KAFFE, TE, TEKOPP, MUGG, HIDDEN = (
    "7310000000011",
    "7310000000028",
    "7310000000042",
    "7310000000035",
    "7310000000059",
)
SHARED = "7310000000066"  # on Te and Tekopp: a scan must not pick one of two by chance

ARTICLES = f"""\
number;name;price;vat;barcodes;unit;group;stock_goods;active
1001;Kaffe;26,00;12;{KAFFE};st;Dryck;0;1
1002;Te;20,00;12;{TE},{SHARED};st;Dryck;0;1
1003;Tekopp;40,00;25;{TEKOPP},{SHARED};st;Porslin;0;1
2001;Mugg;80,00;25;{MUGG};st;Porslin;1;1
9001;Personalrabatt #E#;0,00;25;{HIDDEN};st;;0;1
"""


class MasterDataSync(Sync):
    """The sync service of test_bus_chaos, reading master data from a folder of export files."""

    def __init__(self, directory: Path, broker_url: str, folder: Path) -> None:
        masterdata = f"""
[sync.masterdata]
source = "file"
folder = "{folder}"
prices_include_vat = false             # the export's prices are excl. VAT …
round_up_to_krona = true               # … and the tills' incl. VAT, rounded up to whole kronor
orgnr = "556036-0793"
store = "{STORE}"
interval_minutes = 0                   # no syncs on a schedule: only those the test runs
"""
        super().__init__(
            directory,
            broker_url,
            registers=(REGISTER,),
            client_id="tillgw-sync-masterdata-e2e",
            retry_interval=1,
            more=masterdata,
        )

    async def sync_now(self, mode: str) -> str:
        """``tillgw sync --all`` or ``--changes`` as its own process; what it printed."""
        proc = await asyncio.create_subprocess_exec(
            *tillgw("--language", "en", "sync", mode, "--config", str(self.config)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        assert proc.returncode == 0, f"tillgw sync {mode} ended with {proc.returncode}:\n{text}"
        return text


@dataclass
class Store:
    """The store under test: its till, its sync service, the export folder, a session to the till."""

    till: Till
    sync: MasterDataSync
    folder: Path
    session: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.session.get(f"{self.till.api}{path}", headers=self.till.headers) as response:
            answer: dict[str, Any] = await response.json()
            return response.status, answer

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.till.api}{path}", json=body, headers=self.till.headers) as r:
            answer: dict[str, Any] = await r.json()
            return r.status, answer

    async def until(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        """``check()``'s first answer that is not None; fails after ``LOOKS`` looks."""
        for _ in range(LOOKS):
            found = await check()
            if found is not None:
                return found
            await asyncio.sleep(BETWEEN_LOOKS)  # the wait between two looks at the condition
        raise AssertionError(
            f"{what}: not so after {LOOKS} looks\n"
            f"--- till:\n{self.till.tail()}\n--- sync:\n{self.sync.tail()}"
        )

    async def article_with(self, barcode: str, price: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            status, answer = await self.get(f"/v1/articles?barcode={barcode}")
            return answer if status == 200 and answer["price"] == price else None

        found: dict[str, Any] = await self.until(f"the till answers {barcode} at {price}", check)
        return found

    def processed(self, kind: str) -> int:
        """How many messages of ``kind`` the sync service has processed."""
        inbox = self.sync.base / "inbox.db"
        if not inbox.exists():
            return 0
        [(n,)] = read_db(
            inbox, "SELECT COUNT(*) FROM inbox WHERE kind = ? AND processed_at IS NOT NULL", (kind,)
        )
        return int(n)


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "articles.csv").write_text(ARTICLES, encoding="utf-8")
    (folder / "customers.csv").write_text(
        "number;name;orgnr;email;phone;address;price_list;active;modified\r\n"
        "1000;Anna Andersson;;anna@example.se;;Storgatan 2|352 30 Växjö;;1;2026-01-05 10:00\r\n",
        encoding="utf-8",
    )
    (folder / "stock.csv").write_text("number;quantity\r\n2001;10\r\n", encoding="utf-8")
    broker = Mosquitto(tmp_path / "mosquitto")
    unit = Service(
        "control unit",
        *("sim", "control-unit", "--listen", "tcp://127.0.0.1:0", "--data-dir", str(tmp_path / "unit")),
    )
    sync = MasterDataSync(tmp_path, broker.url, folder)
    till: Till | None = None
    try:
        await broker.start()
        unit_proc = await unit.spawn()
        assert unit_proc.stdout is not None
        unit_url = (await unit_proc.stdout.readline()).decode().strip()
        assert unit_url.startswith("socket://"), f"{unit_url!r}\n{unit.tail()}"
        await sync.start()
        await sync.connected.wait()  # its session exists: what the till sends waits for it
        till = Till(REGISTER, tmp_path, unit_url, broker.url)
        await till.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            yield Store(till, sync, folder, session)
    finally:
        codes = {s.name: await s.stop() for s in (till, sync, unit) if s is not None}
        await broker.stop()
        for service in (s for s in (till, sync, unit) if s is not None):
            log = tmp_path / f"{service.name.replace(' ', '-')}.log"  # kept for a post-mortem
            log.write_text("\n".join(service.lines), encoding="utf-8")
    assert codes.get(REGISTER, 0) == 0 and codes["sync"] in (0, 1), codes


@pytest.mark.timeout(120)  # a hang guard; the test takes about 10 s
async def test_master_data_and_till_made_customers_flow_through_the_real_system(store: Store) -> None:
    # (a) A full sync: prices excl. VAT in the file, incl. VAT and rounded up on the till.
    printed = await store.sync.sync_now("--all")
    assert "revision 1 (full sync)" in printed, printed
    kaffe = await store.article_with(KAFFE, "30.00")  # 26,00 + 12 % = 29,12, up to 30,00
    assert (kaffe["number"], kaffe["name"], kaffe["vat_rate"], kaffe["group"]) == (
        "1001",
        "Kaffe",
        "12",
        "Dryck",
    )
    mugg = await store.article_with(MUGG, "100.00")  # 80,00 + 25 %, already whole kronor
    assert Decimal(mugg["stock"]) == 10 and mugg["stock_goods"] is True
    # The article with #E# never reaches the till, neither by barcode nor by number.
    assert (await store.get(f"/v1/articles?barcode={HIDDEN}"))[0] == 404
    assert (await store.get("/v1/articles/9001"))[0] == 404
    # A barcode on two articles answers for neither; both articles are there by their own.
    status, answer = await store.get(f"/v1/articles?barcode={SHARED}")
    assert status == 404 and answer["error"]["code"] == "not_found"
    te = await store.article_with(TE, "23.00")  # 20,00 + 12 % = 22,40, up to 23,00
    tekopp = await store.article_with(TEKOPP, "50.00")
    assert te["barcodes"] == [TE] and tekopp["barcodes"] == [TEKOPP]

    # (b) A price changed in the export, and a changes sync.
    articles = store.folder / "articles.csv"
    articles.write_text(ARTICLES.replace("1001;Kaffe;26,00", "1001;Kaffe;27,00"), encoding="utf-8")
    printed = await store.sync.sync_now("--changes")
    assert "revision 2 (changes)" in printed, printed
    await store.article_with(KAFFE, "31.00")  # 27,00 + 12 % = 30,24, up to 31,00

    # (c) A customer made at the till: provisional there, numbered by the ERP's file, back to the till.
    status, answer = await store.post("/v1/customers", {"name": "Bertil Bygg HB", "orgnr": "9696001111"})
    assert status == 201, answer
    provisional = answer["customer"]["number"]
    assert provisional == f"T-{REGISTER}-1" and answer["customer"]["provisional"] is True

    async def saved_in_erp() -> dict[str, str] | None:
        # Processed: saved in customers.csv and queued for the next revision (catalog.db).
        if store.processed("customer.change") < 1:
            return None
        return next(
            (r for r in csv_rows(store.folder / "customers.csv") if r["name"] == "Bertil Bygg HB"), None
        )

    row = await store.until("the sync service saves the till's customer", saved_in_erp)
    assert row["number"] == "1001" and row["orgnr"] == "9696001111"  # the file's next number after 1000
    assert [r["number"] for r in csv_rows(store.folder / "customers.csv")] == ["1000", "1001"]
    await store.sync.sync_now("--changes")

    async def numbered_by_erp() -> dict[str, Any] | None:
        status, answer = await store.get("/v1/customers/1001")
        return answer if status == 200 else None

    customer = await store.until("the till answers the ERP's number", numbered_by_erp)
    assert (customer["name"], customer["orgnr"], customer["provisional"]) == (
        "Bertil Bygg HB",
        "9696001111",
        False,
    )
    assert (await store.get(f"/v1/customers/{provisional}"))[0] == 404
    assert (await store.get("/v1/customers/1000"))[1]["name"] == "Anna Andersson"

    # (d) Two mugs sold at the till while the ERP books a delivery: 10 − 2 sold + 20 delivered.
    receipts_before = store.processed("receipt")
    status, answer = await store.post(
        "/v1/receipts",
        {
            "id": "md-e2e-1",
            "cashier": "Anna",
            "lines": [
                {"text": "Mugg", "article": "2001", "quantity": 2, "unit_price": "100.00", "vat_rate": 25}
            ],
            "payments": [{"method": "card", "amount": "200.00"}],
        },
    )
    assert status == 201, answer

    async def sale_counted() -> bool | None:
        return True if store.processed("receipt") > receipts_before else None

    await store.until("the sync service counts the sale", sale_counted)
    (store.folder / "stock.csv").write_text("number;quantity\r\n2001;30\r\n", encoding="utf-8")
    printed = await store.sync.sync_now("--changes")
    assert "stock of 1 article(s), 1 written to the ERP" in printed, printed  # counts, not the levels
    assert csv_rows(store.folder / "stock.csv") == [{"number": "2001", "quantity": "28"}]

    async def stock_on_till() -> Decimal | None:
        status, answer = await store.get("/v1/articles/2001")
        return Decimal(answer["stock"]) if status == 200 and Decimal(answer["stock"]) == 28 else None

    assert await store.until("the till shows the merged stock", stock_on_till) == 28
