"""The sync module's configuration: the ``[sync]`` section of the till's TOML file.

The sync module may run on the till or on another machine; it reads ``[sync]`` (and its
sub-tables) and the shared ``[mqtt]`` section, and nothing else of the file — a file with
only those two sections is a valid sync configuration. Like the till's parser
(:mod:`gateway.config`), every value is checked when the file is read and an error names
the key: ``[sync.accounts].cash: must be an account number …``.

No file means the demo: everything under ``./var/sync``, the broker at
``mqtt://127.0.0.1:1883``, the demo till's store, no mail. Which tills a module serves
(``stores``, ``registers``) is :mod:`gateway.sync.routing`. docs/sync.md lists every key;
the keys::

    [sync]            data_dir, inbox, sie_dir, log_dir, stores, registers, client_id, share_group,
                      session_expiry, once_timeout, retry_interval
    [sync.accounts]   cash, card, gift_card, swish, other, sales_25, sales_12, sales_6,
                      sales_0, vat_25, vat_12, vat_6, rounding (BAS account numbers)
    [sync.sie]        series, voucher_number ("blank" | "z"), company_name, account_names,
                      cost_centre, cost_centre_name
    [sync.mail]       host, port, security ("starttls" | "tls" | "none"), username,
                      password, from, to, timeout, ca_file, interval
    [sync.masterdata] source ("none" | "file" | "fortnox" | "visma" | "business_central" |
                      "nav"), folder, prices_include_vat, price_list, round_up_to_krona,
                      delete_missing_articles, delete_missing_customers, customer_master
                      ("erp" | "till"), location, orgnr, store, interval_minutes, weekdays,
                      hours, full_sync_at, keep_revisions
    [mqtt]            as for the till (gateway/config.py)
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The till's section reader and [mqtt] parser, so both processes read [mqtt] alike.
from gateway.config import ConfigError, MqttConfig, _mqtt, _Section, _table, demo_config, read_toml
from gateway.sync.routing import EVERY_STORE, Routing

if TYPE_CHECKING:
    from gateway.sync.adapters.business_central.adapter import BusinessCentralConfig
    from gateway.sync.adapters.fortnox.config import FortnoxConfig
    from gateway.sync.adapters.nav.config import NavConfig
    from gateway.sync.adapters.visma.adapter import VismaConfig

ERP_SECTIONS = ("fortnox", "visma", "business_central", "nav")
"""The ERPs the sync module books in: each its own ``[sync.<name>]`` table."""


def _erp_parsers() -> dict[str, Callable[[dict[str, Any], str], Any]]:
    # Imported when a file is read, not with this module: the adapters import it.
    from gateway.sync.adapters.business_central.adapter import parse_business_central
    from gateway.sync.adapters.fortnox.config import parse_fortnox
    from gateway.sync.adapters.nav.config import parse_nav
    from gateway.sync.adapters.visma.adapter import parse_visma

    return {
        "fortnox": parse_fortnox,
        "visma": parse_visma,
        "business_central": parse_business_central,
        "nav": parse_nav,
    }


__all__ = [
    "ACCOUNT_KEYS",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_ACCOUNT_NAMES",
    "MASTERDATA_SOURCES",
    "WEEKDAYS",
    "AccountsConfig",
    "MailConfig",
    "MasterDataConfig",
    "SieConfig",
    "SyncConfig",
    "demo_sync_config",
    "load_sync_config",
]

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

_ACCOUNT_RE = re.compile(r"^[1-9][0-9]{3,5}$")
_SERIES_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")
_LEVEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_COST_CENTRE_RE = re.compile(r"[\w.-]{1,20}")


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


@dataclass(frozen=True, slots=True)
class MailConfig:
    host: str
    port: int
    security: str  # starttls | tls | none
    username: str | None
    password: str | None
    sender: str
    to: tuple[str, ...]
    timeout: float = 30.0
    ca_file: Path | None = None  # the CA of the server's certificate (default: the system's)
    interval: float = 600.0  # a running module mails at most this often (seconds); --once at its end


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


@dataclass(frozen=True, slots=True)
class SyncConfig:
    inbox: Path  # the inbox database (SQLite)
    sie_dir: Path  # where the SIE files go
    log_dir: Path  # where sync-YYYY-MM-DD.log goes
    mqtt: MqttConfig
    registers: frozenset[str] | None = None  # "orgnr/store/register"
    # "orgnr/store", "orgnr/*" or "*" (gateway/sync/routing.py); None with registers None: every store
    stores: frozenset[str] | None = None
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    sie: SieConfig = field(default_factory=SieConfig)
    mail: MailConfig | None = None
    client_id: str = "tillgw-sync"
    share_group: str = "tillgw-sync"
    session_expiry: int = 7 * 24 * 3600  # seconds the broker keeps our session while we are away
    once_timeout: float = 30.0  # --once: the longest wait for the broker's queued messages
    retry_interval: float = 60.0  # a message whose processing failed is tried again after this
    demo: bool = False
    source: Path | None = None
    masterdata: MasterDataConfig = field(default_factory=MasterDataConfig)
    # The ERPs to book in and read master data from (gateway/sync/erp.py builds them).
    fortnox: FortnoxConfig | None = None
    visma: VismaConfig | None = None
    business_central: BusinessCentralConfig | None = None
    nav: NavConfig | None = None

    @property
    def tokens_db(self) -> Path:
        """The ERPs' OAuth tokens, beside the inbox (its own file: a refresh commits at once)."""
        return self.inbox.parent / "tokens.db"

    @property
    def catalog_db(self) -> Path:
        """The master-data engine's database, beside the inbox."""
        return self.inbox.parent / "catalog.db"

    @property
    def routing(self) -> Routing:
        if self.stores is None and self.registers is None:
            return Routing(frozenset({EVERY_STORE}), frozenset())
        return Routing(self.stores or frozenset(), self.registers or frozenset())

    def knows(self, orgnr: str, store: str, register: str) -> bool:
        """A register whose messages this module stores and books."""
        return self.routing.accepts(orgnr, store, register)

    def check_routing(self) -> None:
        """:class:`ConfigError` when the module serves no till at all (nothing to subscribe to)."""
        if self.routing.empty:
            raise ConfigError(
                f"{self.source or 'the configuration'}: [sync].stores: missing — name the stores this "
                'sync module books, like stores = ["5560360793/vaxjo"] (or registers = '
                '["5560360793/vaxjo/KASSA-1"]); stores = ["*"] takes every store on the broker'
            )

    @property
    def ack_key(self) -> Path:
        """The key that signs the acks (gateway/messages/ack_proof.py), beside the inbox."""
        from gateway.messages.ack_proof import sync_key_path

        return sync_key_path(self.inbox)


def default_client_id() -> str:
    """``tillgw-sync-<host>``: stable across restarts, so the broker keeps our session."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "host"
    return f"tillgw-sync-{host}"


def demo_sync_config() -> SyncConfig:
    base = Path("var") / "sync"
    shop = demo_config().shop
    return SyncConfig(
        inbox=base / "inbox.db",
        sie_dir=base / "sie",
        log_dir=base / "logs",
        mqtt=MqttConfig(),
        stores=frozenset({f"{shop.orgnr}/{shop.store}"}),  # the demo till's store
        client_id=default_client_id(),
        demo=True,
    )


def load_sync_config(path: Path | None) -> SyncConfig:
    """The ``[sync]`` configuration in ``path``, or the demo's when ``path`` is None."""
    if path is None:
        return demo_sync_config()
    raw = read_toml(path)
    try:
        return parse_sync_config(raw, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _orgnr(text: str) -> str:
    digits = text.replace("-", "")
    return digits if len(digits) == 10 and digits.isdigit() else text


def parse_sync_config(raw: dict[str, Any], path: Path) -> SyncConfig:
    """``[sync]`` and ``[mqtt]`` of a parsed TOML file read from ``path``."""
    here = path.parent
    sync_raw = _table(raw, "sync") or {}
    tables = {"accounts", "sie", "mail", "masterdata", *ERP_SECTIONS}
    s = _Section(
        sync_raw,
        "sync",
        {
            "data_dir",
            "inbox",
            "sie_dir",
            "log_dir",
            "stores",
            "registers",
            "client_id",
            "share_group",
            "session_expiry",
            "once_timeout",
            "retry_interval",
        }
        | tables,
    )
    for name in tables:
        if name in sync_raw and not isinstance(sync_raw[name], dict):
            raise ConfigError(f"[sync].{name}: must be a table ([sync.{name}])")

    # The data directory: [sync].data_dir, else the till's [register].data_dir, else ./var.
    register_raw = raw.get("register")
    till_data = register_raw.get("data_dir") if isinstance(register_raw, dict) else None
    data_text = s.text("data_dir") or (till_data if isinstance(till_data, str) and till_data else "var")
    data_dir = _path(data_text, here)
    inbox = _path(s.text("inbox") or str(data_dir / "sync" / "inbox.db"), here)
    sie_dir = _path(s.text("sie_dir") or str(data_dir / "sync" / "sie"), here)
    log_dir = _path(s.text("log_dir") or str(data_dir / "sync" / "logs"), here)

    registers: frozenset[str] | None = None
    if "registers" in sync_raw:
        listed = sync_raw["registers"]
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            raise ConfigError('[sync].registers: must be a list of "orgnr/store/register" strings')
        known = set()
        for i, entry in enumerate(listed):
            parts = entry.split("/")
            if len(parts) != 3 or not all(_LEVEL_RE.match(p) for p in parts):
                raise ConfigError(
                    f'[sync].registers[{i}]: {entry!r} is not "orgnr/store/register" '
                    "(each 1-64 letters, digits, '.', '_' or '-')"
                )
            known.add(f"{_orgnr(parts[0])}/{parts[1]}/{parts[2]}")
        registers = frozenset(known)
    stores = _stores(sync_raw, raw) if "stores" in sync_raw or registers is None else None

    client_id = s.text("client_id") or default_client_id()
    if not _LEVEL_RE.match(client_id):
        raise ConfigError(f"[sync].client_id: {client_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    share_group = s.text("share_group", "tillgw-sync") or "tillgw-sync"
    if not _LEVEL_RE.match(share_group):
        raise ConfigError(
            f"[sync].share_group: {share_group!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )

    mqtt = _mqtt(_table(raw, "mqtt"), path)
    if mqtt is None:
        raise ConfigError("[mqtt].enabled: the sync module needs the bus; remove enabled = false")

    erp = {
        name: parse(sync_raw[name], f"sync.{name}")
        for name, parse in _erp_parsers().items()
        if name in sync_raw
    }
    masterdata = _masterdata(sync_raw.get("masterdata") or {}, raw, here)
    if masterdata.source in ERP_SECTIONS and masterdata.source not in erp:
        raise ConfigError(
            f'[sync.masterdata].source: "{masterdata.source}" reads from the ERP configured in '
            f"[sync.{masterdata.source}], which is missing"
        )

    return SyncConfig(
        inbox=inbox,
        sie_dir=sie_dir,
        log_dir=log_dir,
        mqtt=mqtt,
        registers=registers,
        stores=stores,
        accounts=_accounts(sync_raw.get("accounts") or {}),
        sie=_sie(sync_raw.get("sie") or {}),
        mail=_mail(sync_raw.get("mail"), here),
        client_id=client_id,
        share_group=share_group,
        session_expiry=s.integer("session_expiry", 7 * 24 * 3600, minimum=0),
        once_timeout=s.number("once_timeout", 30.0, minimum=0.1),
        retry_interval=s.number("retry_interval", 60.0, minimum=0.1),
        source=path,
        masterdata=masterdata,
        **erp,
    )


def _stores(sync_raw: dict[str, Any], raw: dict[str, Any]) -> frozenset[str]:
    """``[sync].stores``; without it (and without ``registers``) the store of the file's ``[shop]``,
    or none (``tillgw sync`` then refuses to run: :meth:`SyncConfig.check_routing`)."""
    if "stores" not in sync_raw:
        shop = raw.get("shop")
        if isinstance(shop, dict) and isinstance(shop.get("orgnr"), str):
            store = shop.get("store", "main")
            orgnr = _orgnr(shop["orgnr"])
            if isinstance(store, str) and _LEVEL_RE.match(orgnr) and _LEVEL_RE.match(store):
                return frozenset({f"{orgnr}/{store}"})
        return frozenset()
    listed = sync_raw["stores"]
    if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
        raise ConfigError('[sync].stores: must be a list of "orgnr/store" strings')
    out = set()
    for i, entry in enumerate(listed):
        if entry == EVERY_STORE:
            out.add(entry)
            continue
        parts = entry.split("/")
        if (
            len(parts) != 2
            or not _LEVEL_RE.match(parts[0])
            or not (parts[1] == "*" or _LEVEL_RE.match(parts[1]))
        ):
            raise ConfigError(
                f'[sync].stores[{i}]: {entry!r} is not "orgnr/store", "orgnr/*" (every store of the '
                'organisation number) or "*" (every store on the broker)'
            )
        out.add(f"{_orgnr(parts[0])}/{parts[1]}")
    return frozenset(out)


def from_date_of(table: Mapping[str, Any], section: _Section) -> date | None:
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


def _accounts(raw: dict[str, Any]) -> AccountsConfig:
    a = _Section(raw, "sync.accounts", set(ACCOUNT_KEYS))
    values: dict[str, str] = {}
    for key in ACCOUNT_KEYS:
        value = raw.get(key, DEFAULT_ACCOUNTS[key])
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not _ACCOUNT_RE.match(text):
            raise ConfigError(
                f"{a.where(key)}: must be an account number of 4-6 digits (BAS: 4), got {value!r}"
            )
        values[key] = text
    return AccountsConfig(**values)


def _sie(raw: dict[str, Any]) -> SieConfig:
    s = _Section(
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
        if not _ACCOUNT_RE.match(account) or not isinstance(name, str) or not name.strip():
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


def _mail(raw: Any, here: Path) -> MailConfig | None:
    if raw is None:
        return None
    m = _Section(
        raw,
        "sync.mail",
        {"host", "port", "security", "username", "password", "from", "to", "timeout", "ca_file", "interval"},
    )
    security = m.choice("security", "starttls", ("starttls", "tls", "none"))
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    port = m.integer("port", default_port, minimum=1)
    if port > 65535:
        raise ConfigError(f"[sync.mail].port: must be at most 65535, got {port}")
    to_raw = raw.get("to")
    to = (to_raw,) if isinstance(to_raw, str) else to_raw
    if not isinstance(to, list | tuple) or not to or not all(isinstance(t, str) and "@" in t for t in to):
        raise ConfigError("[sync.mail].to: must be an address or a list of addresses")
    sender = m.text("from", required=True) or ""
    if "@" not in sender:
        raise ConfigError(f"[sync.mail].from: {sender!r} is not an e-mail address")
    username = m.text("username")
    password = m.text("password")
    if (username is None) != (password is None):
        raise ConfigError("[sync.mail].password: username and password go together")
    return MailConfig(
        host=m.text("host", required=True) or "",
        port=port,
        security=security,
        username=username,
        password=password,
        sender=sender,
        to=tuple(to),
        timeout=m.number("timeout", 30.0, minimum=1.0),
        ca_file=None if (ca := m.text("ca_file")) is None else _path(ca, here),
        interval=m.number("interval", 600.0, minimum=0.0),
    )


def _flag(section: _Section, key: str, default: bool) -> bool:
    value = section.raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{section.where(key)}: must be true or false, got {value!r}")
    return value


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


def _masterdata(raw: Any, whole: dict[str, Any], here: Path) -> MasterDataConfig:
    keys = {
        "source", "folder", "prices_include_vat", "price_list", "round_up_to_krona",
        "delete_missing_articles", "delete_missing_customers", "customer_master", "location",
        "orgnr", "store", "interval_minutes", "weekdays", "hours", "full_sync_at", "keep_revisions",
    }  # fmt: skip
    m = _Section(raw, "sync.masterdata", keys)
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
    orgnr = _orgnr(orgnr)
    for key, value in (("orgnr", orgnr), ("store", store)):
        if not _LEVEL_RE.match(value):
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
        folder=None if folder_text is None else _path(folder_text, here),
        prices_include_vat=_flag(m, "prices_include_vat", True),
        price_list=m.text("price_list"),
        round_up_to_krona=_flag(m, "round_up_to_krona", False),
        delete_missing_articles=_flag(m, "delete_missing_articles", False),
        delete_missing_customers=_flag(m, "delete_missing_customers", False),
        customer_master=m.choice("customer_master", "erp", ("erp", "till")),
        location=m.text("location"),
        interval_minutes=m.integer("interval_minutes", 15, minimum=0),
        weekdays=_weekdays(raw.get("weekdays", "mon-sun"), m.where("weekdays")),
        hours=(int(hours_match[1]), int(hours_match[2])),
        full_sync_at=full_at,
        keep_revisions=m.integer("keep_revisions", 50, minimum=1),
    )
