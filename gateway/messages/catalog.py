"""Master data on the bus: what the sync module sends the tills of a store (schema ``tillgw.catalog/1``).

Topics, one tree per store (beside the registers' own, see :mod:`gateway.messages.envelope`)::

    tillgw/{orgnr}/{store}/catalog/updates            catalog revisions          sync -> tills
    tillgw/{orgnr}/{store}/{register}/catalog-request "send me what follows N"   till -> sync

The sync module numbers the store's catalog in *revisions*: 1, 2, 3 … without gaps. One
revision is one sync's outcome (a full sync or the changes since the last one) and
travels as one or more :class:`CatalogUpdate` messages (``part`` of ``parts``), each
small enough for the broker (at most :data:`MAX_ITEMS` items).

A till applies revision ``r`` only when it holds ``r - 1`` (``base``), all parts of it in
one transaction, and only once. A till that finds a gap (it was switched off, or the
broker dropped its session) publishes a :class:`CatalogRequest` with the revision it
holds, and the sync module answers with the revisions after it — or with a full
revision (``full``: everything, replacing what the till holds) when it no longer keeps
those. A full revision's ``base`` is the revision it replaces (any till may apply it).

Items, by ``section``:

``articles``   :class:`Article`: number, name, barcodes, price incl. VAT in öre, VAT rate …
``customers``  :class:`Customer`
``stock``      :class:`StockLevel`: article number and quantity (decimal text)

``removed`` lists the numbers (article or customer numbers) gone from a section since the
base revision. Amounts are integer öre; quantities decimal strings — as in the journal.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.messages.envelope import MessageError, StoreTopics
from gateway.messages.fields import FieldReader, of_schema

__all__ = [
    "MAX_ITEMS",
    "REQUEST_SCHEMA",
    "SCHEMA",
    "SECTIONS",
    "Article",
    "CatalogRequest",
    "CatalogSection",
    "CatalogTopics",
    "CatalogUpdate",
    "Customer",
    "StockLevel",
    "decode_request",
    "decode_update",
    "split_revision",
]

SCHEMA = "tillgw.catalog/1"
REQUEST_SCHEMA = "tillgw.catalog-request/1"


class CatalogSection(enum.StrEnum):
    ARTICLES = "articles"
    CUSTOMERS = "customers"
    STOCK = "stock"


SECTIONS = tuple(section.value for section in CatalogSection)
MAX_ITEMS = 2000  # items per message: about 0.5 MB of articles, far below Mosquitto's limits

# A catalog number may hold DEL (0x7f), unlike an order's: read as the tills always have.
_FIELDS = FieldReader(number=re.compile(r"^[^\x00-\x1f]{1,50}$"))
_BARCODE_RE = re.compile(r"^[\x21-\x7e]{1,64}$")


@dataclass(frozen=True, slots=True)
class CatalogTopics(StoreTopics):
    """The catalog topics of one store."""

    @property
    def updates(self) -> str:
        return f"{self.store_base}/catalog/updates"

    def request(self, register: str) -> str:
        return self.of_register(register, "catalog-request")

    @property
    def requests(self) -> str:
        """The subscription that hears every register's requests."""
        return f"{self.store_base}/+/catalog-request"


# -- items --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    number: str  # the ERP's article number; the till also finds it as a barcode
    name: str
    price: int  # öre incl. VAT, what the till charges for one unit
    vat_rate: int  # 2500, 1200, 600 or 0 (hundredths of a percent)
    barcodes: tuple[str, ...] = ()  # EAN/GTIN and other identifiers, unique across articles
    unit: str = "st"
    group: str | None = None  # product group, for the Z report's groups
    service: bool = False  # a service (tjänst), not goods
    stock_goods: bool = False  # the ERP keeps stock for it

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "price": self.price,
            "vat_rate": self.vat_rate,
            "barcodes": list(self.barcodes),
            "unit": self.unit,
            "group": self.group,
            "service": self.service,
            "stock_goods": self.stock_goods,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Article:
        obj = _FIELDS.object(obj, where)
        vat_rate = _FIELDS.vat_rate(obj, where)
        barcodes = obj.get("barcodes", [])
        if not isinstance(barcodes, list):
            raise MessageError(f"{where}.barcodes: not a list")
        for i, code in enumerate(barcodes):
            if not isinstance(code, str) or not _BARCODE_RE.match(code):
                raise MessageError(f"{where}.barcodes[{i}]: {code!r} is not 1-64 printable characters")
        price = _FIELDS.amount(obj, "price", where)
        return cls(
            number=_FIELDS.number(obj, "number", where),
            name=_FIELDS.text(obj, "name", where),
            price=price,
            vat_rate=vat_rate,
            barcodes=tuple(barcodes),
            unit=_FIELDS.text(obj, "unit", where, default="st"),
            group=_FIELDS.optional_text(obj, "group", where),
            service=_FIELDS.boolean(obj, "service", where),
            stock_goods=_FIELDS.boolean(obj, "stock_goods", where),
        )


@dataclass(frozen=True, slots=True)
class Customer:
    number: str
    name: str
    orgnr: str | None = None  # organisation or personal identity number
    email: str | None = None
    phone: str | None = None
    address: tuple[str, ...] = ()
    price_list: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "orgnr": self.orgnr,
            "email": self.email,
            "phone": self.phone,
            "address": list(self.address),
            "price_list": self.price_list,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Customer:
        obj = _FIELDS.object(obj, where)
        address = obj.get("address", [])
        if not isinstance(address, list) or not all(isinstance(a, str) for a in address):
            raise MessageError(f"{where}.address: not a list of text")
        return cls(
            number=_FIELDS.number(obj, "number", where),
            name=_FIELDS.text(obj, "name", where),
            orgnr=_FIELDS.optional_text(obj, "orgnr", where),
            email=_FIELDS.optional_text(obj, "email", where),
            phone=_FIELDS.optional_text(obj, "phone", where),
            address=tuple(address),
            price_list=_FIELDS.optional_text(obj, "price_list", where),
        )


@dataclass(frozen=True, slots=True)
class StockLevel:
    number: str  # article number
    quantity: Decimal  # may be negative (sold before it was booked in)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "quantity": str(self.quantity)}

    @classmethod
    def from_json(cls, obj: Any, where: str) -> StockLevel:
        obj = _FIELDS.object(obj, where)
        text = obj.get("quantity")
        if not isinstance(text, str):
            raise MessageError(f"{where}.quantity: not a decimal string")
        try:
            quantity = Decimal(text)
        except InvalidOperation:
            raise MessageError(f"{where}.quantity: {text!r} is not a number") from None
        if not quantity.is_finite():
            raise MessageError(f"{where}.quantity: {text!r} is not a number")
        return cls(_FIELDS.number(obj, "number", where), quantity)


Item = Article | Customer | StockLevel
_ITEM_TYPES: dict[CatalogSection, type[Article] | type[Customer] | type[StockLevel]] = {
    CatalogSection.ARTICLES: Article,
    CatalogSection.CUSTOMERS: Customer,
    CatalogSection.STOCK: StockLevel,
}


# -- messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogUpdate:
    """One part of one catalog revision."""

    orgnr: str
    store: str
    revision: int  # 1, 2, 3 … per store
    base: int  # the revision this one applies on top of (revision - 1, or any for a full one)
    full: bool  # everything: replaces what the till holds
    part: int  # 1 … parts
    parts: int
    section: CatalogSection
    items: tuple[Item, ...] = ()
    removed: tuple[str, ...] = ()  # numbers gone from the section since base (not in a full one)
    at: str = ""  # when the sync module made the revision (local time with offset)

    @property
    def msg_id(self) -> str:
        return f"{self.orgnr}/{self.store}/catalog/{self.revision}/{self.part}"

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "schema": SCHEMA,
                "msg_id": self.msg_id,
                "orgnr": self.orgnr,
                "store": self.store,
                "revision": self.revision,
                "base": self.base,
                "full": self.full,
                "part": self.part,
                "parts": self.parts,
                "section": self.section,
                "items": [item.to_json() for item in self.items],
                "removed": list(self.removed),
                "at": self.at,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


def decode_update(data: bytes) -> CatalogUpdate:
    """A catalog message; :class:`MessageError` names what is wrong with one that is not ours."""
    obj = of_schema(data, SCHEMA)
    revision = _FIELDS.integer(obj, "revision", "update")
    base = _FIELDS.integer(obj, "base", "update")
    part, parts = _FIELDS.integer(obj, "part", "update"), _FIELDS.integer(obj, "parts", "update")
    if revision < 1 or not 0 <= base < revision:
        raise MessageError(f"revision {revision} on base {base}: a revision follows its base")
    if not 1 <= part <= parts:
        raise MessageError(f"part {part} of {parts}")
    section = _FIELDS.text(obj, "section", "update")
    if section not in SECTIONS:
        raise MessageError(f"section {section!r} is not one of {SECTIONS}")
    full = _FIELDS.boolean(obj, "full", "update")
    raw_items = obj.get("items", [])
    if not isinstance(raw_items, list):
        raise MessageError("items: not a list")
    if len(raw_items) > MAX_ITEMS:
        raise MessageError(f"items: {len(raw_items)} is more than {MAX_ITEMS} in one message")
    item_type = _ITEM_TYPES[CatalogSection(section)]
    items = tuple(item_type.from_json(item, f"items[{i}]") for i, item in enumerate(raw_items))
    removed = obj.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(n, str) for n in removed):
        raise MessageError("removed: not a list of numbers")
    if full and removed:
        raise MessageError("removed: a full revision lists everything and removes nothing")
    update = CatalogUpdate(
        orgnr=_FIELDS.text(obj, "orgnr", "update"),
        store=_FIELDS.text(obj, "store", "update"),
        revision=revision,
        base=base,
        full=full,
        part=part,
        parts=parts,
        section=CatalogSection(section),
        items=items,
        removed=tuple(removed),
        at=_FIELDS.text(obj, "at", "update", default=""),
    )
    if obj.get("msg_id") != update.msg_id:
        raise MessageError(f"msg_id {obj.get('msg_id')!r} is not {update.msg_id!r}")
    return update


def split_revision(
    orgnr: str,
    store: str,
    revision: int,
    base: int,
    *,
    full: bool,
    at: str,
    sections: dict[str, tuple[Iterable[Item], Iterable[str]]],
) -> list[CatalogUpdate]:
    """One revision as its messages: each section's items (and removed numbers) in parts.

    A revision with nothing in it is still one message (so that the tills' revision
    follows the sync module's).
    """
    chunks: list[tuple[CatalogSection, tuple[Item, ...], tuple[str, ...]]] = []
    for section in CatalogSection:
        if section not in sections:
            continue
        given_items, given_removed = sections[section]
        items, removed = tuple(given_items), tuple(given_removed)
        for start in range(0, max(len(items), 1), MAX_ITEMS):
            chunk = items[start : start + MAX_ITEMS]
            chunks.append((section, chunk, removed if start == 0 else ()))
        if not items and not removed and not full:
            chunks.pop()  # an untouched section of a change revision says nothing
    if not chunks:
        chunks.append((CatalogSection.ARTICLES, (), ()))
    return [
        CatalogUpdate(orgnr, store, revision, base, full, n, len(chunks), section, items, removed, at)
        for n, (section, items, removed) in enumerate(chunks, start=1)
    ]


@dataclass(frozen=True, slots=True)
class CatalogRequest:
    """A till asks for the revisions after the one it holds (0: it holds nothing)."""

    register: str
    holds: int
    reason: str = field(default="gap")  # gap | start | reset

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"schema": REQUEST_SCHEMA, "register": self.register, "holds": self.holds, "reason": self.reason}
        ).encode()


def decode_request(data: bytes) -> CatalogRequest:
    obj = of_schema(data, REQUEST_SCHEMA)
    holds = _FIELDS.integer(obj, "holds", "request")
    if holds < 0:
        raise MessageError(f"holds: {holds} is negative")
    reason = _FIELDS.text(obj, "reason", "request", default="gap")
    if reason not in ("gap", "start", "reset"):
        raise MessageError(f"reason: {reason!r} is not gap, start or reset")
    return CatalogRequest(_FIELDS.text(obj, "register", "request"), holds, reason)
