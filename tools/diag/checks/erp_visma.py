"""Is ``[sync.visma]`` right: do its credentials work, may they reach the API, and is the
Visma eEkonomi / Spiris company the one of the tills the sync module serves?

One cheap authenticated call, ``GET /v2/companysettings`` (its token refreshed first when
the stored one is old, as the sync module itself would). Its answer says:

* credentials: a refused token refresh (client id or secret wrong, the refresh token spent
  or revoked) or a 401 — authorise the integration again;
* scopes and licence: a 403 (the token lacks ``ea:api``, or the company has no API
  access), or a company that is inactive or read-only (``CompanyStatus``);
* company: its ``CorporateIdentityNumber`` against the organisation numbers in
  ``[sync].stores`` / ``registers`` (one company per organisation number).

The vouchers' scope (``ea:accounting``) and master data's (``ea:sales``) are not seen by
this call; a missing one is named by Visma at the first booking or sync (a 403).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from gateway.common.i18n import tr
from gateway.sync.adapters.visma.api import VISMA, VismaApi, visma_tokens
from gateway.sync.config import SyncConfig
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from tools.diag.checks import Check, Verdict
from tools.diag.checks.erp_shared import ERP_TIMEOUT, wrong_company

__all__ = ["check_erp_visma"]

NAME = "erp: visma"
_ACTIVE = 1  # CompanyStatus: 0 inactive, 1 active, 2 read-only
_AUTHORIZE = "authorise the integration again: tillgw sync --config FILE --authorize visma --code CODE"


def _problem(summary: str, details: dict[str, Any], next_step: str) -> Check:
    return Check(NAME, Verdict.PROBLEM, summary, details, next_step)


async def check_erp_visma(config: SyncConfig, answer_seconds: float = ERP_TIMEOUT) -> Check:
    visma = config.visma
    if visma is None:
        return Check(NAME, Verdict.OK, tr("not configured: no [sync.visma]"), {})
    details: dict[str, Any] = {"url": visma.base_url, "client_id": visma.client_id}
    api = VismaApi(visma, visma_tokens(visma, config.tokens_db), backoff=0.5, max_tries=2)
    try:
        async with asyncio.timeout(answer_seconds):
            settings = await api.request("GET", "companysettings")
    except TokenError as exc:
        return _problem(
            f"credentials: {exc}", details, f"check [sync.visma] client_id and client_secret, or {_AUTHORIZE}"
        )
    except ApiError as exc:
        details["status"] = exc.status
        if exc.status == 401:
            return _problem(f"credentials: {VISMA} refused the token ({exc})", details, _AUTHORIZE)
        if exc.status == 403:
            return _problem(
                f"scopes or licence: {VISMA} refused ({exc})",
                details,
                "authorise with the scopes ea:api offline_access ea:accounting ea:sales, and check that the "
                "company's subscription includes the API (integration) option",
            )
        return _problem(f"{VISMA} refused GET companysettings: {exc}", details, "see docs/adapters/visma.md")
    except (ApiUnavailable, OutcomeUnknown, TimeoutError) as exc:
        return _problem(
            f"no answer from {visma.base_url}: {exc or type(exc).__name__}",
            details,
            "check the network and [sync.visma].base_url",
        )
    finally:
        await api.close()
    if not isinstance(settings, dict):
        return _problem(f"{VISMA} answered no company settings", details, "see docs/adapters/visma.md")
    company = re.sub(r"\D", "", str(settings.get("CorporateIdentityNumber") or ""))
    details.update(
        {"company": settings.get("Name"), "orgnr": company, "status": settings.get("CompanyStatus")}
    )
    status = settings.get("CompanyStatus")
    if status is not None and status != _ACTIVE:
        state = {0: "inactive", 2: "read-only"}.get(status, f"in status {status}")
        return _problem(
            f"licence: the {VISMA} company {settings.get('Name')!r} is {state}: nothing can be booked",
            details,
            "renew the company's subscription, or authorise the integration for the active company",
        )
    wrong = wrong_company(NAME, f"{VISMA} company {settings.get('Name')!r}", company, config, details)
    if wrong is not None:
        return wrong
    return Check(
        NAME,
        Verdict.OK,
        tr("company {name!r} ({company}), credentials and API access work").format(
            name=settings.get("Name"), company=company
        ),
        details,
    )
