"""The ``[sync.sie]`` table: how the SIE files of the Z reports are written.

docs/sie.md explains every key; an error names the key (``[sync.sie].series: …``). The
accounts the vouchers are booked on come from ``[sync.accounts]``
(:class:`~gateway.sync.settings.AccountsConfig`), as for the ERPs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gateway.config import ConfigError, ConfigSection
from gateway.sync.settings import ACCOUNT_RE

__all__ = ["DEFAULT_ACCOUNT_NAMES", "SieConfig", "parse_sie"]

DEFAULT_ACCOUNT_NAMES: dict[str, str] = {
    "1580": "Fordringar för kontokort och kuponger",
    "1689": "Övriga kortfristiga fordringar",
    "1910": "Kassa",
    "1930": "Företagskonto/checkkonto/affärskonto",
    "2421": "Ej inlösta presentkort",
    "2611": "Utgående moms på försäljning inom Sverige, 25 %",
    "2621": "Utgående moms på försäljning inom Sverige, 12 %",
    "2631": "Utgående moms på försäljning inom Sverige, 6 %",
    "3001": "Försäljning inom Sverige, 25 % moms",
    "3002": "Försäljning inom Sverige, 12 % moms",
    "3003": "Försäljning inom Sverige, 6 % moms",
    "3004": "Försäljning inom Sverige, momsfri",
    "3740": "Öres- och kronutjämning",
}
"""The names ``#KONTO`` gives the default accounts (BAS 2024 wording)."""

_SERIES_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")
_COST_CENTRE_RE = re.compile(r"[\w.-]{1,20}")


@dataclass(frozen=True, slots=True)
class SieConfig:
    series: str = "K"  # the voucher series (verifikationsserie) the vouchers go in
    voucher_number: str = "blank"  # "blank": the receiving program numbers them; "z": the Z number
    company_name: str | None = None  # #FNAMN; None: the company name on the Z report
    account_names: dict[str, str] = field(default_factory=dict)  # #KONTO names beyond the defaults
    cost_centre: str | None = None  # every row's cost centre (#OBJEKT of dimension 1); None: none
    cost_centre_name: str | None = None  # its #OBJEKT name; None: the code

    def account_name(self, account: str) -> str:
        return self.account_names.get(account) or DEFAULT_ACCOUNT_NAMES.get(account) or f"Konto {account}"


def parse_sie(raw: dict[str, Any]) -> SieConfig:
    """``[sync.sie]``; :class:`ConfigError` names the key that is wrong."""
    s = ConfigSection(
        raw,
        "sync.sie",
        {"series", "voucher_number", "company_name", "account_names", "cost_centre", "cost_centre_name"},
    )
    series = s.text("series", "K") or "K"
    if not _SERIES_RE.match(series):
        raise ConfigError(f"[sync.sie].series: {series!r} must be 1-8 letters or digits")
    names_raw = raw.get("account_names", {})
    if not isinstance(names_raw, dict):
        raise ConfigError('[sync.sie].account_names: must be a table like { "1910" = "Kassa" }')
    names: dict[str, str] = {}
    for account, name in names_raw.items():
        if not ACCOUNT_RE.match(account) or not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"[sync.sie].account_names.{account}: must map an account number to a non-empty name"
            )
        names[account] = name
    cost_centre = s.text("cost_centre")
    if cost_centre is not None and not _cost_centre_code(cost_centre):
        raise ConfigError(
            f"[sync.sie].cost_centre: {cost_centre!r} must be 1-20 letters, digits, '.', '_' or '-' "
            "(as the bookkeeping program names the cost centre)"
        )
    cost_centre_name = s.text("cost_centre_name")
    if cost_centre_name is not None and cost_centre is None:
        raise ConfigError("[sync.sie].cost_centre_name: names a cost centre, but cost_centre is not set")
    if cost_centre_name is not None and not cost_centre_name.strip():
        raise ConfigError("[sync.sie].cost_centre_name: must not be empty")
    return SieConfig(
        series=series,
        voucher_number=s.choice("voucher_number", "blank", ("blank", "z")),
        company_name=s.text("company_name"),
        account_names=names,
        cost_centre=cost_centre,
        cost_centre_name=cost_centre_name,
    )


def _cost_centre_code(code: str) -> bool:
    """A cost centre's code as SIE files carry it: short, no spaces or quotes, in code page 437."""
    if not _COST_CENTRE_RE.fullmatch(code):
        return False
    try:
        code.encode("cp437")
    except UnicodeEncodeError:
        return False
    return True
