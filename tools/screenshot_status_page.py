"""A picture of the status page for the docs: ``docs/images/status-page.png``.

    python -m tools.screenshot_status_page [--out docs/images/status-page.png] [--width 1024 --height 760]

1. starts the demo till (``tillgw run`` with no config: simulated control unit and printer,
   the bus and the ERP sync module) with its data in a temporary folder;
2. sells two receipts through the API and closes the day with a Z report, as a POS would;
3. opens ``/`` in the system's headless Chromium (Playwright, ``/usr/bin/chromium``;
   nothing is downloaded), logs in with the till's token through the form, waits until
   the page shows the receipts, the Z report and the sync module's status, and saves a
   screenshot of the whole page;
4. stops the till.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

WAIT_MS = 60_000  # the longest wait for the page to show everything (the sync module's first pass)

SALES: list[dict[str, Any]] = [
    {
        "id": "screenshot-1",
        "lines": [
            {"text": "Kaffe", "quantity": 2, "unit_price": "32.00", "vat_rate": 12, "group": "Dryck"},
            {"text": "Kanelbulle", "quantity": 2, "unit_price": "28.50", "vat_rate": 12, "group": "Bröd"},
        ],
        "payments": [{"method": "cash", "amount": "125.00"}],
    },
    {
        "id": "screenshot-2",
        "lines": [
            {"text": 'Mugg "Växjö"', "quantity": 1, "unit_price": "149.00", "vat_rate": 25, "group": "Butik"},
        ],
        "payments": [{"method": "card", "amount": "149.00"}],
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def screenshot(url: str, token: str, out: Path, width: int, height: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url + "/")
            page.fill("#token", token)
            page.click("#login button[type=submit]")
            expect(page.locator("#live")).to_have_text("Live", timeout=WAIT_MS)
            expect(page.locator("#receipts tbody tr")).to_have_count(len(SALES), timeout=WAIT_MS)
            expect(page.locator("#z-no")).to_have_text("1", timeout=WAIT_MS)
            expect(page.locator("#sync")).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
            expect(page.locator("#outbox-depth")).to_have_text("0 meddelanden", timeout=WAIT_MS)
            page.locator("#token").blur()
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="Take the status page's picture for the docs.")
    parser.add_argument("--out", type=Path, default=Path("docs/images/status-page.png"))
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=760)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tillgw-screenshot-") as data:
        http = f"127.0.0.1:{free_port()}"
        till = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--data-dir", data, "--http", http],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert till.stdout is not None
            url = None
            for line in till.stdout:
                if url is None and "API on " in line:
                    url = line.split("API on ", 1)[1].split()[0]
                if line.startswith("tillgw: demo"):
                    break
            if url is None:
                print("the demo till did not start", file=sys.stderr)
                return 1
            token = (Path(data) / "api-token").read_text().strip()
            for sale in SALES:
                answer = post(url + "/v1/receipts", token, sale)
                print(f"receipt {answer['receipt_no']}: {answer['control_code']}")
            post(url + "/v1/reports/z", token)
            screenshot(url, token, args.out, args.width, args.height)
            print(f"wrote {args.out}")
        finally:
            till.send_signal(signal.SIGINT)
            till.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
