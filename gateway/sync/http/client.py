"""A JSON client for an ERP's REST API: auth, rate limit, retries that never double a document.

Every request waits for the account's :class:`~gateway.sync.http.limiter.SlidingWindowLimiter`
and carries the credentials of its auth in the scheme the auth names: a bearer token
(:class:`~gateway.sync.http.oauth.OAuthTokens` or a static one) or Basic credentials
(:class:`~gateway.sync.adapters.odata.BasicAuth`). What comes back decides what happens next:

* 2xx — the parsed JSON (``None`` for 204 or an empty body);
* 401 — the token is refreshed once and the request sent again; a second 401 is an error;
* 429 — the request was not carried out: the limiter is paused and the request sent again
  after 1, 2, 4 … s (at most ``max_backoff``), at most ``max_tries`` times;
* 5xx, a dropped connection, a timeout — the same backoff, but only for requests that are
  safe to repeat (GET, HEAD, PUT, DELETE). A POST may have been carried out before the
  answer was lost, and these APIs take no idempotency key: it raises
  :class:`OutcomeUnknown`, and the adapter looks for its own reference on the documents
  before it sends again. (A connection that could not even be opened sent nothing: that
  is retried for any method.)
* any other 4xx — :class:`ApiError`, whose text quotes the vendor's own message, found in
  its error body by the adapter's ``error_message`` function.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp

from gateway.sync.http.limiter import SlidingWindowLimiter

__all__ = ["SAFE_METHODS", "ApiClient", "ApiError", "ApiUnavailable", "Auth", "OutcomeUnknown"]

SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
"""Methods whose repetition does no more than the first request: retried when the outcome is unclear."""


class Auth(Protocol):
    scheme: str  # the word before the token in the Authorization header: "Bearer", "Basic"

    async def access_token(self) -> str:
        """The token (credentials) to send now."""
        ...

    async def after_401(self, rejected: str) -> str | None:
        """The API refused ``rejected``: a new token to try once, or None if there is none."""
        ...


class ApiError(Exception):
    """The API refused the request; ``str()`` quotes its own message."""

    def __init__(self, status: int, body: Any, message: str, request: str = "") -> None:
        super().__init__(status, body, message, request)
        self.status = status
        self.body = body  # the parsed JSON body (or the text if it was not JSON)
        self.message = message
        self.request = request  # "POST vouchers"

    def __str__(self) -> str:
        where = f" to {self.request}" if self.request else ""
        return f"HTTP {self.status}{where}: {self.message}"


class OutcomeUnknown(Exception):
    """A request that is not safe to repeat may or may not have been carried out."""

    def __init__(self, request: str, reason: str) -> None:
        super().__init__(request, reason)
        self.request = request
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.request}: no answer ({self.reason}); it may or may not have been carried out"


class ApiUnavailable(Exception):
    """The API did not answer usefully within ``max_tries`` (connection errors, 5xx, 429s)."""


ErrorMessage = Callable[[Any], str | None]
Sleep = Callable[[float], Awaitable[None]]


def plain_error_message(body: Any) -> str | None:
    """A fallback: ``message`` or ``error`` of a JSON object, else nothing."""
    if isinstance(body, dict):
        for key in ("message", "error", "Message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


class ApiClient:
    """Requests to one API account (one base URL, one token, one rate limit)."""

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        limiter: SlidingWindowLimiter,
        *,
        headers: Mapping[str, str] | None = None,
        error_message: ErrorMessage = plain_error_message,
        max_tries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_tries < 1:
            raise ValueError(f"max_tries: {max_tries} is not 1 or more")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.auth = auth
        self.limiter = limiter
        self.headers = dict(headers or {})
        self.error_message = error_message
        self.max_tries = max_tries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.sleep = sleep
        self.requests = 0  # HTTP requests sent, retries and refused ones included
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _delay(self, attempt: int) -> float:
        return float(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request (with the retries above); the parsed JSON answer or None.

        ``headers`` go with this request only, after the client's own (``If-Match``)."""
        method = method.upper()
        what = f"{method} {path}"
        safe = method in SAFE_METHODS
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        failures = 0
        refreshed = False
        last = ""
        while True:
            await self.limiter.acquire()
            token = await self.auth.access_token()
            sent = {
                "Accept": "application/json",
                **self.headers,
                **(headers or {}),
                "Authorization": f"{self.auth.scheme} {token}",
            }
            self.requests += 1
            try:
                async with self._session.request(
                    method, self.url(path), params=params, json=json, headers=sent
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
            except aiohttp.ClientConnectorError as exc:  # nothing was sent: safe for any method
                last = f"cannot connect: {exc}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not safe:
                    raise OutcomeUnknown(what, last) from None
            else:
                body = _parse(raw)
                if status == 401 and not refreshed:
                    refreshed = True
                    if await self.auth.after_401(token) is not None:
                        continue
                if status == 429:
                    last = "HTTP 429: too many requests"
                    failures += 1
                    if failures >= self.max_tries:
                        raise ApiUnavailable(f"{what}: {last}, {failures} times")
                    delay = self._delay(failures)
                    self.limiter.penalise(delay)
                    await self.sleep(delay)
                    continue
                if status >= 500:
                    message = self.error_message(body) or _text(raw)
                    last = f"HTTP {status}: {message}"
                    if not safe:
                        raise OutcomeUnknown(what, last)
                elif status >= 400:
                    raise ApiError(status, body, self.error_message(body) or _text(raw), what)
                else:
                    return body
            failures += 1
            if failures >= self.max_tries:
                raise ApiUnavailable(f"{what}: {last} ({failures} tries)")
            await self.sleep(self._delay(failures))


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return jsonlib.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").strip()[:500] or "(no body)"
