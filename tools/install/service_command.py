"""``tillgw service install|uninstall|status``: the till and its sync module as systemd services.

``install`` writes ``tillgw.service`` (``tillgw run --config FILE``) when the file has a
till, and ``tillgw-sync.service`` (``tillgw sync --config FILE``) when it has ``[sync]``;
makes the till's system user (``useradd --system``, in ``dialout`` for the serial ports)
when it is missing; gives it the data directory (0700, its files 0600) and the config
to read (0640); and enables and starts the units. ``uninstall`` stops and removes the
units and leaves the user and the data, which hold the journal. ``status`` says what is
installed. docs/operations.md tells it for a technician.
"""

from __future__ import annotations

import argparse
import pwd
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.cli.options import use_language_of
from gateway.common.i18n import DEFAULT_LANGUAGE, tr, use_language

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    service = subparsers.add_parser(
        "service",
        help="install, remove or show the till's systemd services",
        description="The till (tillgw run) and its sync module (tillgw sync) as systemd services.",
    )
    actions = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser("install", help="write the units, make the user, enable and start them")
    install.add_argument("--config", type=Path, required=True, metavar="FILE", help="the till's TOML file")
    install.add_argument(
        "--user", default=None, metavar="NAME", help="the services' system user (default tillgw)"
    )
    install.add_argument(
        "--executable", type=Path, metavar="PATH", help="the tillgw program (default: this one)"
    )
    uninstall = actions.add_parser("uninstall", help="stop and remove the units (the user and the data stay)")
    status = actions.add_parser("status", help="say what is installed")
    for parser in (install, uninstall, status):
        parser.add_argument(
            "--root",
            type=Path,
            default=Path("/"),
            metavar="DIR",
            help="write under DIR, not / (packages, tests)",
        )
        parser.add_argument(
            "--prefix",
            type=Path,
            metavar="PREFIX",
            help="units in PREFIX/lib/systemd/system (a package: /usr), not /etc/systemd/system",
        )
    for parser in (install, uninstall):
        parser.add_argument("--dry-run", action="store_true", help="print every step and take none")
    service.set_defaults(handler=run)


def _this_tillgw() -> Path:
    """The ``tillgw`` program of this installation: the script beside this Python (a venv's,
    pipx's), else the one on PATH."""
    beside = Path(sys.executable).with_name("tillgw")
    found = beside if beside.exists() else Path(shutil.which("tillgw") or beside)
    return found.absolute()


def run(args: argparse.Namespace) -> int:
    from tools.install.service import (
        DEFAULT_USER,
        ServiceError,
        Step,
        install_steps,
        uninstall_steps,
        unit_dir,
    )

    if getattr(args, "config", None) is not None:
        use_language_of(args)  # install: tillgw --language, else the config's [shop] language
    else:
        use_language(getattr(args, "language", None) or DEFAULT_LANGUAGE)
    if args.prefix is not None and not args.prefix.is_absolute():
        print(
            tr("error: --prefix {prefix}: must be an absolute path such as /usr").format(prefix=args.prefix),
            file=sys.stderr,
        )
        return 2
    units = unit_dir(args.root, args.prefix)
    if args.action == "status":
        return _status(units, args.root)
    steps: list[Step]
    try:
        if args.action == "install":
            steps, _ = install_steps(
                args.config,
                user=args.user or DEFAULT_USER,
                executable=args.executable or _this_tillgw(),
                root=args.root,
                prefix=args.prefix,
            )
        else:
            steps = uninstall_steps(units, args.root)
            if not steps:
                print(tr("nothing to remove: no tillgw unit in {units}").format(units=units))
                return 0
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _take(steps, dry_run=args.dry_run, system=args.root == Path("/"), action=args.action)


def _take(steps: Sequence[object], *, dry_run: bool, system: bool, action: str) -> int:
    from tools.install.service import ServiceError, Step

    left: list[str] = []
    for step in steps:
        assert isinstance(step, Step)
        if dry_run:
            print(tr("would {step}").format(step=step.words))
            if step.detail:
                print("    " + step.detail.rstrip("\n").replace("\n", "\n    "))
            continue
        if step.system and not system:
            left.append(step.words)
            continue
        try:
            step.take()
        except (ServiceError, OSError) as exc:
            print(f"error: {step.words}: {exc}", file=sys.stderr)
            return 1
        print(tr("done: {step}").format(step=step.words))
    if left:
        print(tr("left to the package's own scripts (--root):"))
        for words in left:
            print(f"  {words}")
    if not dry_run and action == "uninstall":
        print(tr("the user and the data directory stay: they hold the signed journal"))
    return 0


def _status(units: Path, root: Path) -> int:
    from tools.install.service import installed_units, mode_of, systemd_running, unit_values

    found = installed_units(units)
    if not found:
        print(tr("not installed: no tillgw unit in {units}").format(units=units))
        return 1
    for path in found:
        values = unit_values(path, ("ExecStart", "User", "SupplementaryGroups", "ReadWritePaths"))
        user = values.get("User", "?")
        print(f"{path.name}: {path}")
        print(tr("  runs:  {command}").format(command=values.get("ExecStart", "?")))
        also = values.get("SupplementaryGroups")
        print(
            tr("  as:    {user} (also {groups})").format(user=user, groups=also)
            if also
            else tr("  as:    {user}").format(user=user)
        )
        try:
            pwd.getpwnam(user)
            known = tr("  user:  {user} exists")
        except KeyError:
            known = tr("  user:  {user} is missing: tillgw service install makes it")
        print(known.format(user=user))
        for written in values.get("ReadWritePaths", "").split():
            there = root / Path(written.replace("%%", "%")).relative_to("/")
            if there.exists():
                print(
                    tr("  data:  {path} (owner {owner}, mode {mode})").format(
                        path=written, owner=there.owner(), mode=mode_of(there)
                    )
                )
            else:
                print(tr("  data:  {path} (missing: made at install)").format(path=written))
        if systemd_running() and root == Path("/"):
            state = subprocess.run(
                ["systemctl", "is-active", path.name], capture_output=True, text=True, check=False
            ).stdout.strip()
            enabled = subprocess.run(
                ["systemctl", "is-enabled", path.name], capture_output=True, text=True, check=False
            ).stdout.strip()
            print(tr("  state: {state}, {enabled}").format(state=state, enabled=enabled))
    return 0
