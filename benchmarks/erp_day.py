"""What the ERP benchmarks share: the store they book for, and a bus message of it."""

from __future__ import annotations

from typing import Any

from gateway.bus.messages import BusMessage

ORGNR, STORE, REGISTER = "5560360793", "vaxjo", "KASSA1"


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
