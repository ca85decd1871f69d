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
from gateway.common.i18n import N_, tr
from tools.diag.checks import Check
from tools.diag.finding import Finding
from tools.diag.report import Report
from tools.diag.scanner_watch import visible_code

__all__ = ["render"]

# A check's name and verdict are machine words in --json; the table shows them in the till's language.
CHECK_NAMES = (
    N_("serial ports"),
    N_("usb"),
    N_("mqtt"),
    N_("journal"),
    N_("disk"),
    N_("file modes"),
    N_("registration"),
    N_("time zone"),
    N_("erp"),
    # and what a device is called in a next step's "about"
    N_("control unit"),
    N_("printer"),
    N_("scanner"),
    N_("erp: fortnox"),
    N_("erp: visma"),
    N_("erp business central"),
    N_("running till"),
)
VERDICT_WORDS = {"ok": N_("ok"), "warning": N_("warning"), "problem": N_("problem")}
# A printer's paper, cover, drawer and drawer sensor as tools.diag.printer_probe reports them.
PRINTER_WORDS = {
    "ok": N_("ok"),
    "near end": N_("near end"),
    "out": N_("out"),
    "open": N_("open"),
    "closed": N_("closed"),
    "high": N_("high"),
    "low": N_("low"),
}


def _render_checks(checks: Sequence[Check], console: Console) -> None:
    """One row per check: its verdict, what it found, and the next step when it is not ok."""
    table = Table(title=tr("Checks"), title_justify="left")
    for column in (tr("check"), tr("verdict"), tr("found"), tr("next step")):
        table.add_column(column, overflow="fold")
    colour = {"ok": "green", "warning": "yellow", "problem": "bold red"}
    for c in checks:
        verdict = f"[{colour[c.verdict.value]}]{tr(VERDICT_WORDS[c.verdict.value])}[/]"
        table.add_row(tr(c.name), verdict, escape(c.summary), escape(c.next_step or ""))
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
        console.print(
            tr("scanned {count} port(s): {ports}").format(
                count=len(report.scanned), ports=", ".join(report.scanned) or tr("none")
            )
        )
    for f in [*report.control_units, *report.printers, *report.scanners]:
        if "reported_by" in f.details:
            _render_reported(f, console)
    for f in report.control_units:
        if not f.answered or "reported_by" in f.details:
            continue
        # One narrow two-column table per unit: it fits a till's terminal.
        d = f.details
        table = Table(
            title=tr("Control unit at {url}").format(url=f.url), show_header=False, title_justify="left"
        )
        table.add_column("what", style="bold")
        table.add_column("value", overflow="fold")
        for name, value in (
            (tr("state"), f.reason),
            (tr("unit id"), d.get("unit_id")),
            (tr("protocol"), d.get("protocol")),
            (tr("firmware"), d.get("firmware")),
            (tr("line speed"), d.get("line")),
            (tr("licences"), d.get("licences")),
            (tr("unit status"), d.get("main_status_words")),
            (tr("status detail"), d.get("status_detail")),
            (tr("journal memory"), d.get("storage_status_words")),
            (tr("note"), d.get("note")),
        ):
            if value is not None and value != "":
                table.add_row(name, escape(str(value)))
        console.print(table)
    if report.scanned is None:
        for f in report.control_units:
            if not f.answered and "reported_by" not in f.details:
                console.print(
                    f"[bold red]{escape(f.url)}: {tr('nothing answered')}[/] ({escape(f.reason)})",
                    highlight=False,
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
            console.print(f"[bold red]{tr('problem:')}[/] {escape(report.problem)}", highlight=False)
    for about, step in report.next_steps():  # every one, each with what it is about
        label = tr("next step ({check}):").format(check=tr(about))
        console.print(f"[bold]{escape(label)}[/] {escape(step)}", highlight=False)
    if not report.problem:
        console.print(f"[green]{tr('OK: every device answered')}[/]")


def _render_reported(f: Finding, console: Console) -> None:
    """A device the running till holds, as the till reports it: its port was not opened."""
    d = f.details
    title = tr("{device} at {url}").format(device=tr(f.device).capitalize(), url=f.url)
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row(tr("state"), escape(f.reason))
    table.add_row(tr("reported by"), escape(d["reported_by"]))
    for name, key in (
        (tr("unit id"), "unit_id"),
        (tr("protocol"), "protocol"),
        (tr("firmware"), "firmware"),
        (tr("line speed"), "line"),
        (tr("status detail"), "status_detail"),
        (tr("not done"), "not_done"),
    ):
        if d.get(key) is not None:
            table.add_row(name, escape(str(d[key])))
    console.print(table)


def _render_printer(f: Finding, console: Console) -> None:
    """The printer's state, paper, cover and drawer, then the test page and the kick if asked."""
    if not f.answered:
        console.print(
            f"[bold red]{escape(f.url)}: {tr('nothing answered')}[/] ({escape(f.reason)})", highlight=False
        )
        return
    d = f.details
    table = Table(title=tr("Printer at {url}").format(url=f.url), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row(tr("state"), f.reason)
    if d["status"] != f.reason:
        table.add_row(tr("printer says"), d["status"])
    # The JSON keeps the machine words ("closed", "low"); the table says them in the language.
    table.add_row(tr("paper"), tr(PRINTER_WORDS.get(d["paper"], d["paper"])))
    table.add_row(tr("cover"), tr(PRINTER_WORDS.get(d["cover"], d["cover"])))
    drawer, sensor = (tr(PRINTER_WORDS.get(d[key], d[key])) for key in ("drawer", "drawer_sensor"))
    table.add_row(tr("drawer"), tr("{drawer} (sensor {sensor})").format(drawer=drawer, sensor=sensor))
    if "test_print" in d:
        outcome, reason = d["test_print"]["outcome"], d["test_print"]["reason"]
        table.add_row(tr("test page"), outcome if reason == outcome else f"{outcome}: {reason}")
    if "kick" in d and "sensor_changed" not in d["kick"]:
        table.add_row(tr("drawer kick"), f"{d['kick']['outcome']}: {d['kick']['reason']}")
    elif "kick" in d:
        kick = d["kick"]
        seen = tr("sensor changed") if kick["sensor_changed"] else tr("sensor did not change")
        table.add_row(
            tr("drawer kick"),
            f"{kick['outcome']}: {kick['drawer_before']} -> {kick['drawer_after']} ({seen})",
        )
    console.print(table)


def _render_scanner(f: Finding, console: Console) -> None:
    """The scanner's state, then one row per code scanned: code, kind, check digit, in-store value."""
    d = f.details
    table = Table(title=tr("Scanner at {url}").format(url=f.url), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row(tr("state"), f.reason)
    if "device" in d:
        device = d["device"]
        table.add_row(
            tr("device"),
            tr("{name!r} ({usb_id}) at {path}").format(
                name=device["name"], usb_id=device["usb_id"], path=device["path"]
            ),
        )
    if d.get("scans") or f.state == DeviceState.READY.value:
        table.add_row(
            tr("scans"),
            tr("{count} (read for up to {seconds:g} s)").format(
                count=len(d["scans"]), seconds=d["read_seconds"]
            ),
        )
    for rejected in d.get("rejected", []):
        table.add_row(tr("rejected"), f"{rejected['reason']}: {rejected['head']!r}")
    console.print(table)
    if not d.get("scans"):
        return
    scans = Table(title=tr("Scans from {url}").format(url=f.url), title_justify="left")
    for column in (tr("code"), tr("kind"), tr("check digit"), tr("in-store")):
        scans.add_column(column, overflow="fold")
    for scan in d["scans"]:
        check = {True: tr("ok"), False: tr("WRONG"), None: "-"}[scan["valid"]]
        in_store = scan["in_store"]
        value = ""
        if in_store is not None:
            value = (
                f"{in_store['weight_g']} g"
                if in_store["weight_g"] is not None
                else f"{in_store['price_ore'] / 100:.2f} kr"
            ) + tr(", article {key}").format(key=in_store["article_key"])
        scans.add_row(visible_code(scan["code"]), scan["kind"], check, value)
    console.print(scans)
