"""The till's status page: ``GET /`` for a shop owner or a technician (docs/status-page.md).

One self-contained HTML page (``static/status.html``, its CSS inline) and one small script
(``static/status.js``), both in the package: no CDN, no build, works offline on a till.
The page shows nothing until its user logs in with the till's token (``POST /login``,
a form that works without script too); the answer is a session cookie
(:mod:`gateway.api.session`), with which the script reads ``GET /v1/status``,
``GET /v1/receipts?last=10`` and ``GET /v1/reports/z?last=1`` and follows
``GET /v1/events``. The cookie is good for GETs only (:mod:`gateway.api.auth`): the page
reads, it never sells, so it cannot be made to.
"""

from __future__ import annotations

import html
from importlib import resources
from string import Template

from aiohttp import web

from gateway.api.auth import token_matches
from gateway.api.errors import ApiError
from gateway.api.session import COOKIE, Sessions

__all__ = ["SESSIONS", "SESSION_KEY_FILE", "add_page_routes"]

SESSIONS = web.AppKey("sessions", Sessions)
SESSION_KEY_FILE = "session-key"  # in the data directory, beside api-token

_STATIC = resources.files("gateway.api") / "static"
_PAGE = Template(_STATIC.joinpath("status.html").read_text(encoding="utf-8"))
_SCRIPT = _STATIC.joinpath("status.js").read_bytes()

# The page loads nothing from elsewhere and may not be framed; its CSS is inline.
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(*, logged_in: bool, error: str = "", status: int = 200) -> web.Response:
    body = _PAGE.substitute(
        login_hidden="hidden" if logged_in else "",
        status_hidden="" if logged_in else "hidden",
        error=html.escape(error),
        error_hidden="" if error else "hidden",
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _logged_in(request: web.Request) -> bool:
    return request.app[SESSIONS].valid(request.cookies.get(COOKIE))


async def get_page(request: web.Request) -> web.Response:
    return _page(logged_in=_logged_in(request))


async def get_script(request: web.Request) -> web.Response:
    return web.Response(
        body=_SCRIPT,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _back_to_page() -> web.Response:
    return web.Response(status=303, headers={**_HEADERS, "Location": "/"})


async def post_logout(request: web.Request) -> web.Response:
    response = _back_to_page()
    response.del_cookie(COOKIE, path="/")
    return response


def add_page_routes(app: web.Application, sessions: Sessions, token: str) -> None:
    """The page, its script, the login (with the till's ``token``) and the logout on ``app``."""
    app[SESSIONS] = sessions

    async def post_login(request: web.Request) -> web.Response:
        """The form's token: right — a session cookie and back to the page; wrong — the form, 401."""
        try:
            form = await request.post()
        except (ValueError, LookupError):  # a form that is not one: no boundary, bad bytes, no such charset
            raise ApiError(
                400,
                "bad_request",
                "the login form could not be read: send token=… as application/x-www-form-urlencoded",
            ) from None
        given = form.get("token")
        if not isinstance(given, str) or not given.strip() or not token_matches(given.strip(), token):
            return _page(logged_in=False, error="Fel token (wrong token)", status=401)
        response = _back_to_page()
        response.set_cookie(
            COOKIE, sessions.issue(), max_age=sessions.lifetime, path="/", httponly=True, samesite="Strict"
        )
        return response

    app.router.add_get("/", get_page, allow_head=False)
    app.router.add_get("/static/status.js", get_script, allow_head=False)
    app.router.add_post("/login", post_login)
    app.router.add_post("/logout", post_logout)
