"""The till speaks its ``[shop] language``: Swedish by default, English with ``language = "en"``,
on the status page (over HTTP, and in a real headless Chromium) and in the status API's
words — while the API's machine fields (states, codes) stay the same English identifiers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit, Fault
from firmware_sim.control_unit.ccsp_server import serve_tcp
from firmware_sim.printer.device import PrinterConfig as SimulatedPrinterConfig
from firmware_sim.printer.device import PrinterDevice
from firmware_sim.printer.faults import Fault as PrinterFault
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from gateway.api.app import make_app
from gateway.api.app_keys import HUB
from gateway.api.session import COOKIE
from gateway.config import Config, ShopConfig
from gateway.till import Till
from protocols.escpos import CodeTable

from .conftest import ORGNR, Api, sale, till_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SHOP = ("Kaffebaren i Växjö AB", ORGNR, ("Storgatan 1", "352 30 Växjö"))
ShopOf = Callable[[], ShopConfig]

# The default (no language in the config) and English, with the words each must show.
LANGUAGES = [
    pytest.param(
        lambda: ShopConfig(*SHOP),
        {
            "lang": "sv",
            "login": "Logga in",
            "help": "Ange kassans token",
            "wrong": "Fel token",
            "title": "Kassans status",
            "unit": "Kontrollenhet",
            "printer": "Skrivare",
            "ready": "Klar",
            "fault": "Fel",
            "paper": "slut på papper — sätt i en ny rulle",
            "silent": "fel: inget svar från kontrollenheten på ",
            "check": "kontrollera kabeln och strömmen",
            "registration": "inte registrerad ännu: kör tillgw register",
        },
        id="default-sv",
    ),
    pytest.param(
        lambda: ShopConfig(*SHOP, language="en"),
        {
            "lang": "en",
            "login": "Log in",
            "help": "Enter the till's token",
            "wrong": "Wrong token",
            "title": "Till status",
            "unit": "Control unit",
            "printer": "Printer",
            "ready": "Ready",
            "fault": "Fault",
            "paper": "out of paper — put in a new roll",
            "silent": "failed: no answer from the control unit on ",
            "check": "check the cable and power",
            "registration": "not registered yet: run tillgw register",
        },
        id="en",
    ),
]


async def served(stack: contextlib.AsyncExitStack, config: Config) -> Api:
    till = await Till.open(config)
    stack.push_async_callback(till.close)
    app = make_app(till)
    runner = web.AppRunner(app)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    session = await stack.enter_async_context(aiohttp.ClientSession())
    return Api(f"http://{host}:{port}", till, app[HUB], session)


@pytest.fixture
async def stack() -> AsyncIterator[contextlib.AsyncExitStack]:
    async with contextlib.AsyncExitStack() as stack:
        yield stack


@pytest.mark.parametrize(("shop", "words"), LANGUAGES)
async def test_the_page_and_the_status_speak_the_tills_language(
    shop: ShopOf,
    words: dict[str, str],
    unit: ControlUnit,
    tmp_path: Path,
    stack: contextlib.AsyncExitStack,
) -> None:
    unit_url = await stack.enter_async_context(serve_tcp(unit))
    config = till_config(tmp_path / "till", unit_url)
    api = await served(stack, dataclasses.replace(config, shop=shop()))
    assert api.till.config.shop.language == words["lang"]

    async with api.session.get(api.url + "/") as response:
        page = await response.text()
    assert f'<html lang="{words["lang"]}">' in page
    assert f"<title>{words['title']}</title>" in page
    assert f'<h2 id="login-title">{words["login"]}</h2>' in page
    assert words["help"] in page and "<code>api-token</code>" in page
    assert "[[" not in page and "$" not in page  # every mark filled, every placeholder substituted
    async with api.session.post(api.url + "/login", data={"token": "wrong"}) as response:
        assert response.status == 401
        assert words["wrong"] in await response.text()

    unit.faults.set(Fault.NO_REPLY)
    status, body = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 503
    assert body["error"]["code"] == "control_unit_unavailable"  # machine words stay English
    status, body = await api.call("GET", "/v1/status")
    device = body["devices"]["control_unit"]
    assert device["state"] == "failed"
    assert device["reason"].startswith(words["silent"]), device["reason"]
    assert words["check"] in device["reason"]
    assert body["registration"]["message"] == words["registration"]  # the check at start


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")
@pytest.mark.parametrize(("shop", "words"), LANGUAGES)
async def test_in_chromium_the_page_speaks_the_tills_language(
    shop: ShopOf,
    words: dict[str, str],
    unit: ControlUnit,
    tmp_path: Path,
    stack: contextlib.AsyncExitStack,
) -> None:
    from playwright.async_api import async_playwright, expect

    unit_url = await stack.enter_async_context(serve_tcp(unit))
    printer = PrinterDevice(
        SimulatedPrinterConfig(output=tmp_path / "printer", columns=42, code_table=CodeTable.CP858, png=False)
    )
    printer_url = await stack.enter_async_context(serve_printer_tcp(printer))
    config = till_config(tmp_path / "till", unit_url, printer_url)
    api = await served(stack, dataclasses.replace(config, shop=shop()))
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1024, "height": 600})
            await page.goto(api.url + "/")
            await expect(page.locator("#login-title")).to_have_text(words["login"])
            await page.fill("#token", api.till.token)
            await page.click("#login button[type=submit]")
            await expect(page.locator("#status")).to_be_visible()
            assert COOKIE not in await page.evaluate("document.cookie")
            await expect(page.locator("h1")).to_have_text(words["title"])
            row = page.locator('#devices [data-device="control_unit"]')
            await expect(row.locator(".name")).to_have_text(words["unit"])
            await expect(row.locator(".state")).to_have_text(words["ready"])
            await expect(row).to_have_attribute("data-state", "ready")
            await expect(page.locator("#who")).to_contain_text(re.compile(r"· (kassa|till) KASSA1"))

            printer.set_fault(PrinterFault.PAPER_OUT)
            assert api.till.printer is not None
            await api.till.printer.driver.status()  # what the idle watch does, now rather than in 30 s
            row = page.locator('#devices [data-device="printer"]')
            await expect(row.locator(".name")).to_have_text(words["printer"])
            await expect(row.locator(".state")).to_have_text(words["fault"])
            await expect(row).to_have_attribute("data-state", "failed")
            await expect(row.locator(".reason")).to_contain_text(words["paper"])
        finally:
            await browser.close()
