"""``tillgw backup`` of a till that is selling, and ``tillgw restore``: real processes (the till,
its simulated control unit, the commands), real SQLite files, real HTTP.

* Backups taken while a POS sells through the running till are each one moment of it: the
  manifest's series is the copy's, its journal verifies whole (links and every signature),
  every receipt up to its last is in it; a later sale goes on after it.
* A backup that ends before what the register has sold is refused, naming what would be
  lost — given as ``--last-receipt``, or found in the data directory it would replace —
  and nothing is written.
* The newest backup restored into a new directory: the till starts on it and numbers on.
* An older one restored with ``--accept-loss``: the till refuses to start until
  ``tillgw journal accept-gap`` has journaled the missing receipts; then it numbers on past
  them — a receipt number is never given twice.
* A backup whose outbox ends before what the sync module holds (``--bus-sequence``) is
  refused too.
* A backup changed after it was written (a byte of a database, a truncated ``.tar``, a
  journal entry rewritten with the manifest made to match) is refused naming the damage.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fiscal.test_crash import Gateway, receipt_body, run_tillgw
from tests.fiscal.test_start_refusals import refused_start, running, sell, simulated_unit

DEADLINE = 60.0  # a hang guard for each awaited condition, not a measurement


def receipt_numbers(database: Path) -> list[int]:
    with closing(sqlite3.connect(database)) as conn:
        return [
            int(r[0])
            for r in conn.execute("SELECT receipt_no FROM receipts WHERE kind != 'kopia' ORDER BY 1")
        ]


def manifest_of(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return doc


class Seller:
    """A POS selling through the running till, one receipt after another, until stopped."""

    def __init__(self, till: Gateway) -> None:
        self.till = till
        self.numbers: list[int] = []
        self.sold = asyncio.Condition()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.till.token()}"}
        async with aiohttp.ClientSession() as session:
            n = 0
            while not self.stop.is_set():
                n += 1
                body = receipt_body(f"live-{n}")
                async with session.post(f"{self.till.api}/v1/receipts", json=body, headers=headers) as r:
                    assert r.status == 201, await r.text()
                    answer = await r.json()
                async with self.sold:
                    self.numbers.append(int(answer["receipt_no"]))
                    self.sold.notify_all()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE), self.sold:
            await self.sold.wait_for(lambda: len(self.numbers) >= count)


async def tillgw_ok(*args: str) -> str:
    code, out = await run_tillgw(*args)
    assert code == 0, f"tillgw {' '.join(args)} ended with {code}:\n{out}"
    return out


def another_till(tmp_path: Path, name: str, unit_url: str) -> Gateway:
    till = Gateway(tmp_path / f"{name}.toml", tmp_path / name, unit_url)
    till.listen_elsewhere()
    return till


@pytest.mark.timeout(300)  # a hang guard; the test takes about 20 s
async def test_backups_of_a_selling_till_restore_and_never_go_behind_what_was_sold(tmp_path: Path) -> None:
    async with simulated_unit(tmp_path) as unit_url:
        till = another_till(tmp_path, "till", unit_url)
        live_tar, live_folder, last = tmp_path / "live.tar", tmp_path / "live", tmp_path / "last"
        async with running(till):
            seller = Seller(till)
            selling = asyncio.create_task(seller.run())
            try:
                await seller.wait_for(3)
                await tillgw_ok("backup", "--config", str(till.config), str(live_tar))
                await tillgw_ok("backup", "--config", str(till.config), str(live_folder))
                during = len(seller.numbers)
                await seller.wait_for(during + 3)  # sales go on after the backups
            finally:
                seller.stop.set()
                await selling
            await tillgw_ok(
                "backup", "--config", str(till.config), str(last)
            )  # the till quiet, still running
        sold = seller.numbers
        assert sold == list(range(1, len(sold) + 1))

        # Each live backup is one moment: checked whole, every receipt up to its last.
        for backup in (live_tar, live_folder):
            out = await tillgw_ok("restore", str(backup), "--check")
            assert out.startswith(f"OK: {backup} of ")
        facts = manifest_of(live_folder)["facts"]
        assert 3 <= facts["last_receipt"] < len(sold)
        assert receipt_numbers(live_folder / "till.db") == list(range(1, facts["last_receipt"] + 1))
        assert manifest_of(last)["facts"]["last_receipt"] == len(sold)

        # Behind what was sold: refused in words, nothing restored.
        fresh = another_till(tmp_path, "fresh", unit_url)
        code, out = await run_tillgw(
            "restore", str(live_folder), "--config", str(fresh.config), "--last-receipt", str(len(sold))
        )
        behind = len(sold) - facts["last_receipt"]
        assert code == 1, out
        assert (
            f"the backup ends at receipt {facts['last_receipt']}; the register has sold up to receipt "
            f"{len(sold)} (--last-receipt): {behind} receipt{'s' if behind != 1 else ''} would be lost"
        ) in out
        assert "--accept-loss" in out and not fresh.data_dir.exists()
        # Over the till's own directory: its series.json and database say the same.
        code, out = await run_tillgw("restore", str(live_tar), "--config", str(till.config), "--replace")
        assert code == 1 and f"shows the register sold up to {len(sold)}" in out, out
        assert receipt_numbers(till.data_dir / "till.db") == sold  # untouched

        # The newest backup into a new directory: the till starts on it and numbers on.
        out = await tillgw_ok(
            "restore", str(last), "--config", str(fresh.config), "--last-receipt", str(len(sold))
        )
        assert out.startswith("restored the backup of ")
        async with running(fresh):
            [answer] = await sell(fresh, "after-restore")
        assert answer["receipt_no"] == len(sold) + 1
        verified = await tillgw_ok("journal", "verify", "--config", str(fresh.config))
        assert verified.startswith("OK: ")

        # An older backup, accepted with its loss: the till starts only once the gap is journaled.
        older = another_till(tmp_path, "older", unit_url)
        out = await tillgw_ok(
            "restore", str(live_folder), "--config", str(older.config), "--last-receipt", str(len(sold) + 1),
            "--accept-loss",
        )  # fmt: skip
        assert f"receipts {facts['last_receipt'] + 1}-{len(sold) + 1} are not in the backup" in out
        code, line = await refused_start(older)
        assert code == 1 and "accept-gap" in line, line
        await tillgw_ok(
            "journal", "accept-gap", "--config", str(older.config), "--reason", "restored an older backup"
        )
        async with running(older):
            [answer] = await sell(older, "after-gap")
        assert answer["receipt_no"] == len(sold) + 2
        assert (await tillgw_ok("journal", "verify", "--config", str(older.config))).startswith("OK: ")


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.timeout(300)
async def test_a_backup_damaged_after_it_was_written_is_refused_naming_the_damage(tmp_path: Path) -> None:
    async with simulated_unit(tmp_path) as unit_url:
        till = another_till(tmp_path, "till", unit_url)
        async with running(till):
            await sell(till, "a", "b", "c")
        folder, tar = tmp_path / "backup", tmp_path / "backup.tar"
        await tillgw_ok("backup", "--config", str(till.config), str(folder))
        await tillgw_ok("backup", "--config", str(till.config), str(tar))

    # A sound backup, but the sync module holds a message of this register it does not.
    elsewhere = tmp_path / "elsewhere"
    code, out = await run_tillgw(
        "restore",
        str(folder),
        "--config",
        str(till.config),
        "--data-dir",
        str(elsewhere),
        "--bus-sequence",
        "2",
    )
    assert code == 1, out
    assert (
        "the backup's outbox ends at message 0; the sync module has stored up to 2 from this register "
        "(--bus-sequence): 2 messages it has are not in the backup"
    ) in out
    assert not elsewhere.exists()

    # A byte of the database copy changed.
    changed = tmp_path / "changed"
    await tillgw_ok("backup", "--config", str(till.config), str(changed))
    flip_byte(changed / "till.db", (changed / "till.db").stat().st_size // 2)
    code, out = await run_tillgw("restore", str(changed), "--check")
    assert code == 1 and "till.db is not the file the backup wrote: its sha256 differs" in out, out

    # A .tar cut short.
    cut = tmp_path / "cut.tar"
    cut.write_bytes(tar.read_bytes()[: tar.stat().st_size // 3])
    code, out = await run_tillgw("restore", str(cut), "--config", str(till.config), "--replace")
    assert code == 1 and "cannot be restored" in out, out
    assert receipt_numbers(till.data_dir / "till.db") == [1, 2, 3]  # nothing touched

    # A receipt rewritten in the journal, and the manifest made to match: the chain says so.
    with closing(sqlite3.connect(folder / "till.db")) as conn:
        second = "(SELECT seq FROM journal WHERE kind = 'receipt' ORDER BY seq LIMIT 1 OFFSET 1)"
        rewrite = "replace(body, '\"receipt_no\":2', '\"receipt_no\":7')"
        conn.execute("DROP TRIGGER journal_never_changed")  # as whoever rewrites a copy would
        conn.execute(f"UPDATE journal SET body = {rewrite} WHERE seq = {second}")
        conn.commit()
    manifest = manifest_of(folder)
    for entry in manifest["files"]:
        if entry["name"] == "till.db":
            entry["size"] = (folder / "till.db").stat().st_size
            entry["sha256"] = hashlib.sha256((folder / "till.db").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, out = await run_tillgw("restore", str(folder), "--check")
    assert code == 1 and "does not verify" in out, out
