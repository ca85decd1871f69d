"""Items, prices, barcodes, customers and stock from Dynamics NAV's page services (:class:`MasterDataSource`).

* Items from the Item page: No., Description, Unit_Price and Price_Includes_VAT,
  Base_Unit_of_Measure, Item_Category_Code, Type, Blocked, Inventory; the VAT rate from
  VAT_Prod_Posting_Group through ``vat_groups``. Changes by ``Last_Date_Modified`` — NAV
  keeps a date, not a time, so the whole day of the last sync is read again.
* With ``location`` set, the Item page is read with its FlowFilter
  ``Location_Filter eq '…'``: NAV then computes Inventory for that location only.
* Barcodes from Item Cross Reference entries of type *Bar Code* (NAV 2013–2017) or from
  Item Identifiers; the item's own No. is not added (the tills look an article up by its
  number as well).
* With ``price_group`` set, the Sales Price of that Customer Price Group in effect today
  (Starting_Date empty or passed, Ending_Date empty or not passed, no minimum quantity,
  currency or variant; the lowest of several, as NAV picks) replaces the item's price.
* Customers from the Customer page; blocked (any Blocked value) is inactive.
* Stock written back through the Item Journal page (:mod:`gateway.sync.adapters.item_journal`).
* A customer saved by POST (NAV numbers it) or by PATCH with the etag just read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.item_journal import ItemJournal, set_stock
from gateway.sync.adapters.nav.api import NavApi
from gateway.sync.adapters.nav.config import NavConfig
from gateway.sync.adapters.odata import odata_quote
from gateway.sync.adapters.source_common import (
    contact_fields,
    failures_as,
    ore,
    postal_address,
    stock_levels,
)
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer

__all__ = ["NavSource"]

_NO_DATE = "0001-01-01"  # how NAV sends an empty date


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not value or value.startswith(_NO_DATE):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    day = _day(value)
    return None if day is None else datetime(day.year, day.month, day.day).astimezone()


def _since(since: datetime) -> str:
    return f"Last_Date_Modified ge {since.astimezone().date().isoformat()}"


def _inventory(item: dict[str, Any]) -> bool:
    return str(item.get("Type") or "Inventory") == "Inventory"


class NavSource:
    """Articles, customers and stock from Dynamics NAV."""

    name = "Dynamics NAV"

    def __init__(self, config: NavConfig, api: NavApi) -> None:
        self.config = config
        self.api = api

    # -- articles ------------------------------------------------------------------------

    def _item_filter(self, since: datetime | None) -> dict[str, str]:
        parts = []
        if since is not None:
            parts.append(_since(since))
        if self.config.location:
            parts.append(f"Location_Filter eq '{odata_quote(self.config.location)}'")
        return {"$filter": " and ".join(parts)} if parts else {}

    async def _barcodes(self) -> dict[str, list[str]]:
        codes: dict[str, list[str]] = {}
        if self.config.barcodes == "cross_reference":
            where = {"$filter": "Cross_Reference_Type eq 'Bar Code'"}
            async for ref in self.api.client.values(self.api.path("cross_reference"), where):
                if not ref.get("Discontinue_Bar_Code") and ref.get("Cross_Reference_No"):
                    codes.setdefault(str(ref.get("Item_No")), []).append(str(ref["Cross_Reference_No"]))
        elif self.config.barcodes == "item_identifier":
            async for ident in self.api.client.values(self.api.path("item_identifier")):
                if ident.get("Code"):
                    codes.setdefault(str(ident.get("Item_No")), []).append(str(ident["Code"]))
        return codes

    async def _group_prices(self) -> dict[str, tuple[int, bool]]:
        """Item No. -> (price in öre, includes VAT) of the price group's price in effect today."""
        group = self.config.price_group
        if group is None:
            return {}
        today = date.today()
        where = f"Sales_Type eq 'Customer Price Group' and Sales_Code eq '{odata_quote(group)}'"
        prices: dict[str, tuple[int, bool]] = {}
        async for p in self.api.client.values(self.api.path("sales_price"), {"$filter": where}):
            start, end = _day(p.get("Starting_Date")), _day(p.get("Ending_Date"))
            if (start is not None and start > today) or (end is not None and end < today):
                continue
            if (
                Decimal(str(p.get("Minimum_Quantity") or 0)) > 1
                or p.get("Currency_Code")
                or p.get("Variant_Code")
            ):
                continue
            item, price = str(p.get("Item_No")), ore(p.get("Unit_Price"))
            if item not in prices or price < prices[item][0]:
                prices[item] = (price, bool(p.get("Price_Includes_VAT", False)))
        return prices

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        with failures_as("items"):
            barcodes = await self._barcodes()
            prices = await self._group_prices()
            async for item in self.api.client.values(self.api.path("item"), self._item_filter(since)):
                yield self._article(item, barcodes, prices)

    def _article(
        self, item: dict[str, Any], barcodes: dict[str, list[str]], prices: dict[str, tuple[int, bool]]
    ) -> SourceArticle:
        number = str(item.get("No") or "")
        group = str(item.get("VAT_Prod_Posting_Group") or "")
        rate = self.config.vat_groups.get(group)
        if rate is None:
            raise AdapterError(
                f"item {number}: VAT Prod. Posting Group {group!r} is not in [sync.nav].vat_groups"
            )
        price, includes = prices.get(
            number, (ore(item.get("Unit_Price")), bool(item.get("Price_Includes_VAT")))
        )
        kind = str(item.get("Type") or "Inventory")
        return SourceArticle(
            number=number,
            name=str(item.get("Description") or ""),
            price=price,
            price_includes_vat=includes,
            vat_rate=rate,
            barcodes=tuple(barcodes.get(number, ())),
            unit=str(item.get("Base_Unit_of_Measure") or "st"),
            group=str(item.get("Item_Category_Code") or "") or None,
            service=kind == "Service",
            stock_goods=kind == "Inventory",
            active=not item.get("Blocked", False),
            location=self.config.location,
            modified_at=_moment(item.get("Last_Date_Modified")),
        )

    # -- customers -----------------------------------------------------------------------

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        params = {"$filter": _since(since)} if since is not None else {}
        with failures_as("customers"):
            async for c in self.api.client.values(self.api.path("customer"), params):
                yield self._customer(c)

    @staticmethod
    def _customer(c: dict[str, Any]) -> SourceCustomer:
        return SourceCustomer(
            number=str(c.get("No") or ""),
            name=str(c.get("Name") or ""),
            orgnr=c.get("VAT_Registration_No") or None,
            email=c.get("E_Mail") or None,
            phone=c.get("Phone_No") or None,
            address=postal_address(c, ("Address", "Address_2"), "Post_Code", "City"),
            price_list=c.get("Customer_Price_Group") or None,
            active=not str(c.get("Blocked") or "").strip(),
            modified_at=_moment(c.get("Last_Date_Modified")),
        )

    # -- stock ---------------------------------------------------------------------------

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        with failures_as("stock"):
            items = self.api.client.values(self.api.path("item"), self._item_filter(None))
            return await stock_levels(items, numbers, number="No", quantity="Inventory", kept=_inventory)

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        inventory = await self.stock(list(levels))
        journal = ItemJournal(
            self.config.services["item_journal"],
            self.config.item_journal_template,
            self.config.item_journal_batch,
            self.config.location,
        )
        await set_stock(self.api.client, self.api.prefix, journal, levels, inventory, "NAV")

    # -- saving a customer ---------------------------------------------------------------

    async def save_customer(self, customer: SourceCustomer) -> str:
        body: dict[str, Any] = {
            "Name": customer.name[:50],
            "Blocked": " " if customer.active else "All",
            **contact_fields(
                customer,
                orgnr="VAT_Registration_No",
                email="E_Mail",
                phone="Phone_No",
                address=("Address", "Address_2"),
                width=50,
            ),
        }
        with failures_as(f"save customer {customer.number or customer.name!r}"):
            if not customer.number:
                created = await self.api.client.request("POST", self.api.path("customer"), json=body)
                return str(created["No"])
            path = self.api.path("customer", f"'{odata_quote(customer.number)}'")
            existing = await self.api.client.request("GET", path)
            await self.api.client.patch(path, body, str(existing.get("@odata.etag", "*")))
            return customer.number
