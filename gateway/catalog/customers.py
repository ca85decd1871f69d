"""A customer the POS creates or changes at the till (``POST /v1/customers``), checked.

The POS sends ``{"number"?, "name", "orgnr"?, "email"?, "phone"?, "address"?,
"price_list"?}``. Without a ``number`` the customer is new to the ERP too: the till gives
it a provisional number (``T-{register}-{n}``, see :meth:`Catalog.provisional_number
<gateway.catalog.store.Catalog.provisional_number>`) until the ERP's own comes back in a
catalog revision. Every error names the field, as the API reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.messages.catalog import Customer
from protocols.skv import FieldError

__all__ = ["CustomerError", "CustomerRequest", "customer_request"]

MAX_NAME = 100
MAX_ADDRESS_LINES = 4
_NUMBER_RE = re.compile(r"^[^\x00-\x1f\x7f/]{1,50}$")  # no '/': the number is a path level of the API
_FIELDS = {"number", "name", "orgnr", "email", "phone", "address", "price_list"}
_LIMITS = {"name": MAX_NAME, "orgnr": 20, "email": 100, "phone": 30, "price_list": 50}


class CustomerError(FieldError):
    """A customer the till cannot take; ``field`` names the field at fault."""


@dataclass(frozen=True, slots=True)
class CustomerRequest:
    """The customer as the POS sent it; ``number`` None asks the till for a provisional one."""

    number: str | None
    name: str
    orgnr: str | None
    email: str | None
    phone: str | None
    address: tuple[str, ...]
    price_list: str | None

    def with_number(self, number: str) -> Customer:
        return Customer(number, self.name, self.orgnr, self.email, self.phone, self.address, self.price_list)


def customer_request(body: dict[str, Any]) -> CustomerRequest:
    """The POS's customer, checked. Raises :class:`CustomerError` naming the field."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise CustomerError(unknown[0], f"is not a field of a customer ({', '.join(sorted(_FIELDS))})")
    number = body.get("number")
    if number is not None and (not isinstance(number, str) or not _NUMBER_RE.match(number)):
        raise CustomerError(
            "number", f"must be 1-50 characters without '/' or control characters, got {number!r}"
        )
    name = _text(body, "name")
    if name is None:
        raise CustomerError("name", "is missing")
    email = _text(body, "email")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise CustomerError("email", f"{email!r} is not an e-mail address")
    address = body.get("address", [])
    if address is None:
        address = []
    if not isinstance(address, list):
        raise CustomerError("address", "must be a list of lines")
    if len(address) > MAX_ADDRESS_LINES:
        raise CustomerError("address", f"has {len(address)} lines; at most {MAX_ADDRESS_LINES}")
    lines = tuple(_line(value, f"address[{i}]") for i, value in enumerate(address))
    return CustomerRequest(
        number, name, _text(body, "orgnr"), email, _text(body, "phone"), lines, _text(body, "price_list")
    )


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    return _checked(value, key, _LIMITS[key])


def _line(value: Any, where: str) -> str:
    return _checked(value, where, MAX_NAME)


def _checked(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CustomerError(where, f"must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise CustomerError(where, f"is {len(value)} characters; at most {limit}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise CustomerError(where, "holds a control character")
    return value
