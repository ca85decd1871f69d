"""Items, barcodes, customers and stock from Business Central's API v2.0 (:class:`MasterDataSource`).

* Items from ``companies({id})/items``: number, displayName, unitPrice with
  priceIncludesTax, baseUnitOfMeasureCode, itemCategoryCode, type (Service: a service;
  Inventory: stock is kept), blocked (inactive), inventory; the VAT rate from the item's
  ``taxGroupCode`` — in a VAT country BC shows the item's VAT Prod. Posting Group there —
  through ``vat_groups``. Changes by ``lastModifiedDateTime gt …``.
* Barcodes: the item's ``gtin``. API v2.0 has no item references; with
  ``item_reference_page`` (``publisher/group/version/entitySet``) those of type *Bar Code*
  also come from the partner's API page of that name, which shows ``itemNumber``,
  ``referenceType`` and ``referenceNumber`` (docs/adapters/business-central.md).
* Customers from ``customers`` (blocked: inactive), changes by ``lastModifiedDateTime``.
* Stock written back: API v2.0 keeps ``inventory`` read-only and has no item journal, so
  the adjustment lines go to the Item Journal page published as an OData v4 web service
  at ``odata_url`` (:mod:`gateway.sync.adapters.item_journal`), with the same token.
* A customer saved by POST (BC numbers it) or by PATCH with the etag just read (If-Match).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_error
from gateway.sync.adapters.business_central.config import BusinessCentralConfig
from gateway.sync.adapters.item_journal import ItemJournal, set_stock
from gateway.sync.adapters.odata import ODataClient, changed_since, odata_quote
from gateway.sync.adapters.source_common import (
    contact_fields,
    failures_as,
    iso_time,
    ore,
    postal_address,
    stock_levels,
)
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer
from gateway.sync.settings import company_url

__all__ = ["BusinessCentralSource"]


# Only the item fields an article is made of: 10,000 items in one page (BC's most is
# 20,000) are a fraction of the bytes of the whole records.
ITEM_FIELDS = (
    "number,displayName,unitPrice,priceIncludesTax,baseUnitOfMeasureCode,itemCategoryCode,type,blocked,"
    "gtin,taxGroupCode,lastModifiedDateTime"
)
STOCK_FIELDS = "number,type,inventory"


def _since(since: datetime | None) -> dict[str, str]:
    return changed_since("lastModifiedDateTime", since)


def _inventory(item: dict[str, Any]) -> bool:
    return bool(item.get("type", "Inventory") == "Inventory")


class BusinessCentralSource:
    """Articles, customers and stock from Business Central."""

    name = "Business Central"

    def __init__(self, config: BusinessCentralConfig, api: BusinessCentralApi) -> None:
        self.config = config
        self.api = api
        self._journal: tuple[ODataClient, str] | None = None
        self._partner: ODataClient | None = None

    def _journal_client(self) -> tuple[ODataClient, str]:
        """The OData v4 client of the item journal page and the company's path prefix."""
        if self._journal is None:
            where = company_url(self.config.odata_url or "")
            if where is None:
                raise AdapterError("set stock: [sync.business_central].odata_url is not set")
            client = self.api.client
            journal = ODataClient(
                where[0],
                client.auth,
                client.limiter,  # the same environment, the same limit
                error_message=bc_error,
                backoff=client.backoff,
                max_tries=client.max_tries,
            )
            self._journal = (journal, f"Company('{odata_quote(where[1])}')/")
        return self._journal

    def _partner_client(self) -> ODataClient:
        """The client of the partner's API pages: ``…/api/{publisher}/{group}/{version}``."""
        if self._partner is None:
            page = self.config.item_reference_page or ""
            root = self.config.base_url.rsplit("/", 1)[0]  # …/api, without v2.0
            client = self.api.client
            self._partner = ODataClient(
                f"{root}/{page.rsplit('/', 1)[0]}",
                client.auth,
                client.limiter,  # the same environment, the same limit
                error_message=bc_error,
                backoff=client.backoff,
                max_tries=client.max_tries,
            )
        return self._partner

    async def close(self) -> None:
        if self._partner is not None:
            await self._partner.close()
            self._partner = None
        if self._journal is not None:
            await self._journal[0].close()
            self._journal = None

    # -- articles ------------------------------------------------------------------------

    async def _references(self) -> dict[str, list[str]]:
        codes: dict[str, list[str]] = {}
        page = self.config.item_reference_page
        if page is not None:
            where = {"$filter": "referenceType eq 'Bar Code'"}
            path = f"{self.api.company}/{page.rsplit('/', 1)[1]}"
            async for ref in self._partner_client().values(path, where):
                if ref.get("referenceNumber"):
                    codes.setdefault(str(ref.get("itemNumber")), []).append(str(ref["referenceNumber"]))
        return codes

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        with failures_as("items"):
            references = await self._references()
            async for item in self.api.values("items", {**_since(since), "$select": ITEM_FIELDS}):
                yield self._article(item, references)

    def _article(self, item: dict[str, Any], references: dict[str, list[str]]) -> SourceArticle:
        number = str(item.get("number") or "")
        group = str(item.get("taxGroupCode") or "")
        rate = self.config.vat_groups.get(group)
        if rate is None:
            raise AdapterError(
                f"item {number}: tax group {group!r} is not in [sync.business_central].vat_groups"
            )
        gtin = str(item.get("gtin") or "")
        barcodes = ([gtin] if gtin else []) + [c for c in references.get(number, []) if c != gtin]
        kind = str(item.get("type") or "Inventory")
        return SourceArticle(
            number=number,
            name=str(item.get("displayName") or ""),
            price=ore(item.get("unitPrice")),
            price_includes_vat=bool(item.get("priceIncludesTax", False)),
            vat_rate=rate,
            barcodes=tuple(barcodes),
            unit=str(item.get("baseUnitOfMeasureCode") or "st"),
            group=str(item.get("itemCategoryCode") or "") or None,
            service=kind == "Service",
            stock_goods=kind == "Inventory",
            active=not item.get("blocked", False),
            modified_at=iso_time(item.get("lastModifiedDateTime")),
        )

    # -- customers -----------------------------------------------------------------------

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        with failures_as("customers"):
            async for c in self.api.values("customers", _since(since)):
                yield self._customer(c)

    @staticmethod
    def _customer(c: dict[str, Any]) -> SourceCustomer:
        return SourceCustomer(
            number=str(c.get("number") or ""),
            name=str(c.get("displayName") or ""),
            orgnr=c.get("taxRegistrationNumber") or None,
            email=c.get("email") or None,
            phone=c.get("phoneNumber") or None,
            address=postal_address(c, ("addressLine1", "addressLine2"), "postalCode", "city"),
            active=not str(c.get("blocked") or "").strip(),
            modified_at=iso_time(c.get("lastModifiedDateTime")),
        )

    # -- stock ---------------------------------------------------------------------------

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        with failures_as("stock"):
            return await stock_levels(
                self.api.values("items", {"$select": STOCK_FIELDS}),
                numbers,
                number="number",
                quantity="inventory",
                kept=_inventory,
            )

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        client, prefix = self._journal_client()
        inventory = await self.stock(list(levels))
        journal = ItemJournal(
            self.config.item_journal, self.config.item_journal_template, self.config.item_journal_batch
        )
        await set_stock(client, prefix, journal, levels, inventory, "Business Central")

    # -- saving a customer ---------------------------------------------------------------

    async def save_customer(self, customer: SourceCustomer) -> str:
        body: dict[str, Any] = {
            "displayName": customer.name[:100],
            "blocked": " " if customer.active else "All",
            **contact_fields(
                customer,
                orgnr="taxRegistrationNumber",
                email="email",
                phone="phoneNumber",
                address=("addressLine1", "addressLine2"),
                width=100,
            ),
        }
        with failures_as(f"save customer {customer.number or customer.name!r}"):
            if not customer.number:
                created = await self.api.request("POST", "customers", json=body)
                return str(created["number"])
            existing = None
            async for c in self.api.values(
                "customers", {"$filter": f"number eq '{odata_quote(customer.number)}'"}
            ):
                existing = c
            if existing is None:
                raise AdapterError(f"save customer: Business Central has no customer {customer.number}")
            await self.api.client.patch(
                f"{self.api.company}/customers({existing['id']})", body, str(existing.get("@odata.etag", "*"))
            )
            return customer.number
