"""The demo: a day at a till, from the first sale to the SIE file, then the till keeps running.

    python -m tools.demo [--data-dir var] [--http 127.0.0.1:8080]

1. starts ``tillgw run`` with no config — the demo till: the simulated control unit and
   printer on pseudo-terminals, the bus (Mosquitto when one runs at 127.0.0.1:1883, an
   embedded broker otherwise) and the ERP sync module, data under ``--data-dir``;
2. sells three receipts through the till's API, as a POS would, and shows each answer;
3. closes the day with a Z report;
4. waits until the sync module has booked the Z report as an SIE file, and shows it;
5. leaves the till running (Ctrl-C stops it), so the API can be tried by hand.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

SIE_WAIT_SECONDS = 60.0

SALES: list[dict[str, Any]] = [
    {
        "lines": [
            {"text": "Kaffe", "quantity": 2, "unit_price": "32.00", "vat_rate": 12, "group": "Dryck"},
            {"text": "Kanelbulle", "quantity": 2, "unit_price": "28.50", "vat_rate": 12, "group": "Bröd"},
        ],
        "payments": [{"method": "cash", "amount": "125.00"}],
    },
    {
        "lines": [
            {"text": 'Mugg "Växjö"', "quantity": 1, "unit_price": "149.00", "vat_rate": 25, "group": "Butik"},
            {"text": "Tidning", "quantity": 1, "unit_price": "79.00", "vat_rate": 6, "group": "Butik"},
        ],
        "payments": [{"method": "card", "amount": "228.00", "reference": "demo-approval-1"}],
    },
    {
        "lines": [{"text": "Räkmacka", "quantity": 1, "unit_price": "89.00", "vat_rate": 12, "group": "Mat"}],
        "payments": [{"method": "swish", "amount": "89.00"}],
    },
]


def tillgw() -> list[str]:
    script = Path(sys.executable).with_name("tillgw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def kronor(text: str) -> str:
    return text.replace(".", ",") + " kr"


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the demo: a day at a till, to the SIE file.")
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--http", default="127.0.0.1:8080")
    args = parser.parse_args()

    print("Starting the demo till (tillgw run) ...", flush=True)
    till = subprocess.Popen(
        [*tillgw(), "run", "--data-dir", str(args.data_dir), "--http", args.http],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert till.stdout is not None
    try:
        url = None
        for line in till.stdout:
            print("  " + line.rstrip(), flush=True)
            if "API on " in line and url is None:
                url = line.split("API on ", 1)[1].split()[0]
            if line.startswith("tillgw: demo"):
                break
        if url is None:
            print("error: the till did not start (see its messages above)", file=sys.stderr)
            return 1
        api = Api(url, (args.data_dir / "api-token").read_text().strip())

        print("\nSelling three receipts through the API, as a POS would:", flush=True)
        for sale in SALES:
            status, answer = api.post("/v1/receipts", {"id": f"demo-{uuid.uuid4().hex[:12]}", **sale})
            if status not in (200, 201):
                print(f"error: the till refused a sale: {answer['error']['message']}", file=sys.stderr)
                return 1
            print(
                f"  receipt {answer['receipt_no']:>3}  {kronor(answer['totals']['to_pay']):>12}  "
                f"control code {answer['control_code']}",
                flush=True,
            )
        print(f"  (printed receipts: {args.data_dir / 'printer'})")

        status, z = api.post("/v1/reports/z")
        if status != 201:
            print(f"error: no Z report: {z['error']['message']}", file=sys.stderr)
            return 1
        print(f"\nZ report {z['z_no']} closes the day: net sales {kronor(z['net_sales'])}.", flush=True)

        sie = wait_for_sie(args.data_dir / "sync" / "sie", int(z["z_no"]))
        if sie is None:
            print(
                f"error: no SIE file for Z report {z['z_no']} after {SIE_WAIT_SECONDS:.0f} s; "
                f"see the sync module's log in {args.data_dir / 'sync' / 'logs'}",
                file=sys.stderr,
            )
            return 1
        print(f"\nThe ERP sync module booked it as a voucher: {sie}\n")
        print(sie.read_bytes().decode("cp437"))
        print(
            f"The till keeps running: API {url}, token in {args.data_dir / 'api-token'} "
            "(docs/api.md). Ctrl-C stops it.",
            flush=True,
        )
        for line in till.stdout:
            print("  " + line.rstrip(), flush=True)
        return till.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if till.poll() is None:
            till.send_signal(signal.SIGTERM)
            till.wait(timeout=30)


def wait_for_sie(folder: Path, z_no: int) -> Path | None:
    """The SIE file of Z report ``z_no``, once the sync module has written it."""
    deadline = time.monotonic() + SIE_WAIT_SECONDS
    while time.monotonic() < deadline:
        found = sorted(folder.glob(f"*-Z{z_no:06d}.si"))  # gateway/sync/adapters/sie/adapter.py names them so
        if found:
            return found[-1]
        time.sleep(0.2)
    return None


if __name__ == "__main__":
    sys.exit(main())
