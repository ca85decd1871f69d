"""The answers the API writes, as Structs whose JSON Schema is each answer's shape.

The handlers build their answers as plain JSON objects (``to_json`` of the receipt, the
parked sale, the catalog's rows); these Structs say what those objects hold, field by
field, and the tests hold every answer the running till gives against them. An X or Z
report is the one answer the code already writes from a Struct: its schema is that of
:class:`~gateway.messages.bodies.ReportBody` with amounts as text, and
:class:`ReportAnswer` adds what the API puts beside it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from gateway.api.openapi.fields import DateTime, MoneyOut, QuantityOut, RateOut, RequestId
from gateway.messages.bodies import Delivery
from gateway.receipts.model import LineKind, PaymentMethod
from protocols.skv import ReceiptType

__all__ = [
    "ArticleAnswer",
    "ArticleSearch",
    "CustomerAnswer",
    "CustomerChanged",
    "CustomerSearch",
    "DrawerOpened",
    "ErrorAnswer",
    "EventRecorded",
    "LastReceipts",
    "LastZReports",
    "NewOrderAnswer",
    "OrderAnswer",
    "OrderList",
    "ParkedList",
    "ParkedSaleAnswer",
    "ReceiptAnswer",
    "ReportExtras",
    "StatusAnswer",
]


class ErrorDetail(msgspec.Struct, forbid_unknown_fields=True):
    """What went wrong, in words for the cashier or the log."""

    code: Annotated[str, Meta(examples=["invalid"])]
    message: str
    field: (
        Annotated[str, Meta(description="The field at fault", examples=["lines[0].vat_rate"])] | UnsetType
    ) = UNSET
    in_doubt: (
        Annotated[bool, Meta(description="storage_full only: whether the control unit may hold the receipt")]
        | UnsetType
    ) = UNSET


class ErrorAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """Every error of the API: the status says whose move it is, ``code`` what happened."""

    error: ErrorDetail


class LineAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """A line as the till keeps it: every amount written out."""

    text: str
    quantity: QuantityOut
    unit_price: MoneyOut
    vat_rate: RateOut
    discount: MoneyOut
    kind: LineKind
    article: str | UnsetType = UNSET
    group: str | UnsetType = UNSET


class PaymentAnswer(msgspec.Struct, forbid_unknown_fields=True):
    method: PaymentMethod
    amount: MoneyOut
    reference: str | UnsetType = UNSET


class SaleAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """The sale as the POS posted it, every amount written out."""

    type: ReceiptType
    lines: list[LineAnswer]
    payments: list[PaymentAnswer]
    discount: MoneyOut
    cashier: str | UnsetType = UNSET
    customer: str | UnsetType = UNSET
    order: str | UnsetType = UNSET


class VatAnswer(msgspec.Struct, forbid_unknown_fields=True):
    rate: RateOut
    gross: MoneyOut
    vat: MoneyOut
    net: MoneyOut


class TotalsAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """The receipt's figures: ``rounding`` is öresavrundning of the cash part, ``paid`` the
    net per means of payment (change deducted)."""

    total: MoneyOut
    rounding: MoneyOut
    to_pay: MoneyOut
    discount: MoneyOut
    change: MoneyOut
    return_total: MoneyOut
    vat: list[VatAnswer]
    paid: dict[PaymentMethod, MoneyOut]
    items: int
    services: int


class ReceiptAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """A registered receipt (or its copy: ``type`` ``kopia``, no ``id``)."""

    receipt_no: int
    type: ReceiptType
    at: DateTime
    control_code: str
    unit_id: str
    receipt: SaleAnswer
    totals: TotalsAnswer
    journal_entry: Annotated[int, Meta(description="The receipt's entry in the signed journal")]
    printed: Annotated[bool, Meta(description="Whether the printer has confirmed it on paper now")]
    text: Annotated[str, Meta(description="The receipt as printed, in plain text")]
    id: RequestId | UnsetType = UNSET
    parked: Annotated[str, Meta(description="The parked sale this receipt completed")] | UnsetType = UNSET


class ParkedSaleAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """A parked sale, whatever became of it."""

    id: RequestId
    state: Annotated[str, Meta(extra_json_schema={"enum": ["parked", "resumed", "abandoned", "completed"]})]
    parked_at: DateTime
    journal_entry: int
    lines: list[LineAnswer]
    discount: MoneyOut
    total: Annotated[MoneyOut, Meta(description="The lines after the discounts, before öresavrundning")]
    cashier: str | UnsetType = UNSET
    ended_entry: Annotated[int, Meta(description="The entry that took it off the parking")] | UnsetType = (
        UNSET
    )
    receipt_no: Annotated[int, Meta(description="The receipt that completed it")] | UnsetType = UNSET


class ParkedList(msgspec.Struct, forbid_unknown_fields=True):
    """The sales parked now, the oldest first."""

    parked: list[ParkedSaleAnswer]
    count: int
    total: MoneyOut


class DrawerOpened(msgspec.Struct, forbid_unknown_fields=True):
    journal_entry: int
    cashier: str | None


class EventRecorded(msgspec.Struct, forbid_unknown_fields=True):
    journal_entry: int
    type: Annotated[
        str,
        Meta(extra_json_schema={"enum": ["cashier.login", "cashier.logout", "price.change", "float.change"]}),
    ]


class ReportExtras(msgspec.Struct, forbid_unknown_fields=False):
    """What the API adds to the report's figures."""

    journal_entry: int
    entry_hash: str
    printing: Annotated[
        bool, Meta(description="Sent to the printer's queue (false: the till has no printer)")
    ]
    text: Annotated[str, Meta(description="The report as the paper shows it")]


class ReceiptSummary(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    receipt_no: int
    kind: ReceiptType
    at: DateTime
    total: MoneyOut
    to_pay: MoneyOut
    is_return: bool = msgspec.field(name="return")  # a Python keyword: the JSON name given apart
    control_code: str
    unit_id: str
    printed: Annotated[
        bool, Meta(description="false until confirmed on paper, and on a till without printer")
    ]


class LastReceipts(msgspec.Struct, forbid_unknown_fields=True):
    """The latest receipts (copies too), newest first."""

    receipts: list[ReceiptSummary]
    last: int


class ZSummary(msgspec.Struct, forbid_unknown_fields=True):
    z_no: int
    journal_entry: int
    at: DateTime
    net_sales: MoneyOut
    sales: int
    returns: int


class LastZReports(msgspec.Struct, forbid_unknown_fields=True):
    """The latest Z reports, newest first (empty before the first)."""

    reports: list[ZSummary]
    last: int


class ArticleAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """An article, ready to be a receipt line (``unit_price`` ← ``price``, ``article`` ← ``number``)."""

    number: str
    name: str
    price: MoneyOut
    vat_rate: RateOut
    unit: str | None
    group: str | None
    kind: LineKind
    stock_goods: bool
    barcodes: list[str]
    stock: Annotated[QuantityOut, Meta(description="null: the ERP keeps no stock for it")] | None


class ArticleSearch(msgspec.Struct, forbid_unknown_fields=True):
    articles: list[ArticleAnswer]
    limit: int


class CustomerAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """A customer; ``provisional``: made at the till, not yet sent back by the ERP."""

    number: str
    name: str
    orgnr: str | None
    email: str | None
    phone: str | None
    address: list[str]
    price_list: str | None
    provisional: bool


class CustomerSearch(msgspec.Struct, forbid_unknown_fields=True):
    customers: list[CustomerAnswer]
    limit: int


class CustomerChanged(msgspec.Struct, forbid_unknown_fields=True):
    customer: CustomerAnswer
    journal_entry: int
    created: bool


class OrderLineAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """An order line as a receipt line takes it; ``delivered`` and ``invoiced`` as the ERP says
    (null when it does not)."""

    article: str | None
    text: str | None
    quantity: QuantityOut
    unit_price: MoneyOut
    vat_rate: RateOut
    delivered: QuantityOut | None
    invoiced: QuantityOut | None


class OrderAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """An open order in the ERP."""

    number: str
    customer: str
    customer_name: str | None
    reference: str | None
    lines: list[OrderLineAnswer]


class OrderList(msgspec.Struct, forbid_unknown_fields=True):
    orders: list[OrderAnswer]


class NewOrderLineAnswer(msgspec.Struct, forbid_unknown_fields=True):
    article: str
    quantity: QuantityOut
    text: str | None


class NewOrderBody(msgspec.Struct, forbid_unknown_fields=True):
    customer: str
    lines: list[NewOrderLineAnswer]
    delivery: Delivery
    note: str | None


class NewOrderAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """The order as journaled, with the till's reference ``O-{register}-{n}``."""

    reference: str
    journal_entry: int
    order: NewOrderBody


_State = Annotated[
    str,
    Meta(
        description="ready, connecting, degraded (works, someone should act soon) or failed",
        extra_json_schema={"enum": ["connecting", "ready", "degraded", "failed"]},
    ),
]


class DeviceStatus(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    state: _State
    reason: Annotated[str, Meta(description="What is wrong and what to do, in words")]


class ControlUnitStatus(msgspec.Struct, forbid_unknown_fields=True):
    """The control unit, and what its handshake learnt (null before it answered)."""

    url: str
    state: _State
    reason: str
    unit_id: str | None
    protocol: str | None
    firmware: str | None
    line: str | None
    status_detail: str | None


class Devices(msgspec.Struct, forbid_unknown_fields=True):
    control_unit: ControlUnitStatus
    printer: DeviceStatus | UnsetType = UNSET
    scanner: DeviceStatus | UnsetType = UNSET


class TimeZone(msgspec.Struct, forbid_unknown_fields=True):
    shop: str
    warning: str | None


class StorageStatus(msgspec.Struct, forbid_unknown_fields=True):
    """The disk holding the data directory."""

    path: str
    state: _State
    reason: str
    free_mib: float
    size_mib: float
    min_free_mib: int


class ReceiptsStatus(msgspec.Struct, forbid_unknown_fields=True):
    last_number: int | None
    waiting_for_control_unit: list[int]
    waiting_for_disk_space: list[int]
    unprinted: int


class CatalogStatus(msgspec.Struct):
    """The catalog revision held, what it holds, and how its updates go (null: no bus)."""

    revision: int
    applied_at: str | None
    articles: int
    customers: int
    held_parts: int
    updates: dict[str, Any] | None


class EventsStatus(msgspec.Struct, forbid_unknown_fields=True):
    clients: int
    disconnected_as_too_slow: int


class StatusAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """How the till is, in words a shop owner understands (docs/api.md tells every field)."""

    register: str
    shop: str
    time_zone: TimeZone
    devices: Devices
    storage: StorageStatus
    registration: Annotated[dict[str, Any], Meta(description="As registered with Skatteverket")] | None
    outage: (
        Annotated[dict[str, Any], Meta(description="A control unit unusable too long, now or lately")] | None
    )
    receipts: ReceiptsStatus
    bus: Annotated[dict[str, Any], Meta(description="The outbox to the ERP sync module")] | None
    catalog: CatalogStatus
    sync: (
        Annotated[dict[str, Any], Meta(description="The sync module's last pass, as it published it")] | None
    )
    events: EventsStatus
