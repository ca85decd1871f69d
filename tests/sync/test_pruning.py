"""The sync module prunes its own logs: daily log files and set-aside messages done with,
older than ``[sync] keep_logs_days``, on a real inbox (SQLite) and real files, by a real
``--once`` run against this test's own Mosquitto; a held message and other files stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import ConfigError
from gateway.sync.config import DEFAULT_KEEP_LOGS_DAYS, SyncConfig, load_sync_config
from gateway.sync.inbox import Inbox
from gateway.sync.pruning import prune_daily_logs
from gateway.sync.runlog import log_name
from gateway.sync.service import SyncService
from tests.sync.conftest import inbox_rows, with_


async def set_aside(config: SyncConfig, rows: list[tuple[str, str | None, str, str | None]]) -> None:
    """Rows of the inbox's ``rejected`` table: (digest, msg_id, last_at, released_at)."""
    inbox = await Inbox.open(config.inbox)
    try:
        async with inbox.transaction() as db:
            await db.executemany(
                "INSERT INTO rejected (digest, topic, message, msg_id, reason, received_at, last_at, "
                "released_at) VALUES (?, 'tillgw/x', x'00', ?, 'test', ?, ?, ?)",
                [(digest, msg_id, last, last, released) for digest, msg_id, last, released in rows],
            )
    finally:
        await inbox.close()


async def test_a_run_deletes_the_logs_older_than_the_days_kept_and_nothing_else(
    sync_config: SyncConfig,
) -> None:
    config = with_(sync_config, keep_logs_days=30, once_timeout=0.5)
    now = datetime.now().astimezone()
    old, recent = now - timedelta(days=45), now - timedelta(days=10)
    config.log_dir.mkdir(parents=True)
    for day in (old, old - timedelta(days=1), recent):
        (config.log_dir / log_name(day)).write_text("=== run started\n", encoding="utf-8")
    (config.log_dir / "notes.txt").write_text("the technician's own file\n", encoding="utf-8")
    (config.log_dir / "sync-2020-02-30.log").write_text("no such day: not ours\n", encoding="utf-8")
    at = {name: when.isoformat(timespec="milliseconds") for name, when in (("old", old), ("recent", recent))}
    await set_aside(
        config,
        [
            ("released-long-ago", "m1", at["old"], at["old"]),
            ("released-lately", "m2", at["old"], at["recent"]),
            ("garbage-long-ago", None, at["old"], None),
            ("garbage-lately", None, at["recent"], None),
            ("held-long-ago", "m3", at["old"], None),  # still waits for --reprocess: kept
        ],
    )

    assert await SyncService(config, adapters=[]).run(once=True) == 0

    names = sorted(p.name for p in config.log_dir.iterdir())
    assert log_name(old) not in names and log_name(old - timedelta(days=1)) not in names
    assert {log_name(recent), log_name(now), "notes.txt", "sync-2020-02-30.log"} <= set(names)
    kept = [r[0] for r in inbox_rows(config, "SELECT digest FROM rejected ORDER BY digest")]
    assert kept == ["garbage-lately", "held-long-ago", "released-lately"]
    today = (config.log_dir / log_name(now)).read_text(encoding="utf-8")
    assert "logs older than 30 day(s) deleted: 2 daily log file(s), 2 set-aside message(s) done with" in today


def test_pruning_by_the_day_in_the_name_keeps_exactly_the_days_asked_for(tmp_path: Path) -> None:
    today = datetime(2026, 12, 7).date()
    for day in range(1, 8):
        (tmp_path / f"sync-2026-12-0{day}.log").write_text("x")
    deleted = prune_daily_logs(tmp_path, 3, today)
    assert [p.name for p in deleted] == [f"sync-2026-12-0{d}.log" for d in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"sync-2026-12-0{d}.log" for d in (4, 5, 6, 7)]
    assert prune_daily_logs(tmp_path / "none", 3, today) == []


def test_keep_logs_days_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text('[sync]\nstores = ["*"]\n', encoding="utf-8")
    assert load_sync_config(path).keep_logs_days == DEFAULT_KEEP_LOGS_DAYS
    path.write_text('[sync]\nstores = ["*"]\nkeep_logs_days = 14\n', encoding="utf-8")
    assert load_sync_config(path).keep_logs_days == 14
    path.write_text('[sync]\nstores = ["*"]\nkeep_logs_days = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[sync\]\.keep_logs_days"):
        load_sync_config(path)
