"""``tillgw diag``: ask each device what it is and how it is, and say what to do next.

Each kind of device has a probe — an async function from an address to a
:class:`Finding` — and, for ``tillgw diag`` without addresses, a way to find candidates.
The control unit is the first; the printer and the scanner add a probe and a section
here, and the table, the JSON document and the exit code take them as they come.

Exit codes: 0 when every device asked for (or, when scanning, at least one found)
answered and can work; 1 when nothing answered or a unit cannot register receipts;
2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from gateway.devices.control_unit import open_control_unit
from gateway.devices.fiscal_unit import ControlUnitError
from gateway.devices.health import DeviceState
from gateway.devices.line import CCSP_PROTOCOL
from protocols.skv import FieldError, validate_orgnr, validate_pos_id

__all__ = [
    "Finding",
    "add_parser",
    "candidate_ports",
    "probe_control_unit",
    "run",
    "scan_control_units",
]

DEFAULT_POS_ID = "tillgw-diag"  # probes never register a receipt, so no real POS id is needed
PROBE_TIMEOUT = 1.0  # a unit answers IQ in well under a second
SCAN_TIMEOUT = 0.5  # per port while scanning: a unit that is there answers at once
PROBE_RETRIES = 1

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


@dataclass(slots=True)
class Finding:
    """What one probe learnt about one address."""

    device: str  # "control unit"; later "printer", "scanner"
    url: str
    answered: bool
    state: str  # a DeviceState value
    reason: str  # "ready", or "<state>: <what> — <what to do>"
    details: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None

    @property
    def usable(self) -> bool:
        return self.answered and self.state != DeviceState.FAILED.value


def _next_step(reason: str) -> str | None:
    """The part of a reason after the dash: what to do."""
    _, dash, step = reason.partition(" — ")
    return step if dash else None


async def probe_control_unit(
    url: str,
    pos_id: str = DEFAULT_POS_ID,
    *,
    orgnr: str | None = None,
    request_timeout: float = PROBE_TIMEOUT,
    retries: int = PROBE_RETRIES,
) -> Finding:
    """Handshake with a control unit at ``url``: identity, main and storage status.

    A serial or socket URL is asked in CCSP, an ``http://`` URL in XCCSP (which needs
    the shop's ``orgnr`` in every request).
    """
    options: dict[str, Any] = {
        "request_timeout": request_timeout,
        "retries": retries,
        "busy_timeout": request_timeout,
        "busy_poll": min(request_timeout, 0.25),
    }
    if not url.startswith(("http://", "https://")):
        options["protocol"] = CCSP_PROTOCOL
    driver = open_control_unit(url, pos_id, orgnr=orgnr, **options)
    try:
        identity = await driver.start()
    except ControlUnitError:
        return Finding(
            "control unit", url, False, driver.state.value, driver.reason, {}, _next_step(driver.reason)
        )
    finally:
        await driver.close()
    details: dict[str, Any] = {
        "unit_id": identity.unit_id,
        "protocol": identity.protocol_name,
        "protocol_version": identity.protocol_version,
        "firmware": identity.firmware,
    }
    status = driver.last_status
    if status is not None:
        details.update(
            main_status=int(status.main),
            main_status_words=status.main_words,
            storage_status=int(status.storage),
            storage_status_words=status.storage_words,
        )
    return Finding(
        "control unit", url, True, driver.state.value, driver.reason, details, _next_step(driver.reason)
    )


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


@dataclass(slots=True)
class Report:
    control_units: list[Finding]
    scanned: list[str] | None  # the ports tried when scanning; None for an explicit address
    problem: str | None  # words for the whole run when nothing usable answered

    @property
    def exit_code(self) -> int:
        return EXIT_PROBLEM if self.problem else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        found = (
            [f for f in self.control_units if f.answered] if self.scanned is not None else self.control_units
        )
        return {
            "ok": self.problem is None,
            "problem": self.problem,
            "scanned": self.scanned,
            "control_units": [asdict(f) for f in found],
        }


async def diagnose(args: argparse.Namespace) -> Report:
    if args.control_unit:
        timeout = args.timeout or PROBE_TIMEOUT
        findings = [
            await probe_control_unit(url, args.pos_id, orgnr=args.orgnr, request_timeout=timeout)
            for url in args.control_unit
        ]
        bad = [f for f in findings if not f.usable]
        problem = None
        if bad:
            problem = "; ".join(
                f"{f.url}: {'nothing answered' if not f.answered else 'cannot register receipts'} "
                f"({f.reason})"
                for f in bad
            )
        return Report(findings, None, problem)

    ports = candidate_ports(args.scan_pattern)
    if not ports:
        where = " or ".join(args.scan_pattern) if args.scan_pattern else "this machine"
        return Report(
            [],
            [],
            f"no serial ports found on {where} — plug the control unit in (USB or serial cable), "
            "or give its address with --control-unit URL",
        )
    findings = await scan_control_units(ports, args.pos_id, request_timeout=args.timeout or SCAN_TIMEOUT)
    if not any(f.usable for f in findings):
        answered = [f for f in findings if f.answered]
        if answered:
            problem = "; ".join(f"{f.url}: {f.reason}" for f in answered)
        else:
            problem = (
                f"no control unit answered on {len(ports)} port(s) ({', '.join(ports)}) — check that it is "
                "plugged in and powered, then try `tillgw diag --control-unit /dev/ttyUSB0` with its port"
            )
        return Report(findings, ports, problem)
    return Report(findings, ports, None)


def render(report: Report, console: Console) -> None:
    """The human table of what answered, then what did not and what to do."""
    if report.scanned is not None:
        console.print(f"scanned {len(report.scanned)} port(s): {', '.join(report.scanned) or 'none'}")
    for f in report.control_units:
        if not f.answered:
            continue
        # One narrow two-column table per unit: it fits a till's terminal.
        d = f.details
        table = Table(title=f"Control unit at {f.url}", show_header=False, title_justify="left")
        table.add_column("what", style="bold")
        table.add_column("value", overflow="fold")
        for name, value in (
            ("state", f.reason),
            ("unit id", d.get("unit_id", "?")),
            ("protocol", d.get("protocol", "?")),
            ("firmware", d.get("firmware", "?")),
            ("unit status", d.get("main_status_words", "?")),
            ("journal memory", d.get("storage_status_words", "?")),
        ):
            table.add_row(name, str(value))
        console.print(table)
    if report.scanned is None:
        for f in report.control_units:
            if not f.answered:
                console.print(f"[bold red]{f.url}: nothing answered[/] ({f.reason})", highlight=False)
    if report.problem:
        if report.scanned is not None or any(f.answered for f in report.control_units):
            console.print(f"[bold red]problem:[/] {report.problem}", highlight=False)
        steps = [f.next_step for f in report.control_units if f.next_step and not f.usable]
        if steps and report.scanned is None:  # a scan's problem already says what to do
            console.print(f"[bold]next step:[/] {steps[0]}", highlight=False)
    else:
        console.print("[green]OK: every device answered[/]")


def run(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout <= 0:
        print("error: --timeout must be more than 0 seconds", file=sys.stderr)
        return EXIT_USAGE
    try:
        validate_pos_id(args.pos_id)
    except FieldError as exc:
        print(f"error: --pos-id: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    xccsp = [u for u in args.control_unit or () if u.startswith(("http://", "https://"))]
    if xccsp and args.orgnr is None:
        print(
            f"error: {xccsp[0]} speaks XCCSP, which needs --orgnr (the shop's organisationsnummer)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.orgnr is not None:
        try:
            validate_orgnr(args.orgnr)
        except FieldError as exc:
            print(f"error: --orgnr: {exc.reason}", file=sys.stderr)
            return EXIT_USAGE
    report = asyncio.run(diagnose(args))
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        render(report, Console(file=sys.stdout, soft_wrap=True))
    return report.exit_code


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diag = subparsers.add_parser(
        "diag",
        help="check the devices: who they are, how they are, what to do",
        description=(
            "Ask each device what it is and how it is. With no address, scan the serial ports "
            "this machine has (or those matching --scan-pattern) for a control unit. "
            "A scan sends a short CCSP identity query to each port. Exits 1 when nothing answers."
        ),
    )
    diag.add_argument(
        "--control-unit",
        action="append",
        metavar="URL",
        help=(
            "the control unit's address: /dev/ttyUSB0, /dev/pts/N, socket://HOST:PORT (CCSP), "
            "http://HOST:PORT/xccsp (XCCSP) (repeatable)"
        ),
    )
    diag.add_argument(
        "--orgnr",
        metavar="NNNNNN-NNNN",
        help="the shop's organisationsnummer; needed for an XCCSP unit, whose every request carries it",
    )
    diag.add_argument(
        "--pos-id",
        default=DEFAULT_POS_ID,
        help=f"the register's POS id (default {DEFAULT_POS_ID}; probes never register a receipt)",
    )
    diag.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"per request (default {PROBE_TIMEOUT:g} s, {SCAN_TIMEOUT:g} s per port when scanning)",
    )
    diag.add_argument(
        "--scan-pattern",
        action="append",
        default=[],
        metavar="GLOB",
        help="scan these paths instead of the system's serial ports (e.g. '/dev/ttyUSB*'; repeatable)",
    )
    diag.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    diag.set_defaults(handler=run)
