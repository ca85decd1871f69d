"""A client generated from the OpenAPI document sells, returns and copies on a running till.

``openapi-python-client`` generates the client from the document the till serves, into the
test's temporary folder (nothing generated is kept); the test imports it and speaks to a
till over real HTTP with its typed models: a sale, the return of it, the copy of the sale.
The answers come back as the generated models, and the journal holds what they say.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gateway.fiscal.journal import open_readonly
from tests.api.live_till import LiveTill, live_till

PACKAGE = "tillgw_generated_client"
GENERATE_WAIT = 300  # seconds: a safety net; the generator takes a few


@pytest.fixture
def till(tmp_path: Path) -> Iterator[LiveTill]:
    with live_till(tmp_path / "till") as served:
        yield served


@pytest.fixture
def client_package(till: LiveTill, tmp_path: Path) -> Iterator[ModuleType]:
    """The client generated from the document the till serves, importable for the test."""
    with urllib.request.urlopen(f"{till.url}/v1/openapi.json") as answer:  # no token: it is public
        (tmp_path / "openapi.json").write_bytes(answer.read())
    (tmp_path / "generator.yaml").write_text("post_hooks: []\n")  # no formatter run on the output
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "generated" / PACKAGE),
            "--config",
            str(tmp_path / "generator.yaml"),
            "--fail-on-warning",
        ],
        check=True,
        timeout=GENERATE_WAIT,
    )
    sys.path.insert(0, str(tmp_path / "generated"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path / "generated"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_sells_returns_and_copies(till: LiveTill, client_package: ModuleType) -> None:
    models = _module("models")
    post_receipt, post_copy, get_receipt = (
        _module(f"api.receipts.{name}") for name in ("post_receipt", "post_copy", "get_receipt")
    )
    client = client_package.AuthenticatedClient(base_url=till.url, token=till.token)

    def line(quantity: str) -> Any:
        return models.LineRequest(
            text="Kaffe", quantity=quantity, unit_price="32.00", vat_rate="12", group="Dryck"
        )

    sale = post_receipt.sync_detailed(
        client=client,
        body=models.ReceiptRequest(
            id="generated-sale",
            lines=[line("2")],
            payments=[models.PaymentRequest(method=models.PaymentMethod.CASH, amount="100.00")],
            cashier="Anna",
        ),
    )
    assert sale.status_code == 201, sale.content
    sold = sale.parsed
    assert isinstance(sold, models.ReceiptAnswer)
    assert sold.type_ == models.ReceiptType.NORMAL
    assert (sold.totals.to_pay, sold.totals.change) == ("64.00", "36.00")
    assert sold.id == "generated-sale" and sold.control_code

    returned = post_receipt.sync_detailed(
        client=client,
        body=models.ReceiptRequest(
            id="generated-return",
            lines=[line("-2")],
            payments=[models.PaymentRequest(method=models.PaymentMethod.CASH, amount="-64.00")],
        ),
    )
    assert returned.status_code == 201, returned.content
    refund = returned.parsed
    assert isinstance(refund, models.ReceiptAnswer)
    assert refund.receipt_no == sold.receipt_no + 1
    assert (refund.totals.return_total, refund.totals.to_pay) == ("64.00", "-64.00")

    copied = post_copy.sync_detailed(sold.receipt_no, client=client)
    assert copied.status_code == 201, copied.content
    copy = copied.parsed
    assert isinstance(copy, models.ReceiptAnswer)
    assert copy.type_ == models.ReceiptType.KOPIA
    assert copy.receipt_no == sold.receipt_no and "KOPIA" in copy.text
    assert copy.control_code != sold.control_code

    again = post_copy.sync_detailed(sold.receipt_no, client=client)  # one copy per receipt
    assert again.status_code == 409
    assert isinstance(again.parsed, models.ErrorAnswer) and again.parsed.error.code == "copy_exists"
    fetched = get_receipt.sync_detailed(sold.receipt_no, client=client, copy=True)
    assert fetched.status_code == 200 and fetched.parsed.journal_entry == copy.journal_entry

    with open_readonly(till.database) as conn:
        receipts = conn.execute(
            "SELECT seq, body FROM journal WHERE kind = 'receipt' ORDER BY seq"
        ).fetchall()
    journaled = {seq: json.loads(body) for seq, body in receipts}
    assert [*journaled] == [sold.journal_entry, refund.journal_entry, copy.journal_entry]
    assert [body["receipt_no"] for body in journaled.values()] == [
        sold.receipt_no,
        refund.receipt_no,
        sold.receipt_no,
    ]
    assert [body["control_code"] for body in journaled.values()] == [
        sold.control_code,
        refund.control_code,
        copy.control_code,
    ]
