"""``[sync.visma]``: the Visma eEkonomi / Spiris integration's settings, read and checked.

Besides the connection and booking keys, the defaults of a customer made at a till: Visma
requires ``TermsOfPaymentId``, ``InvoiceCity`` and ``InvoicePostalCode`` of every
customer, and a till often knows only a name and an e-mail address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.config import ConfigError, ConfigSection
from gateway.sync.settings import from_date_of

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
    "VismaConfig",
    "parse_visma",
]

DEFAULT_BASE_URL = "https://eaccountingapi.vismaonline.com/v2"
DEFAULT_TOKEN_URL = "https://identity.vismaonline.com/connect/token"
DEFAULT_VOUCHER_TEXT = "Z-dagrapport {z_no} kassa {register}"
COST_CENTER_CODE_LENGTH = 9  # Visma's ShortName of a cost centre item: at most 9 characters
CITY_LENGTH = 50  # CustomerApi.InvoiceCity
POSTAL_CODE_LENGTH = 10  # CustomerApi.InvoicePostalCode
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class VismaConfig:
    client_id: str
    client_secret: str
    base_url: str = DEFAULT_BASE_URL
    token_url: str = DEFAULT_TOKEN_URL
    tenant: str = ""  # names the company's row in the token file when one module serves several
    voucher_text: str = DEFAULT_VOUCHER_TEXT  # our reference is appended
    from_date: date | None = None  # Z reports of earlier days are not booked (booked before the switch)
    prices: str = "net"  # "net": NetPrice (excl. VAT) to the tills; "gross": GrossPrice
    page_size: int = 100
    cost_center: str | None = None  # every voucher row's cost centre item, by its ShortName; None: none
    # A customer made at a till: its terms of payment (a name or Id; None: the company's default
    # terms from its settings), and the city and postal code when the till has none.
    customer_terms_of_payment: str | None = None
    customer_city: str | None = None
    customer_postal_code: str | None = None


def _bounded(s: ConfigSection, key: str, length: int) -> str | None:
    value = s.text(key)
    if value is not None and not 0 < len(value.strip()) == len(value) <= length:
        raise ConfigError(f"{s.where(key)}: {value!r} must be 1-{length} characters, no spaces around it")
    return value


def parse_visma(table: Mapping[str, Any], where: str = "sync.visma") -> VismaConfig:
    """``[sync.visma]``; :class:`ConfigError` names the key that is wrong."""
    s = ConfigSection(
        dict(table),
        where,
        {
            "base_url", "token_url", "client_id", "client_secret", "tenant",
            "voucher_text", "from_date", "prices", "page_size", "cost_center",
            "customer_terms_of_payment", "customer_city", "customer_postal_code",
        },
    )  # fmt: skip
    base_url = (s.text("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
    token_url = s.text("token_url", DEFAULT_TOKEN_URL) or DEFAULT_TOKEN_URL
    for key, url in (("base_url", base_url), ("token_url", token_url)):
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{s.where(key)}: {url!r} is not an http(s) URL")
    text = s.text("voucher_text", DEFAULT_VOUCHER_TEXT) or DEFAULT_VOUCHER_TEXT
    try:
        text.format(z_no=1, register="KASSA1", store="s", day="2026-01-01")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{s.where('voucher_text')}: {text!r} may name {{z_no}}, {{register}}, {{store}} and {{day}} "
            f"only ({exc})"
        ) from None
    from_date = from_date_of(table, s)
    cost_center = s.text("cost_center")
    if (
        cost_center is not None
        and not 0 < len(cost_center.strip()) == len(cost_center) <= COST_CENTER_CODE_LENGTH
    ):
        raise ConfigError(
            f"{s.where('cost_center')}: {cost_center!r} must be the cost centre item's short name as Visma "
            f"shows it: 1-{COST_CENTER_CODE_LENGTH} characters, no spaces around it"
        )
    page_size = s.integer("page_size", 100, minimum=1)
    if page_size > MAX_PAGE_SIZE:
        raise ConfigError(f"{s.where('page_size')}: at most {MAX_PAGE_SIZE} (Visma's largest $pagesize)")
    return VismaConfig(
        client_id=s.text("client_id", required=True) or "",
        client_secret=s.text("client_secret", required=True) or "",
        base_url=base_url,
        token_url=token_url,
        tenant=s.text("tenant", "") or "",
        voucher_text=text,
        from_date=from_date,
        prices=s.choice("prices", "net", ("net", "gross")),
        page_size=page_size,
        cost_center=cost_center,
        customer_terms_of_payment=_bounded(s, "customer_terms_of_payment", 100),
        customer_city=_bounded(s, "customer_city", CITY_LENGTH),
        customer_postal_code=_bounded(s, "customer_postal_code", POSTAL_CODE_LENGTH),
    )
