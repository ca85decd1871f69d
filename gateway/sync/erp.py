"""The ERPs a sync configuration names, connected: their booking adapters, the master-data source.

One :class:`ErpConnections` per run of the sync module. Each configured ERP gets one API
client (one token, one rate limit), shared by its booking adapter and its master-data
source — so both count against the same limit, as the vendor counts them. ``close()``
closes the clients' HTTP sessions.

An ERP connected to a till that has sold for months must not receive those months: the
tills' outboxes hold every message until a sync module acks it. Each booking adapter is
wrapped in :class:`SinceConnected`, which leaves alone what was made before the day the
ERP was first connected here — unless ``[sync.<erp>].from_date`` names another day (an
earlier one: "send the older days too").

The tills' sales orders (docs/orders.md) live in one ERP: the first configured of NAV,
Business Central and Fortnox (:func:`orders_erp`). Only its order adapter pays orders and
makes new ones, and ``orders`` answers the tills' questions from it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from gateway.config import ConfigError
from gateway.messages.envelope import BusMessage
from gateway.sync.adapters import Adapter, AdapterError
from gateway.sync.adapters.business_central.adapter import BusinessCentralAdapter
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_tokens
from gateway.sync.adapters.business_central.orders import BusinessCentralOrderAdapter, BusinessCentralOrders
from gateway.sync.adapters.business_central.source import BusinessCentralSource
from gateway.sync.adapters.fortnox.adapter import FortnoxAdapter
from gateway.sync.adapters.fortnox.api import fortnox_client, fortnox_token_endpoint
from gateway.sync.adapters.fortnox.orders import FortnoxOrderAdapter, FortnoxOrders
from gateway.sync.adapters.fortnox.source import FortnoxSource
from gateway.sync.adapters.nav.adapter import NavAdapter
from gateway.sync.adapters.nav.api import NavApi
from gateway.sync.adapters.nav.orders import NavOrderAdapter, NavOrders
from gateway.sync.adapters.nav.source import NavSource
from gateway.sync.adapters.visma.adapter import VismaAdapter
from gateway.sync.adapters.visma.api import VismaApi, visma_tokens
from gateway.sync.adapters.visma.source import VismaSource
from gateway.sync.config import SyncConfig
from gateway.sync.http.client import ApiClient, ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError, store_initial
from gateway.sync.masterdata.source import MasterDataSource
from gateway.sync.orders.source import OrderSource
from gateway.sync.sql import SqlConnection

__all__ = [
    "AUTHORIZED_BY_CODE",
    "ORDERS_FROM",
    "ErpConnections",
    "FortnoxCompany",
    "OneCompany",
    "SinceConnected",
    "authorize",
    "connect",
    "orders_erp",
]

AUTHORIZED_BY_CODE = ("fortnox", "visma")
"""The ERPs whose integration a person authorises once (OAuth2 authorization code)."""


CONNECTED_SCHEMA = """
CREATE TABLE IF NOT EXISTS erp_connected (
    erp TEXT PRIMARY KEY,            -- fortnox | visma | business_central | nav
    connected_on TEXT NOT NULL       -- YYYY-MM-DD: the first day this sync module booked in it
);
"""


class SinceConnected:
    """An ERP's booking adapter that leaves alone the messages made before the ERP was connected."""

    def __init__(self, inner: Adapter, erp: str, from_date: date | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.erp = erp
        self.from_date = from_date
        self.cutoff: date | None = from_date

    def handles(self, kind: str) -> bool:
        return self.inner.handles(kind)

    async def setup(self, db: SqlConnection) -> None:
        await self.inner.setup(db)
        await db.executescript(CONNECTED_SCHEMA)
        # The first start with this ERP records the day (autocommit: outside any transaction).
        await db.execute(
            "INSERT INTO erp_connected (erp, connected_on) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (self.erp, date.today().isoformat()),
        )
        if self.from_date is None:
            async with db.execute("SELECT connected_on FROM erp_connected WHERE erp = ?", (self.erp,)) as c:
                rows = await c.fetchall()
            self.cutoff = date.fromisoformat(str(rows[0][0]))

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        made = date.fromisoformat(message.at[:10])
        if self.cutoff is not None and made < self.cutoff:
            why = "from_date" if self.from_date is not None else f"the day {self.name} was connected here"
            return f"{message.kind} of {made} left alone: before {self.cutoff} ({why})"
        return await self.inner.process(db, message)


class FortnoxCompany:
    """The organisation number of the Fortnox company the integration was authorised for, read once."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.orgnr: str | None = None

    async def number(self) -> str:
        if self.orgnr is None:
            try:
                info = await self.client.request("GET", "companyinformation")
                text = str(info["CompanyInformation"]["OrganizationNumber"])
            except (ApiError, ApiUnavailable, TokenError, OutcomeUnknown) as exc:
                raise AdapterError(
                    f"Fortnox: the company's organisation number could not be read: {exc}"
                ) from None
            except (KeyError, TypeError):
                raise AdapterError(
                    f"Fortnox: companyinformation answered no OrganizationNumber: {info!r:.200}"
                ) from None
            self.orgnr = re.sub(r"\D", "", text)
        return self.orgnr


class OneCompany:
    """A Fortnox adapter that books only the messages of its own company.

    Fortnox keeps one company per organisation number, and the integration is authorised
    for one: a till of another organisation number (a sync module serving several
    companies) must never be booked into these books. Its message is refused, with the
    ERROR line saying whose it is, and waits for a sync module configured for that company.
    """

    def __init__(self, inner: Adapter, company: FortnoxCompany) -> None:
        self.inner = inner
        self.name = inner.name
        self.company = company

    def handles(self, kind: str) -> bool:
        return self.inner.handles(kind)

    async def setup(self, db: SqlConnection) -> None:
        await self.inner.setup(db)

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        company = await self.company.number()
        if message.orgnr != company:
            raise AdapterError(
                f"{message.orgnr}/{message.store}/{message.register} is organisation number {message.orgnr}, "
                f"but this Fortnox company is {company}: one company per organisation number — give that "
                "company its own sync module (its tills in [sync].registers, its own [sync.fortnox])"
            )
        return await self.inner.process(db, message)


@dataclass
class ErpConnections:
    adapters: list[Adapter] = field(default_factory=list)
    sources: dict[str, MasterDataSource] = field(default_factory=dict)  # by [sync.masterdata].source name
    orders: OrderSource | None = None  # where the tills' questions about open orders are answered from
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def source(self, name: str) -> MasterDataSource:
        found = self.sources.get(name)
        if found is None:
            raise ConfigError(
                f'[sync.masterdata].source: "{name}" reads its master data from [sync.{name}], '
                "which is not configured"
            )
        return found

    async def close(self) -> None:
        for close in self._closers:
            await close()
        self._closers.clear()


ORDERS_FROM = ("nav", "business_central", "fortnox")
"""The ERPs that keep the tills' sales orders, the first configured of them taking them."""


def orders_erp(config: SyncConfig) -> str | None:
    """The ERP whose sales orders the tills fetch, pay and make: the first of :data:`ORDERS_FROM`
    configured (one sales order is in one ERP; a second would not know its number)."""
    for name in ORDERS_FROM:
        if getattr(config, name) is not None:
            return name
    return None


def connect(config: SyncConfig) -> ErpConnections:
    """The adapters and sources of every ERP configured (no request is made yet)."""
    erp = ErpConnections()
    tokens = config.tokens_db
    orders = orders_erp(config)
    round_up = config.masterdata.round_up_to_krona
    if config.fortnox is not None:
        client = fortnox_client(config.fortnox, tokens)
        fortnox = FortnoxAdapter(config.fortnox, config.accounts, client)
        company = FortnoxCompany(client)
        erp.adapters.append(SinceConnected(OneCompany(fortnox, company), "fortnox", config.fortnox.from_date))
        fortnox_orders = FortnoxOrderAdapter(config.fortnox, client, fortnox, till_orders=orders == "fortnox")
        if orders == "fortnox" or config.fortnox.invoices_as == "order":
            erp.adapters.append(
                SinceConnected(OneCompany(fortnox_orders, company), "fortnox", config.fortnox.from_date)
            )
        if orders == "fortnox":
            erp.orders = FortnoxOrders(config.fortnox, client, round_up_to_krona=round_up)
        erp.sources["fortnox"] = FortnoxSource(config.fortnox, client)
        erp._closers.append(client.close)
    if config.visma is not None:
        visma = VismaApi(config.visma, visma_tokens(config.visma, tokens))
        erp.adapters.append(
            SinceConnected(
                VismaAdapter(config.visma, visma, config.accounts), "visma", config.visma.from_date
            )
        )
        erp.sources["visma"] = VismaSource(config.visma, visma)
        erp._closers.append(visma.close)
    if config.business_central is not None:
        central = BusinessCentralApi(config.business_central, bc_tokens(config.business_central, tokens))
        central_booking = BusinessCentralAdapter(config.business_central, central)
        since = config.business_central.from_date
        erp.adapters.append(SinceConnected(central_booking, "business_central", since))
        if orders == "business_central":
            central_orders = BusinessCentralOrderAdapter(config.business_central, central, central_booking)
            erp.adapters.append(SinceConnected(central_orders, "business_central", since))
            erp.orders = BusinessCentralOrders(config.business_central, central, round_up_to_krona=round_up)
        central_source = BusinessCentralSource(config.business_central, central)
        erp.sources["business_central"] = central_source
        erp._closers += [central_source.close, central.close]
    if config.nav is not None:
        nav = NavApi(config.nav)
        nav_booking = NavAdapter(config.nav, nav)
        erp.adapters.append(SinceConnected(nav_booking, "nav", config.nav.from_date))
        if orders == "nav":
            erp.adapters.append(
                SinceConnected(NavOrderAdapter(config.nav, nav, nav_booking), "nav", config.nav.from_date)
            )
            erp.orders = NavOrders(config.nav, nav, round_up_to_krona=round_up)
        erp.sources["nav"] = NavSource(config.nav, nav)
        erp._closers.append(nav.close)
    return erp


async def authorize(
    config: SyncConfig,
    erp: str,
    *,
    refresh_token: str | None = None,
    code: str | None = None,
    redirect_uri: str | None = None,
) -> None:
    """Store the first token of ``erp``'s integration: a refresh token, or a code exchanged for one.

    Done once, when the shop connects the integration; afterwards every refresh token is
    used once and replaced (gateway/sync/http/oauth.py).
    """
    if erp == "fortnox" and config.fortnox is not None:
        endpoint, tenant = fortnox_token_endpoint(config.fortnox), config.fortnox.tenant_key
    elif erp == "visma" and config.visma is not None:
        endpoint, tenant = visma_tokens(config.visma, config.tokens_db).endpoint, config.visma.tenant
    elif erp not in AUTHORIZED_BY_CODE:
        raise ConfigError(
            f"{erp}: not an ERP authorised with a code (those are: {', '.join(AUTHORIZED_BY_CODE)})"
        )
    else:
        raise ConfigError(f"[sync.{erp}]: missing; configure the integration before authorising it")
    await store_initial(
        config.tokens_db,
        erp,
        tenant,
        endpoint,
        refresh_token=refresh_token,
        code=code,
        redirect_uri=redirect_uri,
    )
