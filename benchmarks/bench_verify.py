"""``journal verify`` rate: entries per second over a journal of 100,000 entries (goal: ≥ 50,000/s).

    .venv/bin/python benchmarks/bench_verify.py [--entries 100000] [--batch 1000] [--rounds 3]
    .venv/bin/python benchmarks/bench_verify.py --db var/till.db [--public-key till-public.pem]

**Building the journal (the benchmark's fast path, not the till's).** The pipeline
writes two durable transactions per receipt; 100,000 entries that way take minutes and
measure the pipeline, not ``verify``. Instead the entries are written with the till's
own parts — ``Store.open`` and ``Store.transact`` / ``Writer.append`` (canonical JSON,
SHA-256 chain, Ed25519 signature, exactly as the pipeline appends) — ``--batch``
entries per transaction. They are the pipeline's pairs, with its own bodies
(``benchmarks/sample_journal.py``): a ``receipt.pending`` entry
(control data, the receipt as the POS sent it) and a ``receipt`` entry (control code,
unit id, the two CCSP frames in hex, the totals), about 1 KB of body each, as a till's
journal mostly is. ``--db`` measures an existing database instead (read-only; its key is
``signing-key.pem`` beside it unless ``--public-key`` names the public key).

**Measured**: :func:`gateway.fiscal.journal.verify` on a read-only connection, as
``tillgw journal verify`` runs it — every entry's number, link and SHA-256, then the
head's signature (the default); and with ``all_signatures=True``, every entry's
Ed25519 signature as well. Each is run ``--rounds`` times; the best and the median are
shown (the database is in the page cache after the first round, as it is on a till
that has just written it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sample_journal import append_receipt  # beside this script

from gateway.common.signing import Signer, Verifier, load_or_create_key, load_public_key
from gateway.fiscal.journal import VerifyReport, open_readonly, verify
from gateway.fiscal.store import Store, Writer


async def build(path: Path, signer: Signer, entries: int, batch: int) -> float:
    """A journal of ``entries`` entries (pending/receipt pairs) in ``path``; returns the seconds taken."""
    t0 = time.perf_counter()
    store = await Store.open(path, signer)
    try:
        base = int(await store.meta("seq_base") or 0)
        moment = datetime(2026, 11, 21, 9, 0).astimezone()
        seq = number = 0
        while seq < entries:

            def write(w: Writer) -> None:
                nonlocal seq, number
                for _ in range(min(batch, entries - seq) // 2 or 1):
                    number += 1
                    append_receipt(w, number, base + seq + 1, f"pos1-{number}")
                    seq += 2

            await store.transact(write, moment)
            moment += timedelta(seconds=30)
    finally:
        await store.close()
    return time.perf_counter() - t0


def timed(
    path: Path, verifier: Verifier, all_signatures: bool, rounds: int
) -> tuple[list[float], VerifyReport]:
    times = []
    report: VerifyReport | None = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        with open_readonly(path) as conn:
            report = verify(conn, verifier, all_signatures=all_signatures)
        times.append(time.perf_counter() - t0)
        if not report.ok:
            raise SystemExit(f"the journal does not verify: {report.problem}")
    assert report is not None
    return times, report


def database_size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


def run(path: Path, verifier: Verifier, rounds: int, note: str) -> None:
    rows = []
    for name, everything in (("chain + head signature (default)", False), ("every signature", True)):
        times, report = timed(path, verifier, everything, rounds)
        rows.append((name, report, times))
    entries = rows[0][1].entries
    avg_body = _average_body(path)
    command = shlex.join([".venv/bin/python", "benchmarks/bench_verify.py", *sys.argv[1:]])
    print(f"`{command}`")
    print()
    print(
        f"{entries:,} entries (bodies {avg_body:,.0f} bytes on average), database "
        f"{database_size(path) / 1e6:.0f} MB{note}; best and median of {rounds} rounds. "
        f"{platform.python_implementation()} {platform.python_version()} {platform.machine()}."
    )
    print()
    print("| verify | signatures checked | best | median | entries/s (best) |")
    print("|---|---:|---:|---:|---:|")
    for name, report, times in rows:
        best = min(times)
        print(
            f"| {name} | {report.signatures_checked:,} | {best * 1000:,.0f} ms | "
            f"{statistics.median(times) * 1000:,.0f} ms | {entries / best:,.0f} |"
        )
    print()
    print("Goal (issue 4): ≥ 50,000 entries/s for the default.")


def _average_body(path: Path) -> float:
    with open_readonly(path) as conn:
        row = conn.execute("SELECT AVG(LENGTH(body)) FROM journal").fetchone()
    return float(row[0] or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="journal entries to build")
    parser.add_argument("--batch", type=int, default=1000, help="entries per write transaction")
    parser.add_argument("--rounds", type=int, default=3, help="times each verify is run")
    parser.add_argument("--db", type=Path, help="verify this existing till.db instead of building one")
    parser.add_argument("--public-key", type=Path, help="with --db: its public key (PEM)")
    args = parser.parse_args()

    if args.db is not None:
        key = args.db.parent / "signing-key.pem"
        if args.public_key is not None:
            verifier = Verifier(load_public_key(args.public_key.read_bytes()))
        elif key.exists():  # never made here: load_or_create_key makes one when there is none
            verifier = Verifier(load_or_create_key(key).public_key())
        else:
            raise SystemExit(f"no signing key at {key}; give --public-key")
        run(args.db, verifier, args.rounds, "")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "till.db"
        signer = Signer(load_or_create_key(Path(tmp) / "signing-key.pem"))
        seconds = asyncio.run(build(path, signer, args.entries, args.batch))
        run(path, Verifier(signer.public), args.rounds, f", built in {seconds:.1f} s")


if __name__ == "__main__":
    main()
