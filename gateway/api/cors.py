"""CORS: the POS's web page, served from another origin, may call the API from a browser.

A browser lets a page read the answer of another origin only when that origin says so.
``[api].cors_origins`` lists the origins allowed (``https://pos.example.se``); with none
(the default) this middleware is not installed and the API sends no CORS headers at all,
so a browser keeps every other site's page away from it.

* A *preflight* — ``OPTIONS`` with ``Access-Control-Request-Method`` — from a listed
  origin is answered here, 204, before the token is checked: the browser sends it without
  the ``Authorization`` header it is asking about. It names the methods (GET, POST) and
  the request headers (``authorization``, ``content-type``) the API takes, and how long
  the browser may keep that answer. A preflight from any other origin goes on as any
  request does and is refused by the token check, without a CORS header.
* Every other answer to a listed origin — errors included, a 401 among them — carries
  ``Access-Control-Allow-Origin``, so the page can read the JSON error and show it.

The middleware is the outermost one, around the error middleware, so it sees every
error as the response it becomes. Every answer carries ``Vary: Origin``: whether it allows
a page depends on the ``Origin`` it was asked from, and a cache must not hand one origin's
answer to another. No ``Access-Control-Allow-Credentials``: the POS sends the bearer token,
and the status page's session cookie (``gateway.api.session``) stays its own origin's.

The WebSocket (``GET /v1/events``) is left as it is: browsers do not apply CORS to
WebSockets, and the handshake is sent before this middleware sees the answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "MAX_AGE", "cors_middleware"]

ALLOWED_METHODS = "GET, POST"  # every endpoint's method (docs/api.md)
ALLOWED_HEADERS = "authorization, content-type"  # the token, and the JSON body's type
MAX_AGE = 3600  # seconds a browser may keep a preflight's answer (Chromium keeps at most 7200)


def _vary_on_origin(response: web.StreamResponse) -> None:
    """Add ``Origin`` to the response's ``Vary``, keeping what is there."""
    vary = [word.strip() for word in response.headers.get(hdrs.VARY, "").split(",") if word.strip()]
    if not any(word.lower() == "origin" or word == "*" for word in vary):
        response.headers[hdrs.VARY] = ", ".join([*vary, "Origin"])


def _allow(response: web.StreamResponse, origin: str | None) -> None:
    """The headers of an answer to ``origin`` (None: not a listed one)."""
    if response.prepared:  # already sent (the WebSocket's handshake)
        return
    _vary_on_origin(response)
    if origin is not None:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin


def cors_middleware(origins: Iterable[str]) -> Middleware:
    """The middleware for the ``origins`` allowed, each as a browser sends ``Origin``
    (``scheme://host[:port]``, lower case; gateway.config checks them)."""
    allowed = frozenset(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        listed = origin if origin in allowed else None
        if (
            listed is not None
            and request.method == hdrs.METH_OPTIONS
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        ):
            preflight = web.Response(
                status=204,
                headers={
                    hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOWED_METHODS,
                    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOWED_HEADERS,
                    hdrs.ACCESS_CONTROL_MAX_AGE: str(MAX_AGE),
                },
            )
            _allow(preflight, listed)
            return preflight
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a redirect (the error middleware answers every error)
            _allow(exc, listed)
            raise
        _allow(response, listed)
        return response

    return middleware
