"""The devices' part of ``tillgw init``: a control unit looked for on every serial port, and
each device given checked with its probe (:mod:`tools.install.probing`) and told in one line.

A device that does not answer stops a script (``--no-probe`` writes it as given) and is
asked about at a terminal; a simulator of a demo that is not started yet is no trouble.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

from gateway.common.i18n import tr
from tools.diag.checks import Check
from tools.diag.finding import Finding
from tools.install import probing
from tools.install.answers import SIMULATED_CONTROL_UNIT
from tools.install.checks import control_unit_problem
from tools.install.questions import Asker, InitRefused

__all__ = [
    "SCANNER_LISTEN_SECONDS",
    "check_control_unit",
    "check_device",
    "check_scanner",
    "find_control_unit",
]

SCANNER_LISTEN_SECONDS = 10.0  # at the terminal: time to pick an item up and scan it


async def find_control_unit(asker: Asker, pos_id: str, *, auto: bool) -> str:
    asker.say(tr("looking for a control unit on every serial port …"))
    found = await probing.found_control_units(pos_id)
    for finding in found:
        asker.say(f"  {probing.one_line(finding)}")
    if auto:
        if len(found) != 1:
            where = (
                tr("none answered on the serial ports")
                if not found
                else tr("{count} answered on the serial ports: name one with --control-unit").format(
                    count=len(found)
                )
            )
            raise InitRefused(f"--control-unit auto: {where}", 1)
        return found[0].url
    if not found:
        asker.say("  " + tr("none answered on a serial port (a network or cloud unit: type its address)"))
    default = found[0].url if found else None
    return asker.text(
        None, "--control-unit", tr("The control unit's address"), default=default, check=control_unit_problem
    )


async def check_device(asker: Asker, probe: Awaitable[Finding | Check], flag: str, demo: bool) -> None:
    """A device's probe told in one line; one that is not usable stops a script (``--no-probe``
    writes it anyway) and is asked about at a terminal. A simulator not started yet is fine."""
    result = await probe
    line = probing.one_line(result)
    usable = result.usable if isinstance(result, Finding) else result.ok
    asker.say(f"  {line}")
    if usable or demo:
        return
    if not asker.interactive:
        raise InitRefused(
            tr("{flag}: {line}; give --no-probe to write it as it is").format(flag=flag, line=line), 1
        )
    if not asker.confirm(tr("Write it in the file all the same?")):
        raise InitRefused(
            tr("stopped: put the device right (or give its address) and run tillgw init again"), 1
        )


async def check_control_unit(
    asker: Asker,
    url: str,
    settings: dict[str, str],
    pos_id: str,
    orgnr: str,
    address: list[str],
    base: Path,
    simulators: bool,
) -> None:
    probe = probing.control_unit_finding(
        url, settings, pos_id=pos_id, orgnr=orgnr, address=", ".join(address), base=base
    )
    await check_device(asker, probe, "--control-unit", simulators and url == SIMULATED_CONTROL_UNIT)


async def check_scanner(asker: Asker, url: str) -> None:
    if asker.interactive:
        asker.say(
            "  "
            + tr("scan a barcode now: listening to {url} for {seconds} s").format(
                url=url, seconds=f"{SCANNER_LISTEN_SECONDS:g}"
            )
        )
    finding = await probing.scanner_finding(url, SCANNER_LISTEN_SECONDS if asker.interactive else 1.0)
    opened = finding.state != "failed"  # a script has no one to scan: the scanner opening is enough
    asker.say(f"  {probing.one_line(finding)}")
    if opened:
        return
    if not asker.interactive:
        raise InitRefused(
            tr("{flag}: {line}; give --no-probe to write it as it is").format(
                flag="--scanner", line=probing.one_line(finding)
            ),
            1,
        )
    if not asker.confirm(tr("Write it in the file all the same?")):
        raise InitRefused(tr("stopped: put the scanner right and run tillgw init again"), 1)
