"""The ``[sync.business_central]`` table: how to reach a company's Business Central and what to send it.

docs/adapters/business-central.md explains every key; an error names the key
(``[sync.business_central].vat_groups.MOMS25: …``).
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

__all__ = ["DEFAULT_SCOPE", "BusinessCentralConfig", "parse_business_central"]

DEFAULT_SCOPE = "https://api.businesscentral.dynamics.com/.default"
# A custom API page's place below …/api/: its APIPublisher, APIGroup, APIVersion and EntitySetName.
_API_PAGE = re.compile(r"^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/v\d+\.\d+/[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class BusinessCentralConfig:
    base_url: str  # …/v2.0/{tenant}/{environment}/api/v2.0
    token_url: str  # https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
    client_id: str
    client_secret: str
    company_id: str
    customer: str  # the cash customer's number
    scope: str = DEFAULT_SCOPE
    post: str = "at_once"  # "at_once" | "batch"
    salesperson_from_cashier: bool = True
    payment_journals: dict[str, str] = field(default_factory=dict)  # means -> customer payment journal code
    rounding_account: str = "3740"  # G/L account of the Account line that evens out öre
    item_without_article: str | None = None  # item number for receipt lines that carry none
    # Master data (BusinessCentralSource):
    vat_groups: dict[str, int] = field(default_factory=dict)  # item taxGroupCode -> rate (hundredths of a %)
    # API v2.0 has no item references: a partner's API page of them, "publisher/group/version/set"
    item_reference_page: str | None = None
    odata_url: str | None = None  # …/ODataV4/Company('name'): where the item journal page is published
    item_journal: str = "ItemJournal"  # its web service name
    item_journal_template: str = "ITEM"
    item_journal_batch: str = "TILLGW"
    from_date: date | None = None  # receipts of earlier days are not booked (see gateway/sync/erp.py)


def parse_business_central(
    table: Mapping[str, Any], where: str = "sync.business_central"
) -> BusinessCentralConfig:
    """``[sync.business_central]``; :class:`ConfigError` names the key that is wrong."""
    s = ConfigSection(
        dict(table),
        where,
        {
            "base_url", "token_url", "client_id", "client_secret", "company_id", "customer", "scope",
            "post", "salesperson_from_cashier", "payment_journals", "rounding_account",
            "item_without_article", "vat_groups", "item_references", "item_reference_page", "odata_url",
            "item_journal", "item_journal_template", "item_journal_batch", "from_date",
        },
    )  # fmt: skip
    urls = {}
    for key in ("base_url", "token_url"):
        url = (s.text(key, required=True) or "").rstrip("/")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{s.where(key)}: {url!r} is not an http(s) URL")
        urls[key] = url
    journals_raw = table.get("payment_journals", {})
    if not isinstance(journals_raw, dict):
        raise ConfigError(f"{s.where('payment_journals')}: must be a table of means = journal code")
    journals: dict[str, str] = {}
    for means, code in journals_raw.items():
        if means not in MEANS:
            raise ConfigError(f"{s.where('payment_journals')}.{means}: not one of {', '.join(MEANS)}")
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"{s.where('payment_journals')}.{means}: must be a journal code, got {code!r}")
        journals[means] = code
    flags = {}
    for key in ("salesperson_from_cashier", "item_references"):
        flags[key] = table.get(key, key != "item_references")
        if not isinstance(flags[key], bool):
            raise ConfigError(f"{s.where(key)}: must be true or false")
    if flags["item_references"]:
        # Read by earlier versions from an itemReferences entity API v2.0 does not have.
        raise ConfigError(
            f"{s.where('item_references')}: API v2.0 has no item references; barcodes come from the "
            'items\' gtin, or set item_reference_page = "publisher/group/version/entitySet" to a '
            "partner's API page of them (docs/adapters/business-central.md)"
        )
    reference_page = s.text("item_reference_page")
    if reference_page is not None and not _API_PAGE.match(reference_page):
        raise ConfigError(
            f"{s.where('item_reference_page')}: {reference_page!r} is not "
            '"publisher/group/version/entitySet" (e.g. "contoso/pos/v1.0/itemReferences")'
        )
    groups_raw = table.get("vat_groups", {})
    if not isinstance(groups_raw, dict):
        raise ConfigError(f"{s.where('vat_groups')}: must be a table of tax group code = rate")
    vat_groups: dict[str, int] = {}
    for group, rate in groups_raw.items():
        if isinstance(rate, bool) or rate not in VAT_PERCENTS:
            raise ConfigError(f"{s.where('vat_groups')}.{group}: {rate!r} is not one of 25, 12, 6, 0")
        vat_groups[str(group)] = int(rate) * 100
    odata_url = s.text("odata_url")
    if odata_url is not None and company_url(odata_url) is None:
        raise ConfigError(
            f"{s.where('odata_url')}: {odata_url!r} is not an OData v4 company URL "
            "(…/ODataV4/Company('name'))"
        )
    return BusinessCentralConfig(
        base_url=urls["base_url"],
        token_url=urls["token_url"],
        client_id=s.text("client_id", required=True) or "",
        client_secret=s.text("client_secret", required=True) or "",
        company_id=s.text("company_id", required=True) or "",
        customer=s.text("customer", required=True) or "",
        scope=s.text("scope", DEFAULT_SCOPE) or DEFAULT_SCOPE,
        post=s.choice("post", "at_once", ("at_once", "batch")),
        salesperson_from_cashier=flags["salesperson_from_cashier"],
        payment_journals=journals,
        rounding_account=s.text("rounding_account", "3740") or "3740",
        item_without_article=s.text("item_without_article"),
        vat_groups=vat_groups,
        item_reference_page=reference_page,
        odata_url=odata_url.rstrip("/") if odata_url else None,
        item_journal=s.text("item_journal", "ItemJournal") or "ItemJournal",
        item_journal_template=s.text("item_journal_template", "ITEM") or "ITEM",
        item_journal_batch=s.text("item_journal_batch", "TILLGW") or "TILLGW",
        from_date=from_date_of(table, s),
    )
