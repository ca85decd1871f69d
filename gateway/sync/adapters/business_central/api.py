"""Business Central API v2.0: one company's client, its tokens and its error messages.

Azure AD client-credential tokens (:func:`bc_tokens`), kept in the sync module's token
file; one :class:`~gateway.sync.adapters.odata.ODataClient` per company, held to BC's
limit of 6000 requests in 5 minutes. The booking (:mod:`.adapter`), master data
(:mod:`.source`) and orders (:mod:`.orders`) share it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from gateway.sync.adapters.business_central.config import BusinessCentralConfig
from gateway.sync.adapters.odata import ODataClient, odata_error
from gateway.sync.http.client import Auth
from gateway.sync.http.limiter import SlidingWindowLimiter
from gateway.sync.http.oauth import OAuthTokens, TokenEndpoint, TokenStore

__all__ = ["REQUESTS_PER_WINDOW", "WINDOW", "BusinessCentralApi", "bc_error", "bc_tokens"]

REQUESTS_PER_WINDOW = 6000
WINDOW = 300.0


def bc_tokens(config: BusinessCentralConfig, token_file: TokenStore) -> OAuthTokens:
    """Client-credential tokens (Azure AD), cached in ``token_file``."""
    endpoint = TokenEndpoint(
        url=config.token_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        grant="client_credentials",
        client_auth="form",
        scope=config.scope,
    )
    return OAuthTokens(token_file, "bc", config.company_id, endpoint)


bc_error = odata_error  # BC answers errors as any OData v4 service: error.message (error.code)


class BusinessCentralApi:
    """One company's API: one client, one limiter (6000 requests in 5 minutes)."""

    def __init__(
        self, config: BusinessCentralConfig, auth: Auth, *, backoff: float = 1.0, max_tries: int = 6
    ):
        self.config = config
        self.company = f"companies({config.company_id})"
        self.client = ODataClient(
            config.base_url,
            auth,
            SlidingWindowLimiter(REQUESTS_PER_WINDOW, WINDOW),
            error_message=bc_error,
            backoff=backoff,
            max_tries=max_tries,
        )

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> Any:
        return await self.client.request(method, f"{self.company}/{path}", params=params, json=json)

    def values(self, path: str, params: Mapping[str, str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every entity of one of the company's lists, following ``@odata.nextLink``."""
        return self.client.values(f"{self.company}/{path}", params)

    async def close(self) -> None:
        await self.client.close()
