"""The bearer token: ``Authorization: Bearer <token>`` on every request.

The token is the till's (``<data-dir>/api-token``, made on first start). It is compared
in constant time. Browsers cannot set headers on a WebSocket, so the event stream
(``GET /v1/events``) also takes it as ``?token=…``; nothing else does, because a token
in a URL ends up in histories and logs (the API's own access log leaves query strings
out for that reason).

The check comes before routing errors: without the token, an unknown path is a 401 as
well, so the API does not tell a stranger which paths exist.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.api.errors import ApiError

__all__ = ["EVENTS_PATH", "auth_middleware", "token_matches"]

EVENTS_PATH = "/v1/events"


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


def _presented(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    if request.path == EVENTS_PATH and request.method == "GET":
        return request.query.get("token")
    return None


def auth_middleware(token: str) -> Middleware:
    if not token:
        raise ValueError("the API token must not be empty")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = _presented(request)
        if given is None:
            raise ApiError(
                401,
                "unauthorized",
                "this API needs the till's token: send 'Authorization: Bearer <token>' "
                "(the token is in <data-dir>/api-token)",
                headers={"WWW-Authenticate": 'Bearer realm="tillgw"'},
            )
        if not token_matches(given, token):
            raise ApiError(
                401,
                "unauthorized",
                "the token is not this till's token (see <data-dir>/api-token)",
                headers={"WWW-Authenticate": 'Bearer realm="tillgw", error="invalid_token"'},
            )
        return await handler(request)

    return middleware
