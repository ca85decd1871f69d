"""The status page at ``/``: over real HTTP (the page, the login, the cookie and what it may
do), and in a real headless Chromium driven by Playwright (log in through the form, watch a
sale and a printer running out of paper arrive live).

The browser is the system's Chromium (``/usr/bin/chromium``); nothing is downloaded. The
browser test waits with Playwright's own auto-waiting assertions, never with a sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.ccsp_server import serve_tcp
from firmware_sim.printer.device import PrinterConfig as SimulatedPrinterConfig
from firmware_sim.printer.device import PrinterDevice
from firmware_sim.printer.faults import Fault
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from gateway.api.app import make_app
from gateway.api.app_keys import HUB
from gateway.api.page import SESSION_KEY_FILE
from gateway.api.session import COOKIE, LIFETIME, Sessions
from gateway.till import Till
from protocols.escpos import CodeTable

from .conftest import Api, sale, till_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageTill:
    api: Api
    printer: PrinterDevice


@pytest.fixture
async def page_till(unit: ControlUnit, tmp_path: Path) -> AsyncIterator[PageTill]:
    """A till with the simulated control unit and printer (kept at hand for its faults), served;
    it speaks Swedish, as a shop's till does by default."""
    async with contextlib.AsyncExitStack() as stack:
        unit_url = await stack.enter_async_context(serve_tcp(unit))
        device = PrinterDevice(
            SimulatedPrinterConfig(
                output=tmp_path / "printer", columns=42, code_table=CodeTable.CP858, png=False
            )
        )
        printer_url = await stack.enter_async_context(serve_printer_tcp(device))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        till = await Till.open(till_config(tmp_path / "till", unit_url, printer_url, language="sv"))
        stack.push_async_callback(till.close)
        app = make_app(till)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield PageTill(Api(f"http://{host}:{port}", till, app[HUB], session), device)


async def login(api: Api, token: str) -> aiohttp.ClientResponse:
    async with api.session.post(api.url + "/login", data={"token": token}, allow_redirects=False) as response:
        await response.read()
        return response


async def session_cookie(api: Api) -> dict[str, str]:
    response = await login(api, api.till.token)
    return {"Cookie": f"{COOKIE}={response.cookies[COOKIE].value}"}


# -- over HTTP ------------------------------------------------------------------------------


async def test_the_page_is_served_without_a_token_and_shows_only_the_login_form(api: Api) -> None:
    async with api.session.get(api.url + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        page = await response.text()
    assert '<form method="post" action="/login">' in page
    assert '<label for="token">Token</label>' in page
    assert re.search(r'<div class="grid" id="status" hidden>', page)
    assert api.till.token not in page and "wrong token" not in page
    async with api.session.get(api.url + "/static/status.js") as response:
        assert response.status == 200
        assert response.content_type == "text/javascript"
        assert "/v1/events" in await response.text()


async def test_a_wrong_token_gives_the_form_again_with_a_401(api: Api) -> None:
    for token in ("not-the-token", api.till.token + "x", ""):
        response = await login(api, token)
        assert response.status == 401
        assert COOKIE not in response.cookies
    async with api.session.post(api.url + "/login", data={"token": "nope"}) as response:
        page = await response.text()
    assert "Wrong token" in page  # the till of these tests speaks English (tests/api/conftest.py)
    assert '<p class="error" id="login-error" role="alert" >' in page


async def test_a_login_that_is_not_a_form_is_a_400_in_words_never_a_fault(api: Api) -> None:
    broken = [
        ("multipart/form-data", b"token="),  # no boundary
        ("multipart/form-data; boundary=x", b"token=abc"),  # no part starts
        ("application/x-www-form-urlencoded", b"token=\xff\xfe"),  # not UTF-8
        ("application/x-www-form-urlencoded; charset=no-such-charset", b"token=abc"),
    ]
    for content_type, body in broken:
        headers = {"Content-Type": content_type}
        async with api.session.post(api.url + "/login", data=body, headers=headers) as response:
            assert response.status == 400, content_type
            error = (await response.json())["error"]
        assert error["code"] == "bad_request" and "application/x-www-form-urlencoded" in error["message"]
        assert COOKIE not in response.cookies


async def test_the_right_token_gives_a_signed_httponly_strict_cookie_for_12_hours(api: Api) -> None:
    response = await login(api, api.till.token)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == LIFETIME == 12 * 3600
    assert api.till.token not in morsel.value
    key = api.till.files.data_dir / SESSION_KEY_FILE
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert Sessions.from_file(key).valid(morsel.value)
    async with api.session.get(api.url + "/", headers={"Cookie": f"{COOKIE}={morsel.value}"}) as page:
        text = await page.text()
    assert '<div class="grid" id="status" >' in text
    assert '<section class="login" id="login" aria-labelledby="login-title" hidden>' in text


async def test_the_cookie_reads_status_receipts_and_events_but_never_sells(
    api: Api, unit: ControlUnit
) -> None:
    cookie = await session_cookie(api)
    status, sold = await api.call("POST", "/v1/receipts", sale("pos-1"))
    assert status == 201
    for path in ("/v1/status", "/v1/receipts?last=5", "/v1/reports/z?last=1"):
        async with api.session.get(api.url + path, headers=cookie) as response:
            assert response.status == 200, path
    async with api.session.get(api.url + "/v1/receipts?last=5", headers=cookie) as response:
        [receipt] = (await response.json())["receipts"]
    assert receipt["receipt_no"] == sold["receipt_no"]
    assert receipt["control_code"] == sold["control_code"]
    async with api.session.ws_connect(api.url + "/v1/events", headers=cookie) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello"
        assert hello["data"]["receipts"]["last_number"] == sold["receipt_no"]

    records = len(unit.memory.records())
    for path in ("/v1/receipts", "/v1/drawer/open", "/v1/reports/z"):
        async with api.session.post(api.url + path, json=sale("pos-2"), headers=cookie) as response:
            assert response.status == 401, path
            body = await response.json()
        assert "reading only" in body["error"]["message"]
    assert len(unit.memory.records()) == records  # nothing registered
    status, receipts = await api.call("GET", "/v1/receipts")
    assert [r["receipt_no"] for r in receipts["receipts"]] == [sold["receipt_no"]]


async def test_a_forged_expired_or_cross_site_cookie_is_refused(api: Api) -> None:
    sessions = Sessions.from_file(api.till.files.data_dir / SESSION_KEY_FILE)
    good = sessions.issue()
    expiry, _, mac = good.partition(".")
    for value in (
        f"{int(expiry) + 1}.{mac}",  # a later expiry under the same MAC
        sessions.issue(now=0),  # expired in 1970
        Sessions(b"k" * 32).issue(),  # signed with another key
        "garbage",
    ):
        async with api.session.get(api.url + "/v1/status", headers={"Cookie": f"{COOKIE}={value}"}) as r:
            assert r.status == 401, value
    cross = {"Cookie": f"{COOKIE}={good}", "Origin": "http://evil.example"}
    async with api.session.get(api.url + "/v1/status", headers=cross) as r:
        assert r.status == 401
    same = {"Cookie": f"{COOKIE}={good}", "Origin": api.url}
    async with api.session.get(api.url + "/v1/status", headers=same) as r:
        assert r.status == 200


async def test_logout_clears_the_cookie(api: Api) -> None:
    async with api.session.post(api.url + "/logout", allow_redirects=False) as response:
        assert response.status == 303
        morsel = response.cookies[COOKIE]
    assert morsel.value == "" and morsel["max-age"] == "0"


async def test_the_last_receipts_and_z_reports(api: Api) -> None:
    for n in (1, 2, 3):
        assert (await api.call("POST", "/v1/receipts", sale(f"pos-{n}", price=f"{n}0.00")))[0] == 201
    status, body = await api.call("GET", "/v1/receipts?last=2")
    assert status == 200
    assert [(r["receipt_no"], r["total"], r["kind"]) for r in body["receipts"]] == [
        (3, "30.00", "normal"),
        (2, "20.00", "normal"),
    ]
    assert body["receipts"][0]["printed"] is False  # this till has no printer
    assert (await api.call("GET", "/v1/reports/z"))[1] == {"reports": [], "last": 10}
    assert (await api.call("POST", "/v1/reports/z"))[0] == 201
    status, body = await api.call("GET", "/v1/reports/z?last=1")
    [z] = body["reports"]
    assert (z["z_no"], z["net_sales"], z["sales"]) == (1, "60.00", 3)
    for bad in ("0", "101", "x"):
        status, body = await api.call("GET", f"/v1/receipts?last={bad}")
        assert (status, body["error"]["field"]) == (400, "last")
    status, body = await api.call("GET", "/v1/status")
    assert body["sync"] is None  # no bus on this till


# -- in Chromium --------------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")
async def test_in_chromium_log_in_and_watch_a_sale_and_the_paper_running_out(page_till: PageTill) -> None:
    from playwright.async_api import async_playwright, expect

    api, printer = page_till.api, page_till.printer
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1024, "height": 600})
            await page.goto(api.url + "/")
            await expect(page.locator("#status")).to_be_hidden()
            await page.fill("#token", "wrong")
            await page.click("#login button[type=submit]")
            await expect(page.locator("#login-error")).to_have_text("Fel token")

            await page.fill("#token", api.till.token)
            await page.click("#login button[type=submit]")
            await expect(page.locator("#status")).to_be_visible()
            assert page.url == api.url + "/"  # the token is never in the URL
            assert COOKIE not in await page.evaluate("document.cookie")  # HttpOnly
            devices = page.locator("#devices")
            for device in ("control_unit", "printer"):
                row = devices.locator(f'[data-device="{device}"]')
                await expect(row.locator(".state")).to_have_text("Klar")
                await expect(row).to_have_attribute("data-state", "ready")
            await expect(page.locator("#live")).to_have_text("Live")
            await expect(page.locator("#no-receipts")).to_be_visible()

            status, sold = await api.call("POST", "/v1/receipts", sale("pos-1", price="125.00"))
            assert status == 201
            row = page.locator(f'#receipts tr[data-receipt="{sold["receipt_no"]}"]')
            await expect(row.locator("td.code")).to_have_text(sold["control_code"])
            await expect(row.locator("td.total")).to_have_text("125,00\u00a0kr")
            await expect(page.locator("#last-number")).to_have_text(str(sold["receipt_no"]))

            printer.set_fault(Fault.PAPER_OUT)
            assert api.till.printer is not None
            await api.till.printer.driver.status()  # what the idle watch does, now rather than in 30 s
            state = devices.locator('[data-device="printer"]')
            await expect(state.locator(".state")).to_have_text("Fel")
            await expect(state).to_have_attribute("data-state", "failed")
            await expect(state.locator(".reason")).to_contain_text("slut på papper")
        finally:
            await browser.close()
