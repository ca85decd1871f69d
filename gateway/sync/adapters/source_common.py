"""What the ERP adapters' master-data sources (:class:`MasterDataSource`) have in common.

Business Central, Dynamics NAV, Visma eEkonomi and Fortnox keep the same things under
other names: an amount in kronor, a customer's two address lines with postal code and
city, its organisation number, e-mail and phone, an article's quantity in stock. These
helpers read and write them given the ERP's field names, and turn the HTTP client's
failures into the :class:`~gateway.sync.adapters.AdapterError` the engine reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.sync.adapters import AdapterError
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from gateway.sync.masterdata.source import SourceCustomer

__all__ = [
    "SOURCE_FAILURES",
    "contact_fields",
    "failures_as",
    "iso_time",
    "ore",
    "postal_address",
    "stock_levels",
]

SOURCE_FAILURES = (ApiError, ApiUnavailable, OutcomeUnknown, TokenError)
"""What the HTTP client and its tokens raise when the ERP does not do what was asked."""


@contextmanager
def failures_as(what: str) -> Iterator[None]:
    """Any of :data:`SOURCE_FAILURES` within raised as an :class:`AdapterError` ``"{what}: …"``."""
    try:
        yield
    except SOURCE_FAILURES as exc:
        raise AdapterError(f"{what}: {exc}") from None


def ore(kronor: Any) -> int:
    """An amount in kronor as the ERP's JSON gives it (a number, a text or nothing), in öre.

    Half an öre rounds away from zero, as everywhere in the till's money (gateway/receipts/model.py).
    """
    return int((Decimal(str(kronor or 0)) * 100).quantize(Decimal(1), ROUND_HALF_UP))


def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` for UTC); None when there is none or it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def postal_address(
    record: Mapping[str, Any], lines: tuple[str, str], postal_code: str, city: str
) -> tuple[str, ...]:
    """A customer's address: the street lines it has, then "postal code city" if either is there."""
    street = tuple(str(record[k]) for k in lines if isinstance(record.get(k), str) and record[k])
    town = " ".join(str(record.get(k) or "") for k in (postal_code, city)).strip()
    return street + ((town,) if town else ())


def contact_fields(
    customer: SourceCustomer,
    *,
    orgnr: str,
    email: str,
    phone: str,
    address: tuple[str, str],
    width: int | None = None,
) -> dict[str, Any]:
    """The customer's organisation number, e-mail and phone (those it has) and its first two
    address lines, under the ERP's field names; each line cut to ``width`` characters."""
    fields: dict[str, Any] = {}
    if customer.orgnr:
        fields[orgnr] = customer.orgnr
    if customer.email:
        fields[email] = customer.email
    if customer.phone:
        fields[phone] = customer.phone
    for key, line in zip(address, customer.address, strict=False):
        fields[key] = line[:width]
    return fields


async def stock_levels(
    items: AsyncIterable[dict[str, Any]],
    numbers: list[str] | None,
    *,
    number: str,
    quantity: str,
    kept: Callable[[dict[str, Any]], bool],
) -> dict[str, Decimal]:
    """Quantity in stock per article number of the ``kept`` items (the ERP keeps stock for
    them), of only those in ``numbers`` unless it is None."""
    wanted = set(numbers) if numbers is not None else None
    levels: dict[str, Decimal] = {}
    async for item in items:
        key = str(item.get(number) or "")
        if kept(item) and (wanted is None or key in wanted):
            levels[key] = Decimal(str(item.get(quantity) or 0))
    return levels
