"""``tillgw journal verify``, ``export-key``, ``export``, ``rotate-key``, ``accept-gap``: check
the journal (and the receipts index against it), share the key, export it, replace a lost key
on purpose, record receipts lost with an older database.

All read the till's database read-only and may run while the service runs.
``verify`` exits 0 when the chain holds and 1 when it does not, naming the first entry
that was changed, removed or reordered; it needs only the public key, so an auditor
can run it on a copy of the database with ``--public-key``.

``export`` writes a period of whole days as Skatteverket's XML (``--format skv-xml``,
SKVFS 2021:16) or as the journal's own signed entries (``--format jsonl``); see
docs/journal-export.md. It exits 0 with the file written, 1 when the export is refused
(the reason on stderr, and no file), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from gateway.cli.options import add_data_arguments, config_from_args, config_or_complain
from gateway.common.i18n import tr
from gateway.common.progress import Progress
from gateway.config import ConfigError
from gateway.till_files import TillFiles

# Each subcommand imports its own work when it runs (``verify`` the chain's check, ``export``
# the XML writer, ...): ``tillgw journal verify`` loads no export, and ``--help`` none of them.

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    journal = subparsers.add_parser("journal", help="check the journal, or export its public key")
    commands = journal.add_subparsers(dest="journal_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "verify",
        help="check the whole chain; name the first entry changed, removed or reordered",
        description=(
            "Check every entry's number, link and hash, and the signature of the last entry, which "
            "covers all before it. --all-signatures checks each entry's signature as well."
        ),
    )
    add_data_arguments(check)
    check.add_argument(
        "--public-key", type=Path, metavar="PEM", help="verify with this public key (an auditor's copy)"
    )
    check.add_argument("--all-signatures", action="store_true", help="check every entry's signature (slower)")
    check.add_argument("--json", action="store_true", help="print one JSON document")
    check.set_defaults(handler=verify_command)
    rotate = commands.add_parser(
        "rotate-key",
        help="replace a lost or changed signing key on purpose, journaling the change",
        description=(
            "Only when signing-key.pem is lost for good (restore it from a backup if you can): make "
            "a new key and journal a key.replaced entry, signed by it, naming the old key. Stop the "
            "till first. tillgw journal verify then reports the replacement."
        ),
    )
    add_data_arguments(rotate)
    rotate.add_argument(
        "--reason", help='why, in words (journaled; default "signing key lost", in the till\'s language)'
    )
    rotate.set_defaults(handler=rotate_key_command)
    gap = commands.add_parser(
        "accept-gap",
        help="record receipts lost with the database as lost, so that no receipt number repeats",
        description=(
            "Only when the till database was restored from a backup older than the last receipt and no "
            "newer backup holds the rest: journal a series.gap entry naming the lost receipts, so that "
            "the till goes on after the last number it used. Stop the till first."
        ),
    )
    add_data_arguments(gap)
    gap.add_argument(
        "--reason",
        help='why, in words (default "database restored from an older backup", in the till\'s language)',
    )
    gap.set_defaults(handler=accept_gap_command)
    key = commands.add_parser("export-key", help="print the till's public key (PEM)")
    add_data_arguments(key)
    key.set_defaults(handler=export_key_command)
    export = commands.add_parser(
        "export",
        help="export a period of whole days: Skatteverket's XML (SKVFS 2021:16) or the signed entries",
        description=(
            "Export the journal from --from 00:00:00 to --to 23:59:59 (local time): --format skv-xml "
            "is Skatteverket's standard export of the journal memory, --format jsonl every entry as "
            "signed, for checking with the till's public key. The file appears only when complete."
        ),
    )
    add_data_arguments(export)
    export.add_argument("--format", required=True, choices=("skv-xml", "jsonl"), help="what to write")
    export.add_argument("--from", dest="start", required=True, type=_day, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="end", required=True, type=_day, metavar="YYYY-MM-DD")
    export.add_argument(
        "--output", metavar="FILE|-", help="where to write (default: the standard name here; - for stdout)"
    )
    export.add_argument("--user", metavar="NAME", help="who makes the export (default: the login name)")
    export.set_defaults(handler=export_command)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-03-01") from None


def _files(args: argparse.Namespace) -> TillFiles:
    return TillFiles(config_from_args(args).data_dir)


def verify_command(args: argparse.Namespace) -> int:
    from gateway.cli.progress import progress_display
    from gateway.common.signing import SigningKeyError, Verifier, load_or_create_key, load_public_key
    from gateway.fiscal.index_check import IndexMismatch, check_index
    from gateway.fiscal.journal import open_readonly, verify

    try:
        files = _files(args)
        if args.public_key is not None:
            verifier = Verifier(load_public_key(args.public_key.read_bytes()))
        elif files.signing_key.exists():
            verifier = Verifier(load_or_create_key(files.signing_key).public_key())
        else:
            print(
                tr("error: no signing key at {signing_key}; give --public-key").format(
                    signing_key=files.signing_key
                ),
                file=sys.stderr,
            )
            return 2
        started = time.perf_counter()
        index_problem = None
        with (
            open_readonly(files.database) as conn,
            progress_display(show=False if args.json else None) as progress,
        ):
            report = verify(conn, verifier, all_signatures=args.all_signatures, progress=progress)
            if report.ok:
                try:
                    check_index(conn)
                except IndexMismatch as exc:
                    index_problem = exc
        seconds = time.perf_counter() - started
    except (ConfigError, SigningKeyError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ok = report.ok and index_problem is None
    replaced = [r.words for r in report.key_replacements]
    if args.json:
        doc = {
            "ok": ok,
            "entries": report.entries,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "signatures_checked": report.signatures_checked,
            "first_bad": report.first_bad,
            "problem": report.problem if index_problem is None else str(index_problem),
            "index_receipt": None if index_problem is None else index_problem.receipt_no,
            "key_replaced": replaced,
            "key_id": verifier.key_id,
            "seconds": round(seconds, 3),
        }
        print(json.dumps(doc, indent=2))
    elif index_problem is not None:
        print(f"TAMPERED: {index_problem}")
    elif report.ok:
        print(
            tr(
                "OK: {entries} entries, the chain holds and is signed by key "
                "{key_id}; head {head_seq} has hash {head_hash}; the receipts "
                "index agrees with it; {database} checked in {seconds:.1f} s"
            ).format(
                entries=report.entries,
                key_id=verifier.key_id,
                head_seq=report.head_seq,
                head_hash=report.head_hash,
                database=files.database,
                seconds=seconds,
            )
        )
        for words in replaced:
            # Entries before it are held by the chain the new key signed on from, not by the old key.
            print(
                tr("NOTE: {words}; the old key's signatures cannot be checked without its public key").format(
                    words=words
                )
            )
    else:
        print(f"TAMPERED: {report.problem}")
    return 0 if ok else 1


def rotate_key_command(args: argparse.Namespace) -> int:
    from gateway.common.clock import Clock
    from gateway.fiscal.key_rotation import RotationRefused, rotate_key
    from gateway.fiscal.start_checks import DataDirLock, StartRefused

    try:
        config = config_from_args(args)
        files = TillFiles(config.data_dir)
        lock = DataDirLock(files.lock)
        lock.acquire()  # not while a till runs on this data directory
        try:
            # The journal keeps the reason in the language the till speaks now (docs/languages.md).
            reason = args.reason or tr("signing key lost")
            replaced = rotate_key(files.database, files.signing_key, reason, Clock(config.shop.timezone))
        finally:
            lock.release()
    except (StartRefused, RotationRefused) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        tr("{words}; new key in {signing_key} — back it up now").format(
            words=replaced.words, signing_key=files.signing_key
        )
    )
    return 0


def accept_gap_command(args: argparse.Namespace) -> int:
    from gateway.common.clock import Clock
    from gateway.fiscal.series_gap import GapRefused, accept_gap
    from gateway.fiscal.start_checks import DataDirLock, StartRefused, recorded_series_and_entries

    try:
        config = config_from_args(args)
        files = TillFiles(config.data_dir)
        sold, entries = recorded_series_and_entries(files.series)
        if sold <= 0:
            print(
                tr("refused: {series} names no receipt: there is no series to continue").format(
                    series=files.series
                ),
                file=sys.stderr,
            )
            return 1
        lock = DataDirLock(files.lock)
        lock.acquire()  # not while a till runs on this data directory
        try:
            reason = args.reason or tr("database restored from an older backup")
            gap = accept_gap(
                files.database, files.signing_key, sold, entries, reason, Clock(config.shop.timezone)
            )
        finally:
            lock.release()
    except (StartRefused, GapRefused) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(gap.words)
    return 0


def export_key_command(args: argparse.Namespace) -> int:
    from gateway.common.signing import SigningKeyError, load_or_create_key, public_pem

    try:
        files = _files(args)
        if not files.signing_key.exists():
            print(
                tr("error: no signing key at {signing_key}; the till makes it on first start").format(
                    signing_key=files.signing_key
                ),
                file=sys.stderr,
            )
            return 2
        key = load_or_create_key(files.signing_key)
    except (ConfigError, SigningKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(public_pem(key.public_key()).decode())
    return 0


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment: the element is optional
        return None


def export_command(args: argparse.Namespace) -> int:
    from gateway.cli.progress import progress_display
    from gateway.fiscal.export.period import ExportRefused, Period
    from gateway.fiscal.journal import open_readonly

    config = config_or_complain(args)
    if config is None:
        return 2
    try:
        period = Period(args.start, args.end, config.shop.timezone)
    except ExportRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    database = TillFiles(config.data_dir).database
    if not database.exists():
        print(tr("error: no till database at {database}").format(database=database), file=sys.stderr)
        return 2
    write: Callable[[sqlite3.Connection, Path, Progress], str]
    # Only the chosen format's writer is loaded: the XML one brings the receipts' layout with it.
    if args.format == "skv-xml":
        from gateway.fiscal.export import skv as export_skv

        default_name = export_skv.default_file_name(period)

        def write(conn: sqlite3.Connection, target: Path, progress: Progress) -> str:
            register = export_skv.register_from_config(config)
            counts = export_skv.export_skv(
                conn, register, period, target, user=args.user or _login_name(), progress=progress
            )
            kinds = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
            return f"{sum(counts.values())} events ({kinds})"

    else:
        from gateway.fiscal.export import jsonl as export_jsonl

        default_name = export_jsonl.default_file_name(period)
        till = export_jsonl.Till(config.pos_id, config.shop.name, config.shop.orgnr)

        def write(conn: sqlite3.Connection, target: Path, progress: Progress) -> str:
            return (
                f"{export_jsonl.export_jsonl(conn, till, period, target, progress=progress)} journal entries"
            )

    to_stdout = args.output == "-"
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="tillgw-export-") as scratch:
            # stdout gets the file only once it is whole: a refusal prints nothing there.
            target = Path(scratch) / "export" if to_stdout else Path(args.output or default_name)
            # The bars go to stderr, and never while the file itself goes to stdout.
            with (
                open_readonly(database) as conn,
                progress_display(show=False if to_stdout else None) as progress,
            ):
                what = write(conn, target, progress)
            if to_stdout:
                with target.open("rb") as made:
                    shutil.copyfileobj(made, sys.stdout.buffer)
                sys.stdout.flush()
    except ExportRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    where = "-" if to_stdout else target.resolve()
    print(f"{where}: {what}; {seconds:.1f} s", file=sys.stderr if to_stdout else sys.stdout)
    return 0
