"""The API on real parts: a real :class:`Till` (SQLite journal in tmp_path, the simulated
control unit over TCP, optionally the simulated printer over TCP), served by a real
aiohttp server on 127.0.0.1 and spoken to with a real aiohttp client.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from firmware_sim.printer.device import PrinterConfig as SimulatedPrinterConfig
from firmware_sim.printer.device import PrinterDevice
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from gateway.api.app import make_app
from gateway.api.app_keys import HUB
from gateway.api.events import EventHub
from gateway.config import ApiConfig, Config, ControlUnitConfig, PrinterConfig, ShopConfig
from gateway.fiscal.journal import open_readonly
from gateway.till import Till
from protocols.escpos import CodeTable

ORGNR = "5561234567"
POS_ID = "KASSA1"
MAX_BODY_KIB = 4


def sale(
    request_id: str = "pos-1", price: str = "125.00", method: str = "card", **extra: Any
) -> dict[str, Any]:
    """A one-line receipt at 25 %, paid in full, as the POS posts it."""
    return {
        "id": request_id,
        "lines": [{"text": "Kaffe", "quantity": 1, "unit_price": price, "vat_rate": 25, "group": "Dryck"}],
        "payments": [{"method": method, "amount": price}],
        **extra,
    }


@dataclass
class Api:
    """A served API: its base URL, the till behind it, and a client with the till's token."""

    url: str
    till: Till
    hub: EventHub
    session: aiohttp.ClientSession

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.till.token}"}

    async def call(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None, **options: Any
    ) -> tuple[int, Any]:
        """``(status, JSON)`` of one request with the token."""
        headers = {**self.auth, **options.pop("headers", {})}
        async with self.session.request(
            method, self.url + path, json=body, data=data, headers=headers, **options
        ) as response:
            assert response.content_type == "application/json", await response.text()
            return response.status, await response.json()

    def journal(self) -> list[tuple[str, dict[str, Any]]]:
        """(kind, body) of every journal entry, read from the database file as another process would."""
        import json

        with open_readonly(self.till.files.database) as conn:
            return [(row[0], json.loads(row[1])) for row in conn.execute("SELECT kind, body FROM journal")]


ApiFactory = Callable[..., Awaitable[Api]]


def till_config(
    data_dir: Path,
    unit_url: str,
    printer_url: str | None = None,
    control_unit: ControlUnitConfig | None = None,
    language: str = "en",
) -> Config:
    return Config(
        # These tests read the words in English; test_languages.py reads the default Swedish.
        shop=ShopConfig("Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"), language=language),
        pos_id=POS_ID,
        data_dir=data_dir,
        # Short deadlines, so that a silent unit costs a fraction of a second.
        control_unit=control_unit or ControlUnitConfig(unit_url, request_timeout=0.3, retries=1),
        printer=None if printer_url is None else PrinterConfig(printer_url),
        scanner=None,
        api=ApiConfig("127.0.0.1", 0, MAX_BODY_KIB),
        mqtt=None,  # the bus has its own tests (tests/bus); these must not publish to the machine's broker
    )


@pytest.fixture
async def make_api(unit: ControlUnit, tmp_path: Path) -> AsyncIterator[ApiFactory]:
    """``await make_api(printer=False, control_unit=None, settings=None, event_queue=…)``: a till
    and its API, served; closed after. ``control_unit`` replaces the simulated CCSP unit over
    TCP; ``settings`` are other fields of the till's :class:`Config`."""
    async with contextlib.AsyncExitStack() as stack:
        unit_url = await stack.enter_async_context(serve_tcp(unit))
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def make(
            *,
            printer: bool = False,
            control_unit: ControlUnitConfig | None = None,
            settings: dict[str, Any] | None = None,
            **app_options: Any,
        ) -> Api:
            printer_url = None
            if printer:
                device = PrinterDevice(
                    SimulatedPrinterConfig(
                        output=tmp_path / "printer", columns=42, code_table=CodeTable.CP858, png=False
                    )
                )
                printer_url = await stack.enter_async_context(serve_printer_tcp(device))
            config = till_config(tmp_path / "till", unit_url, printer_url, control_unit)
            till = await Till.open(dataclasses.replace(config, **(settings or {})))
            stack.push_async_callback(till.close)
            app = make_app(till, **app_options)
            runner = web.AppRunner(app)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return Api(f"http://{host}:{port}", till, app[HUB], session)

        yield make


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    """The API of a till without a printer."""
    return await make_api()
