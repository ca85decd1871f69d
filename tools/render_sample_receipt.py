"""Render the sample receipt in docs/ through the real printing path.

    python -m tools.render_sample_receipt [--out docs/images]

The receipt is laid out by ``gateway.fiscal.receipt_text``, turned into ESC/POS bytes,
and fed to the simulated printer, which interprets the bytes and draws the paper — so the
picture shows what the gateway really sends, not a mock-up. Writes
``sample-receipt.png`` and ``sample-receipt.txt``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from firmware_sim.printer.device import PrinterConfig, PrinterDevice
from gateway.fiscal.receipt_text import PrintedReceipt, Shop, layout, render, to_text
from gateway.receipts.model import Line, LineKind, Payment, PaymentMethod, Receipt, compute
from protocols.escpos import CodeTable

WIDTH = 42
TABLE = CodeTable.CP858


def sample_receipt(copy: bool = True) -> PrintedReceipt:
    """A copy of a mixed-VAT sale paid by card and cash, with a discount and a weighed item."""
    receipt = Receipt(
        lines=(
            Line("Kaffe med grädde", Decimal(2), 22_50, 1200),
            Line('Mugg "Åsa" blå', Decimal(1), 142_00, 2500, discount=10_00),
            Line("Räkor, handskalade", Decimal("0.347"), 399_00, 1200),
            Line("Presentinslagning", Decimal(1), 25_00, 2500, kind=LineKind.SERVICE),
        ),
        payments=(Payment(PaymentMethod.CARD, 100_00), Payment(PaymentMethod.CASH, 250_00)),
        cashier="Åsa",
    )
    return PrintedReceipt(
        shop=Shop("Kaffebaren i Växjö AB", "5560360793", ("Storgatan 1", "352 30 Växjö")),
        pos_id="KASSA-1",
        receipt_no=1042,
        moment=datetime(2026, 11, 21, 14, 5),
        receipt=receipt,
        totals=compute(receipt),
        control_code="WBH6VTC5W6SAEL3PUP2N4JELHA4DMC54;BQI644FY3PDURJRKJ3PXXLYQ6N",
        unit_id="TGSIMSE4388189800",
        copy=copy,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    doc = sample_receipt()
    with tempfile.TemporaryDirectory() as folder:
        printer = PrinterDevice(PrinterConfig(output=Path(folder), columns=WIDTH, code_table=TABLE))
        printer.received(render(doc, WIDTH, TABLE))
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(folder) / "receipt-0001.png", args.out / "sample-receipt.png")
    (args.out / "sample-receipt.txt").write_text(to_text(layout(doc, WIDTH), WIDTH), encoding="utf-8")
    print(f"wrote {args.out / 'sample-receipt.png'} and {args.out / 'sample-receipt.txt'}")


if __name__ == "__main__":
    main()
