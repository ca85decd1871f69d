"""What the sync module needs of a system that holds a store's master data (the ERP).

An ERP adapter that keeps articles, prices, customers or stock implements
:class:`MasterDataSource`; the master-data engine (:mod:`gateway.sync.masterdata`) turns
what it reads into catalog revisions for the tills (:mod:`gateway.messages.catalog`) and
writes back what the tills changed (stock sold, customers created at the till).

Everything here is as the ERP says it: a price with or without VAT, as the ERP keeps it,
in öre; a hidden article (``#E#`` in its name) still comes through — the engine decides
what the tills see. A source raises :class:`~gateway.sync.adapters.AdapterError` quoting
the ERP's own message when it cannot do what is asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

__all__ = ["MasterDataSource", "SourceArticle", "SourceCustomer"]


@dataclass(frozen=True, slots=True)
class SourceArticle:
    number: str  # the ERP's article (item) number
    name: str
    price: int  # öre, for one unit, from the article or the chosen price list
    price_includes_vat: bool  # False: the ERP keeps prices excl. VAT (NAV, Business Central, Visma net)
    vat_rate: int  # 2500, 1200, 600 or 0 (hundredths of a percent)
    barcodes: tuple[str, ...] = ()  # EAN and extra identifiers (cross-references, item identifiers)
    unit: str = "st"
    group: str | None = None  # product group
    service: bool = False
    stock_goods: bool = False  # the ERP keeps stock for it
    active: bool = True  # inactive articles are removed from the tills
    location: str | None = None  # for a filter by location (NAV)
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceCustomer:
    number: str  # the ERP's customer number ("" for one created at a till, not yet in the ERP)
    name: str
    orgnr: str | None = None
    email: str | None = None
    phone: str | None = None
    address: tuple[str, ...] = ()
    price_list: str | None = None
    active: bool = True
    modified_at: datetime | None = None


class MasterDataSource(Protocol):
    name: str  # "Fortnox", "Visma eEkonomi", "Business Central", …

    def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        """Every article (``since`` None: a full sync), or those changed since ``since``."""
        ...

    def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        """Every customer, or those changed since ``since``."""
        ...

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        """Quantity in stock per article number (``None``: every stock article)."""
        ...

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        """Write the merged quantities back (the three-way merge's result)."""
        ...

    async def save_customer(self, customer: SourceCustomer) -> str:
        """Create (number "") or update a customer; returns its number in the ERP."""
        ...
