"""What the till did lately, for the status page and any other reader: the last receipts and
the last Z reports (``GET /v1/receipts?last=N``, ``GET /v1/reports/z?last=N``; docs/api.md).

Both read the journal's own tables, newest first, and show only what a glance needs; the
whole receipt is ``GET /v1/receipts/{no}``, the whole report is in the journal
(``tillgw report``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.receipts.money import money_text
from gateway.till import Till

__all__ = ["DEFAULT_LAST", "MAX_LAST", "add_history_routes", "last_receipts", "last_z_reports"]

DEFAULT_LAST = 10
MAX_LAST = 100

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _last(request: web.Request) -> int:
    text = request.query.get("last")
    if text is None:
        return DEFAULT_LAST
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LAST:
        raise ApiError(
            400, "bad_request", f"?last= must be a number from 1 to {MAX_LAST}, got {text!r}", "last"
        )
    return int(text)


async def last_receipts(till: Till, count: int) -> list[dict[str, Any]]:
    """The ``count`` latest receipts (copies too), newest first."""
    rows = await till.store.fetchall(
        "SELECT r.receipt_no, r.kind, r.at, r.total, r.to_pay, r.is_return, r.control_code, r.unit_id, "
        "r.entry_seq IN (SELECT entry_seq FROM unprinted) "
        "FROM receipts r ORDER BY r.entry_seq DESC LIMIT ?",
        (count,),
    )
    return [
        {
            "receipt_no": int(row[0]),
            "kind": str(row[1]),
            "at": str(row[2]),
            "total": money_text(int(row[3])),
            "to_pay": money_text(int(row[4])),
            "return": bool(row[5]),
            "control_code": str(row[6]),
            "unit_id": str(row[7]),
            "printed": till.printer is not None and not row[8],
        }
        for row in rows
    ]


async def last_z_reports(till: Till, count: int) -> list[dict[str, Any]]:
    """The ``count`` latest Z reports, newest first (none before the first Z of the till)."""
    made = await till.store.fetchone(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'z_reports'"
    )
    if made is None:
        return []
    rows = await till.store.fetchall(
        "SELECT z.z_no, j.seq, json_extract(j.body, '$.at'), json_extract(j.body, '$.net_sales'), "
        "json_extract(j.body, '$.sales.receipts'), json_extract(j.body, '$.returns.count') "
        "FROM z_reports z JOIN journal j ON j.seq = z.entry_seq ORDER BY z.z_no DESC LIMIT ?",
        (count,),
    )
    return [
        {
            "z_no": int(row[0]),
            "journal_entry": int(row[1]),
            "at": row[2],
            "net_sales": money_text(int(row[3] or 0)),
            "sales": int(row[4] or 0),
            "returns": int(row[5] or 0),
        }
        for row in rows
    ]


def add_history_routes(app: web.Application, till: Till) -> None:
    """``GET /v1/receipts`` and ``GET /v1/reports/z`` of ``till`` on ``app``."""

    async def get_receipts(request: web.Request) -> web.Response:
        count = _last(request)
        receipts = await last_receipts(till, count)
        return web.json_response({"receipts": receipts, "last": count}, dumps=_dumps)

    async def get_z_reports(request: web.Request) -> web.Response:
        count = _last(request)
        reports = await last_z_reports(till, count)
        return web.json_response({"reports": reports, "last": count}, dumps=_dumps)

    app.router.add_get("/v1/receipts", get_receipts, allow_head=False)
    app.router.add_get("/v1/reports/z", get_z_reports, allow_head=False)
