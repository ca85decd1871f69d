"""What OData v4 services of Dynamics NAV and Business Central need beyond the shared JSON client.

* **Basic auth.** NAV's service tier takes a user name and a password (or the user's web
  service access key as the password) in ``Authorization: Basic …``. :class:`BasicAuth`
  is an :class:`~gateway.sync.http.client.Auth` of scheme ``Basic`` that hands the shared
  client the encoded credentials as its token, so retries, 5xx handling and
  :class:`OutcomeUnknown` stay those of the shared client.
* **If-Match.** An update (``PATCH``) must name the entity's ``@odata.etag``; a stale one
  is refused with 412, so a record changed in the ERP meanwhile is never overwritten.
* **Server-driven paging.** A list ends with ``@odata.nextLink`` while there is more.
* **Errors** as ``{"error": {"code": …, "message": …}}``.
* **Filters** on a time (:func:`odata_time`, :func:`changed_since`), which Visma's API
  takes in the same form.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from gateway.sync.http.client import ApiClient

__all__ = [
    "BasicAuth",
    "ODataClient",
    "changed_since",
    "odata_error",
    "odata_quote",
    "odata_time",
]


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


def odata_time(moment: datetime) -> str:
    """A moment as the filter literal: UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def changed_since(field: str, since: datetime | None) -> dict[str, str]:
    """The ``$filter`` of the entities whose ``field`` (a time) is after ``since``; none for None."""
    return {"$filter": f"{field} gt {odata_time(since)}"} if since is not None else {}


class BasicAuth:
    """User name and password for ``Authorization: Basic`` (an :class:`Auth` with nothing to refresh)."""

    scheme = "Basic"

    def __init__(self, username: str, password: str) -> None:
        self._encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    async def access_token(self) -> str:
        return self._encoded

    async def after_401(self, rejected: str) -> str | None:
        return None  # a refused password does not get better by sending it again


class ODataClient(ApiClient):
    """An :class:`ApiClient` that sends ``If-Match`` with an update and follows next links.

    ``basic``: the service takes Basic credentials only (NAV's service tier); an auth of
    another scheme is refused here, at once, rather than by the service on every request.
    """

    def __init__(self, *args: Any, basic: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if basic and self.auth.scheme != BasicAuth.scheme:
            raise ValueError(f"the service takes Basic credentials, not {self.auth.scheme}")

    async def patch(self, path: str, json: Any, etag: str) -> Any:
        """``PATCH`` with ``If-Match: etag``; a stale etag comes back as an :class:`ApiError` 412."""
        return await self.request("PATCH", path, json=json, headers={"If-Match": etag})

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
