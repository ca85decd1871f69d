"""What ``tillgw diag`` asks, given its arguments: the devices named, or everything.

:func:`diagnose` probes the control units, printers and scanners given on the command
line (or, with no address, looks for a control unit on every serial port). With a
config and no device address, or ``--all``, it runs every check a technician makes: the
config's control unit and printer, then :mod:`tools.diag.checks` (serial ports, USB
devices, the MQTT broker and login, the journal chain, disk space for the journal, file
modes, the registration, and the ERPs of ``[sync]``). See docs/diag.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.common.clock import Clock
from gateway.common.i18n import tr
from gateway.config import Config, ConfigError
from gateway.devices.control_units.kinds import public_url
from gateway.devices.printer.driver import DEFAULT_STATUS_TIMEOUT
from gateway.till_files import TillFiles
from tools.diag.checks import Check, Verdict
from tools.diag.checks.file_modes import check_file_modes
from tools.diag.checks.journal import check_disk, check_journal
from tools.diag.checks.mqtt import check_mqtt
from tools.diag.checks.ports import SERIAL_PATTERNS, check_serial_ports, check_usb, serial_ports
from tools.diag.checks.registration import check_registration
from tools.diag.checks.time_zone import check_time_zone
from tools.diag.finding import PROBE_TIMEOUT, READ_SECONDS, SCAN_TIMEOUT, Finding
from tools.diag.printer_probe import printers_problem, probe_printer
from tools.diag.report import Report
from tools.diag.running_till import API_TIMEOUT, RunningTill, ask_running_till, reported_findings
from tools.diag.scanner_watch import probe_scanner, scanners_problem, tell, tell_event
from tools.diag.unit_probe import (
    candidate_ports,
    probe_control_unit,
    scan_control_units,
    unit_settings,
    units_problem,
)

__all__ = ["diagnose", "erp_checks"]


async def diagnose(args: argparse.Namespace, config: Config | None = None) -> Report:
    """Every probe and check the arguments (and ``config``, with ``--all`` or ``--config``) ask for."""
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
        await probe_scanner(url, read, count=args.count, on_listening=tell, on_event=tell_event)
        for url in args.scanner or ()
    ]
    problems = [
        p for p in (report.problem, printers_problem(report.printers), scanners_problem(report.scanners)) if p
    ]
    report.problem = "; ".join(problems) or None
    return report


async def _diagnose_control_units(args: argparse.Namespace) -> Report:
    """The control units given with ``--control-unit``, or a scan of the serial ports for one."""
    if args.control_unit:
        timeout = args.timeout or PROBE_TIMEOUT
        findings = [
            await probe_control_unit(
                unit_settings(args, url), args.pos_id, orgnr=args.orgnr, request_timeout=timeout
            )
            for url in args.control_unit
        ]
        return Report(findings, None, units_problem(findings))

    ports = candidate_ports(args.scan_pattern)
    if not ports:
        where = tr(" or ").join(args.scan_pattern) if args.scan_pattern else tr("this machine")
        return Report(
            [],
            [],
            tr(
                "no serial ports found on {where} — plug the control unit in "
                "(USB or serial cable), or give its address with --control-unit "
                "URL"
            ).format(where=where),
        )
    findings = await scan_control_units(ports, args.pos_id, request_timeout=args.timeout or SCAN_TIMEOUT)
    if not any(f.usable for f in findings):
        answered = [f for f in findings if f.answered]
        if answered:
            problem = "; ".join(f"{f.url}: {f.reason}" for f in answered)
        else:
            problem = tr(
                "no control unit answered on {count} port(s) ({ports}) — "
                "check that it is plugged in and powered, then try `tillgw diag "
                "--control-unit /dev/ttyUSB0` with its port"
            ).format(count=len(ports), ports=", ".join(ports))
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
    and registration. Each problem comes with its next step.

    A till running on the config's data directory is asked first (:mod:`.running_till`):
    the devices it holds are reported as it sees them and their ports are not opened; only
    devices it does not hold (other addresses given on the command line) are probed.
    """
    ports = serial_ports(args.scan_pattern or SERIAL_PATTERNS)
    running = await ask_running_till(config, args.timeout or API_TIMEOUT)
    if running is not None:
        report = await _devices_of_running_till(args, config, running)
    else:
        report = await _devices_probed(args, config, ports)
    findings = report.control_units
    answered = {f.url: f"control unit {f.details['unit_id']}" for f in findings if "unit_id" in f.details}
    unit_id = next((f.details["unit_id"] for f in findings if "unit_id" in f.details), None)
    files = TillFiles(config.data_dir)
    report.checks = [
        *([running.check()] if running is not None else []),
        check_serial_ports(ports, answered),
        check_usb(),
        await check_mqtt(config.mqtt),
        check_journal(files),
        check_disk(files),
        check_file_modes(files),
        check_registration(config, unit_id),
        check_time_zone(config),
        *await erp_checks(args),
    ]
    problems = [
        report.problem,
        printers_problem(report.printers),
        scanners_problem(report.scanners),
        *(f"{tr(c.name)}: {c.summary}" for c in report.checks if not c.ok),
    ]
    report.problem = "; ".join(p for p in problems if p) or None
    return report


def _unit_probe_settings(args: argparse.Namespace, config: Config) -> tuple[float, int]:
    """The control unit's deadline per request and retries: ``--timeout``, else the config's."""
    unit = config.control_unit
    return (args.timeout or unit.request_timeout), unit.retries


async def _probe_units(args: argparse.Namespace, config: Config, urls: list[str]) -> list[Finding]:
    timeout, retries = _unit_probe_settings(args, config)
    return [
        await probe_control_unit(
            unit_settings(args, url, config.control_unit),
            config.pos_id,
            orgnr=config.shop.orgnr,
            address=", ".join(config.shop.address),
            request_timeout=timeout,
            retries=retries,
        )
        for url in urls
    ]


async def _probe_printers(args: argparse.Namespace, config: Config, urls: list[str]) -> list[Finding]:
    level = config.printer.drawer_open_level if config.printer else args.drawer_open_level
    return [
        await probe_printer(
            url,
            test_print=args.test_print,
            kick=args.kick,
            open_level=level,
            # The printer has no timeout in the config: the till's own deadline for its status.
            request_timeout=args.timeout or DEFAULT_STATUS_TIMEOUT,
            clock=Clock(config.shop.timezone),
        )
        for url in urls
    ]


async def _probe_scanners(args: argparse.Namespace, urls: list[str]) -> list[Finding]:
    read = args.read if args.read is not None else READ_SECONDS
    return [
        await probe_scanner(url, read, count=args.count, on_listening=tell, on_event=tell_event)
        for url in urls
    ]


async def _devices_probed(args: argparse.Namespace, config: Config, ports: list[str]) -> Report:
    """No till runs here: the config's devices (and those named) asked on their own ports."""
    unit_urls = args.control_unit or ([config.control_unit.url] if config.control_unit.url else [])
    if unit_urls:
        findings = await _probe_units(args, config, unit_urls)
        report = Report(findings, None, units_problem(findings))
    else:  # the demo's unit is simulated: look for a real one on the ports
        findings = await scan_control_units(
            ports, config.pos_id, request_timeout=args.timeout or SCAN_TIMEOUT
        )
        problem = (
            None
            if any(f.usable for f in findings)
            else tr("no control unit answered on this machine's ports")
        )
        report = Report(findings, ports, problem)
    printer_urls = args.printer or ([config.printer.url] if config.printer and config.printer.url else [])
    report.printers = await _probe_printers(args, config, printer_urls)
    report.scanners = await _probe_scanners(args, list(args.scanner or ()))
    return report


async def _devices_of_running_till(args: argparse.Namespace, config: Config, running: RunningTill) -> Report:
    """A till runs here: its devices as it reports them, and only the other addresses named probed."""
    held = reported_findings(running) if running.status is not None else {}
    # The till holds its config's devices even when its API did not answer: never open them.
    till_urls = {f.url for f in held.values()}
    for url in (
        config.control_unit.url,
        config.printer.url if config.printer else None,
        config.scanner.url if config.scanner else None,
    ):
        if url:
            till_urls |= {url, public_url(url)}
    if (args.test_print or args.kick) and "printer" in held:
        held["printer"].details["not_done"] = (
            "no test page and no drawer kick while the till holds the printer: stop the till first, "
            "or open the drawer from the POS"
        )

    def own(device: str) -> list[Finding]:
        return [held[device]] if device in held else []

    def others(urls: list[str] | None) -> list[str]:
        return [url for url in urls or () if url not in till_urls and public_url(url) not in till_urls]

    units = own("control unit") + await _probe_units(args, config, others(args.control_unit))
    report = Report(units, None, units_problem(units))
    report.printers = own("printer") + await _probe_printers(args, config, others(args.printer))
    report.scanners = own("scanner") + await _probe_scanners(args, others(args.scanner))
    return report
