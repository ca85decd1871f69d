"""The bodies the API reads, as Structs whose JSON Schema says what each reader accepts.

The handlers read their bodies by hand — the receipt codec (:mod:`gateway.receipts.codec`),
:func:`~gateway.catalog.customers.customer_request`, ``NewOrder.from_json`` and the
readers of :mod:`gateway.api.reading` — so these Structs are the schema of what those
readers take: the same fields (and no other: ``forbid_unknown_fields``, as each reader
refuses an unknown field with 422), the same required ones, the same nulls. A body that
passes the schema may still be refused by a rule across fields (payments that do not add
up, a discount larger than the lines); that is a 422 naming the field, and the operation
says so.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from gateway.api.openapi.fields import (
    NOT_BLANK,
    AmountIn,
    NameText,
    PlainText,
    QuantityIn,
    RateIn,
    RequestId,
    UnsignedAmountIn,
)
from gateway.messages.bodies import Delivery
from gateway.receipts.model import MAX_LINES, LineKind, PaymentMethod, ReceiptKind

__all__ = [
    "AbandonRequest",
    "CashierLogin",
    "CashierLogout",
    "CustomerRequest",
    "DrawerRequest",
    "FloatChange",
    "LoginForm",
    "NewOrderRequest",
    "ParkRequest",
    "PosEvent",
    "PriceChange",
    "ReceiptRequest",
    "ResumeRequest",
]

_Text = Annotated[str, Meta(pattern=r"^[^\u0000-\u001f\u007f-\u009f]*$", max_length=60)]
_NamedText = Annotated[str, Meta(pattern=NOT_BLANK, min_length=1, max_length=60)]  # the model: not blank


class LineRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A receipt line as the POS sends it; ``unit_price`` includes VAT, for one unit."""

    text: NameText
    quantity: QuantityIn
    unit_price: UnsignedAmountIn
    vat_rate: RateIn
    discount: UnsignedAmountIn | UnsetType = UNSET
    kind: LineKind | UnsetType | None = UNSET
    article: _Text | UnsetType | None = UNSET
    group: _Text | UnsetType | None = UNSET


class PaymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A payment: positive on a sale, negative (a refund) on a return."""

    method: PaymentMethod
    amount: AmountIn
    reference: PlainText | UnsetType | None = UNSET


class ReceiptRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A sale (or a return: negative quantities) to register. ``id`` is the idempotency key:
    the same id again answers the first result."""

    id: RequestId
    lines: Annotated[list[LineRequest], Meta(min_length=1, max_length=MAX_LINES)]
    payments: list[PaymentRequest] | UnsetType = UNSET
    discount: UnsignedAmountIn | UnsetType = UNSET
    type: ReceiptKind | UnsetType | None = UNSET
    cashier: _Text | UnsetType | None = UNSET
    customer: _NamedText | UnsetType | None = UNSET
    order: _NamedText | UnsetType | None = UNSET
    parked: RequestId | UnsetType | None = UNSET


class ParkRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A sale put aside: its lines so far, no payments."""

    lines: Annotated[list[LineRequest], Meta(min_length=1, max_length=MAX_LINES)]
    discount: UnsignedAmountIn | UnsetType = UNSET
    cashier: _Text | UnsetType | None = UNSET


class ResumeRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Optional: who took the sale up."""

    cashier: NameText | UnsetType | None = UNSET


class AbandonRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Optional: who gave the sale up, and why."""

    cashier: NameText | UnsetType | None = UNSET
    reason: NameText | UnsetType | None = UNSET


class DrawerRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Optional: who opened the drawer."""

    cashier: NameText | UnsetType | None = UNSET


class CashierLogin(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", tag="cashier.login"):
    """A cashier logged in at the POS."""

    cashier: NameText


class CashierLogout(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", tag="cashier.logout"):
    """A cashier logged out."""

    cashier: NameText


class PriceChange(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", tag="price.change"):
    """A price changed at the till (kronor, not negative)."""

    article: NameText
    new_price: UnsignedAmountIn
    old_price: UnsignedAmountIn | UnsetType | None = UNSET
    text: NameText | UnsetType | None = UNSET
    cashier: NameText | UnsetType | None = UNSET


_FloatAmount = Annotated[
    str,
    Meta(
        pattern=r"^(-?[0-9]{1,10}|[0-9]{11})(\.[0-9]{1,2})?$",
        description="Kronor as a string, not zero: positive put in, negative taken out",
        extra_json_schema={"not": {"pattern": r"^-?0*(\.0*)?$"}},
        examples=["2000.00"],
    ),
]


class FloatChange(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", tag="float.change"):
    """Float (växelkassa) put into the drawer or taken out."""

    amount: _FloatAmount
    cashier: _Text | UnsetType | None = UNSET
    note: _Text | UnsetType | None = UNSET


PosEvent = CashierLogin | CashierLogout | PriceChange | FloatChange
"""``POST /v1/events``: one of the events, told apart by ``type``."""

_Number = Annotated[str, Meta(pattern=r"^[^\u0000-\u001f\u007f-\u009f/]{1,50}$")]  # a path level: no '/'
_ErpNumber = Annotated[str, Meta(pattern=NOT_BLANK, max_length=50, description="The ERP's number")]
_OrderLineText = Annotated[str, Meta(pattern=r"^[^\u0000-\u001f\u007f-\u009f]{1,50}$")]


_CUSTOMER_TEXT = (
    r"^[^\u0000-\u001f\u007f-\u009f]*$"  # gateway.catalog.customers: not blank, no control character
)
_Orgnr = Annotated[str, Meta(pattern=_CUSTOMER_TEXT, min_length=1, max_length=20)]
_NO_CONTROL = r"\u0000-\u001f\u007f-\u009f"
_Email = Annotated[
    str, Meta(pattern=rf"^[^@\s{_NO_CONTROL}]+@[^@\s{_NO_CONTROL}]+\.[^@\s{_NO_CONTROL}]+$", max_length=100)
]
_Phone = Annotated[str, Meta(pattern=_CUSTOMER_TEXT, min_length=1, max_length=30)]
_AddressLine = Annotated[str, Meta(pattern=_CUSTOMER_TEXT, min_length=1, max_length=100)]
_PriceList = Annotated[str, Meta(pattern=_CUSTOMER_TEXT, min_length=1, max_length=50)]


class CustomerRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A customer made or changed at the till. Without ``number`` the till gives a
    provisional one (``T-KASSA1-1``) until the ERP gives its own."""

    name: Annotated[str, Meta(pattern=NOT_BLANK, min_length=1, max_length=100)]
    number: _Number | UnsetType | None = UNSET
    orgnr: _Orgnr | UnsetType | None = UNSET
    email: _Email | UnsetType | None = UNSET
    phone: _Phone | UnsetType | None = UNSET
    address: Annotated[list[_AddressLine], Meta(max_length=4)] | UnsetType | None = UNSET
    price_list: _PriceList | UnsetType | None = UNSET


_Quantity = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{1,9}(\.[0-9]{1,5})?$",
        description="More than zero",
        examples=["3"],
        extra_json_schema={"not": {"pattern": r"^0*(\.0*)?$"}},
    ),
]


class NewOrderLineRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A line of a new order: the ERP's article number and how many; the ERP prices it."""

    article: _ErpNumber
    quantity: _Quantity | Annotated[int, Meta(ge=1, le=999_999_999)]
    text: _OrderLineText | UnsetType | None = UNSET


class NewOrderRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A sales order for the ERP, delivered now (the customer takes the goods) or later."""

    customer: _ErpNumber
    lines: Annotated[list[NewOrderLineRequest], Meta(min_length=1, max_length=500)]
    delivery: Delivery
    note: Annotated[str, Meta(pattern=rf"^[^{_NO_CONTROL}]*$", max_length=250)] | UnsetType | None = UNSET


class LoginForm(msgspec.Struct):
    """The status page's login form (``application/x-www-form-urlencoded``)."""

    token: str | UnsetType = UNSET
