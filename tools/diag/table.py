"""The table of ``tillgw diag`` (without ``--json``): what answered, then what to do.

:func:`render` prints a :class:`~tools.diag.report.Report` with rich: one narrow table per
device (it fits a till's terminal), the scans, the checks, then the problem and the next
step for each thing that is not right.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.common.health import DeviceState
from tools.diag.checks import Check
from tools.diag.finding import Finding
from tools.diag.report import Report
from tools.diag.scanner_watch import visible_code

__all__ = ["render"]


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
    for f in [*report.control_units, *report.printers, *report.scanners]:
        if "reported_by" in f.details:
            _render_reported(f, console)
    for f in report.control_units:
        if not f.answered or "reported_by" in f.details:
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
            if not f.answered and "reported_by" not in f.details:
                console.print(
                    f"[bold red]{escape(f.url)}: nothing answered[/] ({escape(f.reason)})", highlight=False
                )
    for f in report.printers:
        if "reported_by" not in f.details:
            _render_printer(f, console)
    for f in report.scanners:
        if "reported_by" not in f.details:
            _render_scanner(f, console)
    if report.checks:
        _render_checks(report.checks, console)
    if report.problem:
        others = report.checks or report.scanners or any(f.answered for f in report.printers)
        if report.scanned is not None or any(f.answered for f in report.control_units) or others:
            console.print(f"[bold red]problem:[/] {escape(report.problem)}", highlight=False)
    for about, step in report.next_steps():  # every one, each with what it is about
        console.print(f"[bold]next step ({escape(about)}):[/] {escape(step)}", highlight=False)
    if not report.problem:
        console.print("[green]OK: every device answered[/]")


def _render_reported(f: Finding, console: Console) -> None:
    """A device the running till holds, as the till reports it: its port was not opened."""
    d = f.details
    table = Table(title=f"{f.device.capitalize()} at {f.url}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("state", escape(f.reason))
    table.add_row("reported by", escape(d["reported_by"]))
    for name, key in (
        ("unit id", "unit_id"),
        ("protocol", "protocol"),
        ("firmware", "firmware"),
        ("line speed", "line"),
        ("status detail", "status_detail"),
        ("not done", "not_done"),
    ):
        if d.get(key) is not None:
            table.add_row(name, escape(str(d[key])))
    console.print(table)


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
