"""Dynamics NAV's OData v4 page services: one company's client, with Basic auth.

The booking (:mod:`.adapter`), master data (:mod:`.source`) and orders (:mod:`.orders`)
share it; each page is reached by its key in ``[sync.nav].services`` (:meth:`NavApi.path`).
"""

from __future__ import annotations

from typing import Any

from gateway.sync.adapters.nav.config import NavConfig
from gateway.sync.adapters.odata import BasicAuth, ODataClient, odata_error, odata_quote
from gateway.sync.http.limiter import SlidingWindowLimiter

__all__ = ["REQUESTS_PER_SECOND", "NavApi"]

# NAV publishes no request limit. This one is ours, loose enough never to slow a till's
# sales, there only so that a run of retries cannot flood the shop's service tier.
REQUESTS_PER_SECOND = 50


class NavApi:
    """One company's page services: one client with Basic auth."""

    def __init__(self, config: NavConfig, *, backoff: float = 1.0, max_tries: int = 6) -> None:
        self.config = config
        self.prefix = f"Company('{odata_quote(config.company)}')/"
        self.client = ODataClient(
            config.root,
            BasicAuth(config.username, config.password),
            SlidingWindowLimiter(REQUESTS_PER_SECOND, 1.0),
            basic=True,
            error_message=odata_error,
            backoff=backoff,
            max_tries=max_tries,
        )

    def path(self, page: str, key: str | None = None) -> str:
        """The company's path of a page service (by its key in ``services``), of one entity if ``key``."""
        service = self.config.services[page]
        return f"{self.prefix}{service}" + (f"({key})" if key is not None else "")

    async def first(self, page: str, where: str) -> dict[str, Any] | None:
        async for item in self.client.values(self.path(page), {"$filter": where}):
            return item
        return None

    async def close(self) -> None:
        await self.client.close()
