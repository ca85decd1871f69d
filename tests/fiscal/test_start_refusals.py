"""A till on a bad day, as real processes: ``tillgw run --config`` beside the simulated unit.

Each case ends in a named state: a falsified receipts index named by ``verify`` and
refusing the Z; a lost database, a lost or changed key, a damaged file, a read-only
directory, a second till on the same directory each refuse the start in one ``error:``
line; ``rotate-key`` journals a replaced key; the data directory's files are private.
No sleep and no timed assertion: each step waits for a line, an answer or an exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.fiscal.test_crash import (
    Gateway,
    receipt_body,
    run_tillgw,
    start_gateway,
    start_unit,
    unit_registrations,
)


@contextlib.asynccontextmanager
async def simulated_unit(tmp_path: Path) -> AsyncIterator[str]:
    with open(tmp_path / "unit.log", "wb") as log:  # noqa: ASYNC230 - a local file
        unit, url, _ = await start_unit("ccsp", tmp_path / "unit", log)
    try:
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            unit.send_signal(signal.SIGTERM)
        await unit.wait()


@contextlib.asynccontextmanager
async def running(till: Gateway) -> AsyncIterator[asyncio.subprocess.Process]:
    """``tillgw run`` until its API is up; stopped with SIGTERM afterwards."""
    proc = await start_gateway(till.config)
    assert proc.stdout is not None and proc.stderr is not None
    first = await proc.stdout.readline()
    if not first.startswith(b"tillgw: API on "):
        err = await proc.stderr.read()
        await proc.wait()
        raise AssertionError(f"the till did not start: {first!r} {err.decode()}")
    drain = asyncio.create_task(proc.stdout.read())
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
        await drain


async def refused_start(till: Gateway) -> tuple[int, str]:
    """A start that must be refused: its exit code and its one error line."""
    proc = await start_gateway(till.config)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode not in (None, 0), out.decode()
    assert b"tillgw: API on" not in out
    errors = [line for line in err.decode().splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err.decode()
    assert "Traceback" not in err.decode()
    return proc.returncode or 0, errors[0]


async def sell(till: Gateway, *ids: str) -> list[dict[str, Any]]:
    answers = []
    headers = {"Authorization": f"Bearer {till.token()}"}
    url = f"{till.api}/v1/receipts"
    async with aiohttp.ClientSession() as session:
        for request_id in ids:
            async with session.post(url, json=receipt_body(request_id), headers=headers) as r:
                assert r.status == 201, await r.text()
                answers.append(await r.json())
    return answers


@contextlib.asynccontextmanager
async def till_that_sold(tmp_path: Path, receipts: int = 3) -> AsyncIterator[Gateway]:
    async with simulated_unit(tmp_path) as url:
        till = Gateway(tmp_path / "till.toml", tmp_path / "till", url)
        till.listen_elsewhere()
        async with running(till):
            await sell(till, *(f"sale-{n}" for n in range(receipts)))
        yield till


PRIVATE = (
    "till.db",
    "till.db-wal",
    "till.db-shm",
    "catalog.db",
    "signing-key.pem",
    "api-token",
    "series.json",
)


def config_args(till: Gateway) -> tuple[str, ...]:
    return ("--config", str(till.config))


async def test_a_falsified_index_is_named_by_verify_and_refuses_the_z(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path) as till:
        code, out = await run_tillgw("journal", "verify", *config_args(till))
        assert code == 0 and "the receipts index agrees" in out, out
        async with running(till):
            with sqlite3.connect(till.data_dir / "till.db") as db:
                db.execute("UPDATE receipts SET total = 0, cash = 0, card = 0 WHERE receipt_no = 2")
            code, out = await run_tillgw("journal", "verify", *config_args(till))
            assert code == 1, out
            assert "TAMPERED" in out and "receipt 2" in out and "total is 0 in the index" in out, out
            headers = {"Authorization": f"Bearer {till.token()}"}
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{till.api}/v1/reports/z", headers=headers) as answer,
            ):
                body = await answer.json()
            assert answer.status == 409, body
            assert body["error"]["code"] == "journal_index_mismatch"
            assert "receipt 2" in body["error"]["message"]
            code, out = await run_tillgw("report", "z", *config_args(till))
            assert code != 0 and "receipt 2" in out, out
        with sqlite3.connect(till.data_dir / "till.db") as db:
            assert db.execute("SELECT COUNT(*) FROM journal WHERE kind = 'report.z'").fetchone()[0] == 0
        code, line = await refused_start(till)
        assert "receipt 2" in line and "till.db" in line


async def test_a_deleted_database_refuses_the_start(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path) as till:
        for suffix in ("", "-wal", "-shm"):
            (till.data_dir / f"till.db{suffix}").unlink(missing_ok=True)
        _, line = await refused_start(till)
        assert "till.db" in line and "is missing" in line and "receipt 3" in line and "backup" in line
        assert not (till.data_dir / "till.db").exists()  # nothing begun anew


async def test_an_emptied_database_refuses_the_start(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path) as till:
        for suffix in ("", "-wal", "-shm"):
            (till.data_dir / f"till.db{suffix}").unlink(missing_ok=True)
        sqlite3.connect(till.data_dir / "till.db").close()  # an empty file where the journal was
        _, line = await refused_start(till)
        assert "till.db" in line and "empty" in line


async def test_a_missing_or_changed_key_refuses_the_start_and_rotate_key_journals_a_new_one(
    tmp_path: Path,
) -> None:
    async with till_that_sold(tmp_path) as till:
        key = till.data_dir / "signing-key.pem"
        original = key.read_bytes()
        key.unlink()
        _, line = await refused_start(till)
        assert "signing key" in line and str(key) in line and "restore" in line
        other = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key.write_bytes(other)
        _, line = await refused_start(till)
        assert "signing key" in line and str(key) in line and "not the key that signed" in line
        key.write_bytes(original)  # restored from the backup: the till starts
        async with running(till):
            pass
        key.unlink()  # lost for good
        code, out = await run_tillgw("journal", "rotate-key", *config_args(till))
        assert code == 0 and "key replaced at entry" in out, out
        code, out = await run_tillgw("journal", "verify", *config_args(till))
        assert code == 0, out
        assert "key replaced at entry" in out and "TAMPERED" not in out
        code, out = await run_tillgw("journal", "verify", "--all-signatures", *config_args(till))
        assert code == 0 and "key replaced at entry" in out, out
        async with running(till):
            await sell(till, "after-rotation")
        code, out = await run_tillgw("journal", "verify", *config_args(till))
        assert code == 0 and "key replaced at entry" in out, out


async def test_a_till_that_speaks_the_default_refuses_and_rotates_its_key_in_swedish(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path) as till:
        # The config without its `language = "en"`: the till speaks the default, Swedish.
        text = till.config.read_text(encoding="utf-8")
        till.config.write_text(
            "\n".join(line for line in text.splitlines() if not line.startswith("language")), encoding="utf-8"
        )
        key = till.data_dir / "signing-key.pem"
        key.unlink()
        _, line = await refused_start(till)
        assert line.startswith(f"error: signeringsnyckeln {key} saknas, men journalen har "), line
        assert "återställ signing-key.pem från din säkerhetskopia" in line
        assert "tillgw journal rotate-key" in line

        code, out = await run_tillgw("journal", "rotate-key", *config_args(till))
        assert code == 0 and "nyckeln byttes vid post" in out and "säkerhetskopiera den nu" in out, out
        conn = sqlite3.connect(till.data_dir / "till.db")
        try:
            (reason,) = conn.execute(
                "SELECT json_extract(body, '$.reason') FROM journal WHERE kind = 'key.replaced'"
            ).fetchone()
        finally:
            conn.close()
        assert reason == "signeringsnyckeln förlorad"  # journaled in the language the till spoke


async def test_a_second_till_on_the_same_data_dir_names_the_first(tmp_path: Path) -> None:
    async with simulated_unit(tmp_path) as url:
        till = Gateway(tmp_path / "till.toml", tmp_path / "till", url)
        till.listen_elsewhere()
        async with running(till) as first:
            second = Gateway(tmp_path / "second.toml", till.data_dir, url)
            second.listen_elsewhere()
            _, line = await refused_start(second)
            assert f"PID {first.pid}" in line and str(till.data_dir) in line


async def test_a_read_only_data_dir_refuses_the_start(tmp_path: Path) -> None:
    async with simulated_unit(tmp_path) as url:
        till = Gateway(tmp_path / "till.toml", tmp_path / "till", url)
        till.listen_elsewhere()
        with read_only_dir(till.data_dir):
            _, line = await refused_start(till)
        assert str(till.data_dir) in line and "read-only" in line


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[None]:
    """``path`` made and read-only for this process: a read-only tmpfs mounted on it for root
    (who writes in any directory), mode 0500 for anyone else."""
    path.mkdir(mode=0o700)
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(0o700)
        return
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"this machine does not let root mount a read-only tmpfs: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


async def test_a_damaged_database_refuses_the_start(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path) as till:
        database = till.data_dir / "till.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - a local file
        with database.open("r+b") as f:
            f.write(b"this is no longer a database" * 40)
        _, line = await refused_start(till)
        assert str(database) in line and "damaged" in line and "backup" in line


async def test_the_data_dir_and_its_files_are_private(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path, receipts=1) as till:
        (till.data_dir / "till.db").chmod(0o644)
        till.data_dir.chmod(0o755)
        async with running(till):
            assert stat.S_IMODE(till.data_dir.stat().st_mode) == 0o700
            for name in PRIVATE:
                path = till.data_dir / name
                if path.exists():
                    assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


async def test_an_older_backup_is_refused_and_a_gap_accepted_goes_on_without_a_repeated_number(
    tmp_path: Path,
) -> None:
    async with simulated_unit(tmp_path) as url:
        till = Gateway(tmp_path / "till.toml", tmp_path / "till", url)
        till.listen_elsewhere()
        backup = tmp_path / "backup"
        async with running(till):
            await sell(till, "sale-1", "sale-2")
            with sqlite3.connect(till.data_dir / "till.db") as db, sqlite3.connect(backup) as copy:
                db.backup(copy)  # the backup a shop took after receipt 2
            await sell(till, "sale-3", "sale-4")
        # The database is lost and restored from that older backup.
        for suffix in ("", "-wal", "-shm"):
            (till.data_dir / f"till.db{suffix}").unlink(missing_ok=True)
        shutil.copy(backup, till.data_dir / "till.db")

        _, line = await refused_start(till)
        assert "ends at receipt 2" in line and "sold up to receipt 4" in line and "accept-gap" in line

        code, out = await run_tillgw("journal", "accept-gap", *config_args(till))
        assert code == 0, out
        assert "receipts 3-4 recorded as lost" in out and "the next receipt is 5" in out
        code, out = await run_tillgw("journal", "accept-gap", *config_args(till))
        assert code == 1 and "nothing is missing" in out, out

        async with running(till):
            [answer] = await sell(till, "sale-5")
        assert answer["receipt_no"] == 5  # never 3 again
        code, out = await run_tillgw("journal", "verify", *config_args(till))
        assert code == 0, out
        today = date.today().isoformat()
        exported = tmp_path / "export.jsonl"
        code, out = await run_tillgw(
            "journal", "export", "--format", "jsonl", "--from", today, "--to", today,
            "--output", str(exported), *config_args(till),
        )  # fmt: skip
        assert code == 0, out
        assert '"series.gap"' in exported.read_text()  # the auditor's copy keeps the gap
    # The unit holds every number once: 1-4 from before, 5 after the gap (no NAK 011).
    numbers = [no for no, _, _ in unit_registrations(tmp_path / "unit")]
    assert numbers == [1, 2, 3, 4, 5]


async def test_a_database_of_a_newer_release_refuses_the_start_and_is_left_as_it_is(tmp_path: Path) -> None:
    async with till_that_sold(tmp_path, receipts=1) as till:
        database = till.data_dir / "till.db"
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.execute("PRAGMA user_version = 99")
            db.commit()
        code, line = await refused_start(till)
        assert code == 1
        assert line.startswith(
            f"error: the till's database {database} is at schema version 99, written by a newer"
        )
        with contextlib.closing(sqlite3.connect(database)) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (99,)
