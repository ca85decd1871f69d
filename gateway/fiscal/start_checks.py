"""What ``tillgw run`` makes sure of before it opens anything: one till per data directory,
private files, a database it can read, the key that signed it, and no series begun anew.

Each refusal is a :class:`StartRefused`: one line naming the file and the next step, which
``tillgw run`` prints as ``error: …`` before it exits non-zero. docs/operations.md says
how to act on each.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gateway.common.i18n import tr
from gateway.common.signing import Signer, SigningKeyError, Verifier, load_or_create_key
from gateway.fiscal.journal import canonical_bytes

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "RESTORE",
    "DataDirLock",
    "JournalState",
    "StartRefused",
    "prepare_data_dir",
    "private_files",
    "read_journal_state",
    "record_series",
    "recorded_series",
    "recorded_series_and_entries",
    "refuse_new_series",
    "secure_modes",
    "signer_for",
]

log = logging.getLogger("tillgw.start")

DIR_MODE = 0o700  # the data directory: customers' names and the key are in it
FILE_MODE = 0o600  # every database, its WAL and shared-memory files, every key and token
RESTORE = "docs/operations.md#restoring-from-a-backup"


class StartRefused(Exception):
    """The till does not start; ``str()`` is one line: what, which file, what to do."""


class DataDirLock:
    """An exclusive lock on ``<data-dir>/till.lock`` (``flock``) held while the till runs.

    The kernel drops it when the process ends, however it ends: a killed till never leaves
    a stale lock. The file holds the PID of the till that holds it, for the refusal.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        f = os.fdopen(fd, "r+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = f.read().strip() or "unknown"
            f.close()
            raise StartRefused(
                tr(
                    "another till (PID {holder}) is running on the data directory {data_dir} "
                    "(lock {lock}): stop it first, or give this one its own --data-dir"
                ).format(holder=holder, data_dir=self.path.parent, lock=self.path)
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None


def private_files(data_dir: Path) -> list[Path]:
    """The files under the data directory that must be its owner's alone."""
    names = ("till.db", "catalog.db", "signing-key.pem", "api-token", "registration.json", "series.json")
    found = []
    for name in names:
        for suffix in ("", "-wal", "-shm"):
            path = data_dir / f"{name}{suffix}"
            if path.exists():
                found.append(path)
    for path in sorted(data_dir.glob("*.pem")):
        if path not in found:
            found.append(path)
    return found


def secure_modes(data_dir: Path, *, announce: bool = True) -> list[str]:
    """Set the data directory to 0700 and its private files to 0600; say (in the log) what
    was changed, unless the files were just made (``announce=False``)."""
    changed = []
    for path, mode in [(data_dir, DIR_MODE), *((p, FILE_MODE) for p in private_files(data_dir))]:
        current = stat.S_IMODE(path.stat().st_mode)
        if current != mode:
            path.chmod(mode)
            changed.append(f"{path} was {current:04o}, now {mode:04o}")
    for line in changed if announce else ():
        log.warning("file modes: %s (readable by others; corrected)", line)
    return changed


def prepare_data_dir(data_dir: Path) -> None:
    """Make the data directory (0700) and check that the till can write in it."""
    try:
        data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StartRefused(
            tr(
                "cannot make the data directory {data_dir}: {problem}; make it, owned by the user "
                "that runs the till, or set [register].data_dir"
            ).format(data_dir=data_dir, problem=exc.strerror)
        ) from None
    probe = data_dir / ".write-test"
    try:
        with probe.open("w") as f:
            f.write("ok")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        what = (
            tr("it is full")
            if exc.errno == 28
            else tr("it is read-only")
            if exc.errno in (13, 30)
            else str(exc.strerror)
        )
        raise StartRefused(
            tr(
                "cannot write in the data directory {data_dir}: {what}; free space or give the user "
                "that runs the till write access to it (chown, mount rw), then start again"
            ).format(data_dir=data_dir, what=what)
        ) from None


@dataclass(frozen=True, slots=True)
class JournalState:
    """The till database as found before the till opens it."""

    exists: bool
    entries: int = 0
    receipts: int = 0  # the last receipt number
    key_id: str | None = None  # the key the till last started with (meta)
    head: tuple[int, str, str, bytes, bytes, bytes] | None = None  # seq, kind, at, body, prev, signature


def read_journal_state(database: Path) -> JournalState:
    """Read the database read-only; a file SQLite cannot read refuses the start."""
    if not database.exists():
        return JournalState(False)
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA quick_check(1)").fetchone()
            tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "journal" not in tables:
                return JournalState(True)
            head = conn.execute(
                "SELECT seq, kind, at, body, prev_hash, signature FROM journal ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            # The last number the series has used: its receipts, and a gap of receipts lost
            # with an older database that was accepted on purpose (``series.gap``).
            last = conn.execute(
                "SELECT MAX(n) FROM (SELECT json_extract(body, '$.receipt_no') AS n FROM journal "
                "WHERE kind = 'receipt' UNION ALL SELECT json_extract(body, '$.to') FROM journal "
                "WHERE kind = 'series.gap')"
            ).fetchone()
            key = (
                conn.execute("SELECT value FROM meta WHERE key = 'key_id'").fetchone()
                if "meta" in tables
                else None
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StartRefused(
            tr(
                "the till database {database} cannot be read ({exc}): it is damaged or not a till "
                "database; stop the till, move the file aside and restore it from your backup ({restore})"
            ).format(database=database, exc=exc, restore=RESTORE)
        ) from None
    return JournalState(
        True,
        0 if head is None else int(head[0]),
        0 if last is None or last[0] is None else int(last[0]),
        None if key is None else str(key[0]),
        None
        if head is None
        else (
            int(head[0]),
            str(head[1]),
            str(head[2]),
            str(head[3]).encode(),
            bytes(head[4]),
            bytes(head[5]),
        ),
    )


def signer_for(key_path: Path, state: JournalState) -> Signer:
    """The till's signer: the key that signed the journal's last entry, or a new key for a new journal.

    A journal with entries and no key, or a key that did not sign its last entry, refuses
    the start: a new key would sign on silently where the old one stopped.
    """
    if state.head is None:
        try:
            return Signer(load_or_create_key(key_path))
        except SigningKeyError as exc:
            raise StartRefused(
                tr("signing key {key_path}: {exc}; restore it from your backup ({restore})").format(
                    key_path=key_path, exc=exc, restore=RESTORE
                )
            ) from None
    steps = tr(
        "restore signing-key.pem from your backup into {folder} ({restore}); only if it is lost "
        "for good, run tillgw journal rotate-key, which journals the new key"
    ).format(folder=key_path.parent, restore=RESTORE)
    if not key_path.exists():
        raise StartRefused(
            tr(
                "the signing key {key_path} is missing, but the journal has {entries} entries signed "
                "by key {key_id}: {steps}"
            ).format(key_path=key_path, entries=state.entries, key_id=state.key_id or "?", steps=steps)
        )
    try:
        signer = Signer(load_or_create_key(key_path))
    except SigningKeyError as exc:
        raise StartRefused(
            tr("the signing key {key_path} cannot be read ({exc}): {steps}").format(
                key_path=key_path, exc=exc, steps=steps
            )
        ) from None
    seq, kind, at, body, prev, signature = state.head
    if not Verifier(signer.public).valid(signature, canonical_bytes(seq, kind, at, prev, body.decode())):
        raise StartRefused(
            tr(
                "the signing key {key_path} (key {key_id}) is not the key that signed the journal "
                "(key {journal_key_id}): {steps}"
            ).format(key_path=key_path, key_id=signer.key_id, journal_key_id=state.key_id or "?", steps=steps)
        )
    return signer


# -- no series begun anew --------------------------------------------------------------------


def record_series(path: Path, last_receipt: int, entries: int) -> None:
    """Keep the series' last receipt number beside the database (``series.json``, 0600).

    Written at every start and after every receipt: if the database is lost, this record
    says the register had sold, and the till refuses to begin its numbers again.
    """
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as f:
        json.dump({"last_receipt": last_receipt, "journal_entries": entries}, f)
        f.write("\n")
    os.replace(tmp, path)


def recorded_series(path: Path) -> int:
    """The last receipt number ``series.json`` holds (0 when there is none)."""
    try:
        return int(json.loads(path.read_text())["last_receipt"])
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError):
        return 1  # a record that cannot be read still says the register was in use


def recorded_series_and_entries(path: Path) -> tuple[int, int]:
    """The last receipt number and the journal size ``series.json`` holds ((0, 0): none)."""
    try:
        raw = json.loads(path.read_text())
        return int(raw["last_receipt"]), int(raw.get("journal_entries", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0


def refuse_new_series(database: Path, series: Path, state: JournalState) -> None:
    """Refuse to start a journal with no receipts when the register is known to have sold,
    and one that ends before the series does (an older copy: its next numbers are taken)."""
    sold = recorded_series(series)
    if 0 < state.receipts < sold:
        raise StartRefused(
            tr(
                "the till database {database} ends at receipt {receipts}, but {series} shows this "
                "register has sold up to receipt {sold}: it is an older copy, and its next receipt "
                "numbers are already taken. Restore the newest backup ({restore}); if no backup holds "
                "receipts {first_lost}-{sold}, record them as lost with `tillgw journal accept-gap` and "
                "the till goes on from {next_receipt}"
            ).format(
                database=database,
                receipts=state.receipts,
                series=series,
                sold=sold,
                restore=RESTORE,
                first_lost=state.receipts + 1,
                next_receipt=sold + 1,
            )
        )
    if state.receipts > 0:
        return
    if sold <= 0:
        return
    what = (
        tr("is missing")
        if not state.exists
        else tr("is empty")
        if state.entries == 0
        else tr("has no receipts")
    )
    raise StartRefused(
        tr(
            "the till database {database} {what}, but {series} shows this register has sold "
            "(up to receipt {sold}): starting would begin the receipt numbers again. Restore till.db "
            "from your backup ({restore}); the till never starts a series anew"
        ).format(database=database, what=what, series=series, sold=sold, restore=RESTORE)
    )
