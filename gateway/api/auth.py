"""The bearer token: ``Authorization: Bearer <token>`` on every request.

The token is the till's (``<data-dir>/api-token``, made on first start). It is compared
in constant time. Browsers cannot set headers on a WebSocket, so the event stream
(``GET /v1/events``) also takes it as ``?token=…``; nothing else does, because a token
in a URL ends up in histories and logs (the API's own access log leaves query strings
out for that reason).

The check comes before routing errors: without the token, an unknown path is a 401 as
well, so the API does not tell a stranger which paths exist.

The OpenAPI document (``GET /v1/openapi.json``) needs no token either: it describes
the API as docs/api.md does, and a POS developer's tools fetch it before they have one.

The status page (``gateway.api.page``) is the other exception: ``/``, its script under
``/static/``, ``POST /login`` and ``POST /logout`` need no token — the page shows nothing
until its user logs in with the token, and gets a session cookie for it
(``gateway.api.session``). That cookie stands in for the token on ``GET`` requests only,
the WebSocket among them, and only from the till's own pages (a request whose ``Origin``
is another site is not taken on the cookie's word). Every ``POST`` still needs the
bearer token in the header: the page only reads, so the cookie can never make a sale,
open the drawer or close the day — a cross-site request forgery has nothing to forge.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.api.errors import ApiError
from gateway.api.session import COOKIE, Sessions

__all__ = [
    "EVENTS_PATH",
    "OPENAPI_PATH",
    "PUBLIC_PATHS",
    "STATIC_PREFIX",
    "auth_middleware",
    "token_matches",
]

EVENTS_PATH = "/v1/events"
OPENAPI_PATH = "/v1/openapi.json"  # the API's description: it tells no more than docs/api.md
# The status page and its login, and the OpenAPI document: no token.
PUBLIC_PATHS = frozenset({"/", "/login", "/logout", OPENAPI_PATH})
STATIC_PREFIX = "/static/"  # the page's script: no token


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


def _same_origin(request: web.Request) -> bool:
    """No ``Origin`` (a plain same-origin GET), or the one this request was sent to."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == request.host.lower()


def session_allows(request: web.Request, sessions: Sessions | None) -> bool:
    """A GET from the till's own page with a valid session cookie (never a POST: see above)."""
    return (
        sessions is not None
        and request.method == "GET"
        and _same_origin(request)
        and sessions.valid(request.cookies.get(COOKIE))
    )


def auth_middleware(token: str, sessions: Sessions | None = None) -> Middleware:
    """The check; ``sessions`` lets the status page's cookie stand in for the token on GETs."""
    if not token:
        raise ValueError("the API token must not be empty")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path.startswith(STATIC_PREFIX):
            return await handler(request)
        given = _presented(request)
        if given is None:
            if "Authorization" not in request.headers and session_allows(request, sessions):
                return await handler(request)
            cookie_only = request.method != "GET" and COOKIE in request.cookies
            raise ApiError(
                401,
                "unauthorized",
                "this API needs the till's token: send 'Authorization: Bearer <token>' "
                "(the token is in <data-dir>/api-token)"
                + ("; the status page's session is for reading only" if cookie_only else ""),
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
