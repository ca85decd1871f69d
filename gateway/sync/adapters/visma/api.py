"""The Visma eEkonomi / Spiris API v2 of one company: its requests, lists, tokens and errors.

The API allows 600 requests a minute per client and endpoint: one
:class:`~gateway.sync.http.limiter.SlidingWindowLimiter` (and one
:class:`~gateway.sync.http.client.ApiClient`) per endpoint. The token endpoint takes the
client id and secret by HTTP Basic. Older clients get a new refresh token with every
refresh (the one used is then spent); new clients get a reusable one, answered again
unchanged or not at all: :class:`~gateway.sync.http.oauth.OAuthTokens` stores whichever
comes back (and keeps the reusable one when none does) before the access token is used,
so each works.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.visma.config import VismaConfig
from gateway.sync.http.client import ApiClient, ApiError, ApiUnavailable, Auth, OutcomeUnknown
from gateway.sync.http.limiter import SlidingWindowLimiter
from gateway.sync.http.oauth import OAuthTokens, TokenEndpoint, TokenError, TokenStore

__all__ = [
    "REQUESTS_PER_MINUTE",
    "VISMA",
    "VismaApi",
    "VismaCompany",
    "visma_error",
    "visma_tokens",
]

VISMA = "Visma eEkonomi / Spiris"  # the product's name in logs and errors
REQUESTS_PER_MINUTE = 600


def visma_tokens(config: VismaConfig, token_file: TokenStore) -> OAuthTokens:
    """The integration's tokens in ``token_file`` (seed it once with ``store_initial``)."""
    endpoint = TokenEndpoint(
        url=config.token_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        grant="refresh_token",
        client_auth="basic",
        reusable_refresh=True,  # new clients' refresh tokens are reusable, whether answered again or not
    )
    return OAuthTokens(token_file, "visma", config.tenant, endpoint)


def visma_error(body: Any) -> str | None:
    """Visma's own words: ``DeveloperErrorMessage`` (with its ``ErrorCode``)."""
    if isinstance(body, dict):
        message = body.get("DeveloperErrorMessage")
        if isinstance(message, str) and message:
            code = body.get("ErrorCode")
            return f"{message} (ErrorCode {code})" if code is not None else message
    return None


class VismaApi:
    """The API of one company: an :class:`ApiClient` and a limiter per endpoint, one token."""

    def __init__(
        self,
        config: VismaConfig,
        auth: Auth,
        *,
        per_minute: int = REQUESTS_PER_MINUTE,
        backoff: float = 1.0,
        max_tries: int = 6,
    ) -> None:
        self.config = config
        self.auth = auth
        self.per_minute = per_minute
        self.backoff = backoff
        self.max_tries = max_tries
        self._clients: dict[str, ApiClient] = {}

    def client(self, endpoint: str) -> ApiClient:
        client = self._clients.get(endpoint)
        if client is None:
            client = ApiClient(
                self.config.base_url,
                self.auth,
                SlidingWindowLimiter(self.per_minute, 60.0),
                error_message=visma_error,
                backoff=self.backoff,
                max_tries=self.max_tries,
            )
            self._clients[endpoint] = client
        return client

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self._clients.values())

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str | int] | None = None, json: Any = None
    ) -> Any:
        return await self.client(path.split("/")[0]).request(method, path, params=params, json=json)

    async def pages(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a ``{"Meta", "Data"}`` list, page by page."""
        page = 1
        while True:
            body = await self.request(
                "GET", path, params={**(params or {}), "$page": page, "$pagesize": self.config.page_size}
            )
            if not isinstance(body, dict) or not isinstance(body.get("Data"), list):
                raise AdapterError(f"{VISMA}: GET {path} answered no list: {str(body)[:200]}")
            for item in body["Data"]:
                if isinstance(item, dict):
                    yield item
            meta = body.get("Meta") or {}
            if page >= int(meta.get("TotalNumberOfPages") or 1) or not body["Data"]:
                return
            page += 1

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()


class VismaCompany:
    """The company the integration was authorised for (``GET /v2/companysettings``), read once."""

    def __init__(self, api: VismaApi) -> None:
        self.api = api
        self.settings: dict[str, Any] | None = None

    async def read(self) -> dict[str, Any]:
        if self.settings is None:
            try:
                body = await self.api.request("GET", "companysettings")
            except (ApiError, ApiUnavailable, TokenError, OutcomeUnknown) as exc:
                raise AdapterError(f"{VISMA}: the company's settings could not be read: {exc}") from None
            if not isinstance(body, dict):
                raise AdapterError(f"{VISMA}: companysettings answered no settings: {body!r:.200}")
            self.settings = body
        return self.settings

    async def orgnr(self) -> str:
        """The company's organisation number, digits only ("" when Visma has none)."""
        return re.sub(r"\D", "", str((await self.read()).get("CorporateIdentityNumber") or ""))
