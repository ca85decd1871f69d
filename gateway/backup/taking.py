"""``tillgw backup``: a consistent copy of a till's data directory, taken while it sells.

The databases (``till.db``, ``catalog.db``) are copied with SQLite's online backup API in
one read transaction each (:meth:`sqlite3.Connection.backup` with all pages in one step):
the copy is the database at one moment, whatever the till commits meanwhile — a file copy
of a database in WAL mode can be torn between the file and its ``-wal``. ``series.json``
is not copied but written from the copied database, so that the backup's record of the
series never runs ahead of its journal (a restored till would then refuse to start). The
other files — the signing key (and the keys it replaced), the registration record, the
API token, the configuration — are copied as they are.

The backup is written into a folder beside the target and renamed into place when it is
whole (a ``.tar`` is written from that folder, then renamed), then checked as a restore
would check it (:mod:`gateway.backup.checking`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
from contextlib import closing
from datetime import datetime
from pathlib import Path

from gateway.backup.checking import check_backup, opened_backup
from gateway.backup.manifest import MANIFEST, BackupFile, Manifest, sha256_of, till_facts
from gateway.common.durable import fsync_path, write_synced
from gateway.common.progress import NO_PROGRESS, Progress
from gateway.fiscal.start_checks import record_series
from gateway.till_files import TillFiles

__all__ = ["CONFIG_NAME", "BackupError", "take_backup"]

CONFIG_NAME = "till.toml"  # the configuration's name inside a backup
_DATABASES = ("till.db", "catalog.db")
_PLAIN = ("signing-key.pem", "registration.json", "api-token")


class BackupError(Exception):
    """No backup was written; ``str()`` says why."""


def take_backup(
    files: TillFiles,
    target: Path,
    *,
    config: Path | None,
    register: str,
    at: datetime,
    progress: Progress = NO_PROGRESS,
) -> Manifest:
    """Back up the till whose files are ``files`` into ``target`` (a folder, or a file ending
    ``.tar``); ``config``: its configuration file, copied too. Returns the checked manifest;
    ``progress`` is told each database and file copied, then the check."""
    if not files.database.exists():
        raise BackupError(f"there is no till database at {files.database}: nothing to back up")
    if target.exists():
        raise BackupError(f"{target} exists already: give a new name for each backup")
    as_tar = target.suffix == ".tar"
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        progress.stage("databases copied", total=len(_DATABASES))
        copied: list[BackupFile] = []
        for name in _DATABASES:
            database = _copy_database(files.data_dir / name, work / name)
            if database is not None:
                copied.append(database)
            progress.advance()
        facts = till_facts(work / "till.db")
        record_series(work / "series.json", facts.last_receipt, facts.journal_entries)
        copied.append(_listed(work / "series.json", database=False))
        names = [*_PLAIN, *sorted(p.name for p in files.data_dir.glob("signing-key.pem.replaced-*"))]
        progress.stage("files copied", total=len(names))
        for name in names:
            if (files.data_dir / name).exists():
                copied.append(_copy_file(files.data_dir / name, work / name))
            progress.advance()
        if config is not None:
            copied.append(_copy_file(config, work / CONFIG_NAME))
        manifest = Manifest(
            at.isoformat(timespec="seconds"), str(files.data_dir), register, facts, tuple(copied)
        )
        write_synced(work / MANIFEST, manifest.to_json().encode())
        fsync_path(work)
        if as_tar:
            _write_tar(work, target)
            shutil.rmtree(work)
        else:
            os.replace(work, target)
            fsync_path(target.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with opened_backup(target) as folder:
        return check_backup(folder, progress)


def _copy_database(source: Path, target: Path) -> BackupFile | None:
    if not source.exists():
        return None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with closing(sqlite3.connect(source, timeout=30)) as live, closing(sqlite3.connect(target)) as copy:
        live.execute("PRAGMA busy_timeout=30000")
        live.backup(copy)  # all pages in one step: one read transaction, one moment of the database
        # The copy is a plain file: no -wal beside it to lose on the way to the backup's medium.
        copy.execute("PRAGMA journal_mode=DELETE")
    fsync_path(target)
    return _listed(target, database=True)


def _copy_file(source: Path, target: Path) -> BackupFile:
    write_synced(target, source.read_bytes())
    return _listed(target, database=False)


def _listed(path: Path, *, database: bool) -> BackupFile:
    return BackupFile(path.name, path.stat().st_size, sha256_of(path), database)


def _write_tar(folder: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=path.name, recursive=False)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
        fsync_path(target.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
