"""The till's configuration: a TOML file read into frozen dataclasses.

No file means the demo: a shop called "Demobutiken", the simulated control unit and
printer on pseudo-terminals started by the gateway itself, data under ``./var``. Every
value is checked when the file is read, and an error names the key (``[printer].url``)
and what is wrong with it — a till must not start half-configured.

A full example is in docs/configuration.md; the keys::

    [shop]          name, orgnr, address (list of lines), store (the store's id on the bus),
                    timezone (IANA name, default "Europe/Stockholm"),
                    opening_hours ("mon-fri 09:00-18:00, sat 10:00-16:00"; default: always open),
                    language ("sv"|"en": the words for the shop owner, default "sv")
    [register]      pos_id, data_dir, paper_width (42|48), manufacturing_number, model, program,
                    min_free_mib
    [control_unit]  url, kind ("ccsp"|"xccsp"|"tcs"|"srv4pos"), request_timeout, retries,
                    baudrate (9600|19200|57600|"auto"), dtr, ca_cert; TCS: client_cert,
                    client_cert_password, application_id, register_id; srv4pos: corporate_id,
                    cash_register_name, api_key; outage_after_minutes (every kind)
    [printer]       url, code_table, drawer_pin (2|5), drawer_open_level ("high"|"low"), pulse_ms
    [scanner]       url, terminator ("cr"|"lf"|"crlf"), prefix, suffix
    [api]           listen ("HOST:PORT"), max_body_kib, cors_origins (list of "scheme://host[:port]"),
                    keep_request_answers_days
    [mqtt]          url ("mqtt://HOST:1883" | "mqtts://HOST:8883"), username, password, ca_file,
                    embedded ("never" | "when-none") — start a broker in-process when none answers,
                    in_flight
    [log]           file (the till's; default till.log in the data directory), sync_file (the
                    sync module's; default sync.log beside its inbox), level ("debug"|"info"|
                    "warning"|"error"), max_bytes, backups
    [sync]          read by ``tillgw sync`` (gateway/sync/config.py), not by the till
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from gateway.common.clock import DEFAULT_ZONE_NAME, UnknownZone, zone_named
from gateway.common.i18n import DEFAULT_LANGUAGE, LANGUAGES
from gateway.common.opening_hours import OpeningHours, OpeningHoursError, parse_opening_hours
from gateway.devices.control_units.kinds import CCSP_BAUDRATES, UnitKind, UnitSettings, kind_of
from gateway.devices.printer.settings import OpenLevel
from protocols.escpos.text import CODE_TABLE_NAMES, CodeTable
from protocols.scanner.lines import Terminator
from protocols.skv import FieldError, luhn_check_digit, luhn_valid, normalise_orgnr, validate_pos_id

__all__ = [
    "DEFAULT_MODEL",
    "LOG_LEVELS",
    "ApiConfig",
    "Config",
    "ConfigError",
    "ConfigSection",
    "ControlUnitConfig",
    "LogConfig",
    "MqttConfig",
    "PrinterConfig",
    "ScannerConfig",
    "ShopConfig",
    "demo_config",
    "load_config",
    "optional_table",
    "parse_log",
    "parse_mqtt",
    "read_toml",
    "validate_manufacturing_number",
]

DEMO_ORGNR = "5599000006"  # a made-up number whose check digit is right
DEMO_MANUFACTURING_NUMBER = "TILLGW-DEMO-0001"
# [register] model: a register's model designation must contain "SE" (SKVFS 2014:9 4 kap.
# 6 §), every register in use from 2027-01-01, when SKVFS 2021:17 applies to all.
DEFAULT_MODEL = "tillgw SE"
# [register] min_free_mib: at a few KiB a receipt (journal entry, index row, write-ahead log)
# thousands of receipts — days of trade in most shops, time to free space or add a disk.
DEFAULT_MIN_FREE_MIB = 64
# Messages awaiting the sync module's ack at once: enough that acks in batches keep the bus
# busy (a backlog drained 40 % slower with 100, as fast with 250 as with 1,000:
# docs/PERFORMANCE.md), few enough that a till back from an outage does not pour it all out.
DEFAULT_IN_FLIGHT = 250
# A POS retries a receipt within seconds or, after a crash of its own, within the day; a
# month covers any retry, and the answers of a busy till's month stay a few tens of MiB.
DEFAULT_KEEP_REQUEST_ANSWERS_DAYS = 30
# [control_unit] outage_after_minutes: a unit that reboots, or a cable put back, answers again
# within a minute or two; a quarter of an hour of refused sales in opening hours is a register
# that does not work, which must be reported to Skatteverket without delay (felanmälan).
DEFAULT_OUTAGE_AFTER_MINUTES = 15
# [log] max_bytes and backups: 10 MiB a file, five old ones kept — weeks of a busy till's
# INFO lines in 60 MiB at most, small enough for a till's disk, long enough to look back on
# a fault a shop reports days later.
DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_BACKUPS = 5
LOG_LEVELS = ("debug", "info", "warning", "error")
_TOPIC_LEVEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# SKVFS 2014:9 2 kap. 23 §: at most 17 of a-z, A-Z, 0-9, space and hyphen; no space at
# either end and never two in a row.
_MANUFACTURING_NUMBER_RE = re.compile(r"^(?=.{1,17}$)[A-Za-z0-9-]+(?: [A-Za-z0-9-]+)*$")


T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class ShopConfig:
    name: str
    orgnr: str  # ten digits: a company's organisationsnummer or a sole trader's personnummer
    address: tuple[str, ...]
    store: str = "main"  # the place of sale's id in bus topics: tillgw/{orgnr}/{store}/{register}/...
    # The shop's local time (receipts, the control unit, the journal, reports, the export),
    # whatever zone the computer is set to.
    timezone: ZoneInfo = field(default_factory=lambda: zone_named(DEFAULT_ZONE_NAME))
    # The words the shop owner reads (status page, device reasons, diag, the CLI); the
    # receipt's fiscal text is Swedish whatever this says (docs/languages.md).
    language: str = DEFAULT_LANGUAGE


ControlUnitConfig = UnitSettings  # [control_unit]: one section for every kind of unit


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    url: str | None  # None in the demo: the gateway starts the simulated printer
    code_table: CodeTable = CodeTable.CP858
    drawer_pin: int = 2
    drawer_open_level: OpenLevel = OpenLevel.HIGH
    pulse_ms: int = 100


@dataclass(frozen=True, slots=True)
class ScannerConfig:
    url: str
    terminator: Terminator = Terminator.CR
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    embedded: bool = False  # start an in-process broker when nothing answers at host:port
    # The till: the sync module's public key (PEM, ``tillgw sync --export-key``) that every
    # ack's proof must verify against; None takes acks unauthenticated. The sync module ignores it.
    sync_public_key: Path | None = None
    # The till: messages sent and awaiting the sync module's ack, at most (gateway.bus.flight).
    in_flight: int = DEFAULT_IN_FLIGHT

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_kib: int = 256
    # The web origins whose pages may call the API from a browser (gateway.api.cors);
    # none by default: the API then sends no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    # How long the full answer to a POST /v1/receipts request id is kept for a retry
    # (gateway.fiscal.requests); its receipt number is kept for ever.
    keep_request_answers_days: int = DEFAULT_KEEP_REQUEST_ANSWERS_DAYS

    @property
    def local_url(self) -> str:
        """Where a program on this computer reaches the API (``tillgw report``, ``tillgw diag``):
        a till listening on every address answers on the loopback one."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"


@dataclass(frozen=True, slots=True)
class LogConfig:
    """``[log]``: where each process writes its log, from which level, and how it rotates.

    The till and the sync module each get a file of their own: two processes rotating one
    file would lose each other's lines at every rotation."""

    file: Path | None = None  # the till's; None: till.log in the data directory
    sync_file: Path | None = None  # the sync module's; None: sync.log beside its inbox (<data_dir>/sync)
    level: str = "info"  # one of LOG_LEVELS
    max_bytes: int = DEFAULT_LOG_MAX_BYTES  # a file this big is rotated: till.log -> till.log.1 …
    backups: int = DEFAULT_LOG_BACKUPS  # rotated files kept (till.log.1 … till.log.N)


@dataclass(frozen=True, slots=True)
class Config:
    shop: ShopConfig
    pos_id: str
    data_dir: Path
    control_unit: ControlUnitConfig
    printer: PrinterConfig | None
    scanner: ScannerConfig | None
    api: ApiConfig = field(default_factory=ApiConfig)
    mqtt: MqttConfig | None = field(default_factory=MqttConfig)  # None: no bus (a till on its own)
    paper_width: int = 42
    # Below this much free space on the data directory's disk the till warns (GET /v1/status).
    min_free_mib: int = DEFAULT_MIN_FREE_MIB
    demo: bool = False
    source: Path | None = None  # the file it was read from
    # The register's identity as reported to Skatteverket (the journal export writes it):
    # its manufacturing number (tillverkningsnummer, None when not configured), model
    # designation (with "SE" in it) and program; the version is the installed package's.
    manufacturing_number: str | None = None
    model: str = DEFAULT_MODEL
    program: str = "tillgw"
    # A control unit unusable this long in opening hours is an outage the journal records.
    outage_after_minutes: float = DEFAULT_OUTAGE_AFTER_MINUTES
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def log_file(self) -> Path:
        """The till's log file: ``[log].file``, else ``till.log`` in the data directory."""
        return self.log.file or self.data_dir / "till.log"

    def with_overrides(self, *, data_dir: Path | None = None, http: str | None = None) -> Config:
        """The command line's ``--data-dir`` and ``--http`` win over the file."""
        from dataclasses import replace

        config = self
        if data_dir is not None:
            config = replace(config, data_dir=data_dir)
        if http is not None:
            host, port = _host_port(http, "--http")
            config = replace(config, api=replace(config.api, host=host, port=port))
        return config


def demo_config() -> Config:
    return Config(
        shop=ShopConfig("Demobutiken AB", DEMO_ORGNR, ("Storgatan 1", "352 30 Växjö")),
        pos_id="KASSA-1",
        data_dir=Path("var"),
        control_unit=ControlUnitConfig(url=None),
        printer=PrinterConfig(url=None),
        scanner=None,
        mqtt=MqttConfig(embedded=True),
        demo=True,
        manufacturing_number=DEMO_MANUFACTURING_NUMBER,
    )


def load_config(path: Path | None) -> Config:
    """The configuration in ``path``, or the demo's when ``path`` is None."""
    if path is None:
        return demo_config()
    raw = read_toml(path)
    try:
        return _parse(raw, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path``, or a :class:`ConfigError` that says why it cannot be read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


class ConfigSection:
    """One table of the file; every read names the key when the value is wrong."""

    def __init__(self, raw: dict[str, Any], name: str, known: set[str]) -> None:
        self.raw = raw
        self.name = name
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"[{name}].{unknown[0]}: not a known key (known: {', '.join(sorted(known))})")

    def where(self, key: str) -> str:
        return f"[{self.name}].{key}"

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw.get(key, default)
        if value is None:
            if required:
                raise ConfigError(f"{self.where(key)}: missing")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise ConfigError(f"{self.where(key)}: must be a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: float, *, minimum: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigError(f"{self.where(key)}: must be a number of at least {minimum}, got {value!r}")
        return float(value)

    def integer(
        self, key: str, default: int, choices: tuple[int, ...] | None = None, minimum: int = 0
    ) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(
                f"{self.where(key)}: must be a whole number of at least {minimum}, got {value!r}"
            )
        if choices is not None and value not in choices:
            raise ConfigError(
                f"{self.where(key)}: must be one of {', '.join(map(str, choices))}, got {value}"
            )
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise ConfigError(f"{self.where(key)}: must be one of {', '.join(choices)}, got {value!r}")
        return value

    def named(self, key: str, default: str, names: Mapping[str, T]) -> T:
        """The value ``names`` gives the key's word (``code_table = "cp858"``)."""
        return names[self.choice(key, default, tuple(sorted(names)))]


_UNIT_KEYS: dict[UnitKind, set[str]] = {
    UnitKind.CCSP: {"baudrate", "dtr", "protocol_line"},
    UnitKind.XCCSP: {"ca_cert"},
    UnitKind.TCS: {"ca_cert", "client_cert", "client_cert_password", "application_id", "register_id"},
    UnitKind.SRV4POS: {"ca_cert", "corporate_id", "cash_register_name", "api_key"},
}
_UNIT_REQUIRED: dict[UnitKind, tuple[str, ...]] = {
    UnitKind.TCS: ("client_cert", "application_id"),
    UnitKind.SRV4POS: ("corporate_id", "api_key"),
}


def _control_unit(raw: dict[str, Any], base: Path) -> UnitSettings:
    """``[control_unit]``: the keys every kind shares, and those of its own kind only."""
    every_key = set().union(*_UNIT_KEYS.values())
    shared = {"url", "kind", "request_timeout", "retries", "outage_after_minutes"}
    cu = ConfigSection(raw, "control_unit", shared | every_key)
    url = cu.text("url", required=True) or ""
    kind_text = cu.text("kind")
    if kind_text is not None and kind_text not in UnitKind.__members__.values():
        raise ConfigError(f"[control_unit].kind: must be one of ccsp, xccsp, tcs, srv4pos, got {kind_text!r}")
    try:
        kind = kind_of(url, None if kind_text is None else UnitKind(kind_text))
    except ValueError as exc:
        raise ConfigError(f"[control_unit].url: {exc}") from None
    for key in sorted(every_key - _UNIT_KEYS[kind]):
        if key in raw:
            owners = " and ".join(k.value for k, keys in _UNIT_KEYS.items() if key in keys)
            raise ConfigError(f"[control_unit].{key}: only for {owners} units; this one is {kind.value}")
    for key in _UNIT_REQUIRED.get(kind, ()):
        cu.text(key, required=True)

    def path_of(key: str) -> Path | None:
        text = cu.text(key)
        if text is None:
            return None
        found = Path(text).expanduser()
        found = found if found.is_absolute() else base / found
        if not found.is_file():
            raise ConfigError(f"[control_unit].{key}: {str(found)!r} is not a file")
        return found

    baudrate, dtr = _line_speed(cu, raw)
    return UnitSettings(
        url=url,
        kind=None if kind_text is None else kind,
        request_timeout=cu.number("request_timeout", 2.0, minimum=0.1),
        retries=cu.integer("retries", 2, minimum=0),
        baudrate=baudrate,
        dtr=dtr,
        ca_cert=path_of("ca_cert"),
        client_cert=path_of("client_cert"),
        client_cert_password=cu.text("client_cert_password"),
        application_id=cu.text("application_id"),
        register_id=cu.text("register_id"),
        corporate_id=cu.text("corporate_id"),
        cash_register_name=cu.text("cash_register_name"),
        api_key=cu.text("api_key"),
    )


def _line_speed(cu: ConfigSection, raw: dict[str, Any]) -> tuple[int | None, bool | None]:
    """``baudrate`` (None for "auto") and ``dtr``; ``protocol_line = "19200-dtr"`` is the
    older spelling of ``baudrate = 19200`` with ``dtr = true``."""
    legacy = None
    if "protocol_line" in raw:
        legacy = cu.choice("protocol_line", "9600-8N1", ("9600-8N1", "19200-dtr"))
    if legacy is not None and ("baudrate" in raw or "dtr" in raw):
        raise ConfigError("[control_unit].protocol_line: write baudrate and dtr instead, not both")
    if legacy is not None:
        return (19200, True) if legacy == "19200-dtr" else (9600, None)
    value = raw.get("baudrate", "auto")
    if value != "auto" and (isinstance(value, bool) or value not in CCSP_BAUDRATES):
        speeds = ", ".join(map(str, CCSP_BAUDRATES))
        raise ConfigError(f'[control_unit].baudrate: must be {speeds} or "auto", got {value!r}')
    dtr = raw.get("dtr")
    if dtr is not None and not isinstance(dtr, bool):
        raise ConfigError(f"[control_unit].dtr: must be true or false, got {dtr!r}")
    return (None if value == "auto" else int(value)), dtr


def _opening_hours(shop: ConfigSection) -> OpeningHours:
    try:
        return parse_opening_hours(shop.text("opening_hours", "always", required=True) or "always")
    except OpeningHoursError as exc:
        raise ConfigError(f"{shop.where('opening_hours')}: {exc}") from None


def optional_table(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The table ``[name]`` of the file, None when there is none; :class:`ConfigError` when
    ``name`` is there but not a table."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}]: must be a table")
    return value


def _host_port(text: str, where: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}: {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_ORIGIN = re.compile(r"(?i)(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")


def _cors_origins(value: Any, where: str) -> tuple[str, ...]:
    """The origins, each as a browser sends it in ``Origin``: ``scheme://host[:port]``, in
    lower case, without a path or a trailing slash (a browser never sends one, so an origin
    written with one would never match, and the POS's page would be refused in silence)."""
    if not isinstance(value, list):
        raise ConfigError(f'{where}: must be a list of origins such as ["https://pos.example.se"]')
    origins: list[str] = []
    for item in value:
        match = _ORIGIN.fullmatch(item) if isinstance(item, str) else None
        if match is None or (match.group(3) is not None and not 0 < int(match.group(3)) < 65536):
            raise ConfigError(
                f"{where}: {item!r} is not an origin: write scheme://host or scheme://host:port "
                "(http or https), without a path, as the browser's address bar shows the POS's page"
            )
        scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
        # A browser leaves the scheme's own port out of Origin: https://x:443 is https://x.
        default = port is None or int(port) == _DEFAULT_PORTS[scheme]
        origin = f"{scheme}://{host}" if default else f"{scheme}://{host}:{int(port)}"
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _parse(raw: dict[str, Any], path: Path) -> Config:
    unknown = sorted(
        set(raw) - {"shop", "register", "control_unit", "printer", "scanner", "api", "mqtt", "sync", "log"}
    )
    if unknown:
        raise ConfigError(f"[{unknown[0]}]: not a known section")

    shop_raw = optional_table(raw, "shop")
    if shop_raw is None:
        raise ConfigError("[shop]: missing (name, orgnr and address of the place of sale)")
    shop = ConfigSection(
        shop_raw, "shop", {"name", "orgnr", "address", "store", "timezone", "opening_hours", "language"}
    )
    orgnr_text = shop.text("orgnr", required=True) or ""
    try:
        # A sole trader (enskild firma) is known by the owner's personnummer, which may be
        # written with its century; the control unit's field takes ten digits either way.
        orgnr = normalise_orgnr(orgnr_text)
    except FieldError as exc:
        raise ConfigError(f"[shop].orgnr: {exc.reason}") from None
    if not luhn_valid(orgnr):
        raise ConfigError(
            f"[shop].orgnr: {orgnr_text!r} has a wrong check digit: the last digit should be "
            f"{luhn_check_digit(orgnr[:9])}"
        )
    address = shop_raw.get("address")
    if not isinstance(address, list) or not address or not all(isinstance(a, str) and a for a in address):
        raise ConfigError("[shop].address: must be a list of the address lines of the place of sale")
    store = shop.text("store", "main") or "main"
    if not _TOPIC_LEVEL_RE.match(store):
        raise ConfigError(
            f"[shop].store: {store!r} must be 1-64 letters, digits, '.', '_' or '-' (a topic level)"
        )
    try:
        zone = zone_named(shop.text("timezone", DEFAULT_ZONE_NAME) or DEFAULT_ZONE_NAME)
    except UnknownZone as exc:
        raise ConfigError(f"[shop].timezone: {exc}") from None
    language = shop.text("language", DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        raise ConfigError(
            f'{shop.where("language")}: {language!r} is not a language of the till: use "sv" or "en"'
        )
    shop_config = ShopConfig(
        shop.text("name", required=True) or "", orgnr, tuple(address), store, zone, language
    )

    register = ConfigSection(
        optional_table(raw, "register") or {},
        "register",
        {"pos_id", "data_dir", "paper_width", "manufacturing_number", "model", "program", "min_free_mib"},
    )
    pos_id = register.text("pos_id", required=True) or ""
    try:
        validate_pos_id(pos_id)
    except FieldError as exc:
        raise ConfigError(f"[register].pos_id: {exc.reason}") from None
    data_dir = Path(register.text("data_dir", "var") or "var")
    if not data_dir.is_absolute():
        data_dir = path.parent / data_dir

    cu_raw = optional_table(raw, "control_unit")
    if cu_raw is None:
        raise ConfigError("[control_unit]: missing (the url of the certified control unit)")
    control_unit = _control_unit(cu_raw, path.parent)
    outage_after = ConfigSection(cu_raw, "control_unit", set(cu_raw)).number(
        "outage_after_minutes", DEFAULT_OUTAGE_AFTER_MINUTES, minimum=1
    )

    printer = None
    printer_raw = optional_table(raw, "printer")
    if printer_raw is not None:
        p = ConfigSection(
            printer_raw, "printer", {"url", "code_table", "drawer_pin", "drawer_open_level", "pulse_ms"}
        )
        printer = PrinterConfig(
            url=p.text("url", required=True),
            code_table=p.named("code_table", "cp858", CODE_TABLE_NAMES),
            drawer_pin=p.integer("drawer_pin", 2, (2, 5)),
            drawer_open_level=OpenLevel(p.choice("drawer_open_level", "high", tuple(OpenLevel))),
            pulse_ms=p.integer("pulse_ms", 100, minimum=2),
        )

    scanner = None
    scanner_raw = optional_table(raw, "scanner")
    if scanner_raw is not None:
        s = ConfigSection(scanner_raw, "scanner", {"url", "terminator", "prefix", "suffix"})
        scanner = ScannerConfig(
            url=s.text("url", required=True) or "",
            terminator=Terminator(s.choice("terminator", "cr", tuple(Terminator))),
            prefix=s.text("prefix", "") or "",
            suffix=s.text("suffix", "") or "",
        )

    mqtt = parse_mqtt(optional_table(raw, "mqtt"), path)

    api = ConfigSection(
        optional_table(raw, "api") or {},
        "api",
        {"listen", "max_body_kib", "cors_origins", "keep_request_answers_days"},
    )
    host, port = _host_port(api.text("listen", "127.0.0.1:8080") or "", "[api].listen")
    cors_origins = _cors_origins(api.raw.get("cors_origins", []), api.where("cors_origins"))
    return Config(
        shop=shop_config,
        pos_id=pos_id,
        data_dir=data_dir,
        control_unit=control_unit,
        printer=printer,
        scanner=scanner,
        api=ApiConfig(
            host,
            port,
            api.integer("max_body_kib", 256, minimum=1),
            cors_origins,
            api.integer("keep_request_answers_days", DEFAULT_KEEP_REQUEST_ANSWERS_DAYS, minimum=1),
        ),
        mqtt=mqtt,
        paper_width=register.integer("paper_width", 42, (42, 48)),
        min_free_mib=register.integer("min_free_mib", DEFAULT_MIN_FREE_MIB),
        source=path,
        manufacturing_number=_manufacturing_number(register.text("manufacturing_number")),
        model=register.text("model", DEFAULT_MODEL, required=True) or DEFAULT_MODEL,
        program=register.text("program", "tillgw", required=True) or "tillgw",
        outage_after_minutes=outage_after,
        opening_hours=_opening_hours(shop),
        log=parse_log(optional_table(raw, "log"), path),
    )


def validate_manufacturing_number(text: str) -> str:
    """A register's tillverkningsnummer as SKVFS 2014:9 2 kap. 23 § allows it; raises ValueError."""
    if not _MANUFACTURING_NUMBER_RE.fullmatch(text):  # fullmatch: "$" alone lets a trailing newline in
        raise ValueError(
            f"{text!r} must be 1-17 characters of a-z, A-Z, 0-9, space and hyphen, with no space "
            "at either end and never two spaces in a row (SKVFS 2014:9 2 kap. 23 §)"
        )
    return text


def _manufacturing_number(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return validate_manufacturing_number(text)
    except ValueError as exc:
        raise ConfigError(f"[register].manufacturing_number: {exc}") from None


def parse_mqtt(raw: dict[str, Any] | None, path: Path) -> MqttConfig | None:
    """``[mqtt]``; a till with no such section still uses the local broker (mqtt://127.0.0.1:1883)."""
    if raw is None:
        return MqttConfig()
    m = ConfigSection(
        raw,
        "mqtt",
        {"url", "username", "password", "ca_file", "embedded", "enabled", "sync_public_key", "in_flight"},
    )
    if raw.get("enabled") is False:
        return None
    url = m.text("url", "mqtt://127.0.0.1:1883") or ""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"[mqtt].url: {url!r} must be mqtt://HOST:PORT or mqtts://HOST:PORT")
    host, port = _host_port(rest, "[mqtt].url")
    ca = m.text("ca_file")
    ca_file = None if ca is None else (Path(ca) if Path(ca).is_absolute() else path.parent / ca)
    key = m.text("sync_public_key")
    sync_public_key = None if key is None else (Path(key) if Path(key).is_absolute() else path.parent / key)
    return MqttConfig(
        host=host,
        port=port,
        tls=scheme == "mqtts",
        username=m.text("username"),
        password=m.text("password"),
        ca_file=ca_file,
        embedded=m.choice("embedded", "never", ("never", "when-none")) == "when-none",
        sync_public_key=sync_public_key,
        in_flight=m.integer("in_flight", DEFAULT_IN_FLIGHT, minimum=1),
    )


def parse_log(raw: dict[str, Any] | None, path: Path) -> LogConfig:
    """``[log]``, read alike by the till and the sync module; paths relative to the file's folder."""
    if raw is None:
        return LogConfig()
    section = ConfigSection(raw, "log", {"file", "sync_file", "level", "max_bytes", "backups"})

    def path_of(key: str) -> Path | None:
        text = section.text(key)
        if text is None:
            return None
        found = Path(text).expanduser()
        return found if found.is_absolute() else path.parent / found

    level = (section.text("level", "info") or "info").lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"[log].level: must be one of {', '.join(LOG_LEVELS)}, got {raw.get('level')!r}")
    till_file, sync_file = path_of("file"), path_of("sync_file")
    if till_file is not None and till_file == sync_file:
        raise ConfigError("[log].sync_file: must not be the till's [log].file; each process needs its own")
    return LogConfig(
        file=till_file,
        sync_file=sync_file,
        level=level,
        # Under 64 KiB a file holds a few hundred lines: rotation would throw away the morning
        # before anyone looked.
        max_bytes=section.integer("max_bytes", DEFAULT_LOG_MAX_BYTES, minimum=64 * 1024),
        backups=section.integer("backups", DEFAULT_LOG_BACKUPS, minimum=1),
    )
