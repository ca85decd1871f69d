"""The JSON of the catalog, order and sync-status messages, as Structs: the source of their
files in ``docs/bus/`` (``tools/bus_schemas.py``).

Their decoders (:mod:`gateway.messages.catalog`, :mod:`~gateway.messages.orders`,
:mod:`~gateway.messages.sync_status`) read field by field with the words the tills have
always logged; these Structs say the same in a form a JSON Schema is made from, and
tests/bus/test_schemas.py holds the two to one verdict over a corpus of real and broken
messages. What a JSON Schema cannot say — a revision follows its base, a part is one of its
parts, a ``msg_id`` is made of the fields beside it — is written in docs/bus/README.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "ITEM_TYPES",
    "ArticleWire",
    "CatalogRequestWire",
    "CatalogUpdateWire",
    "CustomerWire",
    "HeldWire",
    "OrderAnswerWire",
    "OrderLineWire",
    "OrderRequestWire",
    "OrderWire",
    "RegisterMarkWire",
    "StockLevelWire",
    "SyncStatusWire",
]

Ore = Annotated[int, msgspec.Meta(ge=0, description="money in integer öre incl. VAT (1 krona = 100 öre)")]
VatRate = Annotated[
    Literal[2500, 1200, 600, 0], msgspec.Meta(description="VAT rate in hundredths of a percent: 2500 is 25 %")
]
CatalogNumber = Annotated[
    str, msgspec.Meta(pattern="^[^\\x00-\\x1f]{1,50}$", description="an ERP's number: 1-50 characters")
]
Number = Annotated[
    str,
    msgspec.Meta(pattern="^[^\\x00-\\x1f\\x7f]{1,50}$", description="an ERP's number: 1-50 characters"),
]
Barcode = Annotated[str, msgspec.Meta(pattern="^[\\x21-\\x7e]{1,64}$", description="1-64 printable ASCII")]
DecimalText = Annotated[
    str,
    msgspec.Meta(
        pattern="^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?$",
        description="a quantity (not money) as decimal text: '12', '-3', '0.5'",
    ),
]
OrderQuantity = Annotated[
    str,
    msgspec.Meta(
        pattern="^-?[0-9]{1,9}(\\.[0-9]{1,5})?$",
        description="a quantity (not money) as decimal text, at most 5 decimals: '2', '2.5'",
    ),
]


# -- the catalog (tillgw.catalog/1, tillgw.catalog-request/1) -------------------------------


class ArticleWire(msgspec.Struct, frozen=True):
    """An article: what the till sells, at the price it charges."""

    number: CatalogNumber
    name: str
    price: Ore
    vat_rate: VatRate
    barcodes: list[Barcode] = []
    unit: str = "st"
    group: str | None = None
    service: bool = False
    stock_goods: bool = False


class CustomerWire(msgspec.Struct, frozen=True):
    number: CatalogNumber
    name: str
    orgnr: str | None = None
    email: str | None = None
    phone: str | None = None
    address: list[str] = []
    price_list: str | None = None


class StockLevelWire(msgspec.Struct, frozen=True):
    number: CatalogNumber
    quantity: DecimalText


ITEM_TYPES = {"articles": ArticleWire, "customers": CustomerWire, "stock": StockLevelWire}
"""What a catalog message's ``items`` are, by its ``section``."""


class CatalogUpdateWire(msgspec.Struct, frozen=True):
    """One part of one catalog revision (sync module -> tills, ``tillgw/{orgnr}/{store}/catalog/updates``).
    ``items`` are of the kind ``section`` names."""

    schema: Literal["tillgw.catalog/1"]
    msg_id: Annotated[str, msgspec.Meta(description="{orgnr}/{store}/catalog/{revision}/{part}")]
    orgnr: str
    store: str
    revision: Annotated[int, msgspec.Meta(ge=1)]
    base: Annotated[int, msgspec.Meta(ge=0, description="the revision this one applies on (revision - 1)")]
    part: Annotated[int, msgspec.Meta(ge=1)]
    parts: Annotated[int, msgspec.Meta(ge=1)]
    section: Literal["articles", "customers", "stock"]
    full: Annotated[bool, msgspec.Meta(description="everything: replaces what the till holds")] = False
    # Articles, customers or stock levels, as ``section`` says: the file adds that rule, which
    # a Struct cannot hold (docs/bus/catalog-update.schema.json).
    items: Annotated[list[Any], msgspec.Meta(max_length=2000)] = []
    removed: Annotated[list[str], msgspec.Meta(description="numbers gone from the section since base")] = []
    at: str = ""


class CatalogRequestWire(msgspec.Struct, frozen=True):
    """A till asks for the revisions after the one it holds (till -> sync module)."""

    schema: Literal["tillgw.catalog-request/1"]
    register: str
    holds: Annotated[int, msgspec.Meta(ge=0)]
    reason: Literal["gap", "start", "reset"] = "gap"


# -- orders (tillgw.order-request/1, tillgw.order-answer/1) ---------------------------------


class OrderRequestWire(msgspec.Struct, frozen=True):
    """A till asks for the open orders of a customer, or for one order (or both)."""

    schema: Literal["tillgw.order-request/1"]
    request_id: Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9._:-]{1,64}$")]
    customer: Number | None = None
    number: Number | None = None


class OrderLineWire(msgspec.Struct, frozen=True):
    article: str | None
    text: str
    quantity: OrderQuantity
    unit_price: Ore
    vat_rate: VatRate
    delivered: OrderQuantity | None = None
    invoiced: OrderQuantity | None = None


class OrderWire(msgspec.Struct, frozen=True):
    number: Number
    customer: Number
    lines: list[OrderLineWire]
    customer_name: str | None = None
    reference: str | None = None


class OrderAnswerWire(msgspec.Struct, frozen=True):
    """The sync module's answer to one request: the open orders, or ``error`` in the ERP's words."""

    schema: Literal["tillgw.order-answer/1"]
    request_id: str
    orders: list[OrderWire] = []
    error: str | None = None


# -- the sync module's status (tillgw.sync-status/1) ---------------------------------------


class HeldWire(msgspec.Struct, frozen=True):
    """A message the sync module holds until a person acts (more keys, of these types, may follow)."""

    msg_id: str
    reason: Annotated[str, msgspec.Meta(max_length=400)]
    register: str | int | None = None
    sequence: str | int | None = None
    kind: str | int | None = None
    held_by: Annotated[str | int | None, msgspec.Meta(description="intake or processing")] = None
    since: str | int | None = None


class RegisterMarkWire(msgspec.Struct, frozen=True):
    """Where a register's series stands in the sync module's inbox."""

    register: Annotated[str, msgspec.Meta(min_length=1)]
    sequence: Annotated[int, msgspec.Meta(ge=0, description="the highest message sequence stored from it")]
    receipt: (
        Annotated[int, msgspec.Meta(ge=0, description="the highest receipt number among them")] | None
    ) = None


class SyncStatusWire(msgspec.Struct, frozen=True):
    """The sync module's last run (retained on ``tillgw/{orgnr}/{store}/sync/status``)."""

    schema: Literal["tillgw.sync-status/1"]
    msg_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    orgnr: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    store: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    worker: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    at: Annotated[str, msgspec.Meta(min_length=1, max_length=40, description="ISO 8601 with offset")]
    state: Literal["ok", "error"]
    summary: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    errors: Annotated[list[Annotated[str, msgspec.Meta(max_length=300)]], msgspec.Meta(max_length=10)] = []
    held: Annotated[list[HeldWire], msgspec.Meta(max_length=10)] = []
    held_count: Annotated[int, msgspec.Meta(ge=0)] = 0
    registers: Annotated[list[RegisterMarkWire], msgspec.Meta(max_length=200)] = []
