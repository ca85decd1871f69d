"""The ERP checks of ``tillgw diag``: each ERP the sync module's settings name, asked once.

Each ERP's check is its own module (:mod:`~tools.diag.checks.erp_fortnox`,
:mod:`~tools.diag.checks.erp_visma`, :mod:`~tools.diag.checks.erp_business_central`);
what they share is in :mod:`~tools.diag.checks.erp_shared`.
"""

from __future__ import annotations

from gateway.sync.config import SyncConfig
from tools.diag.checks import Check

__all__ = ["check_erps"]


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
