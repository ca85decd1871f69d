"""The ``[sync.nav]`` table: how to reach a company's Dynamics NAV and what to send it.

docs/adapters/nav.md explains every key; an error names the key
(``[sync.nav].vat_groups.MOMS25: …``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.config import ConfigError, ConfigSection
from gateway.receipts.vat import VAT_PERCENTS
from gateway.sync.settings import MEANS, company_url, from_date_of

__all__ = ["DEFAULT_SERVICES", "NavConfig", "parse_nav"]

DEFAULT_SERVICES: dict[str, str] = {
    "sales_invoice": "SalesInvoice",  # page 43 Sales Invoice
    "invoice_lines": "SalesInvoiceSalesLines",  # its lines part (page 47), as OData names it
    "posted_invoice": "PostedSalesInvoice",  # page 132 Posted Sales Invoice
    "sales_credit_memo": "SalesCreditMemo",  # page 44 Sales Credit Memo
    "credit_memo_lines": "SalesCreditMemoSalesLines",  # its lines part (page 96)
    "posted_credit_memo": "PostedSalesCreditMemo",  # page 134 Posted Sales Credit Memo
    "payment_journal": "CashReceiptJournal",  # page 255 Cash Receipt Journal
    "customer_ledger": "CustomerLedgerEntries",  # page 25 Customer Ledger Entries
    "item": "Item",  # page 30 Item Card
    "cross_reference": "ItemCrossReference",  # page 5721 Item Cross Reference Entries
    "item_identifier": "ItemIdentifier",  # page 7706 Item Identifiers
    "sales_price": "SalesPrice",  # page 7002 Sales Prices
    "customer": "Customer",  # page 21 Customer Card
    "item_journal": "ItemJournal",  # page 40 Item Journal
    "sales_order": "SalesOrder",  # page 42 Sales Order
    "order_lines": "SalesOrderSalesLines",  # its lines part (page 46 Sales Order Subform)
    "posted_shipment": "PostedSalesShipment",  # page 130 Posted Sales Shipment
}
"""The web service name each page is published under in NAV (table 2000000076, Web Services)."""

_KEYS = {
    "base_url", "username", "password", "customer", "post", "posting_service", "services",
    "barcodes", "price_group", "location", "vat_groups", "payment_accounts", "payment_methods",
    "payment_journal_template", "payment_journal_batch", "item_journal_template", "item_journal_batch",
    "rounding_account", "salesperson_from_cashier", "item_without_article", "from_date",
    "order_posting_service",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NavConfig:
    root: str  # http://nav:7048/DynamicsNAV100/ODataV4
    company: str  # CRONUS Sverige AB
    username: str
    password: str  # the password, or the user's web service access key
    customer: str  # the cash customer's No.
    vat_groups: dict[str, int]  # VAT Prod. Posting Group -> rate in hundredths of a percent (2500)
    post: str = "at_once"  # "at_once" | "batch"
    posting_service: str = "Post_Sales_Doc"  # the codeunit's OData action, "{Service}_{Procedure}"
    services: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SERVICES))
    barcodes: str = "cross_reference"  # "cross_reference" | "item_identifier" | "none"
    price_group: str | None = None  # the cash customer's Customer Price Group: its prices go to the tills
    location: str | None = None  # the shop's Location Code: stock of this location only
    payment_accounts: dict[str, str] = field(default_factory=dict)  # means -> balancing G/L account
    payment_methods: dict[str, str] = field(default_factory=dict)  # means -> Payment Method Code
    payment_journal_template: str = "CASHRCPT"
    payment_journal_batch: str = "TILLGW"
    item_journal_template: str = "ITEM"
    item_journal_batch: str = "TILLGW"
    rounding_account: str = "3740"  # G/L account without VAT for the öre the cash rounding leaves
    salesperson_from_cashier: bool = True
    item_without_article: str | None = None  # item No. for receipt lines that carry no article
    from_date: date | None = None  # receipts of earlier days are not booked
    # The codeunit's OData action that posts a sales order: (documentNo, ship, invoice).
    order_posting_service: str = "Post_Sales_Order"

    @property
    def base_url(self) -> str:
        return f"{self.root}/Company('{self.company}')"


def _means_table(table: Mapping[str, Any], s: ConfigSection, key: str) -> dict[str, str]:
    raw = table.get(key, {})
    if not isinstance(raw, dict):
        raise ConfigError(f'{s.where(key)}: must be a table of means = code, e.g. {{cash = "1910"}}')
    out: dict[str, str] = {}
    for means, code in raw.items():
        if means not in MEANS:
            raise ConfigError(f"{s.where(key)}.{means}: not one of {', '.join(MEANS)}")
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"{s.where(key)}.{means}: must be a non-empty code, got {code!r}")
        out[means] = code
    return out


def _vat_groups(table: Mapping[str, Any], s: ConfigSection) -> dict[str, int]:
    raw = table.get("vat_groups")
    if raw is None:
        raise ConfigError(
            f"{s.where('vat_groups')}: missing "
            "(VAT Prod. Posting Group = rate, e.g. {MOMS25 = 25, MOMS12 = 12})"
        )
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{s.where('vat_groups')}: must be a table of VAT Prod. Posting Group = rate")
    groups: dict[str, int] = {}
    for group, rate in raw.items():
        if isinstance(rate, bool) or rate not in VAT_PERCENTS:
            raise ConfigError(f"{s.where('vat_groups')}.{group}: {rate!r} is not one of 25, 12, 6, 0")
        groups[str(group)] = int(rate) * 100
    return groups


def parse_nav(table: Mapping[str, Any], where: str = "sync.nav") -> NavConfig:
    """``[sync.nav]``; :class:`ConfigError` names the key that is wrong."""
    s = ConfigSection(dict(table), where, _KEYS)
    base = (s.text("base_url", required=True) or "").rstrip("/")
    company = company_url(base)
    if company is None:
        raise ConfigError(
            f"{s.where('base_url')}: {base!r} is not NAV's OData v4 company URL, "
            "e.g. http://nav:7048/DynamicsNAV100/ODataV4/Company('CRONUS')"
        )
    services_raw = table.get("services", {})
    if not isinstance(services_raw, dict):
        raise ConfigError(f"{s.where('services')}: must be a table of page = web service name")
    services = dict(DEFAULT_SERVICES)
    for name, value in services_raw.items():
        if name not in DEFAULT_SERVICES:
            raise ConfigError(f"{s.where('services')}.{name}: not one of {', '.join(DEFAULT_SERVICES)}")
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise ConfigError(f"{s.where('services')}.{name}: {value!r} is not a web service name")
        services[name] = value
    from_cashier = table.get("salesperson_from_cashier", True)
    if not isinstance(from_cashier, bool):
        raise ConfigError(f"{s.where('salesperson_from_cashier')}: must be true or false")
    posting = s.text("posting_service", "Post_Sales_Doc") or "Post_Sales_Doc"
    if not re.fullmatch(r"[A-Za-z0-9_]+", posting):
        raise ConfigError(f"{s.where('posting_service')}: {posting!r} is not a web service action name")
    order_posting = s.text("order_posting_service", "Post_Sales_Order") or "Post_Sales_Order"
    if not re.fullmatch(r"[A-Za-z0-9_]+", order_posting):
        raise ConfigError(
            f"{s.where('order_posting_service')}: {order_posting!r} is not a web service action name"
        )
    return NavConfig(
        root=company[0],
        company=company[1],
        username=s.text("username", required=True) or "",
        password=s.text("password", required=True) or "",
        customer=s.text("customer", required=True) or "",
        vat_groups=_vat_groups(table, s),
        post=s.choice("post", "at_once", ("at_once", "batch")),
        posting_service=posting,
        services=services,
        barcodes=s.choice("barcodes", "cross_reference", ("cross_reference", "item_identifier", "none")),
        price_group=s.text("price_group"),
        location=s.text("location"),
        payment_accounts=_means_table(table, s, "payment_accounts"),
        payment_methods=_means_table(table, s, "payment_methods"),
        payment_journal_template=s.text("payment_journal_template", "CASHRCPT") or "CASHRCPT",
        payment_journal_batch=s.text("payment_journal_batch", "TILLGW") or "TILLGW",
        item_journal_template=s.text("item_journal_template", "ITEM") or "ITEM",
        item_journal_batch=s.text("item_journal_batch", "TILLGW") or "TILLGW",
        rounding_account=s.text("rounding_account", "3740") or "3740",
        salesperson_from_cashier=from_cashier,
        item_without_article=s.text("item_without_article"),
        from_date=from_date_of(table, s),
        order_posting_service=order_posting,
    )
