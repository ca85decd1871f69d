"""What the ERP benchmarks share: the store they book for, and its bus messages as the till
writes them (made through the bus contract's Structs, tests/sync/payloads.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.messages.envelope import BusMessage
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt
from tests.sync.payloads import sale_payload, z_payload

ORGNR, STORE, REGISTER = "5560360793", "vaxjo", "KASSA1"
PRICE = 125_00  # every benchmark receipt: 125.00 at 25 %, paid by card
VAT = 25_00  # 100.00 + 25.00


def message(sequence: int, kind: str, payload: dict[str, Any], at: str) -> BusMessage:
    """The bus message of KASSA1's entry ``sequence`` (the entry's own number, a made-up hash)."""
    return BusMessage(
        f"{ORGNR}/{STORE}/{REGISTER}/{sequence}",
        kind,
        ORGNR,
        STORE,
        REGISTER,
        sequence,
        sequence,
        f"{sequence:064x}",
        at,
        payload,
    )


def receipt_message(sequence: int, at: str, *, text: str = "Kaffe", article: str | None = None) -> BusMessage:
    """Receipt ``sequence`` of KASSA1 as the till writes it: one line of :data:`PRICE` at 25 %, by card."""
    sale = Receipt(
        (Line(text, Decimal(1), PRICE, 2500, article=article),), (Payment(PaymentMethod.CARD, PRICE),)
    )
    return message(sequence, "receipt", sale_payload(sale, sequence, at=at), at)


def z_message(sequence: int, receipts: int, today: str) -> BusMessage:
    """The Z report of a day of ``receipts`` card receipts of :data:`PRICE`."""
    sales = receipts * PRICE
    z = z_payload(
        z_no=1,
        at=f"{today}T22:00:00+01:00",
        company={"orgnr": ORGNR, "name": "Kaffebaren i Växjö AB"},
        pos_id=REGISTER,
        sales={"receipts": receipts, "total": sales},
        net_sales=sales,
        ungrouped=sales,
        vat=[{"rate": "25", "gross": sales, "vat": receipts * VAT, "net": sales - receipts * VAT}],
        payments={"cash": 0, "card": sales, "gift_card": 0, "swish": 0, "other": 0},
        rounding=0,
        items=receipts,
        receipts=receipts,
        grand_total={"sales": sales, "returns": 0, "net": sales},
    )
    return message(sequence, "report.z", z, f"{today}T12:00:00+01:00")
