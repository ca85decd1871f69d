"""``tillgw diag``: ask each device what it is and how it is, and say what to do next.

Each kind of device has a probe — an async function from an address to a
:class:`Finding` — and, for ``tillgw diag`` without addresses, a way to find candidates.
The control unit is the first; the printer and the scanner add a probe and a section
here, and the table, the JSON document and the exit code take them as they come.

Exit codes: 0 when every device asked for (or, when scanning, at least one found)
answered and can work; 1 when nothing answered, a unit cannot register receipts, or a
printer is not ready (out of paper, cover open, …) or failed its test page or drawer kick;
2 for a usage error.

With ``--config`` and no device address, or ``--all``, it runs every check a technician
makes: the config's control unit and printer, then :mod:`tools.diag.checks` (serial
ports, USB devices, the MQTT broker and login, the journal chain, disk space for the
journal, the registration); any check not ``ok`` makes the exit code 1. See docs/diag.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import glob
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.cli.run import add_data_arguments, config_from_args
from gateway.common.health import DeviceState
from gateway.config import Config, ConfigError
from gateway.devices.drawer import Drawer, OpenLevel
from gateway.devices.fiscal_unit import ControlUnitError
from gateway.devices.hid_scanner import DeviceSelector
from gateway.devices.printer import Outcome, PrinterDriver, PrinterUnavailable
from gateway.devices.scanner import ScanEvent, ScannerEvent, SerialScannerConfig, open_scanner
from gateway.devices.unit_kinds import CCSP_BAUDRATES, UnitKind, UnitSettings, open_unit, public_url
from gateway.till import TillFiles
from protocols import escpos
from protocols.scanner import Terminator
from protocols.skv import FieldError, validate_orgnr, validate_pos_id
from tools.diag.checks import Check, Verdict
from tools.diag.checks.file_modes import check_file_modes
from tools.diag.checks.journal import check_disk, check_journal
from tools.diag.checks.mqtt import check_mqtt
from tools.diag.checks.ports import SERIAL_PATTERNS, check_serial_ports, check_usb, serial_ports
from tools.diag.checks.registration import check_registration

__all__ = [
    "Finding",
    "add_parser",
    "candidate_ports",
    "probe_control_unit",
    "probe_printer",
    "probe_scanner",
    "run",
    "scan_control_units",
    "test_page",
]

DEFAULT_POS_ID = "tillgw-diag"  # probes never register a receipt, so no real POS id is needed
PROBE_TIMEOUT = 1.0  # a unit answers IQ in well under a second
SCAN_TIMEOUT = 0.5  # per port while scanning: a unit that is there answers at once
PROBE_RETRIES = 1
PROBE_ADDRESS = "tillgw diag"  # TCS wants a place of sale with every request; a probe registers nothing

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
        return Finding("control unit", shown, False, "failed", reason, {}, _next_step(reason))
    try:
        identity = await driver.start()
    except ControlUnitError:
        reason = driver.reason
        answered = not _nothing_came_back(reason)  # a refusal or an unusable answer did come back
        return Finding(
            "control unit", driver.url, answered, driver.state.value, reason, {}, _next_step(reason)
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
        _next_step(driver.reason),
    )


_SILENCE = ("no answer", "cannot open", "cannot connect", "was lost", "took longer than")


def _nothing_came_back(reason: str) -> bool:
    """Whether a failed handshake's words say that nothing at all came back."""
    return any(words in reason for words in _SILENCE)


def unit_settings(args: argparse.Namespace, url: str, base: UnitSettings | None = None) -> UnitSettings:
    """The settings to probe ``url`` with: the config's (``base``), with what the flags say."""
    settings = dataclasses.replace(base, url=url) if base is not None else UnitSettings(url=url)
    changes: dict[str, Any] = {}
    for name in (
        "kind",
        "baudrate",
        "ca_cert",
        "client_cert",
        "client_cert_password",
        "application_id",
        "register_id",
        "corporate_id",
        "cash_register_name",
        "api_key",
    ):
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


READ_SECONDS = 10.0  # how long `--scanner` listens by default: time to pick up a few items
_CONTROL_NAMES = {0x1D: "GS", 0x1E: "RS", 0x04: "EOT", 0x02: "STX", 0x03: "ETX", 0x09: "TAB"}


def visible_code(code: str) -> str:
    """A code as a terminal can show it: ``<GS>`` for the GS1 separator, ``\\xNN`` for other controls."""
    out = []
    for ch in code:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"<{_CONTROL_NAMES[ord(ch)]}>" if ord(ch) in _CONTROL_NAMES else f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _scan_summary(event: ScanEvent) -> dict[str, Any]:
    document = event.to_json()
    return {key: document[key] for key in ("code", "kind", "valid", "in_store", "at")}


async def probe_scanner(
    url: str,
    seconds: float = READ_SECONDS,
    *,
    count: int | None = None,
    on_listening: Callable[[str], None] | None = None,
    on_event: Callable[[ScannerEvent], None] | None = None,
) -> Finding:
    """Open the scanner at ``url`` and collect what is scanned within ``seconds``.

    A serial or TCP scanner is read with tolerant framing (CR, LF or CR LF ends a code,
    no prefix or suffix expected), so whatever the scanner wraps its codes in shows in
    the code. ``count`` stops after that many scans. ``on_listening`` is told once the
    scanner is open — the moment to scan — and ``on_event`` of every event as it comes.
    ``answered`` means at least one code arrived.
    """
    options: dict[str, Any] = {}
    if not url.startswith("evdev:"):
        options["config"] = SerialScannerConfig(Terminator.CRLF)
    try:
        driver = open_scanner(url, **options)
    except ValueError as exc:
        reason = f"failed: {exc}"
        return Finding("scanner", url, False, DeviceState.FAILED.value, reason, {}, _next_step(reason))
    scans: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    async with driver:
        events = driver.subscribe()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                health = await driver.wait_for(DeviceState.READY, DeviceState.FAILED)
                if health.state is DeviceState.READY:
                    if on_listening is not None:
                        on_listening(
                            f"listening to the scanner at {url} for {seconds:g} s — scan a barcode now"
                        )
                    async for event in events:
                        if on_event is not None:
                            on_event(event)
                        if isinstance(event, ScanEvent):
                            scans.append(_scan_summary(event))
                        else:
                            document = event.to_json()
                            rejected.append({"reason": document["reason"], "head": document["head"]})
                        if count is not None and len(scans) >= count:
                            break
        state, reason = driver.state, driver.reason
        device = getattr(driver, "device_info", None)
    details: dict[str, Any] = {"read_seconds": seconds, "scans": scans, "rejected": rejected}
    if device is not None:
        details["device"] = {
            "name": device.name,
            "path": device.path,
            "usb_id": f"{device.vendor:04x}:{device.product:04x}",
        }
    next_step = _next_step(reason)
    if state is DeviceState.READY and not scans:
        mode = "USB keyboard (HID)" if url.startswith("evdev:") else "serial (USB COM)"
        next_step = (
            "check the scanner's terminator, prefix and suffix settings"
            if rejected
            else f"scan a barcode while diag listens; if nothing arrives, check the cable and that the "
            f"scanner is set to {mode} mode"
        )
    return Finding("scanner", url, bool(scans), state.value, reason, details, next_step)


def _scanners_problem(findings: Sequence[Finding]) -> str | None:
    troubles = []
    for f in findings:
        if f.usable:
            continue
        if f.state != DeviceState.READY.value:
            troubles.append(f"{f.url}: cannot read the scanner ({f.reason})")
        elif f.details.get("rejected"):
            first = f.details["rejected"][0]["reason"]
            troubles.append(f"{f.url}: only rejected lines arrived ({first})")
        else:
            troubles.append(f"{f.url}: nothing was scanned within {f.details['read_seconds']:g} s")
    return "; ".join(troubles) or None


PRINT_WAIT = 10.0  # a test page on a ready printer is out in a second or two
KICK_SETTLE = 1.0  # a drawer's sensor changes within a few tenths of a second of the pulse
_SENSOR_POLL = 0.1


def test_page(url: str, when: datetime) -> bytes:
    """The diag's own test receipt: a title, the Swedish letters, the date, a barcode.

    Code table CP437, the power-on table of nearly every ESC/POS printer, carries all of
    Å Ä Ö å ä ö, so a page with the letters wrong points at the printer's settings.
    """
    table = escpos.CodeTable.CP437

    def text(line: str) -> bytes:
        return escpos.encode_text(line + "\n", table, policy=escpos.EncodePolicy.REPLACE)

    return b"".join(
        [
            escpos.initialise(),
            escpos.select_code_table(table),
            escpos.align(escpos.Alignment.CENTRE),
            escpos.bold(),
            escpos.double_height(),
            text("TILLGW TESTSIDA"),
            escpos.normal_size(),
            escpos.bold(False),
            escpos.align(escpos.Alignment.LEFT),
            text("Svenska tecken: ÅÄÖ åäö"),
            text(f"Datum: {when:%Y-%m-%d %H:%M}"),
            text(f"Skrivare: {url}"),
            escpos.align(escpos.Alignment.CENTRE),
            escpos.barcode(escpos.BarcodeSystem.CODE128, "TILLGW-TEST", height=60, width=2),
            escpos.cut(feed=3),
        ]
    )


async def probe_printer(
    url: str,
    *,
    test_print: bool = False,
    kick: bool = False,
    open_level: OpenLevel | str = OpenLevel.HIGH,
    request_timeout: float = PROBE_TIMEOUT,
) -> Finding:
    """Ask a printer its status (online, paper, cover, drawer); optionally print
    :func:`test_page` and kick the drawer, watching the drawer sensor change.

    A test page that does not print, or a kick the sensor does not follow, makes the
    finding ``failed`` with what to do; the printer's own state stays in ``details``.
    """
    driver = PrinterDriver(url, status_timeout=request_timeout, poll_interval=0.1, resend_limit=1)
    drawer = Drawer(driver, open_level=open_level, sensor_poll=_SENSOR_POLL)
    try:
        try:
            condition = await driver.status()
        except PrinterUnavailable:
            return Finding(
                "printer", url, False, driver.state.value, driver.reason, {}, _next_step(driver.reason)
            )
        details: dict[str, Any] = {
            "online": condition.online,
            "paper": condition.paper_words,
            "cover": "open" if condition.offline_cause.cover_open else "closed",
            "drawer": "open" if drawer.is_open_in(condition) else "closed",
            "drawer_sensor": "high" if condition.printer.drawer_pin3_high else "low",
            "status": driver.reason,
            "flags": condition.flags(),
        }
        problems: list[str] = []
        if condition.online and test_print:
            problems += await _print_test_page(driver, details)
        if condition.online and kick:
            problems += await _kick_drawer(drawer, details)
    finally:
        await driver.close()
    if problems:
        reason = f"failed: {problems[0]}"
        return Finding("printer", url, True, DeviceState.FAILED.value, reason, details, _next_step(reason))
    return Finding(
        "printer", url, True, driver.state.value, driver.reason, details, _next_step(driver.reason)
    )


async def _print_test_page(driver: PrinterDriver, details: dict[str, Any]) -> list[str]:
    job = driver.submit(test_page(driver.url, datetime.now()))
    try:
        async with asyncio.timeout(PRINT_WAIT):
            result = await job
    except TimeoutError:
        job.cancel()
        words = f"the test page did not print within {PRINT_WAIT:g} s ({driver.reason})"
        details["test_print"] = {"outcome": "not printed", "reason": words, "sends": job.sends}
        return [f"{words} — see what the printer shows and try again"]
    details["test_print"] = {"outcome": result.outcome.value, "reason": result.reason, "sends": result.sends}
    if result.outcome is Outcome.PRINTED:
        return []
    return [f"the test page may not have printed: {result.reason}"]


async def _kick_drawer(drawer: Drawer, details: dict[str, Any]) -> list[str]:
    condition = drawer.printer.condition
    before = drawer.is_open_in(condition) if condition is not None else None
    if before:
        details["kick"] = {
            "outcome": "not sent",
            "reason": "the drawer is already open",
            "drawer_before": "open",
        }
        return ["the drawer is already open, so a kick could not be seen — close it and try again"]
    result = await drawer.open_drawer()
    after = result.drawer_open
    if result.sent and after == before:
        # A real drawer's sensor follows the pulse a little later: ask for a moment.
        with contextlib.suppress(TimeoutError, PrinterUnavailable):
            async with asyncio.timeout(KICK_SETTLE):
                while after == before:
                    await asyncio.sleep(_SENSOR_POLL)
                    after = await drawer.drawer_open()
    words = {True: "open", False: "closed", None: "unknown"}
    details["kick"] = {
        "outcome": result.outcome.value,
        "reason": result.reason,
        "drawer_before": words[before],
        "drawer_after": words[after],
        "sensor_changed": result.sent and after != before,
    }
    if not result.sent:
        return [result.reason]
    if after == before:
        return [
            "the drawer sensor did not change after the kick — if the drawer opened, set "
            "--drawer-open-level the other way or check its sensor wire; if it did not, check the "
            "drawer's cable in the printer's drawer port"
        ]
    return []


def _printers_problem(findings: Sequence[Finding]) -> str | None:
    troubles = [
        f"{f.url}: {'nothing answered' if not f.answered else 'not ready'} ({f.reason})"
        for f in findings
        if not f.usable
    ]
    return "; ".join(troubles) or None


@dataclass(slots=True)
class Report:
    control_units: list[Finding]
    scanned: list[str] | None  # the ports tried when scanning; None for an explicit address
    problem: str | None  # words for the whole run when nothing usable answered
    scanners: list[Finding] = field(default_factory=list)  # each scanner asked for with --scanner
    printers: list[Finding] = field(default_factory=list)  # each printer asked for with --printer
    checks: list[Check] = field(
        default_factory=list
    )  # with --all: ports, USB, bus, journal, disk, registration

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
            "scanners": [asdict(f) for f in self.scanners],
            "printers": [asdict(f) for f in self.printers],
            "checks": [c.to_json() for c in self.checks],
        }


async def diagnose(args: argparse.Namespace, config: Config | None = None) -> Report:
    if config is not None:
        return await _diagnose_all(args, config)
    if not args.scanner and not args.printer:
        return await _diagnose_control_units(args)
    # --scanner, --printer: those, and control units only when they are asked for too.
    report = await _diagnose_control_units(args) if args.control_unit else Report([], None, None)
    report.printers = [
        await probe_printer(
            url,
            test_print=args.test_print,
            kick=args.kick,
            open_level=args.drawer_open_level,
            request_timeout=args.timeout or PROBE_TIMEOUT,
        )
        for url in args.printer or ()
    ]
    read = args.read if args.read is not None else READ_SECONDS
    report.scanners = [
        await probe_scanner(url, read, count=args.count, on_listening=_tell, on_event=_tell_event)
        for url in args.scanner or ()
    ]
    problems = [
        p
        for p in (report.problem, _printers_problem(report.printers), _scanners_problem(report.scanners))
        if p
    ]
    report.problem = "; ".join(problems) or None
    return report


def _tell(text: str) -> None:
    """Progress for whoever stands at the till: on stderr, so --json output stays one document."""
    print(text, file=sys.stderr, flush=True)


def _tell_event(event: ScannerEvent) -> None:
    if isinstance(event, ScanEvent):
        check = {True: "check digit ok", False: "check digit WRONG", None: "no check digit"}[event.valid]
        _tell(f"scanned {visible_code(event.code)} ({event.kind.value}, {check})")
    else:
        _tell(f"rejected: {event.reason}")


async def _diagnose_control_units(args: argparse.Namespace) -> Report:
    if args.control_unit:
        timeout = args.timeout or PROBE_TIMEOUT
        findings = [
            await probe_control_unit(
                unit_settings(args, url), args.pos_id, orgnr=args.orgnr, request_timeout=timeout
            )
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


async def erp_checks(args: argparse.Namespace) -> list[Check]:
    """The ERPs the config file's ``[sync]`` names, each asked once (none without a file or [sync])."""
    path = getattr(args, "config", None)
    if path is None:
        return []
    from gateway.config import read_toml
    from gateway.sync.config import ERP_SECTIONS, load_sync_config
    from tools.diag.checks.erp import check_erps

    try:
        section = read_toml(Path(path)).get("sync")
        if not isinstance(section, dict) or not set(section) & set(ERP_SECTIONS):
            return []  # a till's own file, or a sync module that books in SIE files only
        sync = load_sync_config(Path(path))
    except ConfigError as exc:
        return [Check("erp", Verdict.PROBLEM, f"the sync module's settings cannot be read: {exc}", {}, None)]
    return await check_erps(sync)


async def _diagnose_all(args: argparse.Namespace, config: Config) -> Report:
    """Everything a technician checks: the config's devices, then ports, USB, bus, journal, disk
    and registration. Each problem comes with its next step."""
    timeout = args.timeout or PROBE_TIMEOUT
    ports = serial_ports(args.scan_pattern or SERIAL_PATTERNS)
    unit_urls = args.control_unit or ([config.control_unit.url] if config.control_unit.url else [])
    if unit_urls:
        findings = [
            await probe_control_unit(
                unit_settings(args, url, config.control_unit),
                config.pos_id,
                orgnr=config.shop.orgnr,
                address=", ".join(config.shop.address),
                request_timeout=timeout,
            )
            for url in unit_urls
        ]
        report = Report(findings, None, _units_problem(findings))
    else:  # the demo's unit is simulated: look for a real one on the ports
        findings = await scan_control_units(
            ports, config.pos_id, request_timeout=args.timeout or SCAN_TIMEOUT
        )
        problem = (
            None if any(f.usable for f in findings) else "no control unit answered on this machine's ports"
        )
        report = Report(findings, ports, problem)
    printer_urls = args.printer or ([config.printer.url] if config.printer and config.printer.url else [])
    level = config.printer.drawer_open_level if config.printer else args.drawer_open_level
    report.printers = [
        await probe_printer(
            url, test_print=args.test_print, kick=args.kick, open_level=level, request_timeout=timeout
        )
        for url in printer_urls
    ]
    read = args.read if args.read is not None else READ_SECONDS
    report.scanners = [
        await probe_scanner(url, read, count=args.count, on_listening=_tell, on_event=_tell_event)
        for url in args.scanner or ()
    ]
    answered = {f.url: f"control unit {f.details['unit_id']}" for f in findings if "unit_id" in f.details}
    unit_id = next((f.details["unit_id"] for f in findings if "unit_id" in f.details), None)
    files = TillFiles(config.data_dir)
    report.checks = [
        check_serial_ports(ports, answered),
        check_usb(),
        await check_mqtt(config.mqtt),
        check_journal(files),
        check_disk(files),
        check_file_modes(files),
        check_registration(config, unit_id),
        *await erp_checks(args),
    ]
    problems = [
        report.problem,
        _printers_problem(report.printers),
        _scanners_problem(report.scanners),
        *(f"{c.name}: {c.summary}" for c in report.checks if not c.ok),
    ]
    report.problem = "; ".join(p for p in problems if p) or None
    return report


def _units_problem(findings: Sequence[Finding]) -> str | None:
    bad = [f for f in findings if not f.usable]
    if not bad:
        return None
    return "; ".join(
        f"{f.url}: {'nothing answered' if not f.answered else 'cannot register receipts'} ({f.reason})"
        for f in bad
    )


def _render_checks(checks: Sequence[Check], console: Console) -> None:
    """One row per check: its verdict, what it found, and the next step when it is not ok."""
    table = Table(title="Checks", title_justify="left")
    for column in ("check", "verdict", "found", "next step"):
        table.add_column(column, overflow="fold")
    colour = {"ok": "green", "warning": "yellow", "problem": "bold red"}
    for c in checks:
        verdict = f"[{colour[c.verdict.value]}]{c.verdict.value}[/]"
        table.add_row(c.name, verdict, escape(c.summary), escape(c.next_step or ""))
    console.print(table)
    for c in checks:
        if c.name == "serial ports":
            for port in c.details["ports"]:
                console.print(escape(f"  {port['path']}: {port['is']}"), highlight=False)
        if c.name == "usb":
            for device in c.details.get("devices", []):
                names = " ".join(n for n in (device["manufacturer"], device["product"]) if n)
                console.print(
                    escape(f"  usb {device['is']}{f' ({names})' if names else ''}"), highlight=False
                )


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
            ("unit id", d.get("unit_id")),
            ("protocol", d.get("protocol")),
            ("firmware", d.get("firmware")),
            ("line speed", d.get("line")),
            ("licences", d.get("licences")),
            ("unit status", d.get("main_status_words")),
            ("status detail", d.get("status_detail")),
            ("journal memory", d.get("storage_status_words")),
            ("note", d.get("note")),
        ):
            if value is not None and value != "":
                table.add_row(name, escape(str(value)))
        console.print(table)
    if report.scanned is None:
        for f in report.control_units:
            if not f.answered:
                console.print(
                    f"[bold red]{escape(f.url)}: nothing answered[/] ({escape(f.reason)})", highlight=False
                )
    for f in report.printers:
        _render_printer(f, console)
    for f in report.scanners:
        _render_scanner(f, console)
    if report.checks:
        _render_checks(report.checks, console)
    if report.problem:
        others = report.checks or report.scanners or any(f.answered for f in report.printers)
        if report.scanned is not None or any(f.answered for f in report.control_units) or others:
            console.print(f"[bold red]problem:[/] {escape(report.problem)}", highlight=False)
        steps = [
            f.next_step
            for f in [*report.control_units, *report.printers, *report.scanners]
            if f.next_step and not f.usable
        ]
        if steps and report.scanned is None:  # a scan's problem already says what to do
            console.print(f"[bold]next step:[/] {escape(steps[0])}", highlight=False)
        for c in report.checks:
            if c.next_step and not c.ok:
                console.print(f"[bold]next step ({c.name}):[/] {escape(c.next_step)}", highlight=False)
    else:
        console.print("[green]OK: every device answered[/]")


def _render_printer(f: Finding, console: Console) -> None:
    """The printer's state, paper, cover and drawer, then the test page and the kick if asked."""
    if not f.answered:
        console.print(f"[bold red]{escape(f.url)}: nothing answered[/] ({escape(f.reason)})", highlight=False)
        return
    d = f.details
    table = Table(title=f"Printer at {f.url}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("state", f.reason)
    if d["status"] != f.reason:
        table.add_row("printer says", d["status"])
    table.add_row("paper", d["paper"])
    table.add_row("cover", d["cover"])
    table.add_row("drawer", f"{d['drawer']} (sensor {d['drawer_sensor']})")
    if "test_print" in d:
        outcome, reason = d["test_print"]["outcome"], d["test_print"]["reason"]
        table.add_row("test page", outcome if reason == outcome else f"{outcome}: {reason}")
    if "kick" in d and "sensor_changed" not in d["kick"]:
        table.add_row("drawer kick", f"{d['kick']['outcome']}: {d['kick']['reason']}")
    elif "kick" in d:
        kick = d["kick"]
        seen = "sensor changed" if kick["sensor_changed"] else "sensor did not change"
        table.add_row(
            "drawer kick", f"{kick['outcome']}: {kick['drawer_before']} -> {kick['drawer_after']} ({seen})"
        )
    console.print(table)


def _render_scanner(f: Finding, console: Console) -> None:
    """The scanner's state, then one row per code scanned: code, kind, check digit, in-store value."""
    d = f.details
    table = Table(title=f"Scanner at {f.url}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("state", f.reason)
    if "device" in d:
        device = d["device"]
        table.add_row("device", f"{device['name']!r} ({device['usb_id']}) at {device['path']}")
    if d.get("scans") or f.state == DeviceState.READY.value:
        table.add_row("scans", f"{len(d['scans'])} (read for up to {d['read_seconds']:g} s)")
    for rejected in d.get("rejected", []):
        table.add_row("rejected", f"{rejected['reason']}: {rejected['head']!r}")
    console.print(table)
    if not d.get("scans"):
        return
    scans = Table(title=f"Scans from {f.url}", title_justify="left")
    for column in ("code", "kind", "check digit", "in-store"):
        scans.add_column(column, overflow="fold")
    for scan in d["scans"]:
        check = {True: "ok", False: "WRONG", None: "-"}[scan["valid"]]
        in_store = scan["in_store"]
        value = ""
        if in_store is not None:
            value = (
                f"{in_store['weight_g']} g"
                if in_store["weight_g"] is not None
                else f"{in_store['price_ore'] / 100:.2f} kr"
            ) + f", article {in_store['article_key']}"
        scans.add_row(visible_code(scan["code"]), scan["kind"], check, value)
    console.print(scans)


def _scanner_usage_error(args: argparse.Namespace) -> str | None:
    if (args.read is not None or args.count is not None) and not args.scanner:
        return "--read and --count go with --scanner URL"
    if args.read is not None and args.read <= 0:
        return "--read must be more than 0 seconds"
    if args.count is not None and args.count < 1:
        return "--count must be 1 or more"
    for url in args.scanner or ():
        if url.startswith("evdev:"):
            try:
                DeviceSelector.from_url(url)
            except ValueError as exc:
                return f"--scanner: {exc}"
    return None


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
    if (args.test_print or args.kick) and not args.printer and not (args.all or args.config):
        print("error: --test-print and --kick go with --printer URL", file=sys.stderr)
        return EXIT_USAGE
    scanner_usage = _scanner_usage_error(args)
    if scanner_usage is not None:
        print(f"error: {scanner_usage}", file=sys.stderr)
        return EXIT_USAGE
    config = None
    if args.all or (args.config is not None and not (args.control_unit or args.printer or args.scanner)):
        try:
            config = config_from_args(args)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    report = asyncio.run(diagnose(args, config))
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
            "http://[USER:PASSWORD@]HOST:PORT/xccsp (XCCSP), https://HOST/tcsserver (Infrasec TCS), "
            "https://HOST/v45 (srv4pos) (repeatable)"
        ),
    )
    unit = diag.add_argument_group(
        "control unit settings", "as in [control_unit] (docs/configuration.md); with --config, its own"
    )
    unit.add_argument("--kind", choices=[k.value for k in UnitKind], help="when the address does not say it")
    unit.add_argument(
        "--baudrate", type=int, choices=CCSP_BAUDRATES, help="CCSP: this speed only (default: try each)"
    )
    unit.add_argument("--ca-cert", metavar="PEM", help="HTTPS: the CA to trust (default: the system's)")
    unit.add_argument("--client-cert", metavar="P12", help="TCS: the register's certificate (PKCS#12)")
    unit.add_argument("--client-cert-password", metavar="PASSWORD", help="TCS: the certificate's password")
    unit.add_argument("--application-id", help="TCS: the application's id at Infrasec")
    unit.add_argument("--register-id", help="TCS: ManRegisterID (default: the POS id)")
    unit.add_argument("--corporate-id", help="srv4pos: the corporate id")
    unit.add_argument("--cash-register-name", help="srv4pos: the cash register's name (default: the POS id)")
    unit.add_argument("--api-key", help="srv4pos: the API key")
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
    diag.add_argument(
        "--scanner",
        action="append",
        metavar="URL",
        help=(
            "a barcode scanner to listen to: /dev/ttyACM0, /dev/pts/N, socket://HOST:PORT (serial; "
            "CR, LF or CR LF ends a code), or a USB keyboard scanner: evdev:///dev/input/eventN, "
            "evdev://name=NAME, evdev://id=VVVV:PPPP (grabbed while diag listens) (repeatable)"
        ),
    )
    diag.add_argument(
        "--read",
        type=float,
        metavar="SECONDS",
        help=f"how long to listen for scans with --scanner (default {READ_SECONDS:g} s)",
    )
    diag.add_argument("--count", type=int, metavar="N", help="with --scanner: stop listening after N scans")
    diag.add_argument(
        "--printer",
        action="append",
        metavar="URL",
        help=(
            "a receipt printer to ask: /dev/ttyUSB0, /dev/pts/N (serial), tcp://HOST:9100, "
            "socket://HOST:PORT, usb://VID:PID[/SERIAL] (repeatable)"
        ),
    )
    diag.add_argument("--test-print", action="store_true", help="with --printer: print a test page")
    diag.add_argument(
        "--kick", action="store_true", help="with --printer: open the cash drawer and watch its sensor"
    )
    diag.add_argument(
        "--drawer-open-level",
        choices=[level.value for level in OpenLevel],
        default=OpenLevel.HIGH.value,
        help="the drawer sensor's level while the drawer is open (default high)",
    )
    diag.add_argument(
        "--all",
        action="store_true",
        help=(
            "run every check with the config's devices: control unit, printer, serial ports, USB devices, "
            "MQTT broker and login, journal chain, disk space, registration (the default with --config "
            "and no device address)"
        ),
    )
    add_data_arguments(diag)
    diag.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    diag.set_defaults(handler=run)
