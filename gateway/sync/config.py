"""The sync module's configuration: the ``[sync]`` section of the till's TOML file.

The sync module may run on the till or on another machine; it reads ``[sync]`` (and its
sub-tables) and the shared ``[mqtt]`` section, and nothing else of the file — a file with
only those two sections is a valid sync configuration. Like the till's parser
(:mod:`gateway.config`), every value is checked when the file is read and an error names
the key: ``[sync.accounts].cash: must be an account number …``.

No file means the demo: everything under ``./var/sync``, the broker at
``mqtt://127.0.0.1:1883``, the demo till's store, no mail. Which tills a module serves
(``stores``, ``registers``) is :mod:`gateway.sync.routing`. This module reads ``[sync]``
and ``[sync.mail]`` and hands each other table to its own parser: ``[sync.accounts]`` to
:mod:`gateway.sync.settings`, ``[sync.sie]`` to :mod:`gateway.sync.adapters.sie.config`,
``[sync.masterdata]`` to :mod:`gateway.sync.masterdata.config`, each ERP's table to
``gateway/sync/adapters/<erp>/config.py`` (:data:`ERP_PARSERS`). docs/sync.md lists every
key; the keys::

    [sync]            data_dir, inbox, database, sie_dir, log_dir, stores, registers, client_id,
                      share_group, session_expiry, once_timeout, retry_interval, take_over_after,
                      keep_logs_days
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
    [sync.fortnox], [sync.visma], [sync.business_central], [sync.nav]   docs/adapters/
    [mqtt]            as for the till (gateway/config.py)
    [log]             as for the till (gateway/config.py); the sync module writes sync_file
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The till's section reader and [mqtt] parser, so both processes read [mqtt] alike.
from gateway.common.i18n import DEFAULT_LANGUAGE, LANGUAGES
from gateway.config import (
    ConfigError,
    ConfigSection,
    LogConfig,
    MqttConfig,
    demo_config,
    optional_table,
    parse_log,
    parse_mqtt,
    read_toml,
)
from gateway.sync.adapters.business_central.config import BusinessCentralConfig, parse_business_central
from gateway.sync.adapters.fortnox.config import FortnoxConfig, parse_fortnox
from gateway.sync.adapters.nav.config import NavConfig, parse_nav
from gateway.sync.adapters.sie.config import SieConfig, parse_sie
from gateway.sync.adapters.visma.config import VismaConfig, parse_visma
from gateway.sync.masterdata.config import MasterDataConfig, parse_masterdata
from gateway.sync.routing import EVERY_STORE, Routing
from gateway.sync.settings import TOPIC_LEVEL_RE, AccountsConfig, compact_orgnr, parse_accounts, resolve_path

__all__ = [
    "DEFAULT_KEEP_LOGS_DAYS",
    "ERP_PARSERS",
    "ERP_SECTIONS",
    "MailConfig",
    "SyncConfig",
    "demo_sync_config",
    "load_sync_config",
    "parse_sync_config",
]

ERP_PARSERS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "fortnox": parse_fortnox,
    "visma": parse_visma,
    "business_central": parse_business_central,
    "nav": parse_nav,
}
"""The ERPs the sync module books in, each its own ``[sync.<name>]`` table, and its parser."""

ERP_SECTIONS = tuple(ERP_PARSERS)

# [sync] keep_logs_days: a quarter of a year of daily logs — enough to look back on last
# month's closing or a fault found at the quarter's VAT return; nothing in them is a
# bookkeeping record (the inbox, the SIE files and the ERP hold those).
DEFAULT_KEEP_LOGS_DAYS = 90


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


@dataclass(frozen=True, slots=True)
class SyncConfig:
    inbox: Path  # the inbox database (SQLite); with ``database``, the folder of the acks' signing key
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
    # With ``database``: a worker gone this long (its lock free) has its broker session taken
    # over by a running one (gateway/sync/sessions.py).
    take_over_after: float = 30.0
    # The daily logs and the released set-aside messages older than this are deleted
    # (gateway/sync/pruning.py).
    keep_logs_days: int = DEFAULT_KEEP_LOGS_DAYS
    log: LogConfig = field(default_factory=LogConfig)
    # The process's own log ([log].sync_file); by default beside the inbox, in the folder that
    # is the sync module's alone (its systemd unit may write there and nowhere in the till's).
    log_file: Path = Path("var") / "sync" / "sync.log"
    demo: bool = False
    # "postgresql://…": the inbox, the adapters' records and the ERPs' tokens in PostgreSQL,
    # shared by every worker (gateway/sync/postgres.py); None: the SQLite file ``inbox``.
    database: str | None = None
    source: Path | None = None
    masterdata: MasterDataConfig = field(default_factory=MasterDataConfig)
    # The file's [shop] language, when it has a [shop]: what `tillgw sync` says to a person.
    language: str = DEFAULT_LANGUAGE
    # The ERPs to book in and read master data from (gateway/sync/erp.py builds them).
    fortnox: FortnoxConfig | None = None
    visma: VismaConfig | None = None
    business_central: BusinessCentralConfig | None = None
    nav: NavConfig | None = None

    @property
    def store(self) -> Path | str:
        """Where the inbox is: the PostgreSQL URL of ``database``, else the SQLite file ``inbox``."""
        return self.database if self.database is not None else self.inbox

    @property
    def store_name(self) -> str:
        """The store as the log names it (a URL without its password)."""
        if self.database is None:
            return str(self.inbox)
        from gateway.sync.postgres import public_url

        return public_url(self.database)

    @property
    def tokens_db(self) -> Path | str:
        """The ERPs' OAuth tokens: in ``database`` when set (every worker refreshes through one row),
        else beside the inbox (its own file: a refresh commits at once)."""
        return self.database if self.database is not None else self.inbox.parent / "tokens.db"

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


def parse_sync_config(raw: dict[str, Any], path: Path) -> SyncConfig:
    """``[sync]`` and ``[mqtt]`` of a parsed TOML file read from ``path``."""
    here = path.parent
    sync_raw = optional_table(raw, "sync") or {}
    tables = {"accounts", "sie", "mail", "masterdata", *ERP_SECTIONS}
    s = ConfigSection(
        sync_raw,
        "sync",
        {
            "data_dir",
            "inbox",
            "database",
            "sie_dir",
            "log_dir",
            "stores",
            "registers",
            "client_id",
            "share_group",
            "session_expiry",
            "once_timeout",
            "retry_interval",
            "take_over_after",
            "keep_logs_days",
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
    data_dir = resolve_path(data_text, here)
    inbox = resolve_path(s.text("inbox") or str(data_dir / "sync" / "inbox.db"), here)
    sie_dir = resolve_path(s.text("sie_dir") or str(data_dir / "sync" / "sie"), here)
    log_dir = resolve_path(s.text("log_dir") or str(data_dir / "sync" / "logs"), here)

    registers: frozenset[str] | None = None
    if "registers" in sync_raw:
        listed = sync_raw["registers"]
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            raise ConfigError('[sync].registers: must be a list of "orgnr/store/register" strings')
        known = set()
        for i, entry in enumerate(listed):
            parts = entry.split("/")
            if len(parts) != 3 or not all(TOPIC_LEVEL_RE.match(p) for p in parts):
                raise ConfigError(
                    f'[sync].registers[{i}]: {entry!r} is not "orgnr/store/register" '
                    "(each 1-64 letters, digits, '.', '_' or '-')"
                )
            known.add(f"{compact_orgnr(parts[0])}/{parts[1]}/{parts[2]}")
        registers = frozenset(known)
    stores = _stores(sync_raw, raw) if "stores" in sync_raw or registers is None else None

    client_id = s.text("client_id") or default_client_id()
    if not TOPIC_LEVEL_RE.match(client_id):
        raise ConfigError(f"[sync].client_id: {client_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    share_group = s.text("share_group", "tillgw-sync") or "tillgw-sync"
    if not TOPIC_LEVEL_RE.match(share_group):
        raise ConfigError(
            f"[sync].share_group: {share_group!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )

    log = parse_log(optional_table(raw, "log"), path)
    mqtt = parse_mqtt(optional_table(raw, "mqtt"), path)
    if mqtt is None:
        raise ConfigError("[mqtt].enabled: the sync module needs the bus; remove enabled = false")

    erp = {
        name: parse(sync_raw[name], f"sync.{name}") for name, parse in ERP_PARSERS.items() if name in sync_raw
    }
    masterdata = parse_masterdata(sync_raw.get("masterdata") or {}, raw, here)
    if masterdata.source in ERP_SECTIONS and masterdata.source not in erp:
        raise ConfigError(
            f'[sync.masterdata].source: "{masterdata.source}" reads from the ERP configured in '
            f"[sync.{masterdata.source}], which is missing"
        )

    database = s.text("database")
    if database is not None and not database.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f'[sync].database: must be a PostgreSQL URL such as "postgresql://tillgw@db.example.se/tillgw" '
            f"(leave it out for the inbox file of [sync].inbox), got {database!r}"
        )
    if database is not None and masterdata.enabled:
        raise ConfigError(
            "[sync.masterdata]: the master data keeps its catalog in a file of one machine and merges "
            "stock from the SQLite inbox, so it cannot run with [sync].database; run it in a sync module "
            "of its own without [sync].database, or leave [sync.masterdata] out"
        )

    return SyncConfig(
        inbox=inbox,
        database=database,
        sie_dir=sie_dir,
        log_dir=log_dir,
        mqtt=mqtt,
        registers=registers,
        stores=stores,
        accounts=parse_accounts(sync_raw.get("accounts") or {}),
        sie=parse_sie(sync_raw.get("sie") or {}),
        mail=_mail(sync_raw.get("mail"), here),
        client_id=client_id,
        share_group=share_group,
        session_expiry=s.integer("session_expiry", 7 * 24 * 3600, minimum=0),
        once_timeout=s.number("once_timeout", 30.0, minimum=0.1),
        retry_interval=s.number("retry_interval", 60.0, minimum=0.1),
        take_over_after=s.number("take_over_after", 30.0, minimum=0.1),
        keep_logs_days=s.integer("keep_logs_days", DEFAULT_KEEP_LOGS_DAYS, minimum=1),
        log=log,
        log_file=log.sync_file or inbox.parent / "sync.log",
        source=path,
        masterdata=masterdata,
        language=_language(raw),
        **erp,
    )


def _language(raw: dict[str, Any]) -> str:
    """``[shop] language`` of a file that holds a till too (the till's reader checks the rest of
    ``[shop]``); a sync module's file of its own speaks the default."""
    shop = raw.get("shop")
    language = shop.get("language", DEFAULT_LANGUAGE) if isinstance(shop, dict) else DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        raise ConfigError(f'[shop].language: {language!r} is not a language of the till: use "sv" or "en"')
    return str(language)


def _stores(sync_raw: dict[str, Any], raw: dict[str, Any]) -> frozenset[str]:
    """``[sync].stores``; without it (and without ``registers``) the store of the file's ``[shop]``,
    or none (``tillgw sync`` then refuses to run: :meth:`SyncConfig.check_routing`)."""
    if "stores" not in sync_raw:
        shop = raw.get("shop")
        if isinstance(shop, dict) and isinstance(shop.get("orgnr"), str):
            store = shop.get("store", "main")
            orgnr = compact_orgnr(shop["orgnr"])
            if isinstance(store, str) and TOPIC_LEVEL_RE.match(orgnr) and TOPIC_LEVEL_RE.match(store):
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
            or not TOPIC_LEVEL_RE.match(parts[0])
            or not (parts[1] == "*" or TOPIC_LEVEL_RE.match(parts[1]))
        ):
            raise ConfigError(
                f'[sync].stores[{i}]: {entry!r} is not "orgnr/store", "orgnr/*" (every store of the '
                'organisation number) or "*" (every store on the broker)'
            )
        out.add(f"{compact_orgnr(parts[0])}/{parts[1]}")
    return frozenset(out)


def _mail(raw: Any, here: Path) -> MailConfig | None:
    if raw is None:
        return None
    m = ConfigSection(
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
        ca_file=None if (ca := m.text("ca_file")) is None else resolve_path(ca, here),
        interval=m.number("interval", 600.0, minimum=0.0),
    )
