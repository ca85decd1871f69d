"""Talking to Fortnox: the client for one company, its error messages, its paged lists.

Fortnox allows 25 requests in any 5 s per client and tenant; the limiter here allows 25
in 5.25 s, because our clock starts a request a little before Fortnox's clock sees it
arrive, and that difference varies from one request to the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from gateway.sync.adapters.fortnox.config import FortnoxConfig
from gateway.sync.http import ApiClient, OAuthTokens, SlidingWindowLimiter, TokenEndpoint
from gateway.sync.http.oauth import TokenStore

__all__ = [
    "MAX_REQUESTS",
    "PAGE_SIZE",
    "WINDOW",
    "error_message",
    "fortnox_client",
    "fortnox_token_endpoint",
    "pages",
]

MAX_REQUESTS = 25
WINDOW = 5.25  # Fortnox's 5 s, and room for the time a request takes to arrive
PAGE_SIZE = 500  # the largest page Fortnox hands out


def error_message(body: Any) -> str | None:
    """Fortnox's own words: ``ErrorInformation.message`` (and its code) of an error body."""
    if not isinstance(body, dict):
        return None
    info = body.get("ErrorInformation") or body.get("errorInformation")
    if isinstance(info, dict):
        message = info.get("message") or info.get("Message")
        code = info.get("code") or info.get("Code")
        if isinstance(message, str) and message:
            return f"{message} (code {code})" if code is not None else message
    message = body.get("message")
    return message if isinstance(message, str) and message else None


def fortnox_token_endpoint(config: FortnoxConfig) -> TokenEndpoint:
    """Fortnox's token endpoint for ``config`` (also what ``store_initial`` needs).

    HTTP Basic with the client id and secret and a form body; a service account also
    sends its ``TenantId``.
    """
    service = config.grant == "client_credentials"
    return TokenEndpoint(
        url=config.token_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        grant="client_credentials" if service else "refresh_token",
        client_auth="basic",
        headers={"TenantId": config.tenant_id} if service and config.tenant_id else {},
    )


def fortnox_client(
    config: FortnoxConfig,
    tokens_db: TokenStore,
    *,
    limiter: SlidingWindowLimiter | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    backoff: float = 1.0,
) -> ApiClient:
    """The client for the company of ``config``; its tokens in ``tokens_db`` (``oauth_tokens``)."""
    endpoint = fortnox_token_endpoint(config)
    tokens = OAuthTokens(tokens_db, "fortnox", config.tenant_key, endpoint)
    extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    return ApiClient(
        config.base_url,
        tokens,
        limiter or SlidingWindowLimiter(MAX_REQUESTS, WINDOW),
        error_message=error_message,
        backoff=backoff,
        **extra,
    )


async def pages(
    client: ApiClient, path: str, name: str, params: dict[str, str | int] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every item of a paged list (``name``: the list's key, ``Articles``), page after page."""
    page = 1
    while True:
        body = await client.request("GET", path, params={**(params or {}), "limit": PAGE_SIZE, "page": page})
        if not isinstance(body, dict) or not isinstance(body.get(name), list):
            raise ValueError(f"GET {path}: the answer has no {name} list")
        for item in body[name]:
            if isinstance(item, dict):
                yield item
        meta = body.get("MetaInformation") or {}
        total = int(meta.get("@TotalPages", 1) or 1)
        if page >= total:
            return
        page += 1
