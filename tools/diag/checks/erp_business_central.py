"""Does ``[sync.business_central]`` reach the right company, with credentials that work?

One token from Microsoft Entra ID (client credentials) and one cheap authenticated call,
``GET companies({id})/companyInformation?$select=displayName,taxRegistrationNumber``, which
needs the app to be known in BC with a permission to read, the company id to exist, and
tells the company's registration number. The answer is one of: the company and its orgnr;
credentials refused (client id or secret, or the scope); not allowed in BC (the app not on
the *Microsoft Entra Applications* page, no permission set, or no licence); no such
company; another organisation's company (its orgnr is not the one the stores name: one
company per orgnr); no answer.

The token is kept in a directory of its own for this one check and thrown away, so diag
never touches the sync module's token store.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from gateway.common.i18n import tr
from gateway.sync.adapters.business_central.api import BusinessCentralApi, bc_tokens
from gateway.sync.adapters.business_central.config import BusinessCentralConfig
from gateway.sync.config import SyncConfig
from gateway.sync.http.client import ApiError, ApiUnavailable, OutcomeUnknown
from gateway.sync.http.oauth import TokenError
from tools.diag.checks import Check, Verdict
from tools.diag.checks.erp_shared import ERP_TIMEOUT, served_orgnrs

__all__ = ["check_business_central", "check_erp_business_central"]

NAME = "erp business central"
SETUP = "docs/adapters/business-central.md (Setup)"


def orgnr_of(tax_registration_number: str) -> str | None:
    """The 10-digit Swedish orgnr in BC's registration number: ``556036-0793`` or the VAT
    number ``SE556036079301``; None when it holds neither."""
    digits = re.sub(r"\D", "", tax_registration_number)
    if (
        len(digits) == 12
        and digits.endswith("01")
        and tax_registration_number.strip().upper().startswith("SE")
    ):
        digits = digits[:10]
    return digits if len(digits) == 10 else None


def _token_refused(message: str, details: dict[str, Any]) -> Check:
    if "invalid_client" in message or "unauthorized_client" in message:
        summary, step = "credentials refused: client id or secret", "check client_id and client_secret"
    elif "invalid_scope" in message:
        summary, step = "scope refused", "set scope to https://api.businesscentral.dynamics.com/.default"
    elif "cannot be reached" in message:
        summary, step = "the token endpoint does not answer", "check token_url and the network"
    else:
        summary, step = "no token", "check token_url (…/{tenant}/oauth2/v2.0/token) and the app"
    details["error"] = message
    return Check(
        NAME,
        Verdict.PROBLEM,
        summary,
        details,
        tr("[sync.business_central]: {step}; see {setup}").format(step=step, setup=SETUP),
    )


def _api_refused(exc: ApiError, config: BusinessCentralConfig, details: dict[str, Any]) -> Check:
    details["error"] = str(exc)
    if exc.status == 401:
        summary = "token not accepted by Business Central"
        step = "add the app in BC's Microsoft Entra Applications page (state Enabled) and give it permissions"
    elif exc.status == 403:
        summary = "not allowed: permissions or licence"
        step = (
            "give the app in BC's Microsoft Entra Applications page the permission sets for sales, "
            "items and customers, and check the environment's licence"
        )
    elif exc.status == 404:
        summary = f"no company {config.company_id} in this environment"
        step = "set [sync.business_central].company_id to the company's id (GET …/api/v2.0/companies)"
    else:
        summary = f"refused: HTTP {exc.status}"
        step = f"see {SETUP}"
    return Check(NAME, Verdict.PROBLEM, summary, details, step)


def _company(info: dict[str, Any], orgnrs: Collection[str], details: dict[str, Any]) -> Check:
    name = str(info.get("displayName") or "")
    registration = str(info.get("taxRegistrationNumber") or "")
    theirs = orgnr_of(registration)
    details.update(company=name, tax_registration_number=registration, orgnr=theirs)
    ours = sorted(set(orgnrs))
    if len(ours) > 1:
        return Check(
            NAME,
            Verdict.PROBLEM,
            tr("one company ({name}) for {count} organisations: {orgnrs}").format(
                name=name, count=len(ours), orgnrs=", ".join(ours)
            ),
            details,
            tr(
                "a company keeps one organisation's books: serve one orgnr per "
                "[sync] module ([sync].stores), or give each its own module and "
                "company"
            ),
        )
    if not ours:
        return Check(
            NAME,
            Verdict.OK,
            tr("company {name} (orgnr {orgnr}); [sync] names no store by orgnr to compare").format(
                name=name, orgnr=theirs or "not set"
            ),
            details,
        )
    if theirs is None:
        return Check(
            NAME,
            Verdict.WARNING,
            tr(
                "company {name} has no orgnr (VAT Registration No. {registration!r}); the stores are {orgnrs}"
            ).format(name=name, registration=registration, orgnrs=ours[0]),
            details,
            tr("set the VAT Registration No. on BC's Company Information page to check the company"),
        )
    if theirs != ours[0]:
        return Check(
            NAME,
            Verdict.PROBLEM,
            tr("company {name} is orgnr {theirs}, the stores are {orgnrs}").format(
                name=name, theirs=theirs, orgnrs=ours[0]
            ),
            details,
            tr("set [sync.business_central].company_id to the company of the stores' organisation"),
        )
    return Check(
        NAME,
        Verdict.OK,
        tr("company {name}, orgnr {theirs}: credentials, permissions and company right").format(
            name=name, theirs=theirs
        ),
        details,
    )


async def check_business_central(
    config: BusinessCentralConfig, orgnrs: Collection[str], timeout_seconds: float = ERP_TIMEOUT
) -> Check:
    """``orgnrs``: the organisations of the stores the sync module serves ([sync].stores)."""
    details: dict[str, Any] = {"base_url": config.base_url, "company_id": config.company_id}
    with tempfile.TemporaryDirectory(prefix="tillgw-diag-") as scratch:
        api = BusinessCentralApi(
            config, bc_tokens(config, Path(scratch) / "tokens.db"), backoff=0.5, max_tries=2
        )
        try:
            async with asyncio.timeout(timeout_seconds):
                info = await api.request(
                    "GET", "companyInformation", params={"$select": "displayName,taxRegistrationNumber"}
                )
        except TokenError as exc:
            return _token_refused(str(exc), details)
        except ApiError as exc:
            return _api_refused(exc, config, details)
        except (ApiUnavailable, OutcomeUnknown, TimeoutError) as exc:
            details["error"] = str(exc) or type(exc).__name__
            return Check(
                NAME,
                Verdict.PROBLEM,
                tr("no answer from Business Central"),
                details,
                tr("check base_url and the network"),
            )
        finally:
            await api.close()
    values = info.get("value") if isinstance(info, dict) else None
    if not isinstance(values, list) or not values or not isinstance(values[0], dict):
        return Check(
            NAME,
            Verdict.PROBLEM,
            tr("Business Central answered no company information"),
            details,
            tr("see {setup}").format(setup=SETUP),
        )
    return _company(values[0], orgnrs, details)


async def check_erp_business_central(config: SyncConfig, answer_seconds: float = ERP_TIMEOUT) -> Check:
    """The check of ``[sync.business_central]`` against the organisations ``[sync]`` serves."""
    if config.business_central is None:
        return Check(NAME, Verdict.OK, tr("not configured: no [sync.business_central]"), {})
    return await check_business_central(config.business_central, served_orgnrs(config), answer_seconds)
