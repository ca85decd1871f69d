"""``tillgw report x|z``: an X or Z report from the shell, with or without the service running.

When the till service answers on its API (the address in the config, the token in the
data directory), the report is made there: between two receipts, journaled, printed
on the till's printer, and shown here. When it does not, the report is made here on
the same database, journaled and shown, and the output says it was not printed (the
printer belongs to the service; print it with the service running).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from gateway.cli.options import add_data_arguments, config_or_complain
from gateway.common.i18n import tr
from gateway.config import Config
from gateway.till_files import TillFiles

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser(
        "report",
        help="make an X or Z report (through the running service when there is one)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    report.add_argument("kind", choices=("x", "z"), help="x: the day so far; z: close the day")
    add_data_arguments(report)
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    # The fiscal core is loaded when a report is made, not for `tillgw report --help`.
    from gateway.common.signing import SigningKeyError
    from gateway.fiscal.reports.report import IndexMismatch

    config = config_or_complain(args)
    if config is None:
        return 2
    try:
        answer = asyncio.run(_make(config, args.kind))
    except (SigningKeyError, OSError, IndexMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(answer["text"])
        print(tr("printed on the till's printer") if answer.get("printing") else answer["not_printed"])
    return 0


async def _make(config: Config, kind: str) -> dict[str, Any]:
    files = TillFiles(config.data_dir)
    through_service = await _ask_service(config, files, kind)
    if through_service is not None:
        return through_service
    return await _make_here(config, files, kind)


async def _make_here(config: Config, files: TillFiles, kind: str) -> dict[str, Any]:
    """The report made in this process on the till's database: journaled, shown, not printed."""
    from gateway.bus.outbox import Outbox
    from gateway.common.clock import Clock
    from gateway.common.signing import Signer, load_or_create_key
    from gateway.fiscal.receipt_text import Shop
    from gateway.fiscal.reports import text as report_text
    from gateway.fiscal.reports.report import make_x, make_z
    from gateway.fiscal.store import Store
    from gateway.messages.envelope import Topics

    if not files.database.exists():
        raise FileNotFoundError(f"no till database at {files.database}; run the till first")
    clock = Clock(config.shop.timezone)
    store = await Store.open(files.database, Signer(load_or_create_key(files.signing_key)), clock)
    if config.mqtt is not None:
        # The report's bus message goes into the outbox with it, as in the service; the
        # service's publisher sends it when the till runs again.
        await Outbox(store, Topics(config.shop.orgnr, config.shop.store, config.pos_id)).install()
    try:
        shop = Shop(config.shop.name, config.shop.orgnr, config.shop.address)
        report = await (make_z if kind == "z" else make_x)(store, shop, config.pos_id)
    finally:
        await store.close()
    return {
        **report.to_json(),
        "printing": False,
        "not_printed": "not printed: the till service is not running (the printer is the service's)",
        "text": report_text.text(report, config.paper_width),
    }


async def _ask_service(config: Config, files: TillFiles, kind: str) -> dict[str, Any] | None:
    """The report made by the running service, or None when no service answers."""
    if not files.api_token.exists():
        return None
    import aiohttp  # the HTTP client: loaded only when a service may be running to ask

    token = files.api_token.read_text().strip()
    url = f"{config.api.local_url}/v1/reports/{kind}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.post(url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            body: dict[str, Any] = await response.json(content_type=None)
            if response.status != 201:
                error = body.get("error", {})
                raise OSError(f"the till service refused the report: {error.get('message', response.status)}")
            return body
    except aiohttp.ClientConnectionError:
        return None
