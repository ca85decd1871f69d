"""The pieces of the ``[sync]`` configuration that several of its tables share.

The sync module's own parser (:mod:`gateway.sync.config`), the SIE and master-data tables
and every ERP's table (``gateway/sync/adapters/<erp>/config.py``) read some settings
alike: the accounts a Z report is booked on (``[sync.accounts]``), the means of payment
a table may map (``cash``, ``card``, …), an ERP's ``from_date``, a yes/no key, a path
relative to the file, an organisation number, a topic level, and the OData company URL
of NAV and Business Central. They are here, below all of those parsers, so that each
of them imports this module and none imports another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from gateway.config import ConfigError, ConfigSection

__all__ = [
    "ACCOUNT_KEYS",
    "ACCOUNT_RE",
    "DEFAULT_ACCOUNTS",
    "MEANS",
    "TOPIC_LEVEL_RE",
    "AccountsConfig",
    "compact_orgnr",
    "company_url",
    "flag",
    "from_date_of",
    "parse_accounts",
    "resolve_path",
]

MEANS = ("cash", "card", "gift_card", "swish", "other")
"""The means of payment of a Z report's ``payments`` object, in the order they are booked."""

DEFAULT_ACCOUNTS: dict[str, str] = {
    "cash": "1910",  # Kassa
    "card": "1580",  # Fordringar för kontokort och kuponger
    "gift_card": "2421",  # Ej inlösta presentkort (multi-purpose vouchers)
    "swish": "1930",  # Företagskonto / checkkonto: Swish is paid straight into the bank account
    "other": "1689",  # Övriga kortfristiga fordringar: a means the bookkeeper sorts out
    "sales_25": "3001",  # Försäljning inom Sverige, 25 % moms
    "sales_12": "3002",  # Försäljning inom Sverige, 12 % moms
    "sales_6": "3003",  # Försäljning inom Sverige, 6 % moms
    "sales_0": "3004",  # Försäljning inom Sverige, momsfri
    "vat_25": "2611",  # Utgående moms på försäljning inom Sverige, 25 %
    "vat_12": "2621",  # Utgående moms på försäljning inom Sverige, 12 %
    "vat_6": "2631",  # Utgående moms på försäljning inom Sverige, 6 %
    "rounding": "3740",  # Öres- och kronutjämning
}
"""The BAS accounts a Z report is booked on unless ``[sync.accounts]`` says otherwise."""

ACCOUNT_KEYS = tuple(DEFAULT_ACCOUNTS)

ACCOUNT_RE = re.compile(r"^[1-9][0-9]{3,5}$")
"""An account number: 4-6 digits (BAS: 4)."""

TOPIC_LEVEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""An organisation number, store, register or client id as one level of an MQTT topic."""

_COMPANY_URL = re.compile(r"^(https?://[^/\s]+/.*ODataV4)/Company\('(.+)'\)$")


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """The accounts a Z report is booked on (account numbers as text, like SIE writes them)."""

    cash: str = DEFAULT_ACCOUNTS["cash"]
    card: str = DEFAULT_ACCOUNTS["card"]
    gift_card: str = DEFAULT_ACCOUNTS["gift_card"]
    swish: str = DEFAULT_ACCOUNTS["swish"]
    other: str = DEFAULT_ACCOUNTS["other"]
    sales_25: str = DEFAULT_ACCOUNTS["sales_25"]
    sales_12: str = DEFAULT_ACCOUNTS["sales_12"]
    sales_6: str = DEFAULT_ACCOUNTS["sales_6"]
    sales_0: str = DEFAULT_ACCOUNTS["sales_0"]
    vat_25: str = DEFAULT_ACCOUNTS["vat_25"]
    vat_12: str = DEFAULT_ACCOUNTS["vat_12"]
    vat_6: str = DEFAULT_ACCOUNTS["vat_6"]
    rounding: str = DEFAULT_ACCOUNTS["rounding"]

    def payment(self, means: str) -> str:
        """The account a means of payment (``cash``, ``card``, ``gift_card``, …) is debited on."""
        return str(getattr(self, means))

    def sales(self, rate: int) -> str:
        """The sales account of a VAT rate (whole percent: 25, 12, 6, 0)."""
        return str(getattr(self, f"sales_{rate}"))

    def vat(self, rate: int) -> str:
        """The output VAT account of a VAT rate (25, 12, 6; 0 % has none)."""
        return str(getattr(self, f"vat_{rate}"))


def parse_accounts(raw: dict[str, Any]) -> AccountsConfig:
    """``[sync.accounts]``; :class:`ConfigError` names the key that is wrong."""
    a = ConfigSection(raw, "sync.accounts", set(ACCOUNT_KEYS))
    values: dict[str, str] = {}
    for key in ACCOUNT_KEYS:
        value = raw.get(key, DEFAULT_ACCOUNTS[key])
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not ACCOUNT_RE.match(text):
            raise ConfigError(
                f"{a.where(key)}: must be an account number of 4-6 digits (BAS: 4), got {value!r}"
            )
        values[key] = text
    return AccountsConfig(**values)


def from_date_of(table: Mapping[str, Any], section: ConfigSection) -> date | None:
    """An ERP section's ``from_date`` (a TOML date or "YYYY-MM-DD"): what is dated before it is not sent."""
    raw = table.get("from_date")
    if raw is None:
        return None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ConfigError(f"{section.where('from_date')}: {raw!r} is not a date YYYY-MM-DD")


def flag(section: ConfigSection, key: str, default: bool) -> bool:
    """A yes/no key: ``true`` or ``false``, nothing else."""
    value = section.raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{section.where(key)}: must be true or false, got {value!r}")
    return value


def resolve_path(value: str, base: Path) -> Path:
    """A path the file names: ``~`` expanded, a relative one taken from the file's folder ``base``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def compact_orgnr(text: str) -> str:
    """An organisation number as the bus names it: ``556036-0793`` -> ``5560360793``."""
    digits = text.replace("-", "")
    return digits if len(digits) == 10 and digits.isdigit() else text


def company_url(url: str) -> tuple[str, str] | None:
    """(service root, company name) of ``…/ODataV4/Company('name')``, or None if it is not one."""
    m = _COMPANY_URL.match(url.rstrip("/"))
    if m is None:
        return None
    return m.group(1), unquote(m.group(2)).replace("''", "'")
