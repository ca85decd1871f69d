"""What the ERPs' order adapters share (gateway.sync.orders.common): an ERP's order line as the
till's, and the records that make each receipt pay an order, and each new order be made, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from gateway.messages.bodies import Delivery, OrderLineBody, OrderNewBody
from gateway.messages.envelope import BusMessage
from gateway.messages.orders import NewOrder
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, ReceiptType
from gateway.sync.adapters import AdapterError
from gateway.sync.orders.common import OrderAdapter, OrderRecords, ore, quantity, till_line, vat_rate
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.references import ReferenceField
from gateway.sync.sql import SqlConnection, SqliteConnection
from tests.sync.payloads import sale_payload


def test_numbers_as_the_erps_send_them() -> None:
    assert [quantity(x) for x in (2.0, "2.50", None, 0.125)] == [
        Decimal(2),
        Decimal("2.5"),
        0,
        Decimal("0.125"),
    ]
    assert [ore(x) for x in (12.5, "0.005", None, -1.005)] == [1250, 1, 0, -101]
    assert [vat_rate(x, "line 1") for x in (25, "12.0", 6, None)] == [2500, 1200, 600, 0]
    with pytest.raises(OrderLookupError, match=r"^order 7: line 2 has VAT 18 %, not 25, 12, 6 or 0$"):
        vat_rate(18, "order 7: line 2")


def test_a_line_gets_the_tills_price_incl_vat_and_a_text() -> None:
    def line(price: int, *, includes_vat: bool = False, text: object = "Kaffe") -> tuple[int, str]:
        made = till_line(
            "order 7: line 1",
            article="1001",
            text=text,
            quantity=Decimal(2),
            price=price,
            rate=1200,
            includes_vat=includes_vat,
            round_up_to_krona=False,
            delivered=Decimal(0),
        )
        return made.unit_price, made.text

    assert line(2500) == (2800, "Kaffe")  # 25,00 kr excl. VAT: 28,00 kr at 12 %
    assert line(2800, includes_vat=True) == (2800, "Kaffe")
    assert line(100, text="x" * 60)[1] == "x" * 50
    assert line(100, text=None)[1] == "-"
    # The till charges no negative line (Business Central's, NAV's and Fortnox's alike).
    with pytest.raises(OrderLookupError, match=r"order 7: line 1 has a negative unit price \(-10,00 kr\)"):
        line(-1000)


def _message(kind: str, payload: dict[str, Any], sequence: int = 1) -> BusMessage:
    return BusMessage(
        f"5561234567/main/KASSA1/{sequence}", kind, "5561234567", "main", "KASSA1", sequence, sequence,
        "ab", "2026-05-21T10:00:00+02:00", payload,
    )  # fmt: skip


def _new_order() -> dict[str, Any]:
    """An ``order.new`` as the till writes it: one coffee for customer 20000, taken now."""
    line = OrderLineBody(article="1001", quantity="1", text=None)
    return OrderNewBody(
        customer="20000",
        lines=(line,),
        delivery=Delivery.NOW,
        note=None,
        reference="O-KASSA1-1",
        pos_id="KASSA1",
    ).to_json()


def _receipt(
    receipt_no: int, *, order: str | None = None, type: ReceiptType = ReceiptType.NORMAL
) -> dict[str, Any]:
    """A receipt of a coffee paid by card, paying sales order ``order`` when one is given."""
    sale = Receipt(
        (Line("Kaffe", Decimal(1), 32_50, 1200, article="1001"),),
        (Payment(PaymentMethod.CARD, 32_50),),
        order=order,
    )
    return sale_payload(sale, receipt_no, type=type, at="2026-05-21T10:00:00+02:00")


class _Erp(OrderAdapter):
    name = "Test ERP (orders)"
    erp = "Test ERP"
    failures = (ConnectionError,)
    records = OrderRecords("test_orders")
    field = ReferenceField("Test ERP reference", 80)

    def __init__(self) -> None:
        self.made: list[str] = []
        self.paid: list[str] = []

    async def _make_order(self, m: BusMessage, order: NewOrder, ref: str) -> tuple[str, str]:
        self.made.append(ref)
        return f"SO-{len(self.made)}", ", shipped"

    async def _pay_order(
        self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, ref: str, order_no: str
    ) -> tuple[str, str]:
        if order_no == "down":
            raise ConnectionError("the ERP does not answer")
        self.paid.append(ref)
        return f"INV-{len(self.paid)}", ""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqlConnection]:
    conn = SqliteConnection(await aiosqlite.connect(tmp_path / "inbox.db", isolation_level=None))
    yield conn
    await conn.close()


async def test_each_order_is_made_and_each_receipt_pays_once(db: SqlConnection) -> None:
    erp = _Erp()
    await erp.setup(db)
    new = _message("order.new", _new_order())
    order, receipt = "5561234567/main/KASSA1/O1", "5561234567/main/KASSA1/R4"  # the full form: it fits 80
    assert await erp.process(db, new) == f"order {order} (20000) made sales order SO-1, shipped"
    assert await erp.process(db, new) == f"order {order} already is sales order SO-1; nothing done"
    paying = _message("receipt", _receipt(4, order="SO-1"), 2)
    assert await erp.process(db, paying) == f"receipt {receipt} paid sales order SO-1: invoice INV-1"
    assert await erp.process(db, paying) == (
        f"receipt {receipt} already paid order SO-1 (invoice INV-1); nothing done"
    )
    assert (erp.made, erp.paid) == ([order], [receipt])
    # Not the adapter's: a training receipt, one that pays no order.
    training = _message("receipt", _receipt(5, order="SO-1", type=ReceiptType.TRAINING), 3)
    plain = _message("receipt", _receipt(6), 4)
    assert [await erp.process(db, m) for m in (training, plain)] == [None, None]
    # The ERP's failure names it; an order without a reference is no order to make.
    down = _message("receipt", _receipt(7, order="down"), 5)
    with pytest.raises(AdapterError, match=r"^Test ERP: the ERP does not answer$"):
        await erp.process(db, down)
    unnamed = _message("order.new", {**new.payload, "reference": None}, 6)
    with pytest.raises(AdapterError, match="the order has no reference"):
        await erp.process(db, unnamed)


async def test_what_the_older_module_recorded_under_the_register_alone_is_this_stores(
    db: SqlConnection,
) -> None:
    """The records are per store, so the older ``{register}-{n}`` form found there is this
    store's: the order is not made again, the receipt does not pay again; another store's
    record of the same form is not this store's."""
    erp = _Erp()
    await erp.setup(db)
    rows = [
        ("5561234567", "main", "O-KASSA1-1", "new", "SO-7", "SO-7"),
        ("5561234567", "main", "KASSA1-4", "paid", "SO-7", "INV-7"),
        ("5561234567", "north", "KASSA1-5", "paid", "SO-8", "INV-8"),
    ]
    for row in rows:
        await db.execute(
            "INSERT INTO test_orders (orgnr, store, reference, action, order_no, document_no, "
            "msg_id, made_at) VALUES (?, ?, ?, ?, ?, ?, 'old', 'then')",
            row,
        )
    new = _message("order.new", _new_order())
    assert (await erp.process(db, new) or "").endswith("already is sales order SO-7; nothing done")
    paying = _message("receipt", _receipt(4, order="SO-7"), 2)
    assert (await erp.process(db, paying) or "").endswith("(invoice INV-7); nothing done")
    other = _message("receipt", _receipt(5, order="SO-9"), 3)
    assert (
        await erp.process(db, other)
        == "receipt 5561234567/main/KASSA1/R5 paid sales order SO-9: invoice INV-1"
    )
    assert erp.made == []
