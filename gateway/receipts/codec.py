"""Receipts to and from JSON: decimal strings at the edge, integer öre inside.

The POS sends amounts as decimal strings with a point and at most two decimals
(``"22.50"``), quantities as decimal strings or whole numbers (``"0.347"``, ``2``) and
VAT rates in percent (``25``, ``"12"``, ``"6.00"``). Every error names the field it is
about, in the form the API reports (``lines[2].unit_price``).

The journal stores a receipt with :func:`receipt_to_json` too, so what the POS sent can
be read back exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from gateway.receipts.model import (
    Line,
    LineKind,
    Payment,
    PaymentMethod,
    Receipt,
    ReceiptError,
    ReceiptKind,
    Totals,
)
from gateway.receipts.money import money_text, parse_ore
from gateway.receipts.vat import rate_text

__all__ = ["parse_money", "receipt_from_json", "receipt_to_json", "totals_to_json"]

# ASCII digits only, the whole text (fullmatch): ``\d`` would take Arabic-Indic or full-width
# digits, and ``$`` a trailing newline ("25.00\n").
_MONEY_RE = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,2})?")
_QUANTITY_RE = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,3})?")
_RATE_RE = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,2})?")


def parse_money(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ReceiptError(where, f'must be an amount as a string like "22.50", got {value!r}')
    text = str(value)
    if not _MONEY_RE.fullmatch(text):
        raise ReceiptError(where, f'{text!r} is not an amount like "22.50" (a point, at most two decimals)')
    return parse_ore(text)


def _quantity(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ReceiptError(
            where, f'must be a number as a string like "1.250" or a whole number, got {value!r}'
        )
    text = str(value)
    if not _QUANTITY_RE.fullmatch(text):
        raise ReceiptError(where, f"{text!r} is not a quantity with at most 3 decimals")
    return Decimal(text)


def _rate(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ReceiptError(where, f"must be a VAT rate in percent (25, 12, 6 or 0), got {value!r}")
    text = str(value)
    if not _RATE_RE.fullmatch(text):
        raise ReceiptError(where, f"{text!r} is not a VAT rate in percent (25, 12, 6 or 0)")
    return int(Decimal(text) * 100)


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ReceiptError(f"{where}{key}", "is missing")
        return None
    if not isinstance(value, str):
        raise ReceiptError(f"{where}{key}", f"must be a string, got {value!r}")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReceiptError(where, f"must be an object, got {type(value).__name__}")
    return value


def _enum(kind: type[Any], value: Any, where: str, default: Any) -> Any:
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ReceiptError(where, f"{value!r} is not one of {allowed}") from None


def receipt_from_json(obj: Any) -> Receipt:
    """The receipt the POS posted. Raises :class:`ReceiptError` naming the bad field."""
    body = _object(obj, "body")
    unknown = set(body) - {"id", "lines", "payments", "discount", "type", "cashier", "customer", "order"}
    if unknown:
        raise ReceiptError(sorted(unknown)[0], "is not a field of a receipt")
    raw_lines = body.get("lines")
    if not isinstance(raw_lines, list):
        raise ReceiptError("lines", "must be a list of lines")
    lines = []
    for i, raw in enumerate(raw_lines):
        where = f"lines[{i}]"
        item = _object(raw, where)
        extra = set(item) - {
            "text",
            "quantity",
            "unit_price",
            "vat_rate",
            "discount",
            "kind",
            "article",
            "group",
        }
        if extra:
            raise ReceiptError(f"{where}.{sorted(extra)[0]}", "is not a field of a line")
        for key in ("quantity", "unit_price", "vat_rate"):
            if key not in item:
                raise ReceiptError(f"{where}.{key}", "is missing")
        lines.append(
            Line(
                text=_text(item, "text", f"{where}.", required=True) or "",
                quantity=_quantity(item["quantity"], f"{where}.quantity"),
                unit_price=parse_money(item["unit_price"], f"{where}.unit_price"),
                vat_rate=_rate(item["vat_rate"], f"{where}.vat_rate"),
                discount=parse_money(item.get("discount", "0"), f"{where}.discount"),
                kind=_enum(LineKind, item.get("kind"), f"{where}.kind", LineKind.ITEM),
                article=_text(item, "article", f"{where}.", required=False),
                group=_text(item, "group", f"{where}.", required=False),
            )
        )
    raw_payments = body.get("payments", [])
    if not isinstance(raw_payments, list):
        raise ReceiptError("payments", "must be a list of payments")
    payments = []
    for i, raw in enumerate(raw_payments):
        where = f"payments[{i}]"
        item = _object(raw, where)
        extra = set(item) - {"method", "amount", "reference"}
        if extra:
            raise ReceiptError(f"{where}.{sorted(extra)[0]}", "is not a field of a payment")
        if "amount" not in item:
            raise ReceiptError(f"{where}.amount", "is missing")
        if "method" not in item:
            raise ReceiptError(f"{where}.method", "is missing")
        payments.append(
            Payment(
                method=_enum(PaymentMethod, item["method"], f"{where}.method", None),
                amount=parse_money(item["amount"], f"{where}.amount"),
                reference=_text(item, "reference", f"{where}.", required=False),
            )
        )
    return Receipt(
        lines=tuple(lines),
        payments=tuple(payments),
        discount=parse_money(body.get("discount", "0"), "discount"),
        kind=_enum(ReceiptKind, body.get("type"), "type", ReceiptKind.NORMAL),
        cashier=_text(body, "cashier", "", required=False),
        customer=_text(body, "customer", "", required=False),
        order=_text(body, "order", "", required=False),
    )


def receipt_to_json(receipt: Receipt) -> dict[str, Any]:
    """The receipt as the POS would post it (and as the journal keeps it)."""
    out: dict[str, Any] = {
        "type": receipt.kind.value,
        "lines": [
            {
                "text": line.text,
                "quantity": str(line.quantity),
                "unit_price": money_text(line.unit_price),
                "vat_rate": rate_text(line.vat_rate),
                "discount": money_text(line.discount),
                "kind": line.kind.value,
                **({"article": line.article} if line.article is not None else {}),
                **({"group": line.group} if line.group is not None else {}),
            }
            for line in receipt.lines
        ],
        "payments": [
            {
                "method": p.method.value,
                "amount": money_text(p.amount),
                **({"reference": p.reference} if p.reference is not None else {}),
            }
            for p in receipt.payments
        ],
        "discount": money_text(receipt.discount),
    }
    if receipt.cashier is not None:
        out["cashier"] = receipt.cashier
    if receipt.customer is not None:  # only when there is one: older receipts' JSON (and hashes) stay
        out["customer"] = receipt.customer
    if receipt.order is not None:  # likewise: only a receipt that pays an order has one
        out["order"] = receipt.order
    return out


def totals_to_json(totals: Totals) -> dict[str, Any]:
    return {
        "total": money_text(totals.total),
        "rounding": money_text(totals.rounding),
        "to_pay": money_text(totals.to_pay),
        "discount": money_text(totals.discount_total),
        "change": money_text(totals.change),
        "return_total": money_text(totals.return_total),
        "vat": [
            {
                "rate": rate_text(v.rate),
                "gross": money_text(v.gross),
                "vat": money_text(v.vat),
                "net": money_text(v.net),
            }
            for v in totals.vat
        ],
        "paid": {method.value: money_text(amount) for method, amount in totals.paid.items()},
        "items": totals.items,
        "services": totals.services,
    }
