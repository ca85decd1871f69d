"""``tillgw backup TARGET``: a checked copy of a till's data — while it sells, too.

The databases are copied with SQLite's online backup (the database at one moment, whatever
the till commits meanwhile), with them the signing key, the registration record, the API
token and the configuration; a manifest names each file's sha256 and where the series ends
(the journal's last entry, the last receipt, the outbox's last message). The backup is
checked after writing as a restore checks it. TARGET is a new folder, or a file ending
``.tar``. Exit 0: written and checked; 1: refused or damaged; 2: a wrong argument.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from gateway.cli.options import add_data_arguments, config_or_complain
from gateway.common.i18n import tr
from gateway.till_files import TillFiles

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="back up the till's data, while it runs too, and check the copy",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    backup.add_argument("target", type=Path, help="a new folder, or a file ending .tar")
    add_data_arguments(backup)
    backup.add_argument("--json", action="store_true", help="print the manifest as JSON")
    backup.set_defaults(handler=backup_command)


def backup_command(args: argparse.Namespace) -> int:
    from gateway.backup.checking import BackupDamaged
    from gateway.backup.taking import BackupError, take_backup
    from gateway.cli.progress import progress_display
    from gateway.common.clock import Clock

    config = config_or_complain(args)
    if config is None:
        return 2
    register = f"{config.shop.orgnr}/{config.shop.store}/{config.pos_id}"
    started = time.monotonic()
    try:
        with progress_display(show=False if args.json else None) as progress:
            manifest = take_backup(
                TillFiles(config.data_dir),
                args.target,
                config=args.config,
                register=register,
                at=Clock(config.shop.timezone).now(),
                progress=progress,
            )
    except (BackupError, BackupDamaged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as exc:
        print(
            tr("error: the backup to {target} could not be written: {exc}").format(
                target=args.target, exc=exc
            ),
            file=sys.stderr,
        )
        return 1
    if args.json:
        sys.stdout.write(manifest.to_json())
    else:
        facts = manifest.facts
        print(
            tr(
                "OK: {target}: {files} files, checked; journal entry "
                "{head_seq} (hash {head_hash}), receipt {last_receipt}, outbox "
                "message {outbox_sequence} ({seconds:.1f} s)"
            ).format(
                target=args.target,
                files=len(manifest.files),
                head_seq=facts.head_seq,
                head_hash=facts.head_hash,
                last_receipt=facts.last_receipt,
                outbox_sequence=facts.outbox_sequence,
                seconds=time.monotonic() - started,
            )
        )
    return 0
