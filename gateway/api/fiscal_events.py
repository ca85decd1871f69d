"""What the journal records at the POS's word besides receipts: ``POST /v1/drawer/open`` (a drawer
opened without a sale), ``POST /v1/events`` (cashier login and logout, price and float
changes) and ``POST /v1/reports/x|z`` (X and Z reports, printed in the background) —
docs/api.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from gateway.api.app_keys import HUB, TILL
from gateway.api.auth import EVENTS_PATH
from gateway.api.errors import ApiError
from gateway.api.reading import json_answer, name_field, only_fields, read_body
from gateway.fiscal.receipt_text import PrintLine, to_escpos, to_text
from gateway.fiscal.reports import text as report_text
from gateway.fiscal.reports.report import Report
from gateway.receipts.codec import parse_money
from gateway.receipts.money import money_text
from gateway.till import DeviceError

__all__ = ["POS_EVENTS", "add_fiscal_event_routes"]

log = logging.getLogger("tillgw.api")

POS_EVENTS = ("cashier.login", "cashier.logout", "price.change", "float.change")


class _Background:
    """Work the API started and nobody waits for (printing a report); stopped at cleanup."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_TASKS = web.AppKey("background", _Background)


async def open_drawer(request: web.Request) -> web.Response:
    till, hub = request.app[TILL], request.app[HUB]
    body = await read_body(request, optional=True)
    only_fields(body, {"cashier"})
    cashier = name_field(body, "cashier", required=False)
    if till.printer is None:
        raise ApiError(
            503,
            "no_drawer",
            "this till has no printer configured, and the drawer hangs on the printer; nothing was opened",
        )
    try:
        entry = await till.pipeline.open_drawer(cashier)
    except DeviceError as exc:
        raise ApiError(
            503, "drawer_failed", f"the opening is journaled, but the drawer did not open: {exc}"
        ) from None
    hub.publish("drawer.open", {"journal_entry": entry, "cashier": cashier})
    return json_answer({"journal_entry": entry, "cashier": cashier}, 201)


async def post_event(request: web.Request) -> web.Response:
    till = request.app[TILL]
    body = await read_body(request)
    kind = body.get("type")
    if kind is None:
        raise ApiError(422, "invalid", f"is missing: one of {', '.join(POS_EVENTS)}", "type")
    if kind not in POS_EVENTS:
        raise ApiError(422, "invalid", f"{kind!r} is not one of {', '.join(POS_EVENTS)}", "type")
    record: dict[str, Any]
    if kind == "price.change":
        only_fields(body, {"type", "article", "text", "old_price", "new_price", "cashier"})
        record = {
            "article": name_field(body, "article", required=True),
            "text": name_field(body, "text", required=False),
            "old_price": _price(body, "old_price", required=False),
            "new_price": _price(body, "new_price", required=True),
            "cashier": name_field(body, "cashier", required=False),
        }
    elif kind == "float.change":
        # The pipeline checks it (events.float_change_body: amount, cashier, note) and
        # names the field of a FiscalError (422); the journal keeps the amount in öre.
        record = {k: v for k, v in body.items() if k != "type"}
    else:
        only_fields(body, {"type", "cashier"})
        record = {"cashier": name_field(body, "cashier", required=True)}
    entry = await till.pipeline.record(kind, record)
    return json_answer({"journal_entry": entry, "type": kind}, 201)


def _price(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    if body.get(key) is None:
        if required:
            raise ApiError(422, "invalid", "is missing", key)
        return None
    ore = parse_money(body[key], key)  # ReceiptError names the field: 422
    if ore < 0:
        raise ApiError(422, "invalid", "must not be negative", key)
    return money_text(ore)


async def post_report(request: web.Request) -> web.Response:
    """An X or a Z report: journaled, printed (in the background) and returned."""
    till, hub = request.app[TILL], request.app[HUB]
    report = await till.pipeline.report(request.match_info["kind"])
    # Laid out once, for the answer's text and the printer both.
    lines = report_text.layout(report, till.config.paper_width)
    printing = _print_report(request.app, report, lines)
    hub.publish(
        "report",
        {"report": report.kind.value, "z_no": report.z_no, "journal_entry": report.entry_seq},
    )
    answer = {
        **report.to_json(),
        "printing": printing,
        "text": to_text(lines, till.config.paper_width),
    }
    return json_answer(answer, 201)


def _print_report(app: web.Application, report: Report, lines: tuple[PrintLine, ...]) -> bool:
    """Queue the report for the printer; False when the till has none."""
    till = app[TILL]
    if till.printer is None:
        return False
    printer = till.printer
    data = to_escpos(lines, till.pipeline.code_table)

    async def print_it() -> None:
        try:
            await printer.print_job(data)
        except Exception as exc:  # the report is journaled; `tillgw report` can show it again
            log.warning("%s not printed: %s", report.title, exc)

    app[_TASKS].start(print_it(), f"print {report.title}")
    return True


async def _stop_tasks(app: web.Application) -> None:
    await app[_TASKS].stop()


def add_fiscal_event_routes(app: web.Application) -> None:
    """The drawer, the POS's events and the reports on ``app`` (which holds the till and the hub)."""
    app[_TASKS] = _Background()
    app.on_cleanup.append(_stop_tasks)
    app.router.add_post("/v1/drawer/open", open_drawer)
    app.router.add_post(EVENTS_PATH, post_event)
    app.router.add_post("/v1/reports/{kind:[xz]}", post_report)
