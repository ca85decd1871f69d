"""The ``[sync.fortnox]`` table: how to reach a company's Fortnox and what to send it.

docs/adapters/fortnox.md explains every key; an error names the key
(``[sync.fortnox].voucher_series: …``). The accounts a Z report is booked on come from
``[sync.accounts]``, as for the SIE files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.config import ConfigError, ConfigSection
from gateway.sync.settings import flag, from_date_of

__all__ = ["DEFAULT_MODES_OF_PAYMENT", "FortnoxConfig", "parse_fortnox"]

DEFAULT_MODES_OF_PAYMENT: dict[str, str] = {"cash": "KONT", "card": "KORT", "swish": "SWISH", "gift_card": ""}
"""Fortnox's mode-of-payment code per means paid at the till ("": not registered as a payment)."""

_KEYS = {
    "base_url",
    "token_url",
    "client_id",
    "client_secret",
    "grant",
    "tenant_id",
    "mode",
    "voucher_series",
    "invoices",
    "invoices_as",
    "invoice_bookkeep",
    "cash_customer",
    "price_list",
    "prices_include_vat",
    "from_date",
    "modes_of_payment",
    "cost_center",
    "stock_module",
}
_SERIES_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{0,16}$")
_COST_CENTER_RE = re.compile(r"^[A-Za-z0-9]{1,6}$")  # Fortnox's cost centre codes


@dataclass(frozen=True, slots=True)
class FortnoxConfig:
    client_id: str
    client_secret: str
    base_url: str = "https://api.fortnox.se/3/"
    token_url: str = "https://apps.fortnox.se/oauth-v1/token"
    grant: str = "refresh_token"  # "refresh_token" (authorised by a user) | "client_credentials"
    tenant_id: str | None = None  # needed for client_credentials (the TenantId header)
    mode: str = "start"  # "start": Z reports as vouchers | "full": also master data and invoices
    voucher_series: str = "A"
    invoices: str = "none"  # "none" | "account_customers" | "all"
    invoices_as: str = "invoice"  # "invoice" | "order": those receipts become orders, not invoices
    invoice_bookkeep: bool = True  # book the invoice and its payment at once
    cash_customer: str | None = None  # the customer invoices of receipts without one go to ("all")
    price_list: str = "A"
    prices_include_vat: bool = False  # how the company keeps its article and price list prices
    from_date: date | None = None  # nothing dated before it is sent
    modes_of_payment: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MODES_OF_PAYMENT))
    cost_center: str | None = None  # the Z voucher's rows carry this cost centre (kostnadsställe)
    stock_module: bool = False  # the company keeps stock in Fortnox: every sale an invoice, which moves it

    @property
    def tenant_key(self) -> str:
        """The token row's tenant: the TenantId, or "" for an app authorised by a user."""
        return self.tenant_id or ""


def _url(section: ConfigSection, key: str, default: str) -> str:
    value = section.text(key, default) or default
    if not value.startswith(("https://", "http://")):
        raise ConfigError(f"{section.where(key)}: {value!r} is not an http(s) URL")
    return value


def parse_fortnox(table: dict[str, Any], where: str = "sync.fortnox") -> FortnoxConfig:
    """The ``[sync.fortnox]`` table, checked; :class:`ConfigError` names the key that is wrong."""
    s = ConfigSection(table, where, _KEYS)
    client_id = s.text("client_id", required=True)
    client_secret = s.text("client_secret", required=True)
    assert client_id is not None and client_secret is not None
    grant = s.choice("grant", "refresh_token", ("refresh_token", "client_credentials"))
    tenant_id = s.text("tenant_id")
    if grant == "client_credentials" and not tenant_id:
        raise ConfigError(f"{s.where('tenant_id')}: missing (client_credentials needs the TenantId)")
    series = s.text("voucher_series", "A") or "A"
    if not _SERIES_RE.match(series):
        raise ConfigError(f"{s.where('voucher_series')}: {series!r} must be 1-8 letters or digits")
    mode = s.choice("mode", "start", ("start", "full"))
    invoices = s.choice("invoices", "none", ("none", "account_customers", "all"))
    stock_module = flag(s, "stock_module", False)
    # With Fortnox's stock module a sale must move stock, and only an invoice does (a voucher
    # books money, not goods): every receipt an invoice, as Fortnox's own till integration does.
    if stock_module and (mode != "full" or invoices != "all"):
        raise ConfigError(
            f'{s.where("stock_module")}: true needs mode = "full" and invoices = "all" '
            "(only an invoice moves stock in Fortnox)"
        )
    if invoices != "none" and mode != "full":
        raise ConfigError(f'{s.where("invoices")}: {invoices!r} needs mode = "full"')
    invoices_as = s.choice("invoices_as", "invoice", ("invoice", "order"))
    if invoices_as == "order" and invoices == "none":
        raise ConfigError(
            f'{s.where("invoices_as")}: "order" says how receipts are sent, and invoices = "none" sends none '
            '(set invoices = "account_customers" or "all")'
        )
    cash_customer = s.text("cash_customer")
    if invoices == "all" and not cash_customer:
        raise ConfigError(
            f'{s.where("cash_customer")}: missing (invoices = "all" sends receipts without a customer to it)'
        )
    from_date = from_date_of(table, s)
    modes_raw = table.get("modes_of_payment", {})
    if not isinstance(modes_raw, dict):
        raise ConfigError(f'{s.where("modes_of_payment")}: must be a table like {{ card = "KORT" }}')
    modes = dict(DEFAULT_MODES_OF_PAYMENT)
    for means, code in modes_raw.items():
        if means not in DEFAULT_MODES_OF_PAYMENT:
            raise ConfigError(
                f"{s.where('modes_of_payment')}.{means}: not a means paid at the till "
                f"({', '.join(DEFAULT_MODES_OF_PAYMENT)})"
            )
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise ConfigError(
                f"{s.where('modes_of_payment')}.{means}: {code!r} is not a mode-of-payment code"
            )
        modes[means] = code
    price_list = s.text("price_list", "A") or "A"
    cost_center = s.text("cost_center")
    if cost_center is not None and not _COST_CENTER_RE.match(cost_center):
        raise ConfigError(f"{s.where('cost_center')}: {cost_center!r} must be 1-6 letters or digits")
    return FortnoxConfig(
        client_id=client_id,
        client_secret=client_secret,
        base_url=_url(s, "base_url", "https://api.fortnox.se/3/"),
        token_url=_url(s, "token_url", "https://apps.fortnox.se/oauth-v1/token"),
        grant=grant,
        tenant_id=tenant_id,
        mode=mode,
        voucher_series=series,
        invoices=invoices,
        invoices_as=invoices_as,
        invoice_bookkeep=flag(s, "invoice_bookkeep", True),
        cash_customer=cash_customer,
        price_list=price_list,
        prices_include_vat=flag(s, "prices_include_vat", False),
        from_date=from_date,
        modes_of_payment=modes,
        cost_center=cost_center,
        stock_module=stock_module,
    )
