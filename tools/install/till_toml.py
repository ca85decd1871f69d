"""The text of the ``till.toml`` that ``tillgw init`` writes: every section with a comment
saying what it is for, every key with one saying what it means, and the settings left at
their defaults shown commented out, so that the file is its own manual.

Only the sections :mod:`gateway.config` and :mod:`gateway.sync.config` read are written;
``tillgw init`` loads the result with both before it keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.devices.control_units.kinds import kind_of
from tools.install.answers import SIMULATED_CONTROL_UNIT, SIMULATED_PRINTER, TillAnswers
from tools.install.toml_text import Line, comment_block

__all__ = ["render_till_toml", "section"]

_KEY_WIDTH = 38  # the comments start in one column, as in docs/configuration.md


def section(name: str, about: str, lines: Iterable[Line]) -> str:
    """``[name]`` under its explanation, with its lines."""
    body = "\n".join(line.render(_KEY_WIDTH) for line in lines)
    return f"{comment_block(about)}\n[{name}]\n{body}\n"


def _shop(a: TillAnswers) -> str:
    return section(
        "shop",
        """
The place of sale, as every receipt shows it and as it is registered with Skatteverket.
orgnr goes to the control unit with every receipt and into the bus topics.
""",
        [
            Line("name", a.shop_name, "the business's name on the receipt"),
            Line("orgnr", a.orgnr, "organisationsnummer; a sole trader: the owner's personnummer"),
            Line("address", list(a.address), "the place of sale, one line each"),
            Line("store", a.store, "the store's id on the bus: tillgw/{orgnr}/{store}/{register}/…"),
            Line("timezone", a.timezone, "receipts, journal and reports keep the shop's local time"),
            Line(
                "opening_hours",
                a.opening_hours,
                "when a control-unit outage counts (default: always open)",
                example="mon-fri 09:00-18:00, sat 10:00-16:00",
            ),
        ],
    )


def _register(a: TillAnswers) -> str:
    return section(
        "register",
        """
This register (kassa): its id, where it keeps its journal, and its identity as reported to
Skatteverket. Back data_dir up: it holds the signed journal and the till's signing key.
""",
        [
            Line("pos_id", a.pos_id, "kassabeteckning: 1-16 characters; also the till's MQTT user"),
            Line("data_dir", a.data_dir, "journal, key, API token; relative to this file"),
            Line("paper_width", a.paper_width, "characters per receipt line: 42 or 48"),
            Line(
                "manufacturing_number",
                a.manufacturing_number,
                "tillverkningsnummer: the journal export needs it",
                example="TG-2027-000117",
            ),
            Line("model", None, 'model designation, must contain "SE"', example="tillgw SE"),
            Line("min_free_mib", None, "warn below this much free disk space", example=64),
        ],
    )


def _control_unit(a: TillAnswers) -> str:
    kind = kind_of(a.control_unit, None)
    lines = [Line("url", a.control_unit, f"a {kind.value.upper()} control unit (kontrollenhet)")]
    lines += [Line(key, value, "as its vendor issued it") for key, value in a.control_unit_settings.items()]
    lines += [
        Line("request_timeout", None, "seconds for one request", example=2.0),
        Line("retries", None, "tries = 1 + retries, with the same sequence number", example=2),
        Line("outage_after_minutes", None, "failed this long while open: an outage is journaled", example=15),
    ]
    if kind.value == "ccsp":
        lines.append(
            Line(
                "baudrate", None, "found at every start; write the speed to save the probing", example="auto"
            )
        )
    about = """
The certified control unit every receipt is registered with. The kind follows from url:
a serial device or socket://HOST:PORT is CCSP, http(s)://…/xccsp XCCSP, https://…/tcsserver
Infrasec TCS, https://…/v45 srv4pos (docs/configuration.md, "The control unit").
"""
    if a.simulators and a.control_unit == SIMULATED_CONTROL_UNIT:
        about += (
            "\nThe project's simulator, for a demo: tillgw sim control-unit --listen tcp://127.0.0.1:4001\n"
        )
    return section("control_unit", about, lines)


def _printer(a: TillAnswers) -> str:
    if a.printer is None:
        return (
            comment_block(
                """
[printer]: none. A till without a printer gives the POS the receipt's text only.
Add one as: [printer] url = "tcp://192.168.1.50:9100" (or /dev/ttyS0, usb://04b8:0202).
"""
            )
            + "\n"
        )
    about = """
The ESC/POS receipt printer, and the cash drawer on its drawer port.
"""
    if a.simulators and a.printer == SIMULATED_PRINTER:
        about += (
            "\nThe project's simulator, for a demo:"
            " tillgw sim printer --listen tcp://127.0.0.1:9100 --width 42\n"
        )
    return section(
        "printer",
        about,
        [
            Line("url", a.printer, "tcp://HOST:9100, a serial device, or usb://VVVV:PPPP"),
            Line("code_table", None, "as the printer's self-test page shows", example="cp858"),
            Line("drawer_pin", None, "the drawer connector pin: 2 or 5", example=2),
            Line("drawer_open_level", None, "what the drawer sensor reads when open", example="high"),
        ],
    )


def _scanner(a: TillAnswers) -> str:
    if a.scanner is None:
        return (
            comment_block(
                """
[scanner]: none. Add one as: [scanner] url = "/dev/ttyACM0" (or evdev://name=NAME for a
USB scanner in keyboard mode).
"""
            )
            + "\n"
        )
    return section(
        "scanner",
        """
The barcode scanner: every code it reads goes to the POS as a scan event.
""",
        [
            Line("url", a.scanner, "serial, socket://HOST:PORT or evdev://…"),
            Line("terminator", None, "what ends each code, as the scanner is set", example="cr"),
        ],
    )


def _api(a: TillAnswers) -> str:
    return section(
        "api",
        """
The till's local API, which the POS calls (docs/api.md). Its token is in data_dir/api-token.
""",
        [
            Line("listen", a.api_listen, "HOST:PORT; keep it on 127.0.0.1 unless the POS is elsewhere"),
            Line("cors_origins", None, "web pages that may call the API", example=["https://pos.example.se"]),
        ],
    )


def _mqtt(a: TillAnswers) -> str:
    if a.mqtt is None:
        return section(
            "mqtt",
            """
The store's message bus: none. This till works on its own; nothing reaches an ERP.
""",
            [Line("enabled", False, "no bus at all")],
        )
    return section(
        "mqtt",
        """
The store's MQTT broker (Mosquitto, docs/mosquitto.md): every receipt and report goes over
it to the ERP sync module. Sales go on while it is down; the messages wait in the journal.
""",
        [
            Line("url", a.mqtt.url, "mqtt://HOST:1883, or mqtts://HOST:8883 for TLS"),
            Line(
                "username",
                a.mqtt.username,
                "exactly the pos_id: the broker's ACL relies on it",
                example=a.pos_id,
            ),
            Line("password", a.mqtt.password, "this till's password at the broker", example="…"),
            Line(
                "ca_file",
                None,
                "with mqtts: the CA that signed the broker's certificate",
                example="store-ca.crt",
            ),
            Line(
                "embedded",
                "when-none" if a.mqtt.embedded else "never",
                '"when-none": start a broker in-process when none answers',
            ),
        ],
    )


def _erp_lines(a: TillAnswers) -> list[Line]:
    settings = dict(a.erp_settings)
    if a.erp == "business_central":
        tenant = settings.pop("tenant", None)
        environment = settings.pop("environment", None)
        if tenant is not None and environment is not None and "base_url" not in settings:
            settings["base_url"] = (
                f"https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}/api/v2.0"
            )
        if tenant is not None and "token_url" not in settings:
            settings["token_url"] = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    where = _ERP_DOCS[a.erp].split(";")[0]
    return [Line(key, value, _ERP_KEY_WORDS.get(key, f"see {where}")) for key, value in settings.items()]


_ERP_KEY_WORDS = {
    "client_id": "the integration's id at the ERP",
    "client_secret": "its secret: keep this file readable by the till's user only",
    "base_url": "where the ERP's API is",
    "token_url": "where its access tokens come from",
    "company_id": "the company's id",
    "customer": "the cash customer the receipts are booked to",
    "username": "the web service user",
    "password": "its password",
}
_ERP_DOCS = {
    "fortnox": "docs/adapters/fortnox.md; then authorise once: tillgw sync --config FILE --authorize fortnox",
    "visma": "docs/adapters/visma.md; then authorise once: tillgw sync --config FILE --authorize visma",
    "business_central": "docs/adapters/business-central.md",
    "nav": "docs/adapters/nav.md",
}


def _sync(a: TillAnswers) -> str:
    if a.erp == "none":
        return (
            comment_block(
                """
[sync]: none. The ERP sync module (tillgw sync) runs on another machine, with its own file.
"""
            )
            + "\n"
        )
    text = section(
        "sync",
        """
Read by the ERP sync module (tillgw sync --config this file), not by the till: it takes the
store's receipts and reports off the bus and books every Z report as an SIE file, and in
the ERP when one is configured below (docs/sync.md). Its inbox and files go under data_dir/sync.
""",
        [
            Line("stores", None, "the stores it books; default: [shop]'s", example=[f"{a.orgnr}/{a.store}"]),
            Line("sie_dir", None, "where the SIE files go", example="/srv/bokforing/sie"),
        ],
    )
    if a.erp == "sie":
        return text
    return text + "\n" + section(f"sync.{a.erp}", f"The ERP: {_ERP_DOCS[a.erp]}.", _erp_lines(a))


def render_till_toml(a: TillAnswers) -> str:
    """The whole file for ``a``."""
    head = comment_block(
        """
The till's configuration, written by tillgw init.
Run the till with: tillgw run --config THIS FILE; check it with: tillgw diag --config THIS FILE.
Every key is explained in docs/configuration.md; lines starting with # are defaults or examples.
This file holds passwords: keep it readable by the till's user only (chmod 600).
"""
    )
    parts: Sequence[str] = (
        _shop(a),
        _register(a),
        _control_unit(a),
        _printer(a),
        _scanner(a),
        _api(a),
        _mqtt(a),
        _sync(a),
    )
    return head + "\n\n" + "\n".join(parts)
