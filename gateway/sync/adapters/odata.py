"""What OData v4 services of Dynamics NAV and Business Central need beyond the shared JSON client.

* **Basic auth.** NAV's service tier takes a user name and a password (or the user's web
  service access key as the password) in ``Authorization: Basic …``. The shared
  :class:`~gateway.sync.http.client.ApiClient` sends ``Bearer {token}``; :class:`BasicAuth`
  hands it the encoded credentials as the "token" and :class:`ODataClient` changes the
  scheme word on the way out, so retries, 5xx handling and :class:`OutcomeUnknown` stay
  those of the shared client.
* **If-Match.** An update (``PATCH``) must name the entity's ``@odata.etag``; a stale one
  is refused with 412, so a record changed in the ERP meanwhile is never overwritten.
* **Server-driven paging.** A list ends with ``@odata.nextLink`` while there is more.
* **Errors** as ``{"error": {"code": …, "message": …}}``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import aiohttp

from gateway.sync.http.client import ApiClient

__all__ = ["BasicAuth", "ODataClient", "company_url", "odata_error", "odata_quote"]

_COMPANY_URL = re.compile(r"^(https?://[^/\s]+/.*ODataV4)/Company\('(.+)'\)$")

_IF_MATCH: ContextVar[str | None] = ContextVar("odata_if_match", default=None)


def odata_error(body: Any) -> str | None:
    """The service's own words: ``error.message`` (``error.code``)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message, code = body["error"].get("message"), body["error"].get("code")
        if isinstance(message, str) and message:
            return f"{message} ({code})" if code else message
    return None


def odata_quote(value: str) -> str:
    """A text as an OData string literal's inside (a quote doubled)."""
    return value.replace("'", "''")


def company_url(url: str) -> tuple[str, str] | None:
    """(service root, company name) of ``…/ODataV4/Company('name')``, or None if it is not one."""
    m = _COMPANY_URL.match(url.rstrip("/"))
    if m is None:
        return None
    return m.group(1), unquote(m.group(2)).replace("''", "'")


class BasicAuth:
    """User name and password for ``Authorization: Basic`` (an :class:`Auth` with nothing to refresh)."""

    def __init__(self, username: str, password: str) -> None:
        self._encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    async def access_token(self) -> str:
        return self._encoded

    async def after_401(self, rejected: str) -> str | None:
        return None  # a refused password does not get better by sending it again


class ODataClient(ApiClient):
    """An :class:`ApiClient` that can send Basic credentials and ``If-Match``, and follow next links."""

    def __init__(self, *args: Any, basic: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.basic = basic

    async def _outgoing(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if self.basic:
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                request.headers["Authorization"] = "Basic " + header[7:]
        etag = _IF_MATCH.get()
        if etag is not None:
            request.headers["If-Match"] = etag
        return await handler(request)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), middlewares=(self._outgoing,)
            )
        return await super().request(method, path, params=params, json=json)

    async def patch(self, path: str, json: Any, etag: str) -> Any:
        """``PATCH`` with ``If-Match: etag``; a stale etag comes back as an :class:`ApiError` 412."""
        token = _IF_MATCH.set(etag)
        try:
            return await self.request("PATCH", path, json=json)
        finally:
            _IF_MATCH.reset(token)

    async def values(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every entity of a list, following ``@odata.nextLink``."""
        body = await self.request("GET", path, params=params)
        base = unquote(urlsplit(self.base_url).path)
        while True:
            for item in (body or {}).get("value", []):
                if isinstance(item, dict):
                    yield item
            link = (body or {}).get("@odata.nextLink")
            if not isinstance(link, str):
                return
            parts = urlsplit(link)
            link_path = unquote(parts.path)
            relative = link_path[len(base) :] if link_path.startswith(base) else link_path
            body = await self.request("GET", relative, params=dict(parse_qsl(parts.query)))
