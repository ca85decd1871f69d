"""The ``[sync.masterdata]`` table: where articles, prices, customers and stock come from, and when.

docs/masterdata.md explains every key; an error names the key
(``[sync.masterdata].hours: …``). Whether an ERP named as the source is configured is
checked by :func:`gateway.sync.config.parse_sync_config`, which knows the ERP tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, ConfigSection
from gateway.sync.settings import TOPIC_LEVEL_RE, compact_orgnr, flag, resolve_path

__all__ = ["MASTERDATA_SOURCES", "WEEKDAYS", "MasterDataConfig", "parse_masterdata"]

MASTERDATA_SOURCES = ("none", "file", "fortnox", "visma", "business_central", "nav")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_HOURS_RE = re.compile(r"^([01]?[0-9]|2[0-3])-([01]?[0-9]|2[0-4])$")


@dataclass(frozen=True, slots=True)
class MasterDataConfig:
    """``[sync.masterdata]``: where articles, prices, customers and stock come from, and when."""

    source: str = "none"  # none | file | fortnox | visma | business_central | nav
    orgnr: str = ""  # the store whose tills get the catalog (catalog topics)
    store: str = ""
    folder: Path | None = None  # the file source's folder of export files
    prices_include_vat: bool = True  # the file source: whether the files' prices include VAT
    price_list: str | None = None  # the ERP's price list to take prices from (None: the article's price)
    round_up_to_krona: bool = False  # prices incl. VAT rounded up to whole kronor
    delete_missing_articles: bool = False  # a full sync removes articles the ERP no longer has
    delete_missing_customers: bool = False  # likewise customers
    customer_master: str = "erp"  # erp | till: whose version of a customer wins
    location: str | None = None  # only articles of this location (NAV)
    interval_minutes: int = 15  # a changes sync this often (0: none but the full one and "sync now")
    weekdays: frozenset[int] = frozenset(range(7))  # 0 = Monday, as datetime.weekday()
    hours: tuple[int, int] = (0, 24)  # from hour (inclusive) to hour (exclusive)
    full_sync_at: tuple[int, int] | None = None  # (hour, minute) of the daily full sync
    keep_revisions: int = 50  # revisions kept to answer a till's gap; older ones: a full revision

    @property
    def enabled(self) -> bool:
        return self.source != "none"


def _weekdays(value: Any, where: str) -> frozenset[int]:
    """``"mon-sat"``, ``"mon,wed,fri"`` or ``["mon", "tue"]`` as weekday numbers (Monday 0)."""
    parts = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else None
    if not parts or not all(isinstance(p, str) for p in parts):
        raise ConfigError(f'{where}: must be like "mon-sat", "mon,wed,fri" or ["mon", "tue"], got {value!r}')
    days: set[int] = set()
    for part in parts:
        first, _, last = part.strip().lower().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ConfigError(
                f"{where}: {part.strip()!r} is not a weekday ({', '.join(WEEKDAYS)}) or a range"
            )
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_masterdata(raw: Any, whole: dict[str, Any], here: Path) -> MasterDataConfig:
    """``[sync.masterdata]`` of the file ``whole`` (whose ``[shop]`` names the store when the
    table does not), paths taken from the file's folder ``here``."""
    keys = {
        "source", "folder", "prices_include_vat", "price_list", "round_up_to_krona",
        "delete_missing_articles", "delete_missing_customers", "customer_master", "location",
        "orgnr", "store", "interval_minutes", "weekdays", "hours", "full_sync_at", "keep_revisions",
    }  # fmt: skip
    m = ConfigSection(raw, "sync.masterdata", keys)
    source = m.choice("source", "none", MASTERDATA_SOURCES)
    if source == "none":
        return MasterDataConfig()
    # The store: [sync.masterdata] orgnr/store, else the till's [shop] (a till's own file).
    shop_raw = whole.get("shop")
    shop: dict[str, Any] = shop_raw if isinstance(shop_raw, dict) else {}
    orgnr = m.text("orgnr") or (shop.get("orgnr") if isinstance(shop.get("orgnr"), str) else None)
    store = m.text("store") or (shop.get("store") if isinstance(shop.get("store"), str) else None)
    if not orgnr:
        raise ConfigError("[sync.masterdata].orgnr: missing (the organisation number of the store's tills)")
    if not store:
        raise ConfigError("[sync.masterdata].store: missing (the store whose tills get the catalog)")
    orgnr = compact_orgnr(orgnr)
    for key, value in (("orgnr", orgnr), ("store", store)):
        if not TOPIC_LEVEL_RE.match(value):
            raise ConfigError(
                f"[sync.masterdata].{key}: {value!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
    folder_text = m.text("folder")
    if source == "file" and folder_text is None:
        raise ConfigError('[sync.masterdata].folder: missing (source = "file" reads its files from a folder)')
    hours_text = m.text("hours", "00-24") or "00-24"
    hours_match = _HOURS_RE.match(hours_text)
    if not hours_match or int(hours_match[1]) >= int(hours_match[2]):
        raise ConfigError(
            f'[sync.masterdata].hours: must be like "07-20" (from hour to hour), got {hours_text!r}'
        )
    full_at: tuple[int, int] | None = None
    if (full_text := m.text("full_sync_at")) is not None:
        time_match = _TIME_RE.match(full_text)
        if not time_match:
            raise ConfigError(
                f'[sync.masterdata].full_sync_at: must be a time like "03:00", got {full_text!r}'
            )
        full_at = (int(time_match[1]), int(time_match[2]))
    return MasterDataConfig(
        source=source,
        orgnr=orgnr,
        store=store,
        folder=None if folder_text is None else resolve_path(folder_text, here),
        prices_include_vat=flag(m, "prices_include_vat", True),
        price_list=m.text("price_list"),
        round_up_to_krona=flag(m, "round_up_to_krona", False),
        delete_missing_articles=flag(m, "delete_missing_articles", False),
        delete_missing_customers=flag(m, "delete_missing_customers", False),
        customer_master=m.choice("customer_master", "erp", ("erp", "till")),
        location=m.text("location"),
        interval_minutes=m.integer("interval_minutes", 15, minimum=0),
        weekdays=_weekdays(raw.get("weekdays", "mon-sun"), m.where("weekdays")),
        hours=(int(hours_match[1]), int(hours_match[2])),
        full_sync_at=full_at,
        keep_revisions=m.integer("keep_revisions", 50, minimum=1),
    )
