"""The journal's own export (JSON lines): what an auditor checks with the till's public key."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway.common.clock import DEFAULT_ZONE_NAME, zone_named
from gateway.common.signing import Signer, Verifier
from gateway.fiscal.export.jsonl import FORMAT, Till, export_jsonl
from gateway.fiscal.export.period import ExportRefused, Period
from gateway.fiscal.journal import GENESIS, canonical_body, canonical_bytes, open_readonly
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.store import Store, Writer
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt

PipelineFactory = Callable[..., Awaitable[Pipeline]]
TILL = Till("KASSA1", "Kaffebaren i Växjö AB", "5560360793")


def read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def check(header: dict[str, Any], entries: list[dict[str, Any]], verifier: Verifier) -> None:
    """What an auditor does: every hash from its canonical bytes, every link, every signature."""
    prev = bytes.fromhex(header["prev_hash"])
    assert [e["seq"] for e in entries] == list(range(header["first_seq"], header["last_seq"] + 1))
    for entry in entries:
        assert bytes.fromhex(entry["prev_hash"]) == prev, f"entry {entry['seq']} does not link"
        data = canonical_bytes(entry["seq"], entry["kind"], entry["at"], prev, canonical_body(entry["body"]))
        assert hashlib.sha256(data).hexdigest() == entry["hash"], f"entry {entry['seq']} changed"
        assert verifier.valid(bytes.fromhex(entry["signature"]), data)
        prev = bytes.fromhex(entry["hash"])


async def test_every_entry_of_a_real_journal_checks_with_the_public_key(
    unit: ControlUnit, unit_tcp: str, make_pipeline: PipelineFactory, tmp_path: Path, signer: Signer
) -> None:
    pipeline = await make_pipeline(unit_tcp)
    await pipeline.record("cashier.login", {"cashier": "Åsa"})
    for n in range(3):
        lines = (Line("Kaffe «stark»", Decimal(1), 25_00 + n, 1200, article="7310865004703"),)
        await pipeline.submit(f"r{n}", Receipt(lines, (Payment(PaymentMethod.CARD, 25_00 + n),)))
    await pipeline.copy(1)
    await pipeline.open_drawer("Åsa")
    await pipeline.report("z")
    today = date.today()
    path = tmp_path / "export.jsonl"
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        written = export_jsonl(conn, TILL, Period(today - timedelta(days=1), today + timedelta(days=1)), path)
        head = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    header, entries = read(path)
    assert written == len(entries) == head[0]
    assert header["format"] == FORMAT and header["version"] == 1
    assert header["till"] == {"pos_id": "KASSA1", "company": "Kaffebaren i Växjö AB", "orgnr": "5560360793"}
    assert header["key_id"] == signer.key_id
    assert (header["first_seq"], header["last_seq"], header["prev_hash"]) == (1, head[0], GENESIS.hex())
    assert header["journal_head"] == {"seq": head[0], "hash": bytes(head[1]).hex()}
    assert {"receipt.pending", "receipt", "cashier.login", "drawer.open", "report.z"} <= {
        e["kind"] for e in entries
    }
    check(header, entries, Verifier(signer.public))
    # The lines hold the bodies exactly as stored (and so as hashed).
    with open_readonly(tmp_path / "till" / "till.db") as conn:
        stored = [row[0] for row in conn.execute("SELECT body FROM journal ORDER BY seq")]
    assert [canonical_body(e["body"]) for e in entries] == stored


def leftovers(directory: Path, name: str) -> list[str]:
    """The export or its temporary file, if either was left behind."""
    return [p.name for p in directory.iterdir() if p.name == name or p.name.startswith(f".{name}.")]


def at(day: int, hour: int) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=zone_named(DEFAULT_ZONE_NAME))


async def three_days(tmp_path: Path, signer: Signer, per_day: int = 3) -> Path:
    path = tmp_path / "till" / "till.db"
    store = await Store.open(path, signer)

    def write(w: Writer) -> None:
        for day in (1, 2, 3):
            for n in range(per_day):
                w.at = at(day, 8) + timedelta(seconds=n)
                w.append("cashier.login", {"cashier": f"kassör {day}-{n}", "pos_id": "KASSA1"})

    try:
        await store.transact(write)
    finally:
        await store.close()
    return path


async def test_a_period_inside_the_journal_links_to_the_entry_before_it(
    tmp_path: Path, signer: Signer
) -> None:
    path = await three_days(tmp_path, signer)
    out = tmp_path / "day2.jsonl"
    with open_readonly(path) as conn:
        assert export_jsonl(conn, TILL, Period(date(2025, 3, 2), date(2025, 3, 2)), out) == 3
        before = conn.execute("SELECT hash FROM journal WHERE seq = 3").fetchone()[0]
    header, entries = read(out)
    assert (header["first_seq"], header["last_seq"]) == (4, 6)
    assert header["period"] == {"from": "2025-03-02", "to": "2025-03-02"}
    assert header["prev_hash"] == bytes(before).hex()
    assert header["journal_head"]["seq"] == 9
    assert [e["body"]["cashier"] for e in entries] == ["kassör 2-0", "kassör 2-1", "kassör 2-2"]
    check(header, entries, Verifier(signer.public))
    # A changed body no longer matches its hash.
    entries[1]["body"]["cashier"] = "någon annan"
    with pytest.raises(AssertionError, match="entry 5 changed"):
        check(header, entries, Verifier(signer.public))


async def test_an_empty_period_is_refused_and_leaves_no_file(tmp_path: Path, signer: Signer) -> None:
    path = await three_days(tmp_path, signer)
    out = tmp_path / "none.jsonl"
    with open_readonly(path) as conn, pytest.raises(ExportRefused, match="no entries"):
        export_jsonl(conn, TILL, Period(date(2025, 3, 4), date(2025, 3, 9)), out)
    assert not leftovers(tmp_path, "none.jsonl")


async def test_the_export_is_streamed(tmp_path: Path, signer: Signer) -> None:
    path = await three_days(tmp_path, signer, per_day=8000)
    out = tmp_path / "all.jsonl"
    with open_readonly(path) as conn:
        tracemalloc.start()
        try:
            written = export_jsonl(conn, TILL, Period(date(2025, 3, 1), date(2025, 3, 3)), out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert written == 24_000
    size = out.stat().st_size
    assert size > 8_000_000
    assert peak < size / 4, f"peak {peak:,} bytes for a file of {size:,}"
