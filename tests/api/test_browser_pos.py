"""A POS page in a real browser: a page served from another origin sells through the API.

The page is served by its own HTTP server (origin ``http://localhost:<port>``), the till's
API on ``http://127.0.0.1:<port>`` — two origins, so headless Chromium (the system's,
driven by Playwright) sends the CORS preflight before the sale, as it would for a POS page
on the shop's intranet. A listed origin sells and reads its answer; a page from an origin
that is not listed is stopped by the browser, and the till sells nothing. The browser is
waited on with Playwright's auto-waiting assertions, never with a sleep.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from aiohttp import web

from gateway.config import ApiConfig
from tests.api.conftest import MAX_BODY_KIB, Api, ApiFactory, sale

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SOLD = re.compile(r"^kvitto \d+ \S+")  # what the page shows of a sale: its number and control code

# What a POS page does: post the sale with the till's token, show the control code, or the
# error the till gave, or that the browser would not let the request through.
POS_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>POS</title>
<button id="sell">Sälj</button>
<p id="result">ingen försäljning</p>
<script>
const params = new URLSearchParams(location.search);
document.getElementById("sell").addEventListener("click", async () => {
  const result = document.getElementById("result");
  try {
    const answer = await fetch(params.get("api") + "/v1/receipts", {
      method: "POST",
      headers: {"Authorization": "Bearer " + params.get("token"), "Content-Type": "application/json"},
      body: params.get("sale"),
    });
    const body = await answer.json();
    result.textContent = answer.ok
      ? "kvitto " + body.receipt_no + " " + body.control_code
      : "fel " + answer.status + " " + body.error.message;
  } catch (failure) {
    result.textContent = "blockerad";
  }
});
</script>
"""


@contextlib.asynccontextmanager
async def pos_page_server() -> AsyncIterator[str]:
    """Serves the POS page; yields its origin (``http://localhost:<port>``)."""
    app = web.Application()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=POS_PAGE, content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://localhost:{port}"
    finally:
        await runner.cleanup()


def page_url(origin: str, api: Api, request_id: str) -> str:
    query = {"api": api.url, "token": api.till.token, "sale": json.dumps(sale(request_id))}
    return f"{origin}/?{urlencode(query)}"


async def last_receipt_no(api: Api) -> int | None:
    async with api.session.get(api.url + "/v1/status", headers=api.auth) as response:
        status = await response.json()
    number: int | None = status["receipts"]["last_number"]
    return number


@pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (.ci/run installs Debian's chromium)")
async def test_a_page_on_a_listed_origin_sells_and_an_unlisted_one_is_stopped(
    make_api: ApiFactory,
) -> None:
    from playwright.async_api import async_playwright, expect

    async with pos_page_server() as listed, pos_page_server() as unlisted:
        api = await make_api(settings={"api": ApiConfig("127.0.0.1", 0, MAX_BODY_KIB, (listed,))})
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            )
            try:
                page = await browser.new_page()
                await page.goto(page_url(listed, api, "browser-1"))
                await page.click("#sell")
                await expect(page.locator("#result")).to_have_text(SOLD)
                sold_text = await page.locator("#result").text_content()
                assert sold_text is not None
                _, number, code = sold_text.split(" ", 2)
                async with api.session.get(f"{api.url}/v1/receipts/{number}", headers=api.auth) as answer:
                    assert answer.status == 200
                    assert (await answer.json())["control_code"] == code

                stranger = await browser.new_page()
                await stranger.goto(page_url(unlisted, api, "browser-2"))
                await stranger.click("#sell")
                await expect(stranger.locator("#result")).to_have_text("blockerad")
            finally:
                await browser.close()
        # The browser stopped the stranger at its preflight: the till sold the one receipt only.
        assert await last_receipt_no(api) == int(number)
