"""Master data from export files in a folder: for a shop whose ERP has no API.

Many small Swedish shops keep their articles in a program that can only export a file
(or in a spreadsheet). :class:`FileSource` reads such exports from one folder and is a
:class:`~gateway.sync.masterdata.source.MasterDataSource` like the ERP adapters, so the
tills get the same catalog from it. Files, all optional but ``articles.csv``:

``articles.csv``   the articles
``customers.csv``  the customers; the sync module writes it back when a till creates or
                   changes a customer
``stock.csv``      the quantity in stock per article; the sync module writes it back
                   after each stock merge

Every file is CSV with a header row naming its columns (in any order; unknown columns are
ignored), ``;`` between fields and a decimal comma, as Swedish spreadsheets write it;
UTF-8 (with or without a byte-order mark), or Windows-1252 when it is not UTF-8. Column
names are case-insensitive. ``articles.csv``:

=============  ========  ==============================================================
column         needed    what
=============  ========  ==============================================================
number         yes       the article number
name           yes       the name (``#E#`` in it hides the article from the tills)
price          yes       the price for one unit in kronor: ``32,50`` (incl. or excl. VAT
                         as ``[sync.masterdata].prices_include_vat`` says)
vat            yes       the VAT rate in percent: 25, 12, 6 or 0
barcodes       no        EAN codes and other identifiers, separated by ``,``
unit           no        ``st`` unless given
group          no        the product group
service        no        ``1``/``ja``/``true``: a service, not goods
stock_goods    no        ``1``/``ja``/``true``: stock is kept for it (``stock.csv``)
active         no        ``0``/``nej``/``false``: inactive (removed from the tills)
location       no        the location (with ``[sync.masterdata].location``)
modified       no        when the row last changed, ``2026-03-01 14:05``; without it a
                         row counts as changed when the file did (its modification time)
price_<LIST>   no        the price in price list LIST (``price_B2B``), used instead of
                         ``price`` when ``[sync.masterdata].price_list = "B2B"`` and not empty
=============  ========  ==============================================================

``customers.csv``: number (needed), name (needed), orgnr, email, phone, address (lines
separated by ``|``), price_list, active, modified. ``stock.csv``: number, quantity
(``12`` or ``2,5``).

Both files the sync module writes are written atomically (a temporary file, fsynced,
renamed over the old one): a program reading the folder sees the old file or the new
one, never half of one. A file that cannot be read or has a bad row raises
:class:`~gateway.sync.adapters.AdapterError` naming the file, the line and the column.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from gateway.receipts.vat import VAT_RATES
from gateway.sync.adapters import AdapterError
from gateway.sync.files import write_atomically
from gateway.sync.masterdata.source import SourceArticle, SourceCustomer

__all__ = ["CUSTOMER_COLUMNS", "FileSource", "parse_decimal"]

CUSTOMER_COLUMNS = (
    "number",
    "name",
    "orgnr",
    "email",
    "phone",
    "address",
    "price_list",
    "active",
    "modified",
)
_TRUE = {"1", "ja", "j", "yes", "y", "true", "sant", "x"}
_FALSE = {"0", "nej", "n", "no", "false", "falskt", ""}
_VAT = {str(rate // 100): rate for rate in VAT_RATES}  # "25" -> 2500, …

Record = TypeVar("Record", SourceArticle, SourceCustomer)


def parse_decimal(text: str) -> Decimal:
    """``"1 234,50"`` or ``"1234.50"`` as a Decimal; ValueError when it is not a number."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value


def _decimal_text(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


def _file_error(path: Path, exc: OSError) -> AdapterError:
    return AdapterError(f"{path}: {exc.strerror or exc}")


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """The rows written atomically as the file format this module reads (``;``, CRLF, UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    try:
        write_atomically(path, out.getvalue().encode("utf-8"))
    except OSError as exc:
        raise _file_error(path, exc) from None


def _changed_since(records: list[Record], since: datetime | None) -> list[Record]:
    """The records changed at or after ``since`` (all of them for a full sync, or without a time)."""
    return [r for r in records if since is None or r.modified_at is None or r.modified_at >= since]


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class _Rows:
    """The rows of one CSV file as dicts keyed by lower-case column name, with line numbers."""

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        self.path = path
        try:
            text = _read_text(path)
            self.mtime = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
        except OSError as exc:
            raise _file_error(path, exc) from None
        reader = csv.reader(io.StringIO(text), delimiter=";")
        header = next(reader, None)
        if header is None:
            raise AdapterError(f"{path}: empty file; the first line names the columns")
        self.columns = [c.strip().lower() for c in header]
        missing = [c for c in required if c not in self.columns]
        if missing:
            raise AdapterError(f"{path}: no column {missing[0]!r} in the header line {';'.join(header)!r}")
        self.rows: list[tuple[int, dict[str, str]]] = []
        for n, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue
            self.rows.append(
                (n, {c: (fields[i].strip() if i < len(fields) else "") for i, c in enumerate(self.columns)})
            )

    def error(self, line: int, column: str, text: str) -> AdapterError:
        return AdapterError(f"{self.path.name} line {line}, column {column}: {text}")

    def flag(self, line: int, row: dict[str, str], column: str, default: bool) -> bool:
        value = row.get(column, "").lower()
        if value == "":
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self.error(line, column, f"{value!r} is not 1/0, ja/nej or true/false")

    def modified(self, line: int, row: dict[str, str]) -> datetime:
        text = row.get("modified", "")
        if not text:
            return self.mtime
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(line, "modified", f"{text!r} is not a time like 2026-03-01 14:05") from None
        return moment if moment.tzinfo is not None else moment.astimezone()

    def optional(self, row: dict[str, str], column: str) -> str | None:
        return row.get(column) or None


class FileSource:
    """Articles, customers and stock from ``articles.csv``, ``customers.csv`` and ``stock.csv``."""

    name = "file"

    def __init__(
        self, folder: Path, *, prices_include_vat: bool = True, price_list: str | None = None
    ) -> None:
        self.folder = folder
        self.prices_include_vat = prices_include_vat
        self.price_list = price_list
        self._write_lock = asyncio.Lock()

    @property
    def articles_file(self) -> Path:
        return self.folder / "articles.csv"

    @property
    def customers_file(self) -> Path:
        return self.folder / "customers.csv"

    @property
    def stock_file(self) -> Path:
        return self.folder / "stock.csv"

    # -- articles -----------------------------------------------------------------------

    def _read_articles(self) -> list[SourceArticle]:
        rows = _Rows(self.articles_file, ("number", "name", "price", "vat"))
        list_column = None if self.price_list is None else f"price_{self.price_list.lower()}"
        if list_column is not None and list_column not in rows.columns:
            raise AdapterError(
                f"{self.articles_file}: no column {list_column!r} for price list {self.price_list!r}"
            )
        out: list[SourceArticle] = []
        for n, row in rows.rows:
            number, name = row["number"], row["name"]
            if not number:
                raise rows.error(n, "number", "empty")
            if not name:
                raise rows.error(n, "name", "empty")
            column = list_column if list_column is not None and row.get(list_column) else "price"
            try:
                kronor = parse_decimal(row[column])
            except ValueError as exc:
                raise rows.error(n, column, str(exc)) from None
            price = kronor * 100
            if price < 0 or price != price.to_integral_value():
                raise rows.error(
                    n, column, f"{row[column]!r} is not an amount in kronor with at most 2 decimals"
                )
            vat_text = row["vat"].removesuffix("%").strip().replace(",00", "")
            if vat_text not in _VAT:
                raise rows.error(n, "vat", f"{row['vat']!r} is not 25, 12, 6 or 0")
            barcodes = tuple(b.strip() for b in row.get("barcodes", "").split(",") if b.strip())
            out.append(
                SourceArticle(
                    number=number,
                    name=name,
                    price=int(price),
                    price_includes_vat=self.prices_include_vat,
                    vat_rate=_VAT[vat_text],
                    barcodes=barcodes,
                    unit=row.get("unit") or "st",
                    group=rows.optional(row, "group"),
                    service=rows.flag(n, row, "service", False),
                    stock_goods=rows.flag(n, row, "stock_goods", False),
                    active=rows.flag(n, row, "active", True),
                    location=rows.optional(row, "location"),
                    modified_at=rows.modified(n, row),
                )
            )
        return out

    async def articles(self, since: datetime | None) -> AsyncIterator[SourceArticle]:
        for article in _changed_since(await asyncio.to_thread(self._read_articles), since):
            yield article

    # -- customers ----------------------------------------------------------------------

    def _read_customers(self) -> list[SourceCustomer]:
        if not self.customers_file.exists():
            return []
        rows = _Rows(self.customers_file, ("number", "name"))
        out: list[SourceCustomer] = []
        for n, row in rows.rows:
            if not row["number"]:
                raise rows.error(n, "number", "empty")
            out.append(
                SourceCustomer(
                    number=row["number"],
                    name=row["name"],
                    orgnr=rows.optional(row, "orgnr"),
                    email=rows.optional(row, "email"),
                    phone=rows.optional(row, "phone"),
                    address=tuple(a.strip() for a in row.get("address", "").split("|") if a.strip()),
                    price_list=rows.optional(row, "price_list"),
                    active=rows.flag(n, row, "active", True),
                    modified_at=rows.modified(n, row),
                )
            )
        return out

    async def customers(self, since: datetime | None) -> AsyncIterator[SourceCustomer]:
        for customer in _changed_since(await asyncio.to_thread(self._read_customers), since):
            yield customer

    def _save_customer(self, customer: SourceCustomer) -> str:
        existing = self._read_customers()
        number = customer.number
        if not number:
            numeric = [int(c.number) for c in existing if c.number.isdigit()]
            number = str(max(numeric, default=0) + 1)
        saved = dataclasses.replace(
            customer, number=number, modified_at=datetime.now().astimezone().replace(microsecond=0)
        )
        kept = [c for c in existing if c.number != number]
        _write_csv(
            self.customers_file,
            CUSTOMER_COLUMNS,
            (
                [
                    c.number,
                    c.name,
                    c.orgnr or "",
                    c.email or "",
                    c.phone or "",
                    "|".join(c.address),
                    c.price_list or "",
                    "1" if c.active else "0",
                    "" if c.modified_at is None else c.modified_at.isoformat(sep=" "),
                ]
                for c in [*kept, saved]
            ),
        )
        return number

    async def save_customer(self, customer: SourceCustomer) -> str:
        async with self._write_lock:
            return await asyncio.to_thread(self._save_customer, customer)

    # -- stock --------------------------------------------------------------------------

    def _read_stock(self) -> dict[str, Decimal]:
        if not self.stock_file.exists():
            return {}
        rows = _Rows(self.stock_file, ("number", "quantity"))
        out: dict[str, Decimal] = {}
        for n, row in rows.rows:
            try:
                out[row["number"]] = parse_decimal(row["quantity"])
            except ValueError as exc:
                raise rows.error(n, "quantity", str(exc)) from None
        return out

    async def stock(self, numbers: list[str] | None) -> dict[str, Decimal]:
        levels = await asyncio.to_thread(self._read_stock)
        if numbers is None:
            return levels
        return {n: levels.get(n, Decimal(0)) for n in numbers}

    def _set_stock(self, levels: dict[str, Decimal]) -> None:
        merged = {**self._read_stock(), **levels}
        _write_csv(
            self.stock_file,
            ("number", "quantity"),
            ((number, _decimal_text(merged[number])) for number in sorted(merged)),
        )

    async def set_stock(self, levels: dict[str, Decimal]) -> None:
        async with self._write_lock:
            await asyncio.to_thread(self._set_stock, levels)
