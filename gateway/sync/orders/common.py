"""What the ERPs' sales-order adapters share (Business Central, Dynamics NAV, Fortnox).

* An ERP's order as the tills get it: :func:`vat_rate` and :func:`till_line` make each
  charged line the till's — its price incl. VAT in öre exactly as the catalog's prices
  are made (:func:`~gateway.sync.masterdata.pricing.price_incl_vat`), its text at most
  50 characters — and :func:`till_order` the order. What the ERP sends as numbers is read
  with :func:`quantity` and :func:`ore`.
* What an adapter did, so it is done once (:class:`OrderRecords`): one table per ERP, a
  row per receipt that paid an order (``paid``), per new order from a till (``new``), and
  for Fortnox per receipt sent as an order (``receipt``).
* The steps around the ERP's own work (:class:`OrderAdapter`): a receipt that pays an
  order and an ``order.new`` are read, given their reference in the chain
  (:mod:`gateway.sync.references`, in the form the ERP's field takes), looked for in the
  records (found: nothing is done again — under that reference, or under the form the
  module wrote before, which the records keep per store), handed to the ERP's adapter, and
  recorded in the same transaction that marks the message processed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from gateway.messages.envelope import BusMessage
from gateway.messages.orders import NewOrder, Order, OrderFieldError, OrderLine
from gateway.messages.receipt_payload import ReceiptPayload
from gateway.receipts.model import ReceiptType
from gateway.receipts.money import kronor_text
from gateway.receipts.vat import VAT_RATES
from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.source_common import ore
from gateway.sync.database import now_text
from gateway.sync.masterdata.pricing import price_incl_vat
from gateway.sync.orders.source import OrderLookupError
from gateway.sync.payloads import receipt_payload, sale_of
from gateway.sync.references import DocumentReference, ReferenceField, order_number
from gateway.sync.sql import SqlConnection

__all__ = [
    "OrderAdapter",
    "OrderRecords",
    "ore",
    "quantity",
    "till_line",
    "till_order",
    "vat_rate",
]


def quantity(value: Any) -> Decimal:
    """A quantity the ERP sent (a JSON number or decimal text), as the decimal it means
    (``2.0`` -> ``2``); nothing is 0."""
    d = Decimal(str(value or 0))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def vat_rate(percent: Any, where: str) -> int:
    """The till's VAT rate (hundredths of a percent) of the ERP's percentage on the line ``where``."""
    rate = int(Decimal(str(percent or 0)) * 100)
    if rate not in VAT_RATES:
        raise OrderLookupError(f"{where} has VAT {percent} %, not 25, 12, 6 or 0")
    return rate


def till_line(
    where: str,
    *,
    article: str | None,
    text: Any,
    quantity: Decimal,
    price: int,
    rate: int,
    includes_vat: bool,
    round_up_to_krona: bool,
    delivered: Decimal,
    invoiced: Decimal | None = None,
) -> OrderLine:
    """The charged line ``where`` of an ERP's order as the till's.

    ``price`` is the ERP's for one unit in öre, incl. VAT when ``includes_vat``; the till
    gets it incl. VAT as the catalog's prices are made. ``text`` is the line's own (its
    description, else its article), cut to 50 characters, ``-`` when there is none. The
    till charges no negative line: such a line makes the order one it is not given.
    """
    if price < 0:
        raise OrderLookupError(
            f"{where} has a negative unit price ({kronor_text(price)}); the till charges no such line"
        )
    return OrderLine(
        article=article,
        text=str(text or "")[:50] or "-",
        quantity=quantity,
        unit_price=price_incl_vat(
            price, rate, includes_vat=includes_vat, round_up_to_krona=round_up_to_krona
        ),
        vat_rate=rate,
        delivered=delivered,
        invoiced=invoiced,
    )


def till_order(number: Any, customer: Any, lines: list[OrderLine], *, name: Any, reference: Any) -> Order:
    """The order as the tills get it; an empty name or reference is none."""
    return Order(
        number=str(number),
        customer=str(customer),
        lines=tuple(lines),
        customer_name=str(name) if name else None,
        reference=str(reference) if reference else None,
    )


_RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    orgnr TEXT NOT NULL,
    store TEXT NOT NULL,
    reference TEXT NOT NULL,          -- our reference (gateway/sync/references.py), or the older
                                      -- "{{register}}-{{n}}" / "O-{{register}}-{{n}}" it wrote before
    action TEXT NOT NULL,             -- 'paid' (a receipt paid the order) | 'new' (made from order.new)
                                      -- | 'receipt' (a receipt sent as an order: Fortnox's invoices_as)
    order_no TEXT NOT NULL,
    document_no TEXT NOT NULL,        -- the invoice's number ('paid'); the order's otherwise
    msg_id TEXT NOT NULL,
    made_at TEXT NOT NULL,
    PRIMARY KEY (orgnr, store, action, reference)
);
"""


class OrderRecords:
    """One ERP's table of what its order adapter did: by store, action and reference, once."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.schema = _RECORDS_SCHEMA.format(table=table)

    async def recorded(self, db: SqlConnection, m: BusMessage, action: str, ref: str) -> str | None:
        """The document ``action`` made for ``ref`` in ``m``'s store, None when it has not been done."""
        async with db.execute(
            f"SELECT document_no FROM {self.table} "
            "WHERE orgnr = ? AND store = ? AND action = ? AND reference = ?",
            (m.orgnr, m.store, action, ref),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def record(
        self, db: SqlConnection, m: BusMessage, action: str, ref: str, order_no: str, document: str
    ) -> None:
        await db.execute(
            f"INSERT INTO {self.table} "
            "(orgnr, store, reference, action, order_no, document_no, msg_id, made_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (m.orgnr, m.store, ref, action, order_no, document, m.msg_id, now_text()),
        )


class OrderAdapter:
    """What every ERP's order adapter does the same way; the ERP's own work is its hooks.

    A receipt with ``order`` pays that order (:meth:`_pay_order`), an ``order.new``
    makes one (:meth:`_make_order`); each is done once per reference, as
    :attr:`records` says. The ERP's errors (:attr:`failures`) become an
    :class:`~gateway.sync.adapters.AdapterError` that names the ERP (:attr:`erp`).
    """

    name: str
    records: ClassVar[OrderRecords]
    field: ClassVar[ReferenceField]  # the ERP's field that carries our reference
    # For :meth:`process` (an adapter that reads its messages otherwise has its own):
    erp: ClassVar[str]  # how an error names the ERP: "NAV: …"
    failures: ClassVar[tuple[type[Exception], ...]]  # the ERP client's errors

    def handles(self, kind: str) -> bool:
        return kind in ("receipt", "order.new")

    async def setup(self, db: SqlConnection) -> None:
        await db.executescript(self.records.schema)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        try:
            if message.kind == "order.new":
                return await self._new(db, message)
            payload = receipt_payload(message)
            if payload.type != ReceiptType.NORMAL:
                return None
            order = sale_of(message, payload).order
            if not order:
                return None
            return await self._pay(db, message, payload, order)
        except self.failures as exc:
            raise AdapterError(f"{self.erp}: {exc}") from None

    # -- a receipt pays an order ----------------------------------------------------------

    async def _recorded(
        self, db: SqlConnection, m: BusMessage, action: str, reference: DocumentReference
    ) -> str | None:
        """What was done for ``reference`` in ``m``'s store: under it, or under its legacy form."""
        earlier = await self.records.recorded(db, m, action, reference.in_field(self.field))
        if earlier is None and reference.legacy is not None:
            earlier = await self.records.recorded(db, m, action, reference.legacy)
        return earlier

    async def _pay(self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, order_no: str) -> str:
        reference = DocumentReference.of(m, "receipt", payload.receipt_no)
        ref = reference.in_field(self.field)
        earlier = await self._recorded(db, m, "paid", reference)
        if earlier is not None:
            return f"receipt {ref} already paid order {order_no} (invoice {earlier}); nothing done"
        invoice, how = await self._pay_order(db, m, payload, ref, order_no)
        await self.records.record(db, m, "paid", ref, order_no, invoice)
        return f"receipt {ref} paid sales order {order_no}: invoice {invoice}{how}"

    async def _pay_order(
        self, db: SqlConnection, m: BusMessage, payload: ReceiptPayload, ref: str, order_no: str
    ) -> tuple[str, str]:
        """Receipt ``ref`` (``payload``) pays order ``order_no`` in the ERP: (the invoice's number,
        how, for the log)."""
        raise NotImplementedError

    # -- a new order from a till ----------------------------------------------------------

    async def _new(self, db: SqlConnection, m: BusMessage) -> str:
        try:
            order = NewOrder.from_json(m.payload)
        except OrderFieldError as exc:
            raise AdapterError(f"{m.msg_id}: the order cannot be read: {exc}") from None
        if order.reference is None:
            raise AdapterError(f"{m.msg_id}: the order has no reference")
        try:
            reference = DocumentReference.of(m, "order", order_number(m, order.reference))
        except ValueError as exc:
            raise AdapterError(f"{m.msg_id}: {exc}") from None
        ref = reference.in_field(self.field)
        earlier = await self._recorded(db, m, "new", reference)
        if earlier is not None:
            return f"order {ref} already is sales order {earlier}; nothing done"
        number, how = await self._make_order(m, order, ref)
        await self.records.record(db, m, "new", ref, number, number)
        return f"order {ref} ({order.customer}) made sales order {number}{how}"

    async def _make_order(self, m: BusMessage, order: NewOrder, ref: str) -> tuple[str, str]:
        """The till's ``order`` (our reference ``ref``) made in the ERP, found first if it is there
        already — also under the till's own ``order.reference``, the form the module wrote
        before, when the ERP's order is this store's by its fields: (the ERP's order number,
        how, for the log)."""
        raise NotImplementedError
