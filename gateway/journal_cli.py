"""``tillgw journal verify`` and ``tillgw journal export-key``: check the journal, share the key.

Both read the till's database read-only and may run while the service runs.
``verify`` exits 0 when the chain holds and 1 when it does not, naming the first entry
that was changed, removed or reordered; it needs only the public key, so an auditor
can run it on a copy of the database with ``--public-key``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from gateway.config import ConfigError
from gateway.fiscal.journal import open_readonly, verify
from gateway.fiscal.signing import SigningKeyError, Verifier, load_or_create_key, load_public_key, public_pem
from gateway.service import add_data_arguments, config_from_args
from gateway.till import TillFiles

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
    key = commands.add_parser("export-key", help="print the till's public key (PEM)")
    add_data_arguments(key)
    key.set_defaults(handler=export_key_command)


def _files(args: argparse.Namespace) -> TillFiles:
    return TillFiles(config_from_args(args).data_dir)


def verify_command(args: argparse.Namespace) -> int:
    try:
        files = _files(args)
        if args.public_key is not None:
            verifier = Verifier(load_public_key(args.public_key.read_bytes()))
        elif files.signing_key.exists():
            verifier = Verifier(load_or_create_key(files.signing_key).public_key())
        else:
            print(f"error: no signing key at {files.signing_key}; give --public-key", file=sys.stderr)
            return 2
        started = time.perf_counter()
        with open_readonly(files.database) as conn:
            report = verify(conn, verifier, all_signatures=args.all_signatures)
        seconds = time.perf_counter() - started
    except (ConfigError, SigningKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = {
            "ok": report.ok,
            "entries": report.entries,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "signatures_checked": report.signatures_checked,
            "first_bad": report.first_bad,
            "problem": report.problem,
            "key_id": verifier.key_id,
            "seconds": round(seconds, 3),
        }
        print(json.dumps(doc, indent=2))
    elif report.ok:
        print(
            f"OK: {report.entries} entries, the chain holds and is signed by key {verifier.key_id}; "
            f"head {report.head_seq} has hash {report.head_hash}"
        )
    else:
        print(f"TAMPERED: {report.problem}")
    return 0 if report.ok else 1


def export_key_command(args: argparse.Namespace) -> int:
    try:
        files = _files(args)
        if not files.signing_key.exists():
            print(
                f"error: no signing key at {files.signing_key}; the till makes it on first start",
                file=sys.stderr,
            )
            return 2
        key = load_or_create_key(files.signing_key)
    except (ConfigError, SigningKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(public_pem(key.public_key()).decode())
    return 0
