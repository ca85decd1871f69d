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
import json
from functools import cache
from importlib import resources
from string import Template

from aiohttp import web

from gateway.api.auth import token_matches
from gateway.api.errors import ApiError
from gateway.api.session import COOKIE, Sessions
from gateway.common.i18n import N_, PAGE_MARK, SCRIPT_MARK, catalog

__all__ = ["PAGE_LANGUAGE", "SESSIONS", "SESSION_KEY_FILE", "add_page_routes", "page_words"]

SESSIONS = web.AppKey("sessions", Sessions)
PAGE_LANGUAGE = web.AppKey("page_language", str)
SESSION_KEY_FILE = "session-key"  # in the data directory, beside api-token

_STATIC = resources.files("gateway.api") / "static"
_PAGE_SOURCE = _STATIC.joinpath("status.html").read_text(encoding="utf-8")
_SCRIPT = _STATIC.joinpath("status.js").read_bytes()

# The page's words for a person are marked in its source, translated when it is served, in the
# till's language (docs/languages.md): ``[[words]]`` in the HTML, ``t("words")`` in the script.
# A marked text of the HTML is put in as the catalog has it (the catalog is ours and may hold
# <code>); the script's words go to it as JSON in a data block the script reads.


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


def script_words() -> list[str]:
    """The texts the script marks with ``t("…")``."""
    return list(dict.fromkeys(json.loads(f'"{m}"') for m in SCRIPT_MARK.findall(_SCRIPT.decode("utf-8"))))


def page_words() -> list[str]:
    """Every text the page and its script mark for translation."""
    return list(dict.fromkeys(PAGE_MARK.findall(_PAGE_SOURCE) + script_words()))


@cache
def _page_in(language: str) -> Template:
    """The page's template with its words in ``language``, the script's words included."""
    words = catalog(language)
    # "</" cannot end the data block early once "<" is written as \u003c; "$" is the template's.
    data = json.dumps({m: words.gettext(m) for m in script_words()}, ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace("$", "$$")
    text = PAGE_MARK.sub(lambda m: words.gettext(m.group(1)).replace("$", "$$"), _PAGE_SOURCE)
    return Template(text.replace("$lang", language).replace("$words", data))


def _page(language: str, *, logged_in: bool, error: str = "", status: int = 200) -> web.Response:
    body = _page_in(language).substitute(
        login_hidden="hidden" if logged_in else "",
        status_hidden="" if logged_in else "hidden",
        error=html.escape(error),
        error_hidden="" if error else "hidden",
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _logged_in(request: web.Request) -> bool:
    return request.app[SESSIONS].valid(request.cookies.get(COOKIE))


async def get_page(request: web.Request) -> web.Response:
    return _page(request.app[PAGE_LANGUAGE], logged_in=_logged_in(request))


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


def add_page_routes(app: web.Application, sessions: Sessions, token: str, language: str) -> None:
    """The page, its script, the login (with the till's ``token``) and the logout on ``app``;
    the page speaks ``language`` (``[shop] language``)."""
    app[SESSIONS] = sessions
    app[PAGE_LANGUAGE] = language

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
            wrong = catalog(language).gettext(N_("Wrong token"))
            return _page(language, logged_in=False, error=wrong, status=401)
        response = _back_to_page()
        response.set_cookie(
            COOKIE, sessions.issue(), max_age=sessions.lifetime, path="/", httponly=True, samesite="Strict"
        )
        return response

    app.router.add_get("/", get_page, allow_head=False)
    app.router.add_get("/static/status.js", get_script, allow_head=False)
    app.router.add_post("/login", post_login)
    app.router.add_post("/logout", post_logout)
