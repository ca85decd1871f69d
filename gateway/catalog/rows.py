"""The catalog's rows: an article or customer as a lookup returns it, and a received part written.

:func:`article_from_row` and :func:`customer_from_row` read the columns
:data:`ARTICLE_COLUMNS` and :data:`CUSTOMER_COLUMNS` select; :func:`apply_part` writes one
part of a revision (articles and their barcodes, customers, or stock).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.messages.catalog import Article, CatalogSection, CatalogUpdate, Customer, StockLevel

__all__ = [
    "ARTICLE_COLUMNS",
    "ARTICLE_FROM",
    "CUSTOMER_COLUMNS",
    "CatalogArticle",
    "CatalogCustomer",
    "apply_part",
    "article_from_row",
    "customer_from_row",
    "customer_row",
]

ARTICLE_COLUMNS = (
    "a.number, a.name, a.price, a.vat_rate, a.unit, a.grp, a.service, a.stock_goods, s.quantity, "
    "(SELECT group_concat(barcode, char(31)) FROM barcodes WHERE number = a.number)"
)
ARTICLE_FROM = "articles a LEFT JOIN stock s ON s.number = a.number"
CUSTOMER_COLUMNS = "number, name, orgnr, email, phone, address, price_list, origin"


@dataclass(frozen=True, slots=True)
class CatalogArticle:
    article: Article
    stock: Decimal | None  # None: the ERP sends no stock for it

    def to_json(self) -> dict[str, Any]:
        """As the API shows it: money and VAT rate as a receipt line takes them."""
        a = self.article
        rate = a.vat_rate
        return {
            "number": a.number,
            "name": a.name,
            "price": f"{a.price // 100}.{a.price % 100:02d}",
            "vat_rate": f"{rate // 100}" if rate % 100 == 0 else f"{rate / 100:.2f}",
            "unit": a.unit,
            "group": a.group,
            "kind": "service" if a.service else "item",
            "stock_goods": a.stock_goods,
            "barcodes": list(a.barcodes),
            "stock": None if self.stock is None else str(self.stock),
        }


@dataclass(frozen=True, slots=True)
class CatalogCustomer:
    customer: Customer
    provisional: bool  # made at the till; the ERP has not yet sent it back

    def to_json(self) -> dict[str, Any]:
        return {**self.customer.to_json(), "provisional": self.provisional}


# -- applying one part ----------------------------------------------------------------------


def apply_part(conn: sqlite3.Connection, part: CatalogUpdate, full: bool) -> None:
    if part.section is CatalogSection.ARTICLES:
        articles = [item for item in part.items if isinstance(item, Article)]
        _delete(conn, "barcodes", part.removed)
        _delete(conn, "articles", part.removed)
        conn.executemany(
            "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.number,
                    a.name,
                    a.name.casefold(),
                    a.price,
                    a.vat_rate,
                    a.unit,
                    a.group,
                    int(a.service),
                    int(a.stock_goods),
                )
                for a in articles
            ],
        )
        if not full:  # an article's barcodes are the ones it lists now
            _delete(conn, "barcodes", (a.number for a in articles))
        conn.executemany(
            "INSERT OR REPLACE INTO barcodes VALUES (?, ?)",
            [(code, a.number) for a in articles for code in a.barcodes],
        )
    elif part.section is CatalogSection.CUSTOMERS:
        _delete(conn, "customers", part.removed)
        conn.executemany(
            "INSERT OR REPLACE INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'erp')",
            [customer_row(c) for c in part.items if isinstance(c, Customer)],
        )
    else:
        _delete(conn, "stock", part.removed)
        conn.executemany(
            "INSERT OR REPLACE INTO stock VALUES (?, ?)",
            [(s.number, str(s.quantity)) for s in part.items if isinstance(s, StockLevel)],
        )


def _delete(conn: sqlite3.Connection, table: str, numbers: Iterable[str]) -> None:
    conn.executemany(f"DELETE FROM {table} WHERE number = ?", [(n,) for n in numbers])


def customer_row(c: Customer) -> tuple[Any, ...]:
    address = json.dumps(list(c.address), ensure_ascii=False)
    return (c.number, c.name, c.name.casefold(), c.orgnr, c.email, c.phone, address, c.price_list)


# -- rows ---------------------------------------------------------------------------------


def article_from_row(row: tuple[Any, ...]) -> CatalogArticle:
    barcodes = tuple(sorted(row[9].split("\x1f"))) if row[9] else ()
    article = Article(
        number=row[0],
        name=row[1],
        price=int(row[2]),
        vat_rate=int(row[3]),
        barcodes=barcodes,
        unit=row[4],
        group=row[5],
        service=bool(row[6]),
        stock_goods=bool(row[7]),
    )
    return CatalogArticle(article, None if row[8] is None else Decimal(row[8]))


def customer_from_row(row: tuple[Any, ...]) -> CatalogCustomer:
    customer = Customer(
        number=row[0],
        name=row[1],
        orgnr=row[2],
        email=row[3],
        phone=row[4],
        address=tuple(json.loads(row[5])),
        price_list=row[6],
    )
    return CatalogCustomer(customer, row[7] == "till")
