"""The probes ``tillgw init`` runs to find and check a till's devices: those of ``tillgw diag``
(:mod:`tools.diag`), asked one device at a time and told in one line each.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.common.i18n import tr
from gateway.config import MqttConfig, parse_mqtt
from gateway.devices.control_units.kinds import UnitSettings
from tools.diag.checks import Check, Verdict
from tools.diag.checks.mqtt import check_mqtt
from tools.diag.checks.ports import serial_ports
from tools.diag.finding import Finding
from tools.diag.printer_probe import probe_printer
from tools.diag.scanner_watch import probe_scanner
from tools.diag.unit_probe import probe_control_unit, scan_control_units
from tools.install.answers import MqttAnswers

__all__ = [
    "Finding",
    "broker_check",
    "control_unit_finding",
    "found_control_units",
    "one_line",
    "printer_finding",
    "scanner_finding",
    "serial_ports",
]


async def found_control_units(pos_id: str) -> list[Finding]:
    """Every serial port of this machine asked, at once, whether a control unit answers on it."""
    ports = serial_ports()
    return [f for f in await scan_control_units(ports, pos_id) if f.answered] if ports else []


async def control_unit_finding(
    url: str, settings: dict[str, str], *, pos_id: str, orgnr: str, address: str, base: Path
) -> Finding:
    """The control unit at ``url``, asked who and how it is with the credentials in ``settings``."""

    def path_of(key: str) -> Path | None:
        return None if key not in settings else base / os.path.expanduser(settings[key])

    unit = UnitSettings(
        url=url,
        ca_cert=path_of("ca_cert"),
        client_cert=path_of("client_cert"),
        client_cert_password=settings.get("client_cert_password"),
        application_id=settings.get("application_id"),
        register_id=settings.get("register_id"),
        corporate_id=settings.get("corporate_id"),
        cash_register_name=settings.get("cash_register_name"),
        api_key=settings.get("api_key"),
    )
    return await probe_control_unit(unit, pos_id, orgnr=orgnr, address=address)


async def printer_finding(url: str) -> Finding:
    """The printer's status (online, paper, cover, drawer); it prints nothing."""
    return await probe_printer(url)


async def scanner_finding(url: str, seconds: float) -> Finding:
    """The scanner opened and listened to for ``seconds``, or until one code comes."""
    return await probe_scanner(url, seconds, count=1)


async def broker_check(mqtt: MqttAnswers, base: Path) -> Check:
    """A login at the broker, with the user name and password the till will use."""
    table: dict[str, object] = {"url": mqtt.url}
    if mqtt.username is not None:
        table["username"] = mqtt.username
    if mqtt.password is not None:
        table["password"] = mqtt.password
    config = parse_mqtt(table, base / "till.toml") or MqttConfig()
    return await check_mqtt(config)


def one_line(item: Finding | Check) -> str:
    """A finding or a check as a technician reads it: what, where, and what to do."""
    if isinstance(item, Check):
        text = tr("broker: {summary}").format(summary=item.summary)
        return f"{text} — {item.next_step}" if item.verdict is not Verdict.OK and item.next_step else text
    who = item.details.get("unit_id") or item.details.get("status") or ""
    text = tr("{device} at {url}: {reason}").format(device=tr(item.device), url=item.url, reason=item.reason)
    text += f" ({who})" if who and who != item.reason else ""
    if item.next_step and not item.usable and item.next_step not in text:
        text += f" — {item.next_step}"
    return text
