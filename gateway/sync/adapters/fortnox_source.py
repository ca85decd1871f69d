"""Fortnox as the store's master data: articles, prices, customers and stock.

Articles come from ``GET articles`` page by page (500 a page), only those changed since
the last sync with ``lastmodified``. An article's ``SalesPrice`` is its price in price list
A; with another ``price_list`` configured, that list's prices (``GET prices/sublist/{list}``,
the price from quantity 0) replace it. Whether those prices include VAT is the company's
own setting in Fortnox, not something the API says on the article: ``prices_include_vat``
in ``[sync.fortnox]`` tells the engine (docs/adapters/fortnox.md). The EAN is the barcode.

Stock is the article's ``QuantityInStock``; written back with ``PUT articles/{n}``, which
Fortnox allows only for stock articles (``StockGoods``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.fortnox_api import pages
from gateway.sync.adapters.fortnox_config import FortnoxConfig
from gateway.sync.adapters.source_common import ore
from gateway.sync.http import ApiClient, ApiError, ApiUnavailable, OutcomeUnknown, TokenError
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer

__all__ = ["FortnoxSource"]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value[:16], "%Y-%m-%d %H:%M")
    except ValueError:
        return None


def _since(since: datetime | None) -> dict[str, str | int]:
    return {} if since is None else {"lastmodified": since.strftime("%Y-%m-%d %H:%M")}


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


@contextmanager
def _failures() -> Iterator[None]:
    """Fortnox's refusal (its own message quoted), or no useful answer, as an :class:`AdapterError`."""
    try:
        yield
    except ApiError as exc:
        raise AdapterError(f"Fortnox refused: {exc}") from None
    except (ApiUnavailable, TokenError, OutcomeUnknown) as exc:
        raise AdapterError(f"Fortnox: {exc}") from None


class FortnoxSource:
    """A :class:`~gateway.sync.masterdata.source.MasterDataSource` reading one Fortnox company."""

    name = "Fortnox"

    def __init__(self, config: FortnoxConfig, client: ApiClient) -> None:
        self.config = config
        self.client = client

    async def _list_prices(self) -> dict[str, int]:
        prices: dict[str, int] = {}
        async for p in pages(self.client, f"prices/sublist/{self.config.price_list}", "Prices"):
            if float(p.get("FromQuantity") or 0) == 0:
                prices[str(p["ArticleNumber"])] = ore(p.get("Price"))
        return prices

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        with _failures():
            prices = await self._list_prices() if self.config.price_list != "A" else {}
            async for a in pages(self.client, "articles", "Articles", _since(since)):
                number = str(a["ArticleNumber"])
                ean = _text(a.get("EAN"))
                yield SourceArticle(
                    number=number,
                    name=str(a.get("Description") or ""),
                    price=prices.get(number, ore(a.get("SalesPrice"))),
                    price_includes_vat=self.config.prices_include_vat,
                    vat_rate=int(Decimal(str(a.get("VAT") or 0)) * 100),
                    barcodes=(ean,) if ean else (),
                    unit=_text(a.get("Unit")) or "st",
                    service=a.get("Type") == "SERVICE",
                    stock_goods=bool(a.get("StockGoods")),
                    active=a.get("Active", True) is not False,
                    modified_at=_when(a.get("LastModified")),
                )

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        with _failures():
            async for c in pages(self.client, "customers", "Customers", _since(since)):
                city = " ".join(x for x in (_text(c.get("ZipCode")), _text(c.get("City"))) if x)
                yield SourceCustomer(
                    number=str(c["CustomerNumber"]),
                    name=str(c.get("Name") or ""),
                    orgnr=_text(c.get("OrganisationNumber")),
                    email=_text(c.get("Email")),
                    phone=_text(c.get("Phone1") or c.get("Phone")),
                    address=tuple(x for x in (_text(c.get("Address1")), _text(c.get("Address2")), city) if x),
                    price_list=_text(c.get("PriceList")),
                    active=c.get("Active", True) is not False,
                    modified_at=_when(c.get("LastModified")),
                )

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        levels: dict[str, Decimal] = {}
        with _failures():
            if numbers is None:
                async for a in pages(self.client, "articles", "Articles"):
                    if a.get("StockGoods"):
                        levels[str(a["ArticleNumber"])] = Decimal(str(a.get("QuantityInStock") or 0))
            else:
                for number in numbers:
                    a = (await self.client.request("GET", f"articles/{number}"))["Article"]
                    levels[number] = Decimal(str(a.get("QuantityInStock") or 0))
        return levels

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        with _failures():
            for number, quantity in levels.items():
                body = {"Article": {"QuantityInStock": float(quantity)}}
                await self.client.request("PUT", f"articles/{number}", json=body)

    async def save_customer(self, customer: SourceCustomer) -> str:
        zip_city = customer.address[-1] if len(customer.address) > 1 else ""
        zip_code, _, city = zip_city.partition(" ") if zip_city[:1].isdigit() else ("", "", zip_city)
        fields: dict[str, Any] = {
            "Name": customer.name,
            "OrganisationNumber": customer.orgnr or "",
            "Email": customer.email or "",
            "Phone1": customer.phone or "",
            "Address1": customer.address[0] if customer.address else "",
            "ZipCode": zip_code,
            "City": city,
        }
        if customer.price_list:
            fields["PriceList"] = customer.price_list

        with _failures():
            if customer.number:
                answer = await self.client.request(
                    "PUT", f"customers/{customer.number}", json={"Customer": fields}
                )
            else:
                answer = await self.client.request("POST", "customers", json={"Customer": fields})
        return str(answer["Customer"]["CustomerNumber"])
