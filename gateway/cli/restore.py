"""``tillgw restore BACKUP``: a backup back into the till's data directory, never behind what was sold.

The backup is checked whole first (every file's sha256, each database's integrity, the
journal's chain and signatures). Then where it ends is compared with what the register is
known to have done since: the data directory being replaced, the last receipt number
(``--last-receipt``: the last paper receipt or Z report, or the control unit's memory) and
the sync module's last message from this register (``--bus-sequence``). A backup that ends
before any of them is refused, saying what would be lost; ``--accept-loss`` restores it
all the same, and the till then starts only after ``tillgw journal accept-gap``.
Run it with the till stopped. Exit 0: restored; 1: refused; 2: a wrong argument.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.options import add_data_arguments, config_or_complain
from gateway.common.i18n import tr

__all__ = ["add_parser"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    restore = subparsers.add_parser(
        "restore",
        help="restore a backup into the till's data directory (the till stopped)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    restore.add_argument("backup", type=Path, help="a backup folder or .tar made by tillgw backup")
    add_data_arguments(restore)
    restore.add_argument(
        "--replace", action="store_true", help="move the files in the data directory aside (kept) and restore"
    )
    restore.add_argument(
        "--last-receipt",
        type=_count,
        metavar="N",
        help="the last receipt number the register used (paper receipt, Z report, control unit's memory)",
    )
    restore.add_argument(
        "--bus-sequence",
        type=_count,
        metavar="N",
        help="the last message the sync module stored from this register (tillgw sync --status)",
    )
    restore.add_argument(
        "--accept-loss",
        action="store_true",
        help="restore a backup that ends before what was sold (see above)",
    )
    restore.add_argument("--check", action="store_true", help="only check the backup; restore nothing")
    restore.set_defaults(handler=restore_command)


def restore_command(args: argparse.Namespace) -> int:
    from gateway.backup.checking import BackupDamaged, check_backup, opened_backup
    from gateway.backup.restoring import RestoreRefused, SoldSince, restore_backup
    from gateway.common.clock import Clock

    if args.check:
        try:
            with opened_backup(args.backup) as folder:
                manifest = check_backup(folder)
        except BackupDamaged as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        facts = manifest.facts
        print(
            tr(
                "OK: {backup} of {made_at} is whole: journal entry {head_seq} "
                "(hash {head_hash}), receipt {last_receipt}, outbox message "
                "{outbox_sequence}"
            ).format(
                backup=args.backup,
                made_at=manifest.made_at,
                head_seq=facts.head_seq,
                head_hash=facts.head_hash,
                last_receipt=facts.last_receipt,
                outbox_sequence=facts.outbox_sequence,
            )
        )
        return 0
    config = config_or_complain(args)
    if config is None:
        return 2
    try:
        restored = restore_backup(
            args.backup,
            config.data_dir,
            replace=args.replace,
            sold=SoldSince(args.last_receipt, args.bus_sequence),
            accept_loss=args.accept_loss,
            at=Clock(config.shop.timezone).now(),
        )
    except RestoreRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            tr("error: the restore into {data_dir} stopped: {exc}").format(data_dir=config.data_dir, exc=exc),
            file=sys.stderr,
        )
        return 1
    for words in restored.words:
        print(words)
    return 0
