"""Checking a bus message: the sync module's Structs (msgspec) against the JSON Schema files (jsonschema).

    .venv/bin/python benchmarks/bench_bus_validation.py [--messages 20000] [--rounds 5]

**The message**: a ``receipt`` of ``tillgw.bus/2`` as the outbox writes it — a sale of four
lines at three VAT rates paid by card and in cash, projected from the journal's figures
(``receipt_payload_of``, ``totals_body``) into its envelope — about 2 KB of JSON.

**Measured**, on one core, the best of ``--rounds`` rounds of ``--messages`` each:

* *Structs*: what the sync module does with a message it takes — ``decode_message`` (the
  envelope's Struct from the bytes) and ``body()`` (the payload's Struct by kind and schema);
* *jsonschema*: what a consumer written from ``docs/bus/till-message.schema.json`` does —
  ``json.loads`` and ``Draft202012Validator.is_valid`` (the validator built once).

Both refuse and accept the same messages (tests/sync/test_schema_agreement.py); this is
why the sync module checks with the Structs at run time and the files are made from them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import jsonschema

from gateway.fiscal.receipt_entries import totals_body
from gateway.messages.envelope import BusMessage, decode_message
from gateway.messages.receipt_payload import receipt_payload_of
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, ReceiptType, compute

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "bus" / "till-message.schema.json"


def a_receipt_message() -> bytes:
    sale = Receipt(
        (
            Line("Kaffe", Decimal(2), 32_50, 1200, article="1001", group="Fika"),
            Line("Kanelbulle", Decimal(1), 28_40, 1200, article="1002", group="Fika"),
            Line("T-shirt", Decimal(1), 199_00, 2500, discount=20_00, article="2001", group="Kläder"),
            Line("Tidning", Decimal(1), 45_00, 600, article="3001"),
        ),
        (Payment(PaymentMethod.CARD, 300_00, "123456"), Payment(PaymentMethod.CASH, 100_00)),
        cashier="ANNA",
    )
    payload = receipt_payload_of(
        receipt_no=4711,
        type=ReceiptType.NORMAL,
        at="2026-03-02T10:15:00+01:00",
        copy_of=None,
        control_code="ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        unit_id="CCSP000000012345",
        totals=totals_body(compute(sale)),
        sale=sale,
        cashier="ANNA",
    )
    message = BusMessage(
        "5560360793/vaxjo/KASSA1/4711", "receipt", "5560360793", "vaxjo", "KASSA1", 4711, 9422, "ab" * 32,
        "2026-03-02T10:15:01+01:00", payload.to_json(),
    )  # fmt: skip
    return message.to_bytes()


def rate(check: Callable[[bytes], object], data: bytes, messages: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(messages):
            check(data)
        best = max(best, messages / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = a_receipt_message()
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))

    def by_structs(raw: bytes) -> object:
        return decode_message(raw).body()

    def by_schema(raw: bytes) -> object:
        return validator.is_valid(json.loads(raw))

    assert by_schema(data) is True
    structs = rate(by_structs, data, args.messages, args.rounds)
    schema = rate(by_schema, data, max(args.messages // 20, 100), args.rounds)
    print(f"a receipt message of {len(data)} bytes, best of {args.rounds} rounds")
    print("| check | messages/s | µs per message |\n|---|---|---|")
    for name, per_second in (("Structs (msgspec)", structs), ("jsonschema", schema)):
        print(f"| {name} | {per_second:,.0f} | {1e6 / per_second:,.1f} |")
    print(f"Structs are {structs / schema:,.0f} times as fast")


if __name__ == "__main__":
    main()
