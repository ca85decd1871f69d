"""What the ERP benchmarks share: the store they book for, and a bus message of it."""

from __future__ import annotations

from typing import Any

from gateway.messages.envelope import BusMessage

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


def z_message(sequence: int, receipts: int, today: str) -> BusMessage:
    """The Z report of a day of ``receipts`` card receipts of :data:`PRICE`."""
    z = {
        "report": "z",
        "z_no": 1,
        "at": f"{today}T22:00:00+01:00",
        "company": {"orgnr": ORGNR, "name": "Kaffebaren i Växjö AB"},
        "pos_id": REGISTER,
        "net_sales": receipts * PRICE,
        "vat": [{"rate": "25", "gross": receipts * PRICE, "vat": receipts * VAT}],
        "payments": {"card": receipts * PRICE},
        "rounding": 0,
    }
    return message(sequence, "report.z", z, f"{today}T12:00:00+01:00")
