"""``tillgw sync [--once | --all | --changes | --authorize ERP] [--config FILE]``: the ERP sync module.

``--all`` and ``--changes`` run one master-data sync now (every article and customer, or
those changed since the last sync), publish its revision to the tills and exit, printing
what changed. They may run while the service runs: the two never interleave a revision.
``--authorize fortnox|visma`` stores the integration's first token (``--code`` from the
ERP's consent page, with ``--redirect-uri``, or a ``--refresh-token``): once, when the
shop connects the ERP.

``--status`` prints the inbox in words, held messages with what to do (exit 1 when
something is held); ``--reprocess [--register R | --msg ID]`` takes held messages again
(:mod:`gateway.sync.reprocess`; exit 0 when every one is booked); ``--export-key`` prints
the public key the tills check acks with (``[mqtt] sync_public_key``), making the key
when there is none.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.logs import StderrHandler, configure_logging
from gateway.common.i18n import tr, use_language
from gateway.config import ConfigError
from gateway.sync.config import SyncConfig, load_sync_config
from gateway.sync.runlog import LOGGER

if TYPE_CHECKING:
    from gateway.sync.reprocess import HeldFilter, ReprocessOutcome
    from gateway.sync.service import SyncService

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = subparsers.add_parser(
        "sync",
        help="run the ERP sync module (bus -> inbox -> SIE files)",
        description="Take the tills' messages from the bus into the inbox, ack them, and book them: "
        "each Z report becomes an SIE 4i file. With no --config: the demo, everything under ./var/sync. "
        "See docs/sync.md.",
    )
    mode = sync.add_mutually_exclusive_group()
    mode.add_argument(
        "--once",
        action="store_true",
        help="take what the broker has queued, process it and exit (else run until SIGINT/SIGTERM)",
    )
    mode.add_argument(
        "--all",
        dest="sync_all",
        action="store_true",
        help="master data: sync every article and customer to the tills now, and exit",
    )
    mode.add_argument(
        "--changes",
        dest="sync_changes",
        action="store_true",
        help="master data: sync what changed in the ERP since the last sync now, and exit",
    )
    mode.add_argument(
        "--authorize",
        metavar="ERP",
        choices=("fortnox", "visma"),
        help="store the first token of the ERP's integration (fortnox or visma), and exit",
    )
    mode.add_argument(
        "--status",
        dest="show_status",
        action="store_true",
        help="print the inbox: what is booked, waiting and held, and what to do (exit 1 if anything is held)",
    )
    mode.add_argument(
        "--reprocess",
        action="store_true",
        help="take the held messages again once their cause is fixed, book them in order, tell the tills "
        "(exit 0 when all were booked)",
    )
    mode.add_argument(
        "--export-key",
        action="store_true",
        help="print the public key (PEM) the tills check this module's acks with ([mqtt] sync_public_key)",
    )
    which = sync.add_mutually_exclusive_group()
    which.add_argument("--register", metavar="R", help="with --reprocess: only this register's held messages")
    which.add_argument("--msg", metavar="ID", help="with --reprocess: only this held message (its msg_id)")
    sync.add_argument("--code", help="with --authorize: the authorization code the ERP's consent page gave")
    sync.add_argument("--redirect-uri", help="with --code: the redirect URI the code was issued for")
    sync.add_argument("--refresh-token", help="with --authorize: a refresh token instead of a code")
    sync.add_argument(
        "--config", type=Path, metavar="FILE", help="the TOML configuration with [sync] (default: the demo)"
    )
    sync.set_defaults(handler=sync_command)


def sync_command(args: argparse.Namespace) -> int:
    from gateway.common.migrations import MigrationFailed, SchemaTooNew

    try:
        return _sync_command(args)
    except (SchemaTooNew, MigrationFailed) as exc:  # a database of a newer release, or a failed step
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _sync_command(args: argparse.Namespace) -> int:
    try:
        config = load_sync_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # What it says to a person from here on: tillgw --language, else the file's [shop] language.
    use_language(getattr(args, "language", None) or config.language)
    console = StderrHandler()
    console.setFormatter(logging.Formatter("tillgw sync: %(levelname)s %(message)s"))
    # The sync module's own lines on stderr, and any library's warning (as Python's last-resort
    # handler showed them before); the file has every line.
    console.addFilter(lambda record: record.name.startswith(LOGGER) or record.levelno >= logging.WARNING)
    configure_logging(config.log, config.log_file, console=console)
    if config.demo:
        print(
            tr("tillgw sync: demo configuration: inbox, SIE files and logs under {folder}").format(
                folder=config.inbox.parent
            ),
            file=sys.stderr,
        )
    if (args.register or args.msg) and not args.reprocess:
        print(tr("error: --register and --msg go with --reprocess"), file=sys.stderr)
        return 2
    if args.export_key:
        return _export_key(config)
    if args.show_status:
        from gateway.sync.inbox_report import inbox_report

        text, held = asyncio.run(inbox_report(config))
        print(text)
        return 1 if held else 0
    if args.authorize is not None:
        return asyncio.run(_authorize(config, args))
    if args.sync_all or args.sync_changes:
        from gateway.cli.progress import progress_display
        from gateway.sync.masterdata.command import sync_once

        with progress_display() as progress:
            return asyncio.run(sync_once(config, full=args.sync_all, progress=progress))
    from gateway.sync.reprocess import HeldFilter
    from gateway.sync.service import SyncService  # the bus and mail libraries: only for this command

    try:
        config.check_routing()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reprocess = HeldFilter(args.register, args.msg) if args.reprocess else None
    service = SyncService(config)
    code = asyncio.run(_main(service, once=args.once or args.reprocess, reprocess=reprocess))
    if service.reprocessed is not None:
        print(_reprocess_words(service.reprocessed), flush=True)
    return code


def _reprocess_words(outcome: ReprocessOutcome) -> str:
    """``--reprocess``'s last words to the person who ran it (the log keeps its own, in English)."""
    if outcome.not_held is not None:
        return tr("{msg_id} is not a held message of this inbox").format(msg_id=outcome.not_held)
    if not outcome.taken:
        return tr("nothing held: nothing to reprocess")
    lines = [
        tr("reprocessed {taken} held message(s): {booked} booked, {unbooked} not").format(
            taken=outcome.taken, booked=outcome.taken - len(outcome.unbooked), unbooked=len(outcome.unbooked)
        )
    ]
    lines += [
        tr("  not booked: {msg_id} (the lines above say why)").format(msg_id=msg_id)
        for msg_id in outcome.unbooked
    ]
    return "\n".join(lines)


async def _main(service: SyncService, *, once: bool, reprocess: HeldFilter | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await service.run(once=once, stop=stop, reprocess=reprocess)


def _export_key(config: SyncConfig) -> int:
    from gateway.messages.ack_proof import AckSigner, SigningKeyError

    try:
        signer = AckSigner.of_inbox(config.inbox)
    except (SigningKeyError, OSError) as exc:
        print(
            tr("error: the acks' signing key {key} cannot be used: {exc}").format(
                key=config.ack_key, exc=exc
            ),
            file=sys.stderr,
        )
        return 1
    sys.stdout.write(signer.public_pem.decode())
    print(
        tr(
            "tillgw sync: the key is {key} (id {key_id}); give each till this public key "
            "as [mqtt] sync_public_key"
        ).format(key=config.ack_key, key_id=signer.key_id),
        file=sys.stderr,
    )
    return 0


async def _authorize(config: SyncConfig, args: argparse.Namespace) -> int:
    from gateway.sync.erp import authorize
    from gateway.sync.http.oauth import TokenError

    if (args.code is None) == (args.refresh_token is None):
        print(tr("error: --authorize needs --code (and --redirect-uri) or --refresh-token"), file=sys.stderr)
        return 2
    try:
        await authorize(
            config,
            args.authorize,
            refresh_token=args.refresh_token,
            code=args.code,
            redirect_uri=args.redirect_uri,
        )
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TokenError, OSError) as exc:
        print(
            tr("error: {erp} did not give a token: {exc}").format(erp=args.authorize, exc=exc),
            file=sys.stderr,
        )
        return 1
    print(
        tr("tillgw sync: {erp} authorised; its tokens are in {tokens}").format(
            erp=args.authorize, tokens=config.tokens_db
        )
    )
    return 0
