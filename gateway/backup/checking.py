"""A backup checked as a restore needs it: every file whole, every database sound, the journal's
chain and signatures holding.

:func:`check_backup` reads the manifest, compares each file's size and sha256 with it (a file
missing, changed or not listed is named), runs ``PRAGMA integrity_check`` on each database,
verifies the copied journal — every link and every signature, with the backup's own key —
and compares where its series stands with what the manifest says. :func:`opened_backup`
gives the folder of a backup, a ``.tar`` unpacked into a temporary one.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from gateway.backup.manifest import MANIFEST, Manifest, sha256_of, till_facts
from gateway.common.progress import NO_PROGRESS, Progress
from gateway.common.signing import SigningKeyError, Verifier, load_or_create_key
from gateway.fiscal.journal import verify

__all__ = ["BackupDamaged", "check_backup", "opened_backup"]


class BackupDamaged(Exception):
    """The backup cannot be trusted; ``str()`` names the file and what is wrong."""


@contextlib.contextmanager
def opened_backup(path: Path) -> Iterator[Path]:
    """The folder holding the backup at ``path`` (a folder, or a ``.tar`` unpacked for the block)."""
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise BackupDamaged(f"there is no backup at {path}")
    with tempfile.TemporaryDirectory(prefix="tillgw-backup-") as tmp:
        folder = Path(tmp)
        try:
            with tarfile.open(path, mode="r:") as tar:
                for member in tar.getmembers():
                    if not member.isfile() or "/" in member.name or member.name in ("", ".", ".."):
                        raise BackupDamaged(f"{path} holds {member.name!r}, which no backup of ours holds")
                tar.extractall(folder, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupDamaged(f"{path} cannot be read as a backup: {exc}") from None
        yield folder


def check_backup(folder: Path, progress: Progress = NO_PROGRESS) -> Manifest:
    """The backup's manifest, once everything in ``folder`` has been checked against it;
    ``progress`` is told each file checked, then each journal entry verified."""
    where = folder / MANIFEST
    if not where.exists():
        raise BackupDamaged(f"{folder} has no {MANIFEST}: it is not a backup made by tillgw backup")
    try:
        manifest = Manifest.from_json(where.read_text(encoding="utf-8"), where)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupDamaged(str(exc)) from None
    listed = {f.name for f in manifest.files}
    extra = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST and p.name not in listed)
    if extra:
        raise BackupDamaged(f"{folder / extra[0]} is not in the backup's manifest")
    progress.stage("files checked", total=len(manifest.files))
    for entry in manifest.files:
        progress.advance()
        path = folder / entry.name
        if not path.is_file():
            raise BackupDamaged(f"{path} is missing from the backup")
        if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
            raise BackupDamaged(
                f"{path} is not the file the backup wrote: its sha256 differs from the manifest's"
            )
        if entry.database:
            _sound(path)
    if manifest.file("till.db") is None:
        raise BackupDamaged(f"{folder} holds no till.db")
    _journal_holds(folder, manifest, progress)
    return manifest


def _sound(path: Path) -> None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            found = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupDamaged(f"{path} is not a sound database: {exc}") from None
    if found != ["ok"]:
        raise BackupDamaged(f"{path} is not a sound database: {'; '.join(found[:3])}")


def _journal_holds(folder: Path, manifest: Manifest, progress: Progress) -> None:
    key = folder / "signing-key.pem"
    database = folder / "till.db"
    if not key.exists():
        raise BackupDamaged(f"{folder} holds no signing-key.pem: the till could not sign on after a restore")
    try:
        verifier = Verifier(load_or_create_key(key).public_key())
    except SigningKeyError as exc:
        raise BackupDamaged(f"{key} cannot be read: {exc}") from None
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        report = verify(conn, verifier, all_signatures=True, progress=progress)
    if not report.ok:
        raise BackupDamaged(f"the journal in {database} does not verify: {report.problem}")
    facts = till_facts(database)
    if facts != manifest.facts:
        raise BackupDamaged(
            f"the journal in {database} ends at entry {facts.head_seq} (receipt {facts.last_receipt}), "
            f"but the manifest says entry {manifest.facts.head_seq} (receipt {manifest.facts.last_receipt})"
        )
