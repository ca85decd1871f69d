"""The files of docs/bus/ and the code that reads the bus give one verdict on every message.

An independent validator (``jsonschema``, draft 2020-12) reads each file; the code reads
with its Structs (the sync module's ``decode_message`` and the payload's Struct) or its
decoders (acks, catalog, orders, sync status). The corpus: the messages of a real till
(every kind, a receipt of every sort), the messages an earlier release really wrote
(``tillgw.bus/1``, tests/fiscal/recordings), the sync module's own catalog, order answer,
status and signed ack, and each of them broken by hand the ways a writer gets a message
wrong — money as decimal text where öre belong, an unlabelled VAT row, a missing field, an
unknown kind. Both must take the good ones and refuse the broken ones, and never differ.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.common.signing import Signer, load_or_create_key
from gateway.messages.ack_proof import AckSigner
from gateway.messages.catalog import (
    Article,
    CatalogRequest,
    Customer,
    StockLevel,
    decode_update,
    split_revision,
)
from gateway.messages.catalog import decode_request as decode_catalog_request
from gateway.messages.envelope import decode_ack, decode_message
from gateway.messages.fields import MessageError
from gateway.messages.orders import Order, OrderAnswer, OrderLine, OrderRequest, decode_answer
from gateway.messages.orders import decode_request as decode_order_request
from gateway.messages.sync_status import SyncStatus, decode_status
from gateway.receipts.model import Payment, PaymentMethod, Receipt
from tests.sync.conftest import TillFactory, a_day, line

DOCS_BUS = Path(__file__).resolve().parents[2] / "docs" / "bus"
RECORDING = Path(__file__).resolve().parents[1] / "fiscal" / "recordings" / "release-2084e15.db"

Json = dict[str, Any]
Breaker = Callable[[Json], None]


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((DOCS_BUS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def the_code_takes(decode: Callable[[bytes], Any], data: bytes) -> bool:
    try:
        decode(data)
    except MessageError:
        return False
    return True


def sync_module_takes(data: bytes) -> None:
    """What the sync module checks of a till's message: the envelope, and the payload as its Struct."""
    decode_message(data).body()


def broken(message: Json, breakers: dict[str, Breaker]) -> Iterator[tuple[str, bytes]]:
    """``message`` broken by each of ``breakers`` that applies to it (one that raises KeyError or
    IndexError does not)."""
    for label, breaker in breakers.items():
        copy = json.loads(json.dumps(message))
        try:
            breaker(copy)
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        yield label, json.dumps(copy, ensure_ascii=False).encode()


def _set(path: str, value: Any) -> Breaker:
    """A breaker that sets the field at ``path`` (``payload.sale.lines.0.quantity``); it must exist."""

    def apply(obj: Json) -> None:
        *parents, last = path.split(".")
        target: Any = obj
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last]  # only a field that is there is broken: KeyError otherwise
            target[last] = value

    return apply


def _drop(path: str) -> Breaker:
    def apply(obj: Json) -> None:
        *parents, last = path.split(".")
        target: Any = obj
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]

    return apply


def _add(key: str, value: Any) -> Breaker:
    def apply(obj: Json) -> None:
        obj[key] = value

    return apply


RECEIPT_2 = ("tillgw.bus/2", "receipt")
RECEIPT_1 = ("tillgw.bus/1", "receipt")
REPORTS = (("tillgw.bus/1", "report.x"), ("tillgw.bus/1", "report.z"))


def on(*kinds: tuple[str, str]) -> Callable[[Breaker], Breaker]:
    """A breaker for messages of ``kinds`` (schema, kind) only."""

    def wrap(breaker: Breaker) -> Breaker:
        def apply(obj: Json) -> None:
            if (obj["schema"], obj["kind"]) not in kinds:
                raise KeyError(obj["kind"])
            breaker(obj)

        return apply

    return wrap


def event(kind: str) -> tuple[str, str]:
    return ("tillgw.bus/1", kind)


TILL_BREAKERS: dict[str, Breaker] = {
    # still valid for both: a field neither knows is left alone
    "an extra envelope field": _add("note", "from a newer till"),
    # refused by both
    "no entry_hash": _drop("entry_hash"),
    "sequence 0": _set("sequence", 0),
    "sequence as text": _set("sequence", "1"),
    "an unknown kind": _set("kind", "receipt.void"),
    "an unknown schema": _set("schema", "tillgw.bus/3"),
    "payload a list": _set("payload", []),
    "receipt money as decimal text": on(RECEIPT_2)(_set("payload.totals.to_pay", "125.00")),
    "sale money as decimal text": on(RECEIPT_2)(_set("payload.sale.lines.0.unit_price", "32.50")),
    "payment as decimal text": on(RECEIPT_2)(_set("payload.sale.payments.0.amount", "100.00")),
    "a quantity that is no number": on(RECEIPT_2)(_set("payload.sale.lines.0.quantity", "two")),
    "a quantity as a number": on(RECEIPT_2)(_set("payload.sale.lines.0.quantity", 1)),
    "a line's rate in percent": on(RECEIPT_2)(_set("payload.sale.lines.0.vat_rate", 25)),
    "an unlabelled VAT row": on(RECEIPT_2)(_set("payload.totals.vat.0", [2500, 100, 20])),
    "a VAT row's rate as a number": on(RECEIPT_2)(_set("payload.totals.vat.0.rate", 25)),
    "an unknown means of payment": on(RECEIPT_2)(_set("payload.sale.payments.0.method", "bitcoin")),
    "no sale": on(RECEIPT_2)(_drop("payload.sale")),
    "a v2 receipt labelled v1": on(RECEIPT_2)(_set("schema", "tillgw.bus/1")),
    "a v1 receipt labelled v2": on(RECEIPT_1)(_set("schema", "tillgw.bus/2")),
    "v1 totals as decimal text": on(RECEIPT_1)(_set("payload.totals.total", "1.00")),
    "a v1 VAT row labelled": on(RECEIPT_1)(
        _set("payload.totals.vat.0", {"rate": "25", "gross": 1, "vat": 0})
    ),
    "v1 without its sale": on(RECEIPT_1)(_drop("payload.receipt")),
    "a report's rate as a number": on(*REPORTS)(_set("payload.vat.0.rate", 25)),
    "a report's net sales as decimal text": on(*REPORTS)(_set("payload.net_sales", "1.00")),
    "a report of another kind": on(*REPORTS)(_set("payload.report", "y")),
    "a drawer opening without its reason": on(event("drawer.open"))(_drop("payload.reason")),
    "a float change in kronor text": on(event("float.change"))(_set("payload.amount", "100.00")),
    "an order without a delivery": on(event("order.new"))(_drop("payload.delivery")),
    "a login without its cashier": on(event("cashier.login"))(_drop("payload.cashier")),
    "a customer's address as text": on(event("customer.change"))(_set("payload.address", "Storgatan 1")),
    "a price change without its article": on(event("price.change"))(_drop("payload.article")),
    "a price in kronor text": on(("tillgw.bus/2", "price.change"))(_set("payload.new_price", "34.00")),
    "a v1 price change labelled v2": on(event("price.change"))(_set("schema", "tillgw.bus/2")),
}


async def till_messages(make_till: TillFactory) -> list[bytes]:
    """A real till's messages: a day of receipts of every sort, a copy, every event, X and Z."""
    till = await make_till()
    await a_day(till.pipeline)
    await till.pipeline.copy(1)
    await till.pipeline.submit(
        "account",
        Receipt(
            (line("Skruv", 3, 2_50, 2500, article="S-1"),),
            (Payment(PaymentMethod.OTHER, 7_50),),
            customer="K1",
        ),
    )
    await till.pipeline.open_drawer("ANNA")
    await till.pipeline.record("cashier.login", {"cashier": "ANNA"})
    await till.pipeline.record("price.change", {"article": "1001", "new_price": "34.00", "cashier": "ANNA"})
    await till.pipeline.record("float.change", {"amount": "500.00", "cashier": "ANNA"})
    await till.pipeline.record(
        "customer.change", Customer("T-1", "Bygg AB", address=("Storgatan 1",)).to_json()
    )
    await till.pipeline.record(
        "order.new", {"customer": "K1", "lines": [{"article": "1001", "quantity": "2"}], "delivery": "later"}
    )
    await till.pipeline.record("cashier.logout", {"cashier": "ANNA"})
    await till.pipeline.report("x")
    await till.pipeline.report("z")
    return [data for _, data in await till.messages()]


def recorded_messages(tmp_path: Path) -> list[bytes]:
    """What the release of the recording (before tillgw.bus/2) put in its outbox."""
    copy = tmp_path / "recorded.db"
    shutil.copyfile(RECORDING, copy)
    with sqlite3.connect(copy) as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT message FROM outbox ORDER BY sequence")]


async def test_a_tills_messages_the_file_and_the_sync_module_agree(
    make_till: TillFactory, tmp_path: Path
) -> None:
    files = validator("till-message.schema.json")
    good = [*await till_messages(make_till), *recorded_messages(tmp_path)]
    kinds = {(m["schema"], m["kind"]) for m in map(json.loads, good)}
    assert {kind for _, kind in kinds} == {
        "receipt", "report.x", "report.z", "drawer.open", "cashier.login", "cashier.logout",
        "price.change", "float.change", "customer.change", "order.new",
    }  # fmt: skip
    assert ("tillgw.bus/2", "receipt") in kinds and ("tillgw.bus/1", "receipt") in kinds
    corpus = [("as sent", data) for data in good]
    corpus += [case for data in good for case in broken(json.loads(data), TILL_BREAKERS)]
    verdicts = [
        (label, files.is_valid(json.loads(data)), the_code_takes(sync_module_takes, data))
        for label, data in corpus
    ]
    assert [(label, by_file, by_code) for label, by_file, by_code in verdicts if by_file != by_code] == []
    refused = {label for label, ok, _ in verdicts if not ok}
    assert refused == set(TILL_BREAKERS) - {"an extra envelope field"}  # each broken way was met, and refused
    assert all(ok for label, ok, _ in verdicts if label in ("as sent", "an extra envelope field"))


async def test_what_no_json_schema_can_say_the_sync_module_still_refuses(make_till: TillFactory) -> None:
    """A msg_id is made of the fields beside it: documented in docs/bus/README.md, checked in code."""
    [data, *_] = await till_messages(make_till)
    wrong = {**json.loads(data), "msg_id": "5560360793/vaxjo/KASSA1/99"}
    assert validator("till-message.schema.json").is_valid(wrong)
    with pytest.raises(MessageError, match=r"msg_id .* is not"):
        decode_message(json.dumps(wrong).encode())


def the_sync_modules_messages(tmp_path: Path) -> dict[str, tuple[Callable[[bytes], Any], list[bytes]]]:
    """The messages of the other files, made by the code that sends them, with their decoders."""
    article = Article("1001", "Kaffe", 32_50, 1200, ("7310000000017",), group="Fika")
    revision = split_revision(
        "5560360793",
        "vaxjo",
        2,
        1,
        full=False,
        at="2026-03-02T06:00:00+01:00",
        sections={
            "articles": ([article], ["999"]),
            "customers": ([Customer("K1", "Bygg AB", orgnr="5561234567", address=("Storgatan 1",))], []),
            "stock": ([StockLevel("1001", Decimal("-2.5"))], []),
        },
    )
    order = Order("S1", "K1", (OrderLine("1001", "Kaffe", Decimal("2"), 32_50, 1200, Decimal(0)),), "Bygg AB")
    status = SyncStatus.make(
        "5560360793",
        "vaxjo",
        "sync-1",
        datetime.fromisoformat("2026-03-02T10:00:00+01:00"),
        "stored 3, processed 2",
        ["ERROR 10:00:01 sie: cannot write"],
        [{"msg_id": "5560360793/vaxjo/KASSA1/3", "register": "KASSA1", "sequence": 3, "kind": "receipt",
          "reason": "unknown register", "held_by": "intake", "since": "2026-03-02T09:59:00+01:00"}],
        [{"register": "KASSA1", "sequence": 812, "receipt": 640},
         {"register": "KASSA9", "sequence": 1, "receipt": None}],
    )  # fmt: skip
    signer = AckSigner(Signer(load_or_create_key(tmp_path / "ack-key.pem")))
    return {
        "catalog-update.schema.json": (decode_update, [part.to_bytes() for part in revision]),
        "catalog-request.schema.json": (
            decode_catalog_request,
            [CatalogRequest("KASSA1", 3, "start").to_bytes()],
        ),
        "order-request.schema.json": (
            decode_order_request,
            [OrderRequest("r-1", customer="K1").to_bytes(), OrderRequest("r-2", number="S1").to_bytes()],
        ),
        "order-answer.schema.json": (
            decode_answer,
            [
                OrderAnswer("r-1", (order,)).to_bytes(),
                OrderAnswer("r-2", error="Fortnox: 2000423").to_bytes(),
            ],
        ),
        "sync-status.schema.json": (decode_status, [status.to_bytes()]),
        "ack.schema.json": (
            decode_ack,
            [
                signer.ack("5560360793/vaxjo/KASSA1/1", "stored", None, "ab" * 32).to_bytes(),
                signer.ack("5560360793/vaxjo/KASSA1/2", "held", "unknown register", "cd" * 32).to_bytes(),
            ],
        ),
    }


ANY = ""
OTHER_BREAKERS: dict[str, tuple[str, Breaker]] = {
    # label: (the file whose messages it breaks, or ANY; how)
    "an extra field": (ANY, _add("note", "from a newer sync module")),
    "another schema": (ANY, _set("schema", "tillgw.other/1")),
    "an article's price as decimal text": ("catalog-update", _set("items.0.price", "32.50")),
    "an article's negative price": ("catalog-update", _set("items.0.price", -1)),
    "an article's rate in percent": ("catalog-update", _set("items.0.vat_rate", 12)),
    "a barcode with a space": ("catalog-update", _set("items.0.barcodes.0", "731 0")),
    "a stock quantity as a number": ("catalog-update", _set("items.0.quantity", 2)),
    "a customer without a name": ("catalog-update", _drop("items.0.name")),
    "a revision 0": ("catalog-update", _set("revision", 0)),
    "a section that is none": ("catalog-update", _set("section", "prices")),
    "holds negative": ("catalog-request", _set("holds", -1)),
    "a request reason that is none": ("catalog-request", _set("reason", "because")),
    "a request id with a space": ("order-request", _set("request_id", "r 1")),
    "a customer number with a line feed": ("order-request", _set("customer", "K\n1")),
    "an order line's price as decimal text": ("order-answer", _set("orders.0.lines.0.unit_price", "32.50")),
    "an order line's quantity as a number": ("order-answer", _set("orders.0.lines.0.quantity", 2)),
    "an order without lines": ("order-answer", _drop("orders.0.lines")),
    "an error that is no text": ("order-answer", _set("error", 1)),
    "a state that is none": ("sync-status", _set("state", "fine")),
    "an empty summary": ("sync-status", _set("summary", "")),
    "eleven errors": ("sync-status", _set("errors", ["e"] * 11)),
    "a held message without its reason": ("sync-status", _drop("held.0.reason")),
    "a register's sequence as text": ("sync-status", _set("registers.0.sequence", "812")),
    "a register's receipt below 0": ("sync-status", _set("registers.0.receipt", -1)),
    "a register without its name": ("sync-status", _drop("registers.1.register")),
    "an ack status that is none": ("ack", _set("status", "maybe")),
    "an ack without msg_id": ("ack", _drop("msg_id")),
    "a proof that is no text": ("ack", _set("proof", 5)),
}


def test_the_sync_modules_messages_the_files_and_the_decoders_agree(tmp_path: Path) -> None:
    refused: set[str] = set()
    for name, (decode, good) in the_sync_modules_messages(tmp_path).items():
        files = validator(name)
        corpus = [("as sent", data) for data in good]
        breakers = {label: b for label, (of, b) in OTHER_BREAKERS.items() if name.startswith(of)}
        corpus += [case for data in good for case in broken(json.loads(data), breakers)]
        for label, data in corpus:
            by_file, by_code = files.is_valid(json.loads(data)), the_code_takes(decode, data)
            assert (name, label, by_file) == (name, label, by_code)
            if not by_file:
                refused.add(label)
            else:
                assert label in ("as sent", "an extra field"), (name, label)
    assert refused == set(OTHER_BREAKERS) - {"an extra field"}


def test_an_order_request_names_a_customer_or_an_order() -> None:
    files = validator("order-request.schema.json")
    neither = b'{"schema": "tillgw.order-request/1", "request_id": "r-1"}'
    assert not files.is_valid(json.loads(neither))
    assert not the_code_takes(decode_order_request, neither)
