"""Articles, customers and stock from Visma eEkonomi / Spiris (a :class:`MasterDataSource`).

What Visma's definition says, and why the code reads what it reads:

* An article is a service when ``IsServiceArticle`` is true (its account coding is of the
  Service type). It is a stock article when ``ShowStockInformation`` is true: with the
  stock module that is an ``IsStock`` article that is not a service, without the module
  every article that is not a service.
* ``StockBalance`` is read-only when the stock module is active: the module keeps the
  stock itself. An ``IsStock`` article (which exists only with the module) is therefore
  never written; its stock is read, and the tills' sales reach it through Visma's own
  stock handling, not through us (a WARNING names the articles). Without the module the
  merged quantity is written back, a PUT of the whole article as Visma wants it.
* A customer needs ``TermsOfPaymentId``, ``InvoiceCity`` and ``InvoicePostalCode``.
  A customer made at a till gets the city and postal code of its address's last line
  ("903 26 Umeå"), else ``[sync.visma] customer_city`` / ``customer_postal_code``; the
  terms of payment of ``customer_terms_of_payment`` (a name or Id), else the company's
  default terms (``GET /v2/companysettings``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.odata import changed_since
from gateway.sync.adapters.source_common import (
    failures_as,
    iso_time,
    ore,
    postal_address,
    stock_levels,
)
from gateway.sync.adapters.visma.api import VISMA, VismaApi, VismaCompany
from gateway.sync.adapters.visma.config import CITY_LENGTH, POSTAL_CODE_LENGTH, VismaConfig
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer

__all__ = ["VismaSource", "customer_body"]

log = logging.getLogger("tillgw.sync")

NAME_LENGTH = 50  # CustomerApi.Name
ADDRESS_LENGTH = 50  # CustomerApi.InvoiceAddress1 and 2
_TOWN = re.compile(r"^(\d{3} ?\d{2})\s+(\S.*)$")  # a Swedish "postal code city" line


def _when(value: Any) -> datetime | None:
    """``ChangedUtc``: UTC, whether or not it says so."""
    parsed = iso_time(value)
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _town(address: tuple[str, ...]) -> tuple[tuple[str, ...], str | None, str | None]:
    """(street lines, postal code, city) of a till's address lines."""
    if address:
        m = _TOWN.match(address[-1].strip())
        if m is not None:
            return address[:-1], m.group(1), m.group(2)
    return address, None, None


def customer_body(
    customer: SourceCustomer, config: VismaConfig, terms_id: str, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``CustomerApi`` of a till's customer: what the till knows, the required rest from
    ``existing`` (an update) or the configured defaults; :class:`AdapterError` names the key
    to set when a required value is found nowhere."""
    street, postal_code, city = _town(customer.address)
    old = existing or {}
    postal_code = postal_code or old.get("InvoicePostalCode") or config.customer_postal_code
    city = city or old.get("InvoiceCity") or config.customer_city
    for value, key, what in (
        (postal_code, "customer_postal_code", "postal code"),
        (city, "customer_city", "city"),
    ):
        if not value:
            raise AdapterError(
                f"Visma requires a customer's {what}, and the till gave none: set [sync.visma].{key}"
            )
    body: dict[str, Any] = {
        **old,
        "Name": customer.name[:NAME_LENGTH],
        "IsPrivatePerson": not customer.orgnr,
        "IsActive": customer.active,
        "TermsOfPaymentId": old.get("TermsOfPaymentId") or terms_id,
        "InvoicePostalCode": str(postal_code)[:POSTAL_CODE_LENGTH],
        "InvoiceCity": str(city)[:CITY_LENGTH],
    }
    if customer.orgnr:
        body["CorporateIdentityNumber"] = customer.orgnr
    if customer.email:
        body["EmailAddress"] = customer.email
    if customer.phone:
        body["Telephone"] = customer.phone
    for key, line in zip(("InvoiceAddress1", "InvoiceAddress2"), street, strict=False):
        body[key] = line[:ADDRESS_LENGTH]
    return body


class VismaSource:
    """Articles, customers and stock from Visma eEkonomi / Spiris (:class:`MasterDataSource`)."""

    name = VISMA

    def __init__(self, config: VismaConfig, api: VismaApi) -> None:
        self.config = config
        self.api = api
        self.company = VismaCompany(api)
        self._rates: dict[str, int] | None = None
        self._terms: str | None = None
        # The articles the last stock() read, by number: set_stock() follows it at once (the
        # merge reads, then writes) and PUTs these records instead of fetching each again,
        # one call per article instead of two.
        self._read: dict[str, dict[str, Any]] = {}

    async def _vat_rates(self) -> dict[str, int]:
        """Article account coding id -> VAT rate in hundredths of a percent."""
        if self._rates is None:
            rates: dict[str, int] = {}
            async for coding in self.api.pages("articleaccountcodings"):
                percent = coding.get("VatRatePercent")
                if isinstance(percent, int | float) and coding.get("Id"):
                    rates[str(coding["Id"])] = int((Decimal(str(percent)) * 10000).to_integral_value())
            self._rates = rates
        return self._rates

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        with failures_as("articles"):
            rates = await self._vat_rates()
            async for item in self.api.pages("articles", changed_since("ChangedUtc", since)):
                yield self._article(item, rates)

    def _article(self, item: dict[str, Any], rates: dict[str, int]) -> SourceArticle:
        gross = self.config.prices == "gross"
        barcodes = tuple(
            str(code["Barcode"])
            for code in item.get("Barcodes") or ()
            if isinstance(code, dict) and isinstance(code.get("Barcode"), str) and code["Barcode"]
        )
        return SourceArticle(
            number=str(item.get("Number") or ""),
            name=str(item.get("Name") or ""),
            price=ore(item.get("GrossPrice" if gross else "NetPrice")),
            price_includes_vat=gross,
            vat_rate=rates.get(str(item.get("CodingId")), 2500),
            barcodes=barcodes,
            unit=str(item.get("UnitAbbreviation") or item.get("UnitName") or "st"),
            service=bool(item.get("IsServiceArticle", False)),
            stock_goods=bool(item.get("ShowStockInformation", False)),
            active=bool(item.get("IsActive", True)),
            modified_at=_when(item.get("ChangedUtc")),
        )

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        with failures_as("customers"):
            async for item in self.api.pages("customers", changed_since("ChangedUtc", since)):
                yield self._customer(item)

    @staticmethod
    def _customer(item: dict[str, Any]) -> SourceCustomer:
        return SourceCustomer(
            number=str(item.get("CustomerNumber") or ""),
            name=str(item.get("Name") or ""),
            orgnr=item.get("CorporateIdentityNumber") or None,
            email=item.get("EmailAddress") or None,
            phone=item.get("Telephone") or item.get("MobilePhone") or None,
            address=postal_address(
                item, ("InvoiceAddress1", "InvoiceAddress2"), "InvoicePostalCode", "InvoiceCity"
            ),
            active=bool(item.get("IsActive", True)),
            modified_at=_when(item.get("ChangedUtc")),
        )

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        self._read = {}

        async def remembered() -> AsyncIterator[dict[str, Any]]:
            async for item in self.api.pages("articles"):
                if item.get("ShowStockInformation") and item.get("Id"):
                    self._read[str(item.get("Number"))] = item
                yield item

        with failures_as("stock"):
            return await stock_levels(
                remembered(),
                numbers,
                number="Number",
                quantity="StockBalance",
                kept=lambda item: bool(item.get("ShowStockInformation")),
            )

    async def _one(self, path: str, field: str, value: str) -> dict[str, Any] | None:
        quoted = value.replace("'", "''")
        async for item in self.api.pages(path, {"$filter": f"{field} eq '{quoted}'"}):
            return item
        return None

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        """Each article's ``StockBalance`` replaced — only without the stock module (see above)."""
        kept_by_visma: list[str] = []
        for number, level in levels.items():
            with failures_as(f"set stock of article {number}"):
                article = self._read.pop(number, None) or await self._one("articles", "Number", number)
                if article is None:
                    raise AdapterError(f"set stock: {VISMA} has no article {number}")
                if article.get("IsStock"):
                    kept_by_visma.append(number)  # the stock module's: StockBalance is read-only
                    continue
                await self.api.request(
                    "PUT", f"articles/{article['Id']}", json={**article, "StockBalance": float(level)}
                )
        if kept_by_visma:
            log.warning(
                "stock: %s keeps the stock of article(s) %s with its stock module (StockBalance is read-only "
                "there); the tills' sales of them are not written back",
                VISMA,
                ", ".join(kept_by_visma),
            )

    async def _terms_of_payment(self) -> str:
        """The Id of the terms of payment a till's new customer gets."""
        if self._terms is None:
            wanted = self.config.customer_terms_of_payment
            if wanted is None:
                default = (await self.company.read()).get("TermsOfPaymentId")
                if not default:
                    raise AdapterError(
                        f"{VISMA} has no default terms of payment for the company: set "
                        "[sync.visma].customer_terms_of_payment"
                    )
                self._terms = str(default)
            else:
                async for terms in self.api.pages("termsofpayments"):
                    if wanted in (terms.get("Id"), terms.get("Name")):
                        self._terms = str(terms["Id"])
                        break
                else:
                    raise AdapterError(
                        f"[sync.visma].customer_terms_of_payment: {wanted!r} is not among the company's "
                        "terms of payment (GET termsofpayments), by name or Id"
                    )
        return self._terms

    async def save_customer(self, customer: SourceCustomer) -> str:
        with failures_as(f"save customer {customer.number or customer.name!r}"):
            terms = await self._terms_of_payment()
            if not customer.number:
                body = customer_body(customer, self.config, terms)
                created = await self.api.request("POST", "customers", json=body)
                return str(created["CustomerNumber"])
            existing = await self._one("customers", "CustomerNumber", customer.number)
            if existing is None:
                raise AdapterError(f"save customer: {VISMA} has no customer {customer.number}")
            body = customer_body(customer, self.config, terms, existing)
            await self.api.request("PUT", f"customers/{existing['Id']}", json=body)
            return customer.number
