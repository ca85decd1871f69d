"""The control unit's probe for ``tillgw diag``: identity, status, licences and line speed.

:func:`probe_control_unit` asks one address in the protocol of its kind;
:func:`scan_control_units` asks every serial port at once, for ``tillgw diag`` with no
address.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.common.i18n import N_, tr
from gateway.devices.control_units.interface import ControlUnitError
from gateway.devices.control_units.kinds import (
    CREDENTIAL_SETTINGS,
    UnitKind,
    UnitSettings,
    open_unit,
    public_url,
)
from tools.diag.finding import DEFAULT_POS_ID, PROBE_TIMEOUT, SCAN_TIMEOUT, Finding, next_step_of

__all__ = [
    "candidate_ports",
    "probe_control_unit",
    "scan_control_units",
    "unit_settings",
    "units_problem",
]

PROBE_RETRIES = 1
PROBE_ADDRESS = "tillgw diag"  # TCS wants a place of sale with every request; a probe registers nothing


async def probe_control_unit(
    target: str | UnitSettings,
    pos_id: str = DEFAULT_POS_ID,
    *,
    orgnr: str | None = None,
    address: str = "",
    request_timeout: float = PROBE_TIMEOUT,
    retries: int = PROBE_RETRIES,
) -> Finding:
    """Handshake with a control unit: identity, status, licences and line speed.

    ``target`` is its address, or the settings of one (the kind, its credentials, the
    line speed). A serial or socket address is asked in CCSP (every speed it may speak at
    unless one is set); an HTTP address in the kind it names, with the shop's ``orgnr``.
    """
    settings = UnitSettings(url=target) if isinstance(target, str) else target
    settings = dataclasses.replace(settings, request_timeout=request_timeout, retries=retries)
    assert settings.url is not None
    shown = public_url(settings.url)  # never a password in a finding
    try:
        driver = open_unit(
            settings,
            pos_id,
            orgnr=orgnr or "",
            address=address or PROBE_ADDRESS,
            busy_timeout=request_timeout,
            busy_poll=min(request_timeout, 0.25),
        )
    except ValueError as exc:
        reason = f"cannot ask the control unit at {shown}: {exc}"
        return Finding("control unit", shown, False, "failed", reason, {}, next_step_of(reason))
    try:
        identity = await driver.start()
    except ControlUnitError:
        reason = driver.reason
        answered = not _nothing_came_back(reason)  # a refusal or an unusable answer did come back
        return Finding(
            "control unit", driver.url, answered, driver.state.value, reason, {}, next_step_of(reason)
        )
    finally:
        await driver.close()
    details: dict[str, Any] = {
        "unit_id": identity.unit_id,
        "protocol": identity.protocol_name,
        "protocol_version": identity.protocol_version,
        "firmware": identity.firmware,
    }
    if identity.licences is not None:
        details["licences"] = identity.licences
    if identity.protocol == "srv4pos":
        # Nothing was asked: srv4pos publishes no call that answers without registering.
        details["note"] = (
            "srv4pos has no status call: the address, corporate id and API key are proven by the first sale"
        )
    if identity.line:
        details["line"] = identity.line  # the speed it answered at
    status = driver.last_status
    if status is not None:
        details.update(
            main_status=int(status.main),
            main_status_words=status.main_words,
            storage_status=None if status.storage is None else int(status.storage),
            storage_status_words=status.storage_words,
        )
        if status.detail:
            details["status_detail"] = status.detail
    return Finding(
        "control unit",
        driver.url,
        True,
        driver.state.value,
        driver.reason,
        details,
        next_step_of(driver.reason),
    )


_SILENCE = (N_("no answer"), N_("cannot open"), N_("cannot connect"), N_("was lost"), N_("took longer than"))


def _nothing_came_back(reason: str) -> bool:
    """Whether a failed handshake's words say that nothing at all came back (in the till's
    language, or in English from a driver whose words are not translated)."""
    return any(words in reason or tr(words) in reason for words in _SILENCE)


def unit_settings(args: argparse.Namespace, url: str, base: UnitSettings | None = None) -> UnitSettings:
    """The settings to probe ``url`` with: the config's (``base``), with what the flags say."""
    settings = dataclasses.replace(base, url=url) if base is not None else UnitSettings(url=url)
    changes: dict[str, Any] = {}
    for name in ("kind", "baudrate", *CREDENTIAL_SETTINGS):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if "kind" in changes:
        changes["kind"] = UnitKind(changes["kind"])
    for name in ("ca_cert", "client_cert"):
        if name in changes:
            changes[name] = Path(changes[name])
    return dataclasses.replace(settings, **changes)


def candidate_ports(patterns: Sequence[str] = ()) -> list[str]:
    """Serial ports to try: those the system lists, or those matching ``patterns``."""
    if patterns:
        found = [path for pattern in patterns for path in sorted(glob.glob(pattern))]
    else:
        from serial.tools import list_ports

        found = sorted(str(port.device) for port in list_ports.comports())
    return list(dict.fromkeys(found))  # in order, each once


async def scan_control_units(
    ports: Sequence[str], pos_id: str = DEFAULT_POS_ID, *, request_timeout: float = SCAN_TIMEOUT
) -> list[Finding]:
    """Probe every port at once (each has its own owner); one short try each."""
    return list(
        await asyncio.gather(
            *(probe_control_unit(p, pos_id, request_timeout=request_timeout, retries=0) for p in ports)
        )
    )


def units_problem(findings: Sequence[Finding]) -> str | None:
    """The control units' trouble in words (None when each can register): silent, or why it cannot."""
    bad = [f for f in findings if not f.usable]
    if not bad:
        return None
    return "; ".join(
        (
            tr("{url}: nothing answered ({reason})")
            if not f.answered
            else tr("{url}: cannot register receipts ({reason})")
        ).format(url=f.url, reason=f.reason)
        for f in bad
    )
