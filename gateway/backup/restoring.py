"""``tillgw restore``: a checked backup into a till's data directory, never behind what was sold.

Before anything is written the backup is checked whole (:mod:`gateway.backup.checking`) and
where its series ends is compared with every trace of what the register did after it:

* what the data directory being replaced still shows (its ``series.json``, its ``till.db``
  when that can be read);
* the last receipt number the register is known to have used, given as
  ``--last-receipt`` — the last paper receipt, the last Z report, or the control unit's
  memory as its vendor's tool reads it (no driver of ours can ask a unit for its counter:
  a CCSP unit answers a used number only when a receipt is registered with it);
* the last message sequence and the last receipt number the sync module has stored from
  this register: asked of the bus by ``tillgw restore`` (the sync module's retained status,
  :mod:`gateway.cli.restore_bus`), or given as ``--bus-sequence`` (``tillgw sync --status``
  on the sync module's machine shows it).

A backup that ends before any of them is refused, saying in words what would be lost. With
``accept_loss`` it is restored all the same, and ``series.json`` is written with the
highest receipt number known, so that the till refuses to start until the lost receipts
are journaled as lost (``tillgw journal accept-gap``): a receipt number is never given twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.backup.checking import BackupDamaged, check_backup, opened_backup
from gateway.backup.manifest import Manifest, TillFacts, sha256_of, till_facts
from gateway.backup.taking import CONFIG_NAME
from gateway.common.durable import fsync_path
from gateway.common.i18n import tr
from gateway.fiscal.start_checks import DataDirLock, StartRefused, record_series, recorded_series

__all__ = ["RestoreRefused", "Restored", "SoldSince", "restore_backup"]

_LOCK = "till.lock"


class RestoreRefused(Exception):
    """Nothing was restored; ``str()`` says why and what to do."""


@dataclass(frozen=True, slots=True)
class SoldSince:
    """What others say the register did: the last receipt number, the last bus sequence and
    receipt the sync module stored, and where those two come from (``bus_source``, in words)."""

    last_receipt: int | None = None
    bus_sequence: int | None = None
    bus_receipt: int | None = None
    bus_source: str = "--bus-sequence"


@dataclass(frozen=True, slots=True)
class Restored:
    manifest: Manifest
    moved_aside: Path | None  # where the files that were in the data directory went
    lost_receipts: tuple[int, int] | None  # (first, last) accepted as lost; None: none
    words: tuple[str, ...]  # what the shop owner is to know and do next


def restore_backup(
    source: Path, data_dir: Path, *, replace: bool, sold: SoldSince, accept_loss: bool, at: datetime
) -> Restored:
    try:
        with opened_backup(source) as folder:
            manifest = check_backup(folder)
            created = not data_dir.exists()
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = DataDirLock(data_dir / _LOCK)
            try:
                lock.acquire()  # no till may run on the directory while it is replaced
            except StartRefused as exc:
                raise RestoreRefused(f"{exc}; stop it before restoring") from None
            try:
                return _restore(folder, manifest, data_dir, replace, sold, accept_loss, at)
            except RestoreRefused:
                if created:  # refused: leave no directory behind that was not there
                    (data_dir / _LOCK).unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        data_dir.rmdir()  # only when nothing else is in it
                raise
            finally:
                lock.release()
    except BackupDamaged as exc:
        raise RestoreRefused(f"the backup {source} cannot be restored: {exc}") from None


def _restore(
    folder: Path,
    manifest: Manifest,
    data_dir: Path,
    replace: bool,
    sold: SoldSince,
    accept_loss: bool,
    at: datetime,
) -> Restored:
    present = sorted(p.name for p in data_dir.iterdir() if p.name != _LOCK)
    if present and not replace:
        raise RestoreRefused(
            f"{data_dir} is not empty ({', '.join(present[:5])}{' …' if len(present) > 5 else ''}): "
            "restore into an empty directory, or give --replace to move what is there aside "
            "(it is kept, not deleted)"
        )
    losses, highest = _what_would_be_lost(manifest.facts, data_dir, sold)
    if losses and not accept_loss:
        raise RestoreRefused(
            "; ".join(losses) + ". Restore a newer backup if there is one. Only if none holds them, give "
            "--accept-loss: the backup is restored, and the till will not start until `tillgw journal "
            "accept-gap` has journaled the lost receipts as lost; what they were stays only on paper, in "
            "the control unit's memory and in the ERP"
        )
    aside = _move_aside(data_dir, present, at) if present else None
    for entry in manifest.files:
        if entry.name == CONFIG_NAME:
            continue
        target = data_dir / entry.name
        _copy_synced(folder / entry.name, target)
        if sha256_of(target) != entry.sha256:
            raise RestoreRefused(f"{target} differs from the backup after copying: the disk may be failing")
    fsync_path(data_dir)
    words = [
        f"restored the backup of {manifest.made_at}: journal entry {manifest.facts.head_seq} "
        f"(hash {manifest.facts.head_hash[:16]}…), receipt {manifest.facts.last_receipt}"
    ]
    if aside is not None:
        words.append(f"what was in {data_dir} is kept in {aside}")
    lost = None
    if highest > manifest.facts.last_receipt:
        record_series(data_dir / "series.json", highest, manifest.facts.journal_entries)
        lost = (manifest.facts.last_receipt + 1, highest)
        words.append(
            f"receipts {lost[0]}-{lost[1]} are not in the backup: the till will not start until "
            "`tillgw journal accept-gap` records them as lost; tell whoever keeps the books"
        )
    if manifest.file(CONFIG_NAME) is not None:
        words.append(
            f"the backup also holds the configuration ({CONFIG_NAME}), not copied: the till reads its own"
        )
    return Restored(manifest, aside, lost, tuple(words))


def _what_would_be_lost(facts: TillFacts, data_dir: Path, sold: SoldSince) -> tuple[list[str], int]:
    """Each trace that goes beyond the backup, in words; and the highest receipt number known."""
    losses: list[str] = []
    ends = f"the backup ends at receipt {facts.last_receipt}"
    highest = facts.last_receipt
    found = _facts_or_none(data_dir / "till.db")
    found_last = 0 if found is None else found.last_receipt
    recorded = recorded_series(data_dir / "series.json") if (data_dir / "series.json").exists() else 0
    traces = [
        (recorded, f"{data_dir / 'series.json'} shows the register sold up to {recorded}"),
        (found_last, f"the till database being replaced has receipts up to {found_last}"),
        (sold.last_receipt or 0, f"the register has sold up to receipt {sold.last_receipt} (--last-receipt)"),
        (
            sold.bus_receipt or 0,
            tr("the sync module has stored receipts up to {receipt} from this register ({source})").format(
                receipt=sold.bus_receipt, source=sold.bus_source
            ),
        ),
    ]
    for number, said in traces:
        if number > facts.last_receipt:
            lost = number - facts.last_receipt
            losses.append(f"{ends}; {said}: {lost} receipt{'s' if lost != 1 else ''} would be lost")
            highest = max(highest, number)
    if found is not None and found.head_seq > facts.head_seq and found.last_receipt <= facts.last_receipt:
        losses.append(
            f"the backup ends at journal entry {facts.head_seq}; the till database being replaced has "
            f"{found.head_seq}: {found.head_seq - facts.head_seq} journal entries (reports, drawer openings, "
            "events) would be lost"
        )
    if sold.bus_sequence is not None and sold.bus_sequence > facts.outbox_sequence:
        losses.append(
            tr(
                "the backup's outbox ends at message {ends}; the sync module has stored up to {stored} "
                "from this register ({source}): {missing} messages it has are not in the backup (messages "
                "{first}-{stored}), and the till would send other messages under their numbers"
            ).format(
                ends=facts.outbox_sequence,
                stored=sold.bus_sequence,
                source=sold.bus_source,
                missing=sold.bus_sequence - facts.outbox_sequence,
                first=facts.outbox_sequence + 1,
            )
        )
    return losses, highest


def _facts_or_none(database: Path) -> TillFacts | None:
    if not database.exists():
        return None
    try:
        return till_facts(database)
    except (sqlite3.Error, OSError):  # a damaged database is why one restores: it shows nothing
        return None


def _move_aside(data_dir: Path, names: list[str], at: datetime) -> Path:
    aside = data_dir.with_name(f"{data_dir.name}.before-restore-{at.strftime('%Y%m%dT%H%M%S')}")
    aside.mkdir(mode=0o700)
    for name in names:
        os.replace(data_dir / name, aside / name)
    return aside


def _copy_synced(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.restoring")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
