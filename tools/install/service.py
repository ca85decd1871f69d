"""What ``tillgw service install`` does, as a list of steps said in words before any is taken.

The steps that change the machine beyond the unit files (the user, the owners and modes,
``systemctl``) are *system* steps: ``--root`` (a package being built, a test) writes the
units into a directory and leaves those to the package's own scripts, and ``--dry-run``
prints every step and takes none.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.common.i18n import N_, tr
from gateway.config import ConfigError, load_config, read_toml
from gateway.fiscal.start_checks import DIR_MODE, FILE_MODE, private_files
from gateway.sync.config import load_sync_config
from tools.install.units import SYNC_UNIT, TILL_UNIT, UnitPlan, sync_unit, till_unit

__all__ = [
    "CONFIG_MODE",
    "DEFAULT_USER",
    "SERIAL_GROUP",
    "ServiceError",
    "Step",
    "install_steps",
    "own_data_dir",
    "systemd_running",
    "uninstall_steps",
    "unit_dir",
]

DEFAULT_USER = "tillgw"
SERIAL_GROUP = "dialout"  # owns /dev/ttyS*, /dev/ttyUSB*, /dev/ttyACM* on Debian and Ubuntu
CONFIG_MODE = 0o640  # root writes it, the till's group reads it: it holds passwords
UNIT_MODE = 0o644
# Where a service's user cannot reach: ProtectHome= hides the homes (and their modes keep others
# out), PrivateTmp= gives the service empty temporary folders of its own.
_HIDDEN = (Path("/root"), Path("/home"), Path("/run/user"))
_PRIVATE = (Path("/tmp"), Path("/var/tmp"))


class ServiceError(Exception):
    """Why the service cannot be installed as asked, in words."""


@dataclass(slots=True)
class Step:
    words: str
    take: Callable[[], None]
    system: bool = False  # changes the machine beyond the unit files
    detail: str = field(default="")  # printed under the words by --dry-run (a unit's text)


def unit_dir(root: Path, prefix: Path | None) -> Path:
    """``/etc/systemd/system`` (the administrator's), or ``PREFIX/lib/systemd/system`` (a
    package's: ``--prefix /usr``), under ``root``."""
    inside = Path("etc/systemd/system") if prefix is None else prefix.relative_to("/") / "lib/systemd/system"
    return root / inside


def systemd_running() -> bool:
    """Whether this machine was booted with systemd (``systemctl`` has a manager to talk to)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _run(argv: list[str]) -> Callable[[], None]:
    def take() -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServiceError(
                tr("{command} failed: {output}").format(
                    command=" ".join(argv), output=(done.stderr or done.stdout).strip()
                )
            )

    return take


def _write(path: Path, text: str, mode: int) -> Callable[[], None]:
    def take() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        trial = path.with_name(f".{path.name}.new")
        trial.write_text(text, encoding="utf-8")
        trial.chmod(mode)
        os.replace(trial, path)

    return take


def own_data_dir(directory: Path, uid: int, gid: int) -> None:
    """``directory`` (made when missing) and everything in it the till's user's; the
    directory 0700, the databases, key, token and records 0600, as the till keeps them."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)
    directory.chmod(DIR_MODE)
    for path in private_files(directory):
        path.chmod(FILE_MODE)


def _reachable(path: Path, what: str, *, live: bool) -> None:
    """A path the service sees as it is: not hidden by ``ProtectHome=``, nor (installing on
    this machine, not into a package's root) replaced by ``PrivateTmp=``."""
    for hidden in (*_HIDDEN, *(_PRIVATE if live else ())):
        if path.is_relative_to(hidden):
            raise ServiceError(
                tr(
                    "{what} {path} is under {hidden}, which the service does not see as it is; {remedy}"
                ).format(what=tr(_THE[what]), path=path, hidden=hidden, remedy=tr(_SOMEWHERE_ELSE[what]))
            )


# The paths a service must see, named in a refusal (translated where shown).
_THE = {
    "program": N_("the program"),
    "configuration": N_("the configuration"),
    "data directory": N_("the data directory"),
}
_SOMEWHERE_ELSE = {
    "program": N_(
        "install tillgw for every user (pipx install --global, or PIPX_HOME=/opt/pipx "
        "PIPX_BIN_DIR=/usr/local/bin pipx install), or give --executable"
    ),
    "configuration": N_("move it to /etc/tillgw/ and give that path"),
    "data directory": N_(
        "set [register] data_dir (or [sync] data_dir) to a folder under /var/lib, such as /var/lib/tillgw"
    ),
}


def _check_path(path: Path, what: str) -> None:
    if any(c.isspace() or c in "\"'\\" for c in str(path)):
        raise ServiceError(
            tr("{what} {path} has a space or a quote in it: give a path without").format(
                what=tr(_THE[what]), path=repr(str(path))
            )
        )


def _user_steps(user: str) -> list[Step]:
    try:
        known = pwd.getpwnam(user)
    except KeyError:
        groups = ["--groups", SERIAL_GROUP] if _group_exists(SERIAL_GROUP) else []
        argv = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
        argv += ["--shell", "/usr/sbin/nologin", *groups, user]
        words = tr("create the system user {user}: {command}").format(user=user, command=" ".join(argv))
        return [Step(words, _run(argv), system=True)]
    members = grp.getgrnam(SERIAL_GROUP).gr_mem if _group_exists(SERIAL_GROUP) else [user]
    if user in members or known.pw_gid == _gid_of(SERIAL_GROUP):
        return []
    argv = ["usermod", "--append", "--groups", SERIAL_GROUP, user]
    words = tr("let {user} use the serial ports: {command}").format(user=user, command=" ".join(argv))
    return [Step(words, _run(argv), system=True)]


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _gid_of(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _own(directory: Path, user: str) -> Callable[[], None]:
    def take() -> None:
        record = pwd.getpwnam(user)
        own_data_dir(directory, record.pw_uid, record.pw_gid)

    return take


def _config_readable(config: Path, user: str) -> Callable[[], None]:
    def take() -> None:
        os.chown(config, 0, pwd.getpwnam(user).pw_gid)
        config.chmod(CONFIG_MODE)

    return take


def _parts(config: Path) -> tuple[list[Path], list[Path], str | None]:
    """The folders the till and the sync module write, each loaded as its process would: a
    file with ``[shop]`` has a till, one with ``[sync]`` a sync module."""
    raw = read_toml(config)
    till_writes: list[Path] = []
    sync_writes: list[Path] = []
    register = None
    try:
        if "shop" in raw:
            till = load_config(config)
            # The log may be elsewhere ([log] file): the unit must let the till write it.
            till_writes += [till.data_dir.resolve(), till.log_file.parent.resolve()]
            register = till.pos_id
        if "sync" in raw:
            sync = load_sync_config(config)
            sync_writes += [
                sync.inbox.parent.resolve(),
                sync.sie_dir.resolve(),
                sync.log_dir.resolve(),
                sync.log_file.parent.resolve(),
            ]
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None
    if not till_writes and not sync_writes:
        raise ServiceError(
            tr("{config}: has neither [shop] (a till) nor [sync] (a sync module)").format(config=config)
        )
    return till_writes, sync_writes, register


def install_steps(
    config: Path, *, user: str, executable: Path, root: Path, prefix: Path | None
) -> tuple[list[Step], list[str]]:
    """The steps that install the services of ``config``, and the names of the units."""
    config = config.absolute()
    live = root == Path("/")
    for path, what in [(executable, "program"), (config, "configuration")]:
        _check_path(path, what)
        _reachable(path, what, live=live)
    till_writes, sync_writes, register = _parts(config)
    for path in till_writes + sync_writes:
        _check_path(path, "data directory")
        _reachable(path, "data directory", live=live)
    groups = (SERIAL_GROUP,) if _group_exists(SERIAL_GROUP) else ()
    plan = UnitPlan(executable, config, user, groups, tuple(till_writes), tuple(sync_writes), register)
    units = unit_dir(root, prefix)
    steps = _user_steps(user)
    for directory in dict.fromkeys(till_writes + sync_writes):
        steps.append(
            Step(
                tr("give {directory} to {user} (0700, its files 0600)").format(
                    directory=directory, user=user
                ),
                _own(directory, user),
                system=True,
            )
        )
    steps.append(
        Step(
            tr("let {user} read {config} (root:{user}, 0640)").format(user=user, config=config),
            _config_readable(config, user),
            system=True,
        )
    )
    names: list[str] = []
    for name, render, wanted in ((TILL_UNIT, till_unit, till_writes), (SYNC_UNIT, sync_unit, sync_writes)):
        if wanted:
            text = render(plan)
            names.append(name)
            steps.append(
                Step(
                    tr("write {path}").format(path=units / name),
                    _write(units / name, text, UNIT_MODE),
                    detail=text,
                )
            )
    if systemd_running() or root != Path("/"):
        steps += [
            Step("systemctl daemon-reload", _run(["systemctl", "daemon-reload"]), system=True),
            Step(
                tr("start them now and at every boot: {command}").format(
                    command=f"systemctl enable --now {' '.join(names)}"
                ),
                _run(["systemctl", "enable", "--now", *names]),
                system=True,
            ),
        ]
    return steps, names


def installed_units(units: Path) -> list[Path]:
    return [units / name for name in (TILL_UNIT, SYNC_UNIT) if (units / name).exists()]


def uninstall_steps(units: Path, root: Path) -> list[Step]:
    """Stop and remove the units; the user and the data directory (the journal) stay."""
    found = installed_units(units)
    steps: list[Step] = []
    if found and (systemd_running() or root != Path("/")):
        names = [p.name for p in found]
        steps.append(
            Step(
                f"systemctl disable --now {' '.join(names)}",
                _run(["systemctl", "disable", "--now", *names]),
                system=True,
            )
        )
    steps += [Step(tr("remove {path}").format(path=path), path.unlink) for path in found]
    if found and (systemd_running() or root != Path("/")):
        steps.append(Step("systemctl daemon-reload", _run(["systemctl", "daemon-reload"]), system=True))
    return steps


def unit_values(path: Path, keys: Iterable[str]) -> dict[str, str]:
    """The first value of each of ``keys`` in the unit file at ``path``."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key in keys and key not in found:
            found[key] = value
    return found


def mode_of(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"
