"""The printer's probe for ``tillgw diag --printer``: status, a test page, a drawer kick.

:func:`probe_printer` asks the printer's status (online, paper, cover, drawer); with
``--test-print`` it prints :func:`test_page`, with ``--kick`` it opens the drawer and
watches the drawer's sensor follow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.common.clock import Clock
from gateway.common.health import DeviceState
from gateway.common.i18n import tr
from gateway.devices.printer.drawer import Drawer, OpenLevel
from gateway.devices.printer.driver import PrinterDriver
from gateway.devices.printer.job import Outcome
from gateway.devices.printer.status import PrinterUnavailable
from protocols import escpos
from tools.diag.finding import PROBE_TIMEOUT, Finding, next_step_of

__all__ = ["KICK_SETTLE", "PRINT_WAIT", "printers_problem", "probe_printer", "test_page"]

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
    clock: Clock | None = None,
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
                "printer", url, False, driver.state.value, driver.reason, {}, next_step_of(driver.reason)
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
            problems += await _print_test_page(driver, details, (clock or Clock()).now())
        if condition.online and kick:
            problems += await _kick_drawer(drawer, details)
    finally:
        await driver.close()
    if problems:
        reason = f"{DeviceState.FAILED.words}: {problems[0]}"
        return Finding("printer", url, True, DeviceState.FAILED.value, reason, details, next_step_of(reason))
    return Finding(
        "printer", url, True, driver.state.value, driver.reason, details, next_step_of(driver.reason)
    )


async def _print_test_page(driver: PrinterDriver, details: dict[str, Any], when: datetime) -> list[str]:
    job = driver.submit(test_page(driver.url, when))
    try:
        async with asyncio.timeout(PRINT_WAIT):
            result = await job
    except TimeoutError:
        job.cancel()
        words = f"the test page did not print within {PRINT_WAIT:g} s ({driver.reason})"
        details["test_print"] = {"outcome": "not printed", "reason": words, "sends": job.sends}
        return [tr("{words} — see what the printer shows and try again").format(words=words)]
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
        return [tr("the drawer is already open, so a kick could not be seen — close it and try again")]
    result = await drawer.open_drawer()
    after = result.drawer_open
    if result.sent and after == before:
        # A real drawer's sensor follows the pulse a little later: ask for a moment.
        with contextlib.suppress(TimeoutError, PrinterUnavailable):
            async with asyncio.timeout(KICK_SETTLE):
                while after == before:
                    await asyncio.sleep(_SENSOR_POLL)
                    after = await drawer.drawer_open()
    words = {True: tr("open"), False: tr("closed"), None: tr("unknown")}
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
            tr(
                "the drawer sensor did not change after the kick — if the drawer "
                "opened, set --drawer-open-level the other way or check its "
                "sensor wire; if it did not, check the drawer's cable in the "
                "printer's drawer port"
            )
        ]
    return []


def printers_problem(findings: Sequence[Finding]) -> str | None:
    """The printers' trouble in words (None when each is ready): silent, or not ready and why."""
    troubles = [
        (
            tr("{url}: nothing answered ({reason})") if not f.answered else tr("{url}: not ready ({reason})")
        ).format(url=f.url, reason=f.reason)
        for f in findings
        if not f.usable
    ]
    return "; ".join(troubles) or None
