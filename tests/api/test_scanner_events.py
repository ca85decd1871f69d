"""The till's barcode scanner, end to end: the simulated scanner on a TCP port as ``[scanner]
url``, a real till with its catalog, and a WebSocket client on ``/v1/events`` that gets every
scan with the article the catalog has for it.

Nothing waits on a clock: every wait is for a message, a state or the simulator's
connection, bounded by a deadline a passing test never reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from firmware_sim.scanner import Scanner
from firmware_sim.scanner import ScannerConfig as SimulatedScannerConfig
from firmware_sim.scanner.server import serve_tcp, wait_for_receiver
from gateway.common.health import DeviceState
from gateway.config import ScannerConfig
from gateway.fiscal.start_checks import StartRefused
from gateway.till import Till
from protocols.scanner import Terminator
from tests.api.conftest import Api, ApiFactory
from tests.catalog.conftest import COFFEE, article, coffee_json, revision

DEADLINE = 10.0
EAN = "7310865004703"  # COFFEE's barcode
WEIGHED = "2388060103489"  # an in-store weight code: 348 g of the article keyed 2388060100006

Socket = aiohttp.ClientWebSocketResponse


async def next_event(ws: Socket, kind: str) -> dict[str, Any]:
    """The data of the next event of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(DEADLINE):
        while True:
            msg = await ws.receive()
            assert msg.type is WSMsgType.TEXT, msg
            event: dict[str, Any] = json.loads(msg.data)
            if event["type"] == kind:
                data: dict[str, Any] = event["data"]
                return data


async def scanner_event(ws: Socket, state: str) -> dict[str, Any]:
    """The next ``device`` event of the scanner that says ``state``."""
    while True:
        data = await next_event(ws, "device")
        if data["device"] == "scanner" and data["state"] == state:
            return data


async def listening(till: Till, scanner: Scanner) -> None:
    """The till has the scanner open and the simulator has it as a receiver: a scan now is read."""
    assert till.scanner is not None
    await asyncio.wait_for(till.scanner.wait_for(DeviceState.READY), DEADLINE)
    await asyncio.wait_for(wait_for_receiver(scanner), DEADLINE)


@contextlib.asynccontextmanager
async def events(api: Api) -> AsyncIterator[tuple[Socket, dict[str, Any]]]:
    """A client of the event stream and the ``hello`` it got first."""
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        hello = await next_event(ws, "hello")
        yield ws, hello


async def till_with_scanner(make_api: ApiFactory, url: str, **framing: Any) -> Api:
    api = await make_api(settings={"scanner": ScannerConfig(url, **framing)})
    for part in revision(
        1,
        0,
        full=True,
        articles=(COFFEE, article("3001", "Lösgodis", 12900, "2388060100006", unit="kg")),
    ):
        await api.till.catalog.apply(part)
    return api


async def test_a_scan_reaches_the_pos_with_the_article_the_catalog_has_for_it(make_api: ApiFactory) -> None:
    scanner = Scanner()
    async with serve_tcp(scanner) as url:
        api = await till_with_scanner(make_api, url)
        await listening(api.till, scanner)
        status, answer = await api.call("GET", "/v1/status")
        assert (status, answer["devices"]["scanner"]) == (
            200,
            {"url": url, "state": "ready", "reason": "ready"},
        )
        async with events(api) as (ws, hello):
            assert hello["devices"]["scanner"] == {"url": url, "state": "ready", "reason": "ready"}

            scanner.scan(EAN)
            assert await next_event(ws, "scan") == {
                "code": EAN,
                "kind": "ean13",
                "valid": True,
                "in_store": None,
                "article": coffee_json(None),
                "source": url,
            }

            scanner.scan("96385074")  # a valid EAN-8 the catalog does not have
            unknown = await next_event(ws, "scan")
            assert (unknown["code"], unknown["kind"], unknown["valid"], unknown["article"]) == (
                "96385074",
                "ean8",
                True,
                None,
            )

            scanner.scan("7310865004704")  # the coffee's code misread: never looked up
            misread = await next_event(ws, "scan")
            assert (misread["code"], misread["kind"], misread["valid"], misread["article"]) == (
                "7310865004704",
                "other",
                False,
                None,
            )

            scanner.scan("1001")  # a label printed with the article number
            by_number = await next_event(ws, "scan")
            assert (by_number["valid"], by_number["article"]) == (None, coffee_json(None))

            scanner.scan(WEIGHED)
            weighed = await next_event(ws, "scan")
    assert weighed["in_store"] == {
        "article_key": "2388060100006",
        "article_gtin14": "02388060100006",
        "measure": "weight",
        "price_ore": None,
        "weight_g": 348,
    }
    assert weighed["article"] is not None
    assert (weighed["article"]["number"], weighed["article"]["price"], weighed["article"]["unit"]) == (
        "3001",
        "129.00",
        "kg",
    )


async def test_the_configured_framing_is_read_and_a_line_without_it_is_reported(
    make_api: ApiFactory,
) -> None:
    scanner = Scanner(SimulatedScannerConfig(Terminator.CRLF, b"\x02", b"\x03"))
    async with serve_tcp(scanner) as url:
        api = await till_with_scanner(make_api, url, terminator=Terminator.CRLF, prefix="\x02", suffix="\x03")
        await listening(api.till, scanner)
        async with events(api) as (ws, _):
            scanner.scan(EAN)
            scan = await next_event(ws, "scan")
            assert (scan["code"], scan["article"]) == (EAN, coffee_json(None))

            scanner.config = SimulatedScannerConfig(Terminator.CRLF)  # the scanner set up anew, wrongly
            scanner.scan(EAN)
            rejected = await next_event(ws, "scan.rejected")
    assert rejected["source"] == url
    assert rejected["head"] == EAN
    assert "prefix" in rejected["reason"]


async def test_a_scanner_unplugged_and_plugged_back_keeps_the_same_client_receiving(
    make_api: ApiFactory,
) -> None:
    scanner = Scanner()
    plugged = contextlib.AsyncExitStack()
    url = await plugged.enter_async_context(serve_tcp(scanner))
    port = int(url.rsplit(":", 1)[1])
    api = await till_with_scanner(make_api, url)
    await listening(api.till, scanner)
    async with events(api) as (ws, _):
        scanner.scan(EAN)
        assert (await next_event(ws, "scan"))["code"] == EAN

        await plugged.aclose()  # the simulator's port goes away, as when the scanner loses power
        gone = await scanner_event(ws, "failed")
        assert gone["url"] == url
        assert "scans resume by themselves" in gone["reason"]
        status, answer = await api.call("GET", "/v1/status")
        assert (status, answer["devices"]["scanner"]["state"]) == (200, "failed")

        async with serve_tcp(scanner, "127.0.0.1", port) as again:  # plugged back in
            assert again == url
            await scanner_event(ws, "ready")
            await listening(api.till, scanner)
            scanner.scan(WEIGHED)
            after = await next_event(ws, "scan")
    assert (after["code"], after["article"]["number"]) == (WEIGHED, "3001")
    assert api.till.scanner is not None and api.till.scanner.opens == 2


async def test_a_scanner_that_is_not_there_does_not_stop_the_till(make_api: ApiFactory) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"socket://127.0.0.1:{port}"
    api = await make_api(settings={"scanner": ScannerConfig(url)})
    assert api.till.scanner is not None
    await asyncio.wait_for(api.till.scanner.wait_for(DeviceState.FAILED), DEADLINE)
    status, answer = await api.call("GET", "/v1/status")
    scanner_status = answer["devices"]["scanner"]
    assert (status, scanner_status["url"], scanner_status["state"]) == (200, url, "failed")
    assert str(port) in scanner_status["reason"]
    status, _ = await api.call("GET", "/v1/articles?barcode=" + EAN)
    assert status == 404  # the till serves on; its catalog is empty


async def test_impossible_framing_refuses_the_start_in_words(make_api: ApiFactory) -> None:
    with pytest.raises(StartRefused) as refused:
        await make_api(settings={"scanner": ScannerConfig("socket://127.0.0.1:9", prefix="x" * 1024)})
    assert str(refused.value) == "[scanner]: prefix and suffix leave no room for a code within max_length"
