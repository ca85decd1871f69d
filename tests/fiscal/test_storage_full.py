"""A full disk is a named state: 507 ``storage_full``, the disk named, nothing lost or doubled.

Real processes on a real, size-limited file system: the till's data directory is a tmpfs
of a few MiB (mounted for the test, so it needs root), the simulated control unit runs
as its own process with its memory elsewhere, and ``tillgw run`` serves the API. The
test fills the tmpfs with a file, sells, frees the space and sells again with the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fiscal.test_crash import (
    free_port,
    run_tillgw,
    standalone_till_toml,
    start_gateway,
    start_unit,
    unit_registrations,
)

SIZE_MIB = 8
MIN_FREE_MIB = 6


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of SIZE_MIB MiB at tmp_path/data, unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root; run the test as root to see a full disk")
    mount = tmp_path / "data"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"this machine does not let root mount a tmpfs: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """A file that takes the disk's free space but ``leave`` bytes."""
    filler = folder / "filler"
    with open(filler, "ab") as f:
        while True:
            stat = os.statvfs(folder)
            free = stat.f_bavail * stat.f_frsize - leave
            if free <= 0:
                break
            try:
                f.write(b"\0" * min(free, 1 << 20))
                f.flush()
            except OSError:
                break
    return filler


def sale(request_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "lines": [{"text": "Kaffe", "quantity": 1, "unit_price": "499.00", "vat_rate": 12}],
        "payments": [{"method": "card", "amount": "499.00"}],
    }


async def run_full_disk(tmp_path: Path, data: Path) -> None:
    unit_dir = tmp_path / "unit"
    with open(tmp_path / "unit.log", "wb") as unit_log:  # noqa: ASYNC230 - a local file
        unit, unit_url, _ = await start_unit("ccsp", unit_dir, unit_log)
    assert unit.stdin is None
    port = free_port()
    config = tmp_path / "till.toml"
    config.write_text(
        standalone_till_toml(data / "till", unit_url, port, register_keys=f"min_free_mib = {MIN_FREE_MIB}"),
        encoding="utf-8",
    )
    till = await start_gateway(config)
    stderr: list[bytes] = []

    async def keep_log() -> None:
        assert till.stderr is not None
        while line := await till.stderr.readline():
            stderr.append(line)

    reader = asyncio.create_task(keep_log())
    try:
        assert till.stdout is not None
        first = await till.stdout.readline()
        if not first.startswith(b"tillgw: API on "):
            await till.wait()
            await reader
            raise AssertionError(first + b"".join(stderr))
        token = (data / "till" / "api-token").read_text().strip()
        api = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:

            async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                async with http.request(method, api + path, json=body) as response:
                    assert response.content_type == "application/json"
                    return response.status, await response.json()

            status, first_sale = await call("POST", "/v1/receipts", sale("sale-1"))
            assert (status, first_sale["receipt_no"]) == (201, 1)

            # Low space, not yet full: a warning, shown as degraded.
            filler = fill(data, leave=3 * 1024 * 1024)
            _, state = await call("GET", "/v1/status")
            assert state["storage"]["state"] == "degraded", state["storage"]
            assert str(data / "till") in state["storage"]["reason"]
            assert f"at least {MIN_FREE_MIB} MiB" in state["storage"]["reason"]

            # Full: a sale with nothing written is 507, not in doubt; nothing reaches the unit.
            fill(data)
            status, answer = await call("POST", "/v1/receipts", sale("sale-2"))
            assert status == 507, answer
            assert answer["error"]["code"] == "storage_full"
            assert answer["error"]["in_doubt"] is False
            assert str(data / "till") in answer["error"]["message"]
            assert len(unit_registrations(unit_dir)) == 1

            # The unit answers, the receipt cannot be written: 507 in doubt, the disk named, not the unit.
            filler.unlink()
            filler = fill(data, leave=0)
            status, answer = await call("POST", "/v1/receipts", sale("sale-2"))
            # With the disk this full, the pending entry could not be written either:
            # take space back a little at a time until the unit is asked and the receipt is not.
            shrink = 0
            while status == 507 and answer["error"]["in_doubt"] is False and shrink < 64:
                shrink += 1
                os.truncate(filler, max(0, filler.stat().st_size - 4096))
                status, answer = await call("POST", "/v1/receipts", sale("sale-2"))
            assert status == 507, answer
            error = answer["error"]
            assert (error["code"], error["in_doubt"]) == ("storage_full", True), error
            assert "receipt 2 is registered with the control unit" in error["message"]
            assert "the same id" in error["message"]

            _, state = await call("GET", "/v1/status")
            assert state["storage"]["state"] == "failed", state["storage"]
            assert str(data / "till") in state["storage"]["reason"]
            assert "free" in state["storage"]["reason"]
            assert state["devices"]["control_unit"]["state"] == "ready"
            assert state["receipts"]["waiting_for_control_unit"] == []
            assert state["receipts"]["waiting_for_disk_space"] == [2]

            # No new sale meanwhile, and nothing else 500s.
            status, answer = await call("POST", "/v1/receipts", sale("sale-3"))
            assert (status, answer["error"]["code"], answer["error"]["in_doubt"]) == (
                507,
                "storage_full",
                False,
            )
            status, answer = await call("POST", "/v1/events", {"type": "cashier.login", "cashier": "Anna"})
            assert status == 507 and answer["error"]["code"] == "storage_full", answer
            status, answer = await call("POST", "/v1/reports/x")
            assert status in (201, 507), answer

            # Space again: the same id gives receipt 2, registered once in the unit with one code.
            filler.unlink()
            status, second = await call("POST", "/v1/receipts", sale("sale-2"))
            assert (status, second["receipt_no"]) == (201, 2), second
            status, again = await call("POST", "/v1/receipts", sale("sale-2"))
            assert (status, again["receipt_no"]) == (200, 2)
            status, third = await call("POST", "/v1/receipts", sale("sale-3"))
            assert (status, third["receipt_no"]) == (201, 3)
            _, state = await call("GET", "/v1/status")
            assert state["storage"]["state"] == "ready", state["storage"]
            assert state["receipts"]["waiting_for_disk_space"] == []

        registrations = unit_registrations(unit_dir)
        assert [no for no, _, _ in registrations] == [1, 2, 3]
        assert registrations[1][2] == second["control_code"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            till.send_signal(signal.SIGTERM)
        await till.wait()
        await reader
        with contextlib.suppress(ProcessLookupError):
            unit.send_signal(signal.SIGTERM)
        await unit.wait()
    log = b"".join(stderr).decode(errors="replace")
    assert f"the disk holding {data / 'till'} is full" in log
    assert "Traceback" not in log
    verify = await run_tillgw("journal", "verify", "--config", str(config))
    assert verify[0] == 0, verify[1]


@pytest.mark.timeout(300)
def test_a_full_disk_is_507_in_doubt_and_the_same_id_resolves_it_once(
    tmp_path: Path, small_disk: Path
) -> None:
    asyncio.run(run_full_disk(tmp_path, small_disk))
