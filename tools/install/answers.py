"""What ``tillgw init`` learns about a till: the answers its questions (or flags) give.

Kept apart from the questions and from the file's text, so that the flags, the prompts and
the TOML all speak of the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.common.i18n import N_

__all__ = [
    "ERP_CHOICES",
    "ERP_QUESTIONS",
    "SIMULATED_CONTROL_UNIT",
    "SIMULATED_PRINTER",
    "ErpQuestion",
    "MqttAnswers",
    "TillAnswers",
]

# The simulators' addresses when `tillgw init --simulators` sets a demo till up: a CleanCash
# behind a serial-to-TCP converter (whose usual port is 4001) and a network printer's raw port.
SIMULATED_CONTROL_UNIT = "socket://127.0.0.1:4001"
SIMULATED_PRINTER = "tcp://127.0.0.1:9100"

# "none": the sync module runs elsewhere (or not at all); "sie": it books SIE files only.
ERP_CHOICES = ("none", "sie", "fortnox", "visma", "business_central", "nav")


@dataclass(frozen=True, slots=True)
class ErpQuestion:
    key: str  # the key of [sync.<erp>] (or a part of one: business_central's tenant)
    prompt: str  # marked with N_, translated where asked
    secret: bool = False


# What each ERP's table cannot do without; every other key has a default (docs/adapters/).
ERP_QUESTIONS: dict[str, tuple[ErpQuestion, ...]] = {
    "fortnox": (
        ErpQuestion("client_id", N_("Fortnox integration's client id")),
        ErpQuestion("client_secret", N_("Fortnox integration's client secret"), secret=True),
    ),
    "visma": (
        ErpQuestion("client_id", N_("Visma eEkonomi / Spiris integration's client id")),
        ErpQuestion("client_secret", N_("Visma eEkonomi / Spiris integration's client secret"), secret=True),
    ),
    "business_central": (
        ErpQuestion("tenant", N_("Business Central's tenant (the Entra tenant id or domain)")),
        ErpQuestion("environment", N_("Business Central's environment (e.g. Production)")),
        ErpQuestion("client_id", N_("the Entra app's client id")),
        ErpQuestion("client_secret", N_("the Entra app's client secret"), secret=True),
        ErpQuestion("company_id", N_("the company's id in Business Central (a GUID)")),
        ErpQuestion("customer", N_("the cash customer's number (e.g. KONTANT)")),
    ),
    "nav": (
        ErpQuestion(
            "base_url", N_("NAV's OData v4 company URL (http://nav:7048/…/ODataV4/Company('CRONUS'))")
        ),
        ErpQuestion("username", N_("NAV web service user")),
        ErpQuestion("password", N_("NAV web service user's password"), secret=True),
        ErpQuestion("customer", N_("the cash customer's number (e.g. KONTANT)")),
    ),
}


@dataclass(frozen=True, slots=True)
class MqttAnswers:
    url: str
    username: str | None = None
    password: str | None = None
    embedded: bool = False  # start a broker in-process when none answers (a demo or a lone till)


@dataclass(frozen=True, slots=True)
class TillAnswers:
    shop_name: str
    orgnr: str
    address: tuple[str, ...]
    pos_id: str
    data_dir: str
    control_unit: str
    store: str = "main"
    timezone: str = "Europe/Stockholm"
    opening_hours: str | None = None
    manufacturing_number: str | None = None
    paper_width: int = 42
    # The control unit's credentials of the cloud kinds (client_cert, api_key, …), by key.
    control_unit_settings: dict[str, str] = field(default_factory=dict)
    printer: str | None = None
    scanner: str | None = None
    api_listen: str = "127.0.0.1:8080"
    mqtt: MqttAnswers | None = field(default_factory=lambda: MqttAnswers("mqtt://127.0.0.1:1883"))
    erp: str = "sie"
    erp_settings: dict[str, str] = field(default_factory=dict)
    simulators: bool = False  # the devices are the project's simulators (a demo till)
