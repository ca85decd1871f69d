"""What every ERP check of ``tillgw diag`` shares: how long one check may take, which
companies the sync module serves, and the problem when the ERP's company is another."""

from __future__ import annotations

from typing import Any

from gateway.common.i18n import tr
from gateway.sync.config import SyncConfig
from tools.diag.checks import Check, Verdict

__all__ = ["ERP_TIMEOUT", "served_orgnrs", "wrong_company"]

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
        tr("company: {company_words} is {company}, but [sync] serves {served}").format(
            company_words=company_words,
            company=company or "without an organisation number",
            served=", ".join(others),
        ),
        {**details, "served": sorted(served)},
        tr(
            "one company per organisation number: authorise the integration "
            "for that company, or give each company its own sync module"
        ),
    )
