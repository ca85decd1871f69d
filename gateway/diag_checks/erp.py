"""What the ERP checks of ``tillgw diag`` share: which companies the sync module serves,
how long one check may take, and running every configured ERP's check."""

from __future__ import annotations

from gateway.diag_checks import Check
from gateway.sync.config import SyncConfig

__all__ = ["ERP_TIMEOUT", "check_erps", "served_orgnrs"]

ERP_TIMEOUT = 15.0  # a token and one read over the internet; the ERPs answer in well under a second


def served_orgnrs(config: SyncConfig) -> frozenset[str]:
    """The organisation numbers named in ``[sync].stores`` and ``registers`` (none for ``"*"``)."""
    routing = config.routing
    return frozenset(entry.split("/", 1)[0] for entry in routing.stores | routing.registers if entry != "*")


async def check_erps(config: SyncConfig) -> list[Check]:
    """One cheap authenticated call to each ERP ``config`` names: credentials, scopes or
    licence, and company. Imported here, so that a diag without an ERP loads none of them."""
    checks: list[Check] = []
    if config.fortnox is not None:
        from gateway.diag_checks.erp_fortnox import check_erp_fortnox

        checks.append(await check_erp_fortnox(config))
    if config.visma is not None:
        from gateway.diag_checks.erp_visma import check_erp_visma

        checks.append(await check_erp_visma(config))
    if config.business_central is not None:
        from gateway.diag_checks.erp_business_central import check_erp_business_central

        checks.append(await check_erp_business_central(config))
    return checks
