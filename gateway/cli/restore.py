"""``tillgw restore BACKUP``: a backup back into the till's data directory, never behind what was sold.

The backup is checked whole first (every file's sha256, each database's integrity, the
journal's chain and signatures). Then where it ends is compared with what the register is
known to have done since: the data directory being replaced, the last receipt number
(``--last-receipt``: the last paper receipt or Z report, or the control unit's memory) and
the sync module's last message and receipt from this register, asked of the bus of the
configuration's ``[mqtt]`` (or given as ``--bus-sequence``). A backup that ends before any
of them is refused, saying what would be lost; ``--accept-loss`` restores it all the same,
and the till then starts only after ``tillgw journal accept-gap``. A bus that does not
answer is said and the restore goes on, unless ``--require-bus`` is given.
Run it with the till stopped. Exit 0: restored; 1: refused; 2: a wrong argument.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.options import add_data_arguments, config_or_complain
from gateway.common.i18n import tr

if TYPE_CHECKING:
    from gateway.backup.restoring import SoldSince
    from gateway.config import Config

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
        help="the last message the sync module stored from this register (tillgw sync --status); "
        "given, the bus is not asked",
    )
    restore.add_argument(
        "--require-bus",
        action="store_true",
        help="refuse to restore when the bus does not tell what the sync module has stored",
    )
    restore.add_argument(
        "--accept-loss",
        action="store_true",
        help="restore a backup that ends before what was sold (see above)",
    )
    restore.add_argument("--check", action="store_true", help="only check the backup; restore nothing")
    restore.set_defaults(handler=restore_command)


def _sold_since(args: argparse.Namespace, config: Config) -> SoldSince | None:
    """What the register is known to have done, the bus asked unless ``--bus-sequence`` says it;
    None (after saying why on stderr) when ``--require-bus`` and the bus tells nothing."""
    from gateway.backup.restoring import SoldSince
    from gateway.cli.restore_bus import ask_bus

    if args.bus_sequence is not None:
        return SoldSince(args.last_receipt, args.bus_sequence)
    if config.mqtt is None:
        if args.require_bus:
            print(
                tr("refused: --require-bus, but the configuration has no bus ([mqtt] enabled = false)"),
                file=sys.stderr,
            )
            return None
        return SoldSince(args.last_receipt)
    answer = asyncio.run(ask_bus(config))
    if answer.unheard is not None:
        if args.require_bus:
            print(tr("refused: {why} (--require-bus)").format(why=answer.unheard), file=sys.stderr)
            return None
        print(
            tr(
                "warning: {why}: the backup is not compared with what the sync module has stored; "
                "give --bus-sequence from tillgw sync --status to compare it"
            ).format(why=answer.unheard),
            file=sys.stderr,
        )
        return SoldSince(args.last_receipt)
    print(answer.said, file=sys.stderr)
    return SoldSince(args.last_receipt, answer.sequence, answer.receipt, answer.source)


def restore_command(args: argparse.Namespace) -> int:
    from gateway.backup.checking import BackupDamaged, check_backup, opened_backup
    from gateway.backup.restoring import RestoreRefused, restore_backup
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
    sold = _sold_since(args, config)
    if sold is None:
        return 1
    try:
        restored = restore_backup(
            args.backup,
            config.data_dir,
            replace=args.replace,
            sold=sold,
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
