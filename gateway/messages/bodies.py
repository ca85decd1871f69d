"""What the till's messages carry: the body of each journal entry kind that goes on the bus.

A till message's ``payload`` (:class:`~gateway.messages.envelope.BusMessage`) is the body
of the journal entry it comes from, as the journal signed it — amounts in integer öre —
except for a receipt, whose payload the outbox projects from its ``receipt`` entry and the
sale it completes (:mod:`gateway.messages.receipt_payload`). Each body is a msgspec Struct
here: the till builds them and journals them, and a reader of a message decodes its payload
into the same Struct (:func:`gateway.messages.payloads.decode_payload`, or
:meth:`BusMessage.payload_as <gateway.messages.envelope.BusMessage.payload_as>`), so a key
renamed on one side is a type error on the other, and a bad field is named by its path. The
files of ``docs/bus/`` are made from the same Structs (``tools/bus_schemas.py``).

Encoded (:meth:`Body.to_json`), a Struct is exactly the JSON object the till has always
written for its kind: the same keys, ``null`` where it wrote null, and no key at all where
it wrote none (a field left :data:`~msgspec.UNSET`, or a default left out where the Struct
says ``omit_defaults``). That is what keeps the journal's canonical bytes: the journal
hashes the plain object, keys sorted (:func:`gateway.fiscal.journal.canonical_body`).

* ``receipt`` — :class:`~gateway.messages.receipt_payload.ReceiptPayload` (the receipt entry's
  :class:`TotalsBody` is here: the journal's form of its figures)
* ``report.x``, ``report.z`` — :class:`ReportBody` (``Report.document`` in gateway.fiscal.reports.report)
* ``drawer.open`` — :class:`DrawerOpenBody`: the drawer opened without a sale
* ``cashier.login``, ``cashier.logout`` — :class:`CashierBody`
* ``price.change`` — :class:`PriceChangeBody`
* ``float.change`` — :class:`FloatChangeBody`: the float (växelkassa) in or out
* ``customer.change`` — :class:`CustomerChangeBody`: a customer made at the till
* ``order.new`` — :class:`OrderNewBody`: a sales order made at the till

The journal-only kinds (pending and refused receipts, key and series records …) are in
:mod:`gateway.fiscal.bodies`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import msgspec

from gateway.messages.fields import FieldError
from gateway.receipts.model import PaymentMethod

__all__ = [
    "ENTRY_PAYLOAD_TYPES",
    "Body",
    "CashierBody",
    "CustomerChangeBody",
    "Delivery",
    "DrawerOpenBody",
    "FloatChangeBody",
    "OrderLineBody",
    "OrderNewBody",
    "PriceChangeBody",
    "ReportBody",
    "ReportKind",
    "TotalsBody",
    "body_error",
    "convert_body",
]

B = TypeVar("B")
M = TypeVar("M", int, str)  # how a report writes an amount: öre (the journal) or "12.50" (the API)


class Body(msgspec.Struct, frozen=True):
    """A journal entry's body, or a message's payload."""

    def to_json(self) -> dict[str, Any]:
        """The plain JSON object (arrays as lists): what the journal hashes and the bus carries."""
        data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return data


_MISSING = "Object missing required field `"


def body_error(exc: msgspec.ValidationError, where: str) -> FieldError:
    """msgspec's words as a :class:`FieldError` naming the field from ``where`` on:
    ``"Expected `int`, got `str` - at `$.totals.to_pay`"`` becomes
    ``payload.totals.to_pay: expected int, got str``, and a missing field ``…: missing``."""
    text = str(exc)
    # A bad key of a mapping is reported "- at `key` in `$.payments`": name the mapping.
    words, _, path = (
        text.partition(" - at `key` in `$") if " - at `key` in `$" in text else text.partition(" - at `$")
    )
    field = where + path.rstrip("`")
    if words.startswith(_MISSING):
        field, words = f"{field}.{words.removeprefix(_MISSING).rstrip('`')}", "missing"
    words = words.replace("`", "")
    return FieldError(field.removeprefix(".") or "body", words[:1].lower() + words[1:])


def convert_body(obj: Any, kind: type[B]) -> B:
    """``obj`` (a JSON object as Python) as the Struct ``kind``; raises :class:`msgspec.ValidationError`."""
    return msgspec.convert(obj, kind)


# -- receipts -------------------------------------------------------------------------------


class TotalsBody(Body, frozen=True):
    """A receipt's figures in öre, signed (returns negative), as its ``receipt`` entry signs them."""

    total: int
    rounding: int  # öresavrundning, booked apart
    to_pay: int
    discount: int
    return_total: int
    vat: tuple[tuple[int, int, int], ...]  # (rate in hundredths of a percent, gross, VAT) per rate used
    paid: dict[PaymentMethod, int]
    change: int
    items: int
    services: int


# -- reports --------------------------------------------------------------------------------


class ReportKind(enum.StrEnum):
    X = "x"
    Z = "z"

    @property
    def words(self) -> str:
        """What the report says it is: ``X-dagrapport`` or ``Z-dagrapport``."""
        return f"{self.value.upper()}-dagrapport"


class CompanyBody(Body, frozen=True):
    name: str
    orgnr: str


class PeriodBody(Body, frozen=True):
    after_entry: int  # the last Z's entry (0: none)
    through_entry: int
    since: str | None  # the time of the last Z


class HeadBody(Body, frozen=True):
    seq: int
    hash: str  # hex


class SalesBody(Body, Generic[M], frozen=True):
    receipts: int
    total: M


class TallyBody(Body, Generic[M], frozen=True):
    count: int
    amount: M


class GroupBody(Body, Generic[M], frozen=True):
    group: str
    amount: M


class VatBody(Body, Generic[M], frozen=True):
    """One VAT rate's row, as reports and the ``tillgw.bus/2`` receipt write it."""

    rate: str  # percent: "25", "12", "6", "0"
    gross: M  # sales incl. VAT at this rate
    vat: M  # the VAT in them
    net: M  # gross - vat

    @property
    def hundredths(self) -> int:
        """The rate in hundredths of a percent, as a receipt line holds it: ``"25"`` -> 2500."""
        return int(Decimal(self.rate) * 100)


class FloatBody(Body, Generic[M], frozen=True):
    amount: M
    put_in: M = msgspec.field(name="in")
    taken_out: M = msgspec.field(name="out")
    changes: int


class ReductionsBody(Body, Generic[M], frozen=True):
    count: int
    amount: M
    what: str


class UnfinishedBody(Body, Generic[M], frozen=True):
    count: int
    amount: M
    refused: TallyBody[M]
    in_doubt: TallyBody[M]
    # Sales parked and not completed when the report was made; reports made before parked
    # sales were kept have none (their bytes stay as signed).
    parked: TallyBody[M] | msgspec.UnsetType = msgspec.UNSET


class GrandTotalBody(Body, Generic[M], frozen=True):
    sales: M
    returns: M
    net: M


class ReportBody(Body, Generic[M], frozen=True):
    """An X or Z report: every figure (docs/reports.md). ``ReportBody[int]`` is the journal's
    body and the bus payload (öre); ``ReportBody[str]`` the API's, amounts as ``"1234.50"``."""

    report: ReportKind
    title: str
    z_no: int | None
    at: str
    company: CompanyBody
    pos_id: str
    period: PeriodBody
    journal_head: HeadBody
    sales: SalesBody[M]
    returns: TallyBody[M]
    net_sales: M
    groups: tuple[GroupBody[M], ...]
    ungrouped: M
    vat: tuple[VatBody[M], ...]
    payments: dict[PaymentMethod, M]
    rounding: M
    float_: FloatBody[M] = msgspec.field(name="float")
    items: int
    services: int
    receipts: int
    drawer_openings: int
    copies: TallyBody[M]
    training: TallyBody[M]
    pro_forma: TallyBody[M]
    discounts: TallyBody[M]
    other_reductions: ReductionsBody[M]
    unfinished: UnfinishedBody[M]
    grand_total: GrandTotalBody[M]


# -- events from the POS --------------------------------------------------------------------


class DrawerOpenBody(Body, frozen=True):
    cashier: str | None
    reason: str  # "no sale", "count" …
    pos_id: str


class CashierBody(Body, frozen=True):
    """``cashier.login`` and ``cashier.logout``."""

    cashier: str
    pos_id: str


class PriceChangeBody(Body, frozen=True, kw_only=True):
    """A price changed at the till; what is not given is journaled as null."""

    article: str
    text: str | None = None
    old_price: str | None = None  # decimal text, kronor
    new_price: str
    cashier: str | None = None
    pos_id: str


class FloatChangeBody(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Float (växelkassa) put into the drawer (``amount`` > 0) or taken out (< 0), in öre.
    ``cashier`` and ``note`` are left out when not given."""

    amount: int
    cashier: str | None = None
    note: str | None = None
    pos_id: str


class CustomerChangeBody(Body, frozen=True):
    """A customer made or changed at the till (:class:`gateway.messages.catalog.Customer`)."""

    number: str
    name: str
    orgnr: str | None
    email: str | None
    phone: str | None
    address: tuple[str, ...]
    price_list: str | None
    pos_id: str


class Delivery(enum.StrEnum):
    NOW = "now"  # the goods leave with the customer
    LATER = "later"  # the order stays open


class OrderLineBody(Body, frozen=True):
    article: str
    quantity: str  # decimal text, more than zero
    text: str | None


class OrderNewBody(Body, frozen=True):
    """A sales order made at the till (:class:`gateway.messages.orders.NewOrder`) with the
    till's reference ``O-{register}-{n}``."""

    customer: str
    lines: tuple[OrderLineBody, ...]
    delivery: Delivery
    note: str | None
    reference: str
    pos_id: str


ENTRY_PAYLOAD_TYPES: Mapping[str, Any] = MappingProxyType(
    {
        "report.x": ReportBody[int],
        "report.z": ReportBody[int],
        "drawer.open": DrawerOpenBody,
        "cashier.login": CashierBody,
        "cashier.logout": CashierBody,
        "price.change": PriceChangeBody,
        "float.change": FloatChangeBody,
        "customer.change": CustomerChangeBody,
        "order.new": OrderNewBody,
    }
)
"""The bus kinds whose ``tillgw.bus/1`` payload is their journal entry's body, as it was signed
(every kind but ``receipt``, whose payload :mod:`gateway.messages.receipt_payload` projects
from two entries); ``price.change`` is projected in ``tillgw.bus/2``
(:mod:`gateway.messages.price_change`)."""
