"""What the ERP checks of ``tillgw diag`` share: which companies the sync module serves,
how long one check may take, and running every configured ERP's check."""

from __future__ import annotations

from typing import Any

from gateway.sync.config import SyncConfig
from tools.diag.checks import Check, Verdict

__all__ = ["ERP_TIMEOUT", "check_erps", "served_orgnrs", "wrong_company"]

ERP_TIMEOUT = 15.0  # a token and one read over the internet; the ERPs answer in well under a second


def served_orgnrs(config: SyncConfig) -> frozenset[str]:
    """The organisation numbers named in ``[sync].stores`` and ``registers`` (none for ``"*"``)."""
    routing = config.routing
    return frozenset(entry.split("/", 1)[0] for entry in routing.stores | routing.registers if entry != "*")


def wrong_company(
    check: str, company_words: str, company: str, config: SyncConfig, details: dict[str, Any]
) -> Check | None:
    """The problem when the ERP's company (``company``, its orgnr) is not the one ``[sync]``
    serves; ``company_words`` names it as the shop owner knows it ("the Fortnox company 'X'")."""
    served = served_orgnrs(config)
    others = sorted(served - {company})
    if not others:
        return None
    return Check(
        check,
        Verdict.PROBLEM,
        f"company: {company_words} is {company or 'without an organisation number'}, "
        f"but [sync] serves {', '.join(others)}",
        {**details, "served": sorted(served)},
        "one company per organisation number: authorise the integration for that company, or give "
        "each company its own sync module",
    )


async def check_erps(config: SyncConfig) -> list[Check]:
    """One cheap authenticated call to each ERP ``config`` names: credentials, scopes or
    licence, and company. Imported here, so that a diag without an ERP loads none of them."""
    checks: list[Check] = []
    if config.fortnox is not None:
        from tools.diag.checks.erp_fortnox import check_erp_fortnox

        checks.append(await check_erp_fortnox(config))
    if config.visma is not None:
        from tools.diag.checks.erp_visma import check_erp_visma

        checks.append(await check_erp_visma(config))
    if config.business_central is not None:
        from tools.diag.checks.erp_business_central import check_erp_business_central

        checks.append(await check_erp_business_central(config))
    return checks
