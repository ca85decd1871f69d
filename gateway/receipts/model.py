"""Receipts as the till knows them: lines, discounts, payments, VAT — money in integer öre.

A :class:`Receipt` is what the POS asks for; :func:`compute` turns it into
:class:`Totals`, every figure the receipt, the control unit and the reports need, and
:func:`group_amounts` its sales per main group. The rules, each in one place:

* **Line amount** = quantity × unit price (incl. VAT), rounded half away from zero to
  öre, less the line discount. Quantities may have up to three decimals (weight in kg).
  A return line has a negative quantity; its discount reduces the refund.
* **Receipt discount** is spread over the lines in proportion to their amounts, by the
  largest-remainder method, so the shares add up to the discount exactly and each VAT
  rate carries its own part of it.
* **VAT per rate** is computed on the rate's sum (incl. VAT) and rounded half away from
  zero to öre: ``vat = sum × rate / (100 % + rate)``. One rounding per rate, never one
  per line, so a receipt's VAT does not drift with its number of lines.
* **Cash rounding (öresavrundning)**: there are no öre coins, so what is paid in cash is
  rounded to whole kronor, 50 öre and up away from zero. The difference is kept as its
  own figure (``rounding``), booked apart from sales; card and other means pay to the öre.
  The cash handed over is rounded the same way (a POS that sends the total to the öre as
  the cash tendered means the rounded sum), so change is always whole kronor.
* Every amount in a message for a person is in kronor: ``32,00 kr``, never ``3200``.
* Sales and returns are separate receipts: every line of one receipt has the same sign.

Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from gateway.receipts.money import kronor_text
from gateway.receipts.vat import VAT_RATES
from protocols.skv import FieldError, ReceiptType, format_amount

__all__ = [
    "Line",
    "LineKind",
    "Payment",
    "PaymentMethod",
    "Receipt",
    "ReceiptError",
    "ReceiptKind",
    "ReceiptType",
    "Totals",
    "VatAmount",
    "compute",
    "group_amounts",
    "round_half_away",
]

QUANTITY_DECIMALS = 3
MAX_LINES = 1000
MAX_TEXT = 60


class ReceiptError(FieldError):
    """A receipt that cannot be registered; ``field`` names where (``lines[2].vat_rate``)."""


class LineKind(enum.StrEnum):
    ITEM = "item"
    SERVICE = "service"


class PaymentMethod(enum.StrEnum):
    CASH = "cash"
    CARD = "card"
    GIFT_CARD = "gift_card"
    SWISH = "swish"
    OTHER = "other"


class ReceiptKind(enum.StrEnum):
    """What the POS may ask for. A copy is made from an existing receipt, never posted.

    A receipt once registered is a :class:`ReceiptType` (``protocols.skv``, the control
    unit's kvittotyp: ``normal``, ``kopia``, ``ovning``, ``profo``): the ``type`` of its journal
    entries and bus message and the ``kind`` of its row in the receipts index.
    """

    NORMAL = "normal"
    TRAINING = "ovning"
    PRO_FORMA = "profo"


def round_half_away(value: Decimal) -> int:
    """To a whole number, halves away from zero (0.5 -> 1, -0.5 -> -1)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    quantity: Decimal
    unit_price: int  # öre, incl. VAT, per unit
    vat_rate: int  # hundredths of a percent: 2500, 1200, 600 or 0
    discount: int = 0  # öre off this line (positive; on a return line it lowers the refund)
    kind: LineKind = LineKind.ITEM
    article: str | None = None  # article number
    group: str | None = None  # main group (huvudgrupp), for the Z report

    @property
    def gross(self) -> int:
        """Quantity × unit price, rounded to öre (signed)."""
        return round_half_away(self.quantity * self.unit_price)

    @property
    def amount(self) -> int:
        """What the line comes to after its own discount (signed)."""
        gross = self.gross
        return gross - self.discount if gross >= 0 else gross + self.discount

    @property
    def is_return(self) -> bool:
        return self.quantity < 0


@dataclass(frozen=True, slots=True)
class Payment:
    method: PaymentMethod
    amount: int  # öre; for cash, what the customer handed over (change is given back)
    reference: str | None = None  # card approval code, gift-card number, Swish id


@dataclass(frozen=True, slots=True)
class Receipt:
    lines: tuple[Line, ...]
    payments: tuple[Payment, ...]
    discount: int = 0  # öre off the whole receipt
    kind: ReceiptKind = ReceiptKind.NORMAL
    cashier: str | None = None
    customer: str | None = None  # customer number of a sale on account (the ERP invoices it)
    order: str | None = None  # the ERP's sales order this receipt pays (fetched to the till)


@dataclass(frozen=True, slots=True)
class VatAmount:
    rate: int  # hundredths of a percent
    gross: int  # sales incl. VAT at this rate, after discounts (öre, signed)
    vat: int  # the VAT in it (öre, signed)

    @property
    def net(self) -> int:
        return self.gross - self.vat


@dataclass(frozen=True, slots=True)
class Totals:
    """Every figure of one receipt, computed by :func:`compute`."""

    line_amounts: tuple[int, ...]  # each line after its own and its share of the receipt discount
    discount_total: int  # line discounts + receipt discount (positive)
    total: int  # what the lines come to, to the öre (signed)
    rounding: int  # öresavrundning on the cash part (signed; 0 without cash)
    to_pay: int  # total + rounding
    vat: tuple[VatAmount, ...]  # one per rate used, highest rate first
    return_total: int  # absolute sum of return lines (returbelopp)
    paid: dict[PaymentMethod, int] = field(default_factory=dict)  # net per means, change deducted
    change: int = 0  # cash given back
    items: int = 0  # number of goods sold (sum of quantities, rounded; weighed goods count 1)
    services: int = 0
    is_return: bool = False


def _check_text(value: str | None, where: str, *, required: bool) -> None:
    if value is None:
        if required:
            raise ReceiptError(where, "is missing")
        return
    if required and not value.strip():
        raise ReceiptError(where, "is empty")
    if len(value) > MAX_TEXT:
        raise ReceiptError(where, f"is {len(value)} characters; at most {MAX_TEXT}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ReceiptError(where, "holds a control character")


def _check_amount(value: int, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReceiptError(where, f"must be a whole number of öre, got {value!r}")
    try:
        format_amount(value, where)  # the control unit's 14-character limit
    except FieldError as exc:
        raise ReceiptError(where, exc.reason) from None


def _validate_line(line: Line, i: int) -> None:
    where = f"lines[{i}]"
    _check_text(line.text, f"{where}.text", required=True)
    _check_text(line.article, f"{where}.article", required=False)
    _check_text(line.group, f"{where}.group", required=False)
    if not isinstance(line.quantity, Decimal) or not line.quantity.is_finite():
        raise ReceiptError(f"{where}.quantity", f"must be a decimal number, got {line.quantity!r}")
    if line.quantity == 0:
        raise ReceiptError(f"{where}.quantity", "is zero")
    exponent = line.quantity.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -QUANTITY_DECIMALS:
        raise ReceiptError(f"{where}.quantity", f"{line.quantity} has more than {QUANTITY_DECIMALS} decimals")
    _check_amount(line.unit_price, f"{where}.unit_price")
    if line.unit_price < 0:
        raise ReceiptError(f"{where}.unit_price", "is negative; a return is a negative quantity")
    if line.vat_rate not in VAT_RATES:
        rates = ", ".join(f"{r / 100:g}" for r in VAT_RATES)
        raise ReceiptError(f"{where}.vat_rate", f"{line.vat_rate / 100:g} % is not a Swedish rate ({rates})")
    _check_amount(line.discount, f"{where}.discount")
    if line.discount < 0:
        raise ReceiptError(f"{where}.discount", "is negative")
    if line.discount > abs(line.gross):
        raise ReceiptError(
            f"{where}.discount",
            f"{kronor_text(line.discount)} is more than the line's {kronor_text(abs(line.gross))}",
        )


def _spread(discount: int, amounts: list[int]) -> list[int]:
    """Shares of ``discount`` in proportion to ``amounts`` (all the same sign), adding up exactly."""
    base = sum(abs(a) for a in amounts)
    if discount == 0 or base == 0:
        return [0] * len(amounts)
    exact = [discount * abs(a) for a in amounts]
    shares = [e // base for e in exact]
    left = discount - sum(shares)
    # Largest remainders first; ties go to the earlier line, so the result is stable.
    order = sorted(range(len(amounts)), key=lambda i: (-(exact[i] % base), i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def _vat_of(gross: int, rate: int) -> int:
    return round_half_away(Decimal(gross) * rate / (10000 + rate))


def _round_to_krona(ore: int) -> int:
    return round_half_away(Decimal(ore) / 100) * 100


def compute(receipt: Receipt) -> Totals:
    """Validate ``receipt`` and compute its figures. Raises :class:`ReceiptError`."""
    if not receipt.lines:
        raise ReceiptError("lines", "a receipt needs at least one line")
    if len(receipt.lines) > MAX_LINES:
        raise ReceiptError("lines", f"{len(receipt.lines)} lines; at most {MAX_LINES}")
    for i, line in enumerate(receipt.lines):
        _validate_line(line, i)
    returns = [line.is_return for line in receipt.lines]
    if any(returns) and not all(returns):
        first = returns.index(not returns[0])
        raise ReceiptError(
            f"lines[{first}].quantity", "sales and returns cannot be mixed on one receipt: make two receipts"
        )
    is_return = returns[0]
    _check_text(receipt.cashier, "cashier", required=False)
    _check_text(receipt.customer, "customer", required=False)
    if receipt.customer is not None and not receipt.customer.strip():
        raise ReceiptError("customer", "is empty")
    _check_text(receipt.order, "order", required=False)
    if receipt.order is not None and not receipt.order.strip():
        raise ReceiptError("order", "is empty")

    amounts = [line.amount for line in receipt.lines]
    _check_amount(receipt.discount, "discount")
    if receipt.discount < 0:
        raise ReceiptError("discount", "is negative")
    if receipt.discount > abs(sum(amounts)):
        raise ReceiptError(
            "discount",
            f"{kronor_text(receipt.discount)} is more than the receipt's {kronor_text(abs(sum(amounts)))}",
        )
    sign = -1 if is_return else 1
    shares = _spread(receipt.discount, amounts)
    line_amounts = tuple(a - sign * s for a, s in zip(amounts, shares, strict=True))
    total = sum(line_amounts)
    _check_amount(total, "total")

    by_rate: dict[int, int] = {}
    for line, amount in zip(receipt.lines, line_amounts, strict=True):
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, 0) + amount
    vat = tuple(
        VatAmount(rate, gross, _vat_of(gross, rate)) for rate, gross in sorted(by_rate.items(), reverse=True)
    )

    rounding, paid, change = _settle(receipt.payments, total, is_return)
    items = services = 0
    for line in receipt.lines:
        whole = abs(line.quantity) if line.quantity == line.quantity.to_integral_value() else Decimal(1)
        if line.kind is LineKind.SERVICE:
            services += int(whole)
        else:
            items += int(whole)
    return Totals(
        line_amounts=line_amounts,
        discount_total=sum(line.discount for line in receipt.lines) + receipt.discount,
        total=total,
        rounding=rounding,
        to_pay=total + rounding,
        vat=vat,
        return_total=abs(total) if is_return else 0,
        paid=paid,
        change=change,
        items=items,
        services=services,
        is_return=is_return,
    )


def group_amounts(receipt: Receipt, totals: Totals) -> dict[str, int]:
    """Sales per main group (öre, after each line's share of the receipt discount), for the Z report."""
    groups: dict[str, int] = {}
    for line, amount in zip(receipt.lines, totals.line_amounts, strict=True):
        if line.group:
            groups[line.group] = groups.get(line.group, 0) + amount
    return groups


def _settle(
    payments: Iterable[Payment], total: int, is_return: bool
) -> tuple[int, dict[PaymentMethod, int], int]:
    """Rounding, net amount per means of payment, and change. Raises :class:`ReceiptError`."""
    payments = tuple(payments)
    if not payments:
        if total == 0:
            return 0, {}, 0  # everything given away: nothing to pay
        raise ReceiptError("payments", "a receipt needs at least one payment")
    sign = -1 if is_return else 1
    paid: dict[PaymentMethod, int] = {}
    for i, p in enumerate(payments):
        where = f"payments[{i}]"
        if not isinstance(p.method, PaymentMethod):
            raise ReceiptError(f"{where}.method", f"{p.method!r} is not a means of payment")
        _check_amount(p.amount, f"{where}.amount")
        if p.amount == 0 or (p.amount > 0) != (sign > 0):
            what = "a refund (negative)" if is_return else "positive"
            raise ReceiptError(
                f"{where}.amount", f"must be {what} on this receipt, got {kronor_text(p.amount)}"
            )
        _check_text(p.reference, f"{where}.reference", required=False)
        paid[p.method] = paid.get(p.method, 0) + p.amount

    other = sum(v for m, v in paid.items() if m is not PaymentMethod.CASH)
    cash = paid.get(PaymentMethod.CASH)
    if cash is None:
        if other != total:
            raise ReceiptError(
                "payments",
                f"the payments come to {kronor_text(other)} but the receipt to {kronor_text(total)}",
            )
        return 0, paid, 0
    if abs(other) > abs(total):
        raise ReceiptError(
            "payments",
            f"card and other payments {kronor_text(other)} exceed the total {kronor_text(total)}",
        )
    cash_due = total - other
    rounded = _round_to_krona(cash_due)
    rounding = rounded - cash_due
    # Cash changes hands in whole kronor: what was handed over is rounded like the sum due,
    # so that cash 25,40 kr for 25,40 kr is 25,00 kr paid and no change ("Växel 0,40" cannot
    # be paid out).
    tendered = _round_to_krona(cash)
    change = tendered - rounded
    if sign * change < 0:
        shown = (
            kronor_text(cash)
            if tendered == cash
            else f"{kronor_text(cash)} (rounded: {kronor_text(tendered)})"
        )
        raise ReceiptError("payments", f"cash {shown} is less than the {kronor_text(rounded)} due in cash")
    if is_return and change != 0:
        raise ReceiptError("payments", f"a cash refund must be exactly {kronor_text(rounded)}")
    paid[PaymentMethod.CASH] = rounded
    return rounding, paid, change
