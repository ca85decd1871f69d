"""From the ERP's records to the tills' catalog items: prices, hidden articles, barcodes.

A customer goes both ways: :func:`till_customer` for the tills, :func:`source_customer`
for the ERP to save one a till made or changed.

* A price kept excl. VAT becomes the price incl. VAT the till charges: price × (1 + rate),
  rounded half away from zero to whole öre (12,00 kr at 25 %: 15,00 kr; 0,99 kr at 12 %:
  1,1088 → 1,11 kr). With ``round_up_to_krona`` the price incl. VAT is then rounded UP to
  whole kronor (15,01 → 16,00): a shop that charges whole kronor never rounds in the
  customer's favour by accident.
* An article with ``#E#`` in its name is hidden: the tills never show it (it is removed
  from them if they have it), whatever else the ERP says of it. This is the convention
  Swedish ERP users already know for "not for the till".
* An inactive article, or one of another location than ``[sync.masterdata].location``, is
  not for the tills either.
* A barcode that two (or more) articles share would make a scan ambiguous: it is imported
  for none of them, and a WARNING names the barcode and the articles, so that someone
  fixes it in the ERP. The articles themselves are imported, without that barcode.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.messages.catalog import Article, Customer
from gateway.sync.masterdata.config import MasterDataConfig
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer
from gateway.sync.runlog import LOGGER

__all__ = [
    "HIDDEN_MARK",
    "exclusion",
    "price_incl_vat",
    "shared_barcodes",
    "source_customer",
    "till_article",
    "till_customer",
    "with_unique_barcodes",
]

log = logging.getLogger(LOGGER)

HIDDEN_MARK = "#E#"


def price_incl_vat(price: int, vat_rate: int, *, includes_vat: bool, round_up_to_krona: bool) -> int:
    """The till's price in öre for one unit (``vat_rate`` in hundredths of a percent)."""
    if price < 0:
        raise ValueError(f"price {price} öre is negative")
    gross = price
    if not includes_vat:
        exact = Decimal(price) * (Decimal(10000 + vat_rate) / Decimal(10000))
        gross = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))  # halves away from zero (>= 0)
    if round_up_to_krona:
        gross = -(-gross // 100) * 100
    return gross


def exclusion(article: SourceArticle, config: MasterDataConfig) -> str | None:
    """Why the article is not for the tills (it is removed from them), or None."""
    if HIDDEN_MARK in article.name:
        return "hidden (#E#)"
    if not article.active:
        return "inactive"
    if config.location is not None and article.location != config.location:
        return f"location {article.location or '(none)'} is not {config.location}"
    return None


def till_article(article: SourceArticle, config: MasterDataConfig) -> Article:
    """The article as the tills get it, with every barcode the ERP gives (see
    :func:`with_unique_barcodes`)."""
    return Article(
        number=article.number,
        name=article.name,
        price=price_incl_vat(
            article.price,
            article.vat_rate,
            includes_vat=article.price_includes_vat,
            round_up_to_krona=config.round_up_to_krona,
        ),
        vat_rate=article.vat_rate,
        barcodes=tuple(dict.fromkeys(article.barcodes)),
        unit=article.unit,
        group=article.group,
        service=article.service,
        stock_goods=article.stock_goods,
    )


def _customer_fields(customer: Customer | SourceCustomer) -> dict[str, Any]:
    """The fields a till's customer has, by name; the ERP's customer has them all and more."""
    return {f.name: getattr(customer, f.name) for f in dataclasses.fields(Customer)}


def till_customer(customer: SourceCustomer) -> Customer:
    """The customer as the tills get it (whether the ERP keeps it active, and since when, stays behind)."""
    return Customer(**_customer_fields(customer))


def source_customer(customer: Customer, number: str) -> SourceCustomer:
    """A till's customer as the ERP is to save it, under ``number`` ("": a new one, numbered by the ERP)."""
    return SourceCustomer(**{**_customer_fields(customer), "number": number})


def shared_barcodes(articles: Iterable[Article]) -> dict[str, list[Article]]:
    """Each barcode that more than one article has, with those articles."""
    owners: dict[str, list[Article]] = {}
    for article in articles:
        for code in article.barcodes:
            owners.setdefault(code, []).append(article)
    return {code: found for code, found in owners.items() if len(found) > 1}


def with_unique_barcodes(articles: Mapping[str, Article]) -> dict[str, Article]:
    """The articles without the barcodes they share (each such barcode logged as a WARNING)."""
    shared = shared_barcodes(articles.values())
    for code, found in sorted(shared.items()):
        log.warning(
            "barcode %s is on %s: imported for neither; give it to one article in the ERP",
            code,
            " and ".join(f"article {a.number} ({a.name})" for a in sorted(found, key=lambda a: a.number)),
        )
    if not shared:
        return dict(articles)
    out: dict[str, Article] = {}
    for number, article in articles.items():
        kept = tuple(code for code in article.barcodes if code not in shared)
        out[number] = article if kept == article.barcodes else dataclasses.replace(article, barcodes=kept)
    return out
