"""Is ``[sync.fortnox]`` right: do its credentials work, may they reach the API, and is the
Fortnox company the one of the tills the sync module serves?

One cheap authenticated call, ``GET /3/companyinformation`` (its token fetched or
refreshed first, as the sync module itself would; a refresh spends the old refresh token
and stores the new one, exactly as a sync would). Its answer says:

* credentials: a refused token request (``invalid_client``: the client id or secret is
  wrong; ``invalid_grant``: the refresh token is spent or more than 45 days old; a
  service account's TenantId unknown) or a 401 — authorise the integration again;
* scopes and licence: Fortnox's refusal for a scope the integration lacks (2000663) or
  a licence the company lacks (2001101 for the scope's module, 2001103 for the API);
* company: its ``OrganizationNumber`` against the organisation numbers in
  ``[sync].stores`` / ``registers`` (Fortnox keeps one company per organisation number,
  and the module books only its tills).

This call needs the ``companyinformation`` scope; the others (``bookkeeping``,
``invoice`` …) are not seen by it, and a missing one is named by Fortnox at the first
booking (code 2000663, quoted in the log).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from gateway.common.i18n import tr
from gateway.sync.adapters.fortnox.api import fortnox_client
from gateway.sync.config import SyncConfig
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from tools.diag.checks import Check, Verdict
from tools.diag.checks.erp_shared import ERP_TIMEOUT, wrong_company

__all__ = ["check_erp_fortnox"]

NAME = "erp: fortnox"
_NO_SCOPE = 2000663  # "Har inte behörighet för scope"
_NO_LICENCE = (2001101, 2001103)  # no licence for the scope's module; no API licence
_AUTHORIZE = (
    "authorise the integration again: tillgw sync --config FILE --authorize fortnox --code CODE "
    "--redirect-uri URI (docs/adapters/fortnox.md)"
)


def _code(exc: ApiError) -> int | None:
    """Fortnox's error code in a refusal (either spelling of ``ErrorInformation``)."""
    info = exc.body.get("ErrorInformation") if isinstance(exc.body, dict) else None
    code = info.get("code", info.get("Code")) if isinstance(info, dict) else None
    return int(code) if isinstance(code, int | str) and str(code).isdigit() else None


def _problem(summary: str, details: dict[str, Any], next_step: str) -> Check:
    return Check(NAME, Verdict.PROBLEM, summary, details, next_step)


def _refused(exc: ApiError, details: dict[str, Any]) -> Check:
    code = _code(exc)
    details.update({"status": exc.status, "code": code})
    if code == _NO_SCOPE:
        return _problem(
            f"scopes: the integration may not read the company's information ({exc})",
            details,
            "authorise the integration with every scope docs/adapters/fortnox.md lists "
            "(companyinformation among them)",
        )
    if code in _NO_LICENCE:
        return _problem(
            f"licence: Fortnox refused ({exc})",
            details,
            "the company needs Fortnox's integration licence (and the modules it books in); "
            "its administrator adds it in Fortnox",
        )
    if exc.status == 401:
        return _problem(f"credentials: Fortnox refused the token ({exc})", details, _AUTHORIZE)
    if exc.status == 403:
        return _problem(
            f"scopes or licence: Fortnox refused ({exc})",
            details,
            "check the integration's scopes and the company's licences (docs/adapters/fortnox.md)",
        )
    return _problem(f"Fortnox refused GET companyinformation: {exc}", details, "see docs/adapters/fortnox.md")


async def check_erp_fortnox(config: SyncConfig, answer_seconds: float = ERP_TIMEOUT) -> Check:
    fortnox = config.fortnox
    if fortnox is None:
        return Check(NAME, Verdict.OK, tr("not configured: no [sync.fortnox]"), {})
    details: dict[str, Any] = {
        "url": fortnox.base_url,
        "client_id": fortnox.client_id,
        "grant": fortnox.grant,
    }
    client = fortnox_client(fortnox, config.tokens_db, backoff=0.5)
    client.max_tries = 2  # a diagnosis says what is wrong now; it does not wait a minute for it
    try:
        async with asyncio.timeout(answer_seconds):
            answer = await client.request("GET", "companyinformation")
    except TokenError as exc:
        return _problem(
            f"credentials: {exc}",
            details,
            "check [sync.fortnox] client_id, client_secret (and tenant_id for a service account), "
            f"or {_AUTHORIZE}",
        )
    except ApiError as exc:
        return _refused(exc, details)
    except (ApiUnavailable, OutcomeUnknown, TimeoutError) as exc:
        return _problem(
            f"no answer from {fortnox.base_url}: {exc or type(exc).__name__}",
            details,
            "check the network and [sync.fortnox].base_url",
        )
    finally:
        await client.close()
    info = answer.get("CompanyInformation") if isinstance(answer, dict) else None
    if not isinstance(info, dict):
        return _problem("Fortnox answered no company information", details, "see docs/adapters/fortnox.md")
    company = re.sub(r"\D", "", str(info.get("OrganizationNumber") or ""))
    name = info.get("CompanyName")
    details.update({"company": name, "orgnr": company})
    wrong = wrong_company(NAME, f"the Fortnox company {name!r}", company, config, details)
    if wrong is not None:
        return wrong
    return Check(
        NAME,
        Verdict.OK,
        tr("company {name!r} ({company}), credentials and API access work").format(
            name=name, company=company
        ),
        details,
    )
