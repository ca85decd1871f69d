"""Fortnox as the store's master data: articles, prices, customers and stock.

What a list answer holds is less than the record (Fortnox's OpenAPI: ``ArticleListItem``,
``CustomerListItem``). An article's list item has its number, description, EAN, price in
price list A (``SalesPrice``), VAT, unit and stock, but not whether it is active, a
service (``Type``) or a stock article (``StockGoods``); a customer's has neither
``Active`` nor ``PriceList``. So:

* whether a record is active is what the list is asked for: ``filter=active`` and
  ``filter=inactive``, each with ``lastmodified`` on a changes sync;
* the single record (``GET articles/{n}``, ``GET customers/{n}``) is read only for an
  active record the list returned — on a changes sync, only what changed — because only
  it has ``Type``, ``StockGoods`` and ``PriceList``; an inactive one needs nothing more,
  it is removed from the tills;
* with a ``price_list`` other than A, that list's price from quantity 0 is
  ``GET prices/sublist/{list}/{article}`` for each such article (Fortnox documents no
  list of a whole price list).

Fortnox allows 25 requests in 5 s: a full sync of 10,000 articles is 10,000 single
records and 20 pages, about 35 minutes (docs/adapters/fortnox.md); a changes sync costs
the pages and one request per changed article. Whether prices include VAT is the
company's own setting in Fortnox, not something the API says on the article:
``prices_include_vat`` in ``[sync.fortnox]`` tells the engine. The EAN is the barcode.

Stock is the article's ``QuantityInStock``, which the list has too: a few articles are
read one by one, many from the list's pages. It is written back with ``PUT articles/{n}``,
which Fortnox allows only for stock articles (``StockGoods``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.fortnox.api import pages
from gateway.sync.adapters.fortnox.config import FortnoxConfig
from gateway.sync.adapters.source_common import ore
from gateway.sync.http import ApiClient, ApiError, ApiUnavailable, OutcomeUnknown, TokenError
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer

__all__ = ["FortnoxSource"]


# Up to this many articles' stock is read record by record; more, from the list's pages
# (500 a page), which cost fewer requests once a store has more than a few.
_ONE_BY_ONE = 20


def _listed(since: datetime | None, which: str) -> dict[str, str | int]:
    """A list's query: ``filter`` active or inactive, changed since ``since`` (None: all)."""
    query: dict[str, str | int] = {"filter": which}
    if since is not None:
        query["lastmodified"] = since.strftime("%Y-%m-%d %H:%M")
    return query


def _customer(c: dict[str, Any], *, active: bool) -> SourceCustomer:
    """A customer of a list item, or of its list item and record together."""
    city = " ".join(x for x in (_text(c.get("ZipCode")), _text(c.get("City"))) if x)
    return SourceCustomer(
        number=str(c["CustomerNumber"]),
        name=str(c.get("Name") or ""),
        orgnr=_text(c.get("OrganisationNumber")),
        email=_text(c.get("Email")),
        phone=_text(c.get("Phone1") or c.get("Phone")),
        address=tuple(x for x in (_text(c.get("Address1")), _text(c.get("Address2")), city) if x),
        price_list=_text(c.get("PriceList")),
        active=active,
    )


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

    async def _record(self, kind: str, wrapper: str, number: str) -> dict[str, Any]:
        answer = await self.client.request("GET", f"{kind}/{quote(number, safe='')}")
        record = answer.get(wrapper) if isinstance(answer, dict) else None
        if not isinstance(record, dict):
            raise ValueError(f"GET {kind}/{number}: the answer has no {wrapper}")
        return record

    async def _price(self, number: str) -> int | None:
        """The configured price list's price of article ``number`` from quantity 0, or None."""
        path = f"prices/sublist/{quote(self.config.price_list, safe='')}/{quote(number, safe='')}"
        async for p in pages(self.client, path, "Prices"):
            if float(p.get("FromQuantity") or 0) == 0:
                return ore(p.get("Price"))
        return None

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        with _failures():
            async for a in pages(self.client, "articles", "Articles", _listed(since, "inactive")):
                yield self._article(a, {}, None, active=False)
            async for a in pages(self.client, "articles", "Articles", _listed(since, "active")):
                number = str(a["ArticleNumber"])
                record = await self._record("articles", "Article", number)
                price = await self._price(number) if self.config.price_list != "A" else None
                yield self._article(a, record, price, active=True)

    def _article(
        self, listed: dict[str, Any], record: dict[str, Any], price: int | None, *, active: bool
    ) -> SourceArticle:
        ean = _text(listed.get("EAN"))
        return SourceArticle(
            number=str(listed["ArticleNumber"]),
            name=str(listed.get("Description") or ""),
            price=ore(listed.get("SalesPrice")) if price is None else price,
            price_includes_vat=self.config.prices_include_vat,
            vat_rate=int(Decimal(str(listed.get("VAT") or 0)) * 100),
            barcodes=(ean,) if ean else (),
            unit=_text(listed.get("Unit")) or "st",
            service=record.get("Type") == "SERVICE",
            stock_goods=bool(record.get("StockGoods")),
            active=active,
        )

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        with _failures():
            async for c in pages(self.client, "customers", "Customers", _listed(since, "inactive")):
                yield _customer(c, active=False)
            async for c in pages(self.client, "customers", "Customers", _listed(since, "active")):
                record = await self._record("customers", "Customer", str(c["CustomerNumber"]))
                yield _customer({**c, **record}, active=True)

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        """``QuantityInStock`` of ``numbers``; with None, of every article the list holds
        (the list does not say which are stock articles; the engine asks by number)."""
        levels: dict[str, Decimal] = {}
        with _failures():
            if numbers is not None and len(numbers) <= _ONE_BY_ONE:
                for number in numbers:
                    a = await self._record("articles", "Article", number)
                    levels[number] = Decimal(str(a.get("QuantityInStock") or 0))
                return levels
            wanted = None if numbers is None else set(numbers)
            async for a in pages(self.client, "articles", "Articles"):
                number = str(a["ArticleNumber"])
                if wanted is None or number in wanted:
                    levels[number] = Decimal(str(a.get("QuantityInStock") or 0))
        return levels

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        with _failures():
            for number, quantity in levels.items():
                body = {"Article": {"QuantityInStock": float(quantity)}}
                await self.client.request("PUT", f"articles/{quote(number, safe='')}", json=body)

    async def save_customer(self, customer: SourceCustomer) -> str:
        zip_city = customer.address[-1] if len(customer.address) > 1 else ""
        zip_code, _, city = zip_city.partition(" ") if zip_city[:1].isdigit() else ("", "", zip_city)
        fields: dict[str, Any] = {
            "Name": customer.name,
            "OrganisationNumber": customer.orgnr or "",
            "Email": customer.email or "",
            "Phone1": customer.phone or "",
            "ZipCode": zip_code,
            "City": city,
        }
        if customer.address:
            # Customer.Address1 has minLength 1 in Fortnox's definition: none, rather than ""
            fields["Address1"] = customer.address[0]
        if customer.price_list:
            fields["PriceList"] = customer.price_list

        with _failures():
            if customer.number:
                answer = await self.client.request(
                    "PUT", f"customers/{quote(customer.number, safe='')}", json={"Customer": fields}
                )
            else:
                answer = await self.client.request("POST", "customers", json={"Customer": fields})
        return str(answer["Customer"]["CustomerNumber"])
