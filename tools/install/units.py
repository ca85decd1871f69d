"""The systemd units of a till: ``tillgw.service`` (``tillgw run``) and ``tillgw-sync.service``
(``tillgw sync``), each for one config file, run as the till's own system user.

Restart: a crash loses nothing (docs/fiscal-path.md), so the till is started again after
``RESTART_SECONDS``; a start the till refuses (a lost key, a damaged journal) exits with 1
in a second, and after ``START_BURST`` such starts within ``START_INTERVAL_SECONDS`` systemd
stops trying, leaving the refusal's one ``error:`` line at the end of ``journalctl -u``
instead of repeating it for ever. A config the till cannot read exits with 2, which no
restart mends: ``RestartPreventExitStatus=2``.

Hardening: the system read-only but for the data directory, no privileges to gain, no
capabilities, home directories hidden, and the address families the bus, the API and
network printers use. Device access is left whole on purpose: ``PrivateDevices=`` would
hide ``/dev/ttyUSB*``, ``/dev/ttyACM*`` and ``/dev/bus/usb``, and ``ProtectClock=`` brings
a device allow-list (the real-time clock only) that shuts the serial ports out. The user
reaches the serial ports as a member of ``dialout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RESTART_SECONDS",
    "SYNC_UNIT",
    "TILL_UNIT",
    "UnitPlan",
    "sync_unit",
    "till_unit",
    "unit_word",
]

TILL_UNIT = "tillgw.service"
SYNC_UNIT = "tillgw-sync.service"
RESTART_SECONDS = 5  # long enough for a USB adapter replugged to settle, short for a shop waiting
START_BURST = 5
START_INTERVAL_SECONDS = 300
CONFIG_ERROR_STATUS = 2  # `tillgw run` and `tillgw sync` on a config they cannot read

_HARDENING = """\
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
UMask=0077
"""


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """What the units say: who runs what, on which file, writing where."""

    executable: Path
    config: Path
    user: str
    groups: tuple[str, ...]  # supplementary: dialout for the serial ports
    till_writes: tuple[Path, ...]  # the till's data directory
    sync_writes: tuple[Path, ...]  # the sync module's inbox, SIE and log folders
    register: str | None = None  # for the description: "register KASSA-1"


def unit_word(text: str) -> str:
    """``text`` as one word of a unit file: ``%`` is a specifier, so it is doubled."""
    return text.replace("%", "%%")


def _paths(paths: Sequence[Path]) -> str:
    return " ".join(unit_word(str(p)) for p in dict.fromkeys(paths))


def _unit(
    description: str, command: str, plan: UnitPlan, writes: Sequence[Path], groups: Sequence[str]
) -> str:
    lines = [
        "# Written by tillgw service install; tillgw service uninstall removes it.",
        "[Unit]",
        f"Description={description}",
        "After=network-online.target mosquitto.service",
        "Wants=network-online.target",
        f"StartLimitIntervalSec={START_INTERVAL_SECONDS}",
        f"StartLimitBurst={START_BURST}",
        "",
        "[Service]",
        "Type=exec",
        f"User={plan.user}",
        f"Group={plan.user}",
    ]
    if groups:
        lines.append(f"SupplementaryGroups={' '.join(groups)}")
    lines += [
        f"ExecStart={unit_word(str(plan.executable))} {command} --config {unit_word(str(plan.config))}",
        f"WorkingDirectory={unit_word(str(writes[0]))}",
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        f"RestartSec={RESTART_SECONDS}s",
        f"RestartPreventExitStatus={CONFIG_ERROR_STATUS}",
        "TimeoutStopSec=30s",
        f"ReadWritePaths={_paths(writes)}",
        _HARDENING.rstrip("\n"),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def till_unit(plan: UnitPlan) -> str:
    which = f" (register {plan.register})" if plan.register else ""
    return _unit(f"tillgw till service{which}", "run", plan, plan.till_writes, plan.groups)


def sync_unit(plan: UnitPlan) -> str:
    # The sync module talks to the broker and the ERPs only: no serial ports, no dialout.
    return _unit("tillgw ERP sync module", "sync", plan, plan.sync_writes, ())
