"""OAuth 2 access tokens for an ERP API, kept in a database so every process shares them.

One row per ``provider`` + ``tenant`` in the ``oauth_tokens`` table: the access token and
when it expires, and the refresh token. Refresh tokens are single use (Fortnox, Visma):
the token endpoint hands out a new one with every refresh and refuses the old one ever
after, so two refreshes racing — two tasks, or two processes on the same file — would
lock the account out until someone authorises it again. Therefore:

* one refresh at a time in a process (an :class:`asyncio.Lock`), and across processes a
  ``BEGIN IMMEDIATE`` transaction on the token file held for the whole exchange — with
  ``[sync].database``, a transaction holding ``pg_advisory_xact_lock`` on the token's
  provider and tenant, which holds for workers on every machine: the second process
  waits, then finds the first one's new token in the row and uses it;
* the new tokens are committed before the access token is handed to anyone, so a crash
  right after a refresh never leaves the only valid refresh token in memory.

A token is refreshed when it has less than :data:`REFRESH_MARGIN` seconds left, or when
the API answered 401 to it (once: see :meth:`OAuthTokens.after_401`).

The file should be one of its own (``tokens.db`` beside the inbox), not the inbox: the
inbox holds its write transaction while an adapter calls the API, and a refresh then
needs a write transaction of its own. In PostgreSQL a refresh has a connection and a
transaction of its own too, so the table can be in the inbox's database.

Two grants: ``refresh_token`` (apps authorised by a user; the first refresh token, or the
authorisation code to exchange for one, is stored once with :func:`store_initial`) and
``client_credentials`` (service accounts: Fortnox with a ``TenantId`` header, Azure AD
for Business Central), which needs nothing stored beforehand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import aiosqlite

from gateway.common.migrations import Step
from gateway.sync.database import migrate_file
from gateway.sync.sql import PostgresConnection, SqlConnection, SqliteConnection

__all__ = [
    "REFRESH_MARGIN",
    "TOKEN_SCHEMA",
    "TOKEN_STEPS",
    "OAuthTokens",
    "StaticBearer",
    "TokenEndpoint",
    "TokenError",
    "TokenStore",
    "store_initial",
]

REFRESH_MARGIN = 60.0
"""Seconds: an access token with less left than this is refreshed before it is used."""

TOKEN_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_tokens (
    provider TEXT NOT NULL,           -- "fortnox", "visma", "bc", …
    tenant TEXT NOT NULL,             -- the account: a Fortnox TenantId, an Azure tenant, "" for one
    access_token TEXT NOT NULL,       -- "" until the first refresh
    expires_at REAL NOT NULL,         -- Unix time the access token stops working
    refresh_token TEXT,               -- the one valid refresh token (NULL for client credentials)
    updated_at REAL NOT NULL,
    PRIMARY KEY (provider, tenant)
);
"""

TOKEN_STEPS = (Step(1, "one OAuth token pair per provider and account (2084e15 on)", TOKEN_SCHEMA),)
"""The versions of the token store file, in order (docs/operations.md lists them)."""

Grant = Literal["refresh_token", "client_credentials"]
ClientAuth = Literal["basic", "form"]


class TokenError(Exception):
    """No usable token: the endpoint refused (its own message quoted) or nothing is stored."""


@dataclass(frozen=True, slots=True)
class TokenEndpoint:
    """Where and how to get tokens for one API."""

    url: str
    client_id: str
    client_secret: str
    grant: Grant = "refresh_token"
    client_auth: ClientAuth = "basic"  # "basic": HTTP Basic (Fortnox, Visma); "form": in the body (Azure AD)
    scope: str | None = (
        None  # sent with client credentials (Azure AD: "https://api.businesscentral…/.default")
    )
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. Fortnox's {"TenantId": "…"}
    timeout: float = 30.0
    # Refresh tokens may be reusable (Visma's newer clients): an answer without a refresh
    # token then leaves the one used valid, and it is kept. False: it is spent (Fortnox).
    reusable_refresh: bool = False


@dataclass(frozen=True, slots=True)
class _Tokens:
    access_token: str
    expires_at: float
    refresh_token: str | None


class StaticBearer:
    """A fixed bearer token (an API key): nothing to refresh, a 401 is final."""

    scheme = "Bearer"

    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self) -> str:
        return self.token

    async def after_401(self, rejected: str) -> str | None:
        return None


async def _connect(path: Path) -> aiosqlite.Connection:
    await migrate_file(path, TOKEN_STEPS, database="the sync module's token store", busy_timeout_ms=60_000)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA busy_timeout=60000")  # another process may be mid-refresh
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
    except BaseException:
        await conn.close()
        raise
    return conn


TokenStore = Path | str
"""The SQLite token file, or the PostgreSQL URL of ``[sync].database``."""


@asynccontextmanager
async def _immediate(where: TokenStore, provider: str, tenant: str) -> AsyncIterator[SqlConnection]:
    """A connection in a transaction that is the one refresh of ``provider`` + ``tenant`` under way
    (``BEGIN IMMEDIATE`` on the file; an advisory lock in PostgreSQL): committed when the block
    ends, rolled back when it raises."""
    if isinstance(where, str):
        async with _postgres_refresh(where, provider, tenant) as db:
            yield db
        return
    conn = await _connect(where)
    try:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield SqliteConnection(conn)
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    finally:
        await conn.close()


@asynccontextmanager
async def _postgres_refresh(url: str, provider: str, tenant: str) -> AsyncIterator[SqlConnection]:
    import psycopg  # the driver loads only with [sync].database

    from gateway.sync.postgres import lock_key

    async with (
        await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10) as conn,
        conn.transaction(),
    ):
        db = PostgresConnection(conn)
        await db.execute("SELECT pg_advisory_xact_lock(?)", (lock_key("oauth", provider, tenant),))
        await db.executescript(TOKEN_SCHEMA)
        yield db


def _quote_error(status: int, text: str) -> str:
    """The endpoint's own words: ``error: error_description`` when it answers OAuth-style JSON."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        described = body.get("error_description") or body.get("message")
        return f"HTTP {status}: {body['error']}" + (f": {described}" if described else "")
    return f"HTTP {status}: {text.strip()[:500] or '(no body)'}"


async def _call_endpoint(endpoint: TokenEndpoint, form: dict[str, str], now: float) -> _Tokens:
    """POST ``form`` to the token endpoint; the tokens it answers, or :class:`TokenError`."""
    headers = {"Accept": "application/json", **endpoint.headers}
    data = dict(form)
    if endpoint.client_auth == "basic":
        pair = f"{endpoint.client_id}:{endpoint.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    else:
        data["client_id"] = endpoint.client_id
        data["client_secret"] = endpoint.client_secret
    timeout = aiohttp.ClientTimeout(total=endpoint.timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                endpoint.url,
                data=data,
                headers=headers,
            ) as resp,
        ):
            text = await resp.text()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TokenError(
            f"the token endpoint {endpoint.url} cannot be reached: {exc or type(exc).__name__}"
        ) from None
    if status != 200:
        raise TokenError(f"the token endpoint {endpoint.url} refused: {_quote_error(status, text)}")
    try:
        body: Any = json.loads(text)
        access = body["access_token"]
        expires_in = float(body.get("expires_in", 3600))
        refresh = body.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise TypeError
        if refresh is not None and not isinstance(refresh, str):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise TokenError(f"the token endpoint {endpoint.url} answered no token: {text[:300]!r}") from None
    return _Tokens(access, now + expires_in, refresh)


class OAuthTokens:
    """The access token of one ``provider`` + ``tenant``, refreshed as needed and persisted."""

    scheme = "Bearer"

    def __init__(
        self,
        path: TokenStore,
        provider: str,
        tenant: str,
        endpoint: TokenEndpoint,
        *,
        margin: float = REFRESH_MARGIN,
    ) -> None:
        self.path = path
        self.provider = provider
        self.tenant = tenant
        self.endpoint = endpoint
        self.margin = margin
        self.refreshes = 0  # token endpoint calls made by this object
        self._current: _Tokens | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, tokens: _Tokens | None) -> bool:
        if tokens is None or not tokens.access_token:
            return False
        return tokens.expires_at - time.time() > self.margin

    async def access_token(self) -> str:
        """A token with more than ``margin`` seconds left, refreshing (and persisting) if needed."""
        current = self._current
        if current is not None and self._fresh(current):
            return current.access_token
        async with self._lock:
            if self._current is not None and self._fresh(self._current):
                return self._current.access_token
            return await self._refresh(stale=None)

    async def after_401(self, rejected: str) -> str | None:
        """The API refused ``rejected``: a new token (someone else's newer one, or a refresh)."""
        async with self._lock:
            current = self._current
            if current is not None and current.access_token != rejected and self._fresh(current):
                return current.access_token
            return await self._refresh(stale=rejected)

    async def _refresh(self, stale: str | None) -> str:
        """Under ``BEGIN IMMEDIATE``: take a newer token from the row, or refresh and commit."""
        async with _immediate(self.path, self.provider, self.tenant) as conn:
            async with conn.execute(
                "SELECT access_token, expires_at, refresh_token FROM oauth_tokens "
                "WHERE provider = ? AND tenant = ?",
                (self.provider, self.tenant),
            ) as cursor:
                row = await cursor.fetchone()
            stored = _Tokens(str(row[0]), float(row[1]), row[2]) if row is not None else None
            if stored is not None and stored.access_token != stale and self._fresh(stored):
                tokens = stored  # another process refreshed while we waited
            else:
                tokens = await self._ask(stored)
                await conn.execute(
                    "INSERT INTO oauth_tokens (provider, tenant, access_token, expires_at, refresh_token, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, tenant) DO UPDATE SET "
                    "access_token = excluded.access_token, expires_at = excluded.expires_at, "
                    "refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
                    (
                        self.provider,
                        self.tenant,
                        tokens.access_token,
                        tokens.expires_at,
                        tokens.refresh_token,
                        time.time(),
                    ),
                )
        self._current = tokens  # committed, so durable, before the token is used
        return tokens.access_token

    async def _ask(self, stored: _Tokens | None) -> _Tokens:
        endpoint = self.endpoint
        key = f"{self.provider}/{self.tenant or '-'}"
        if endpoint.grant == "client_credentials":
            form = {"grant_type": "client_credentials"}
            if endpoint.scope:
                form["scope"] = endpoint.scope
        else:
            if stored is None or not stored.refresh_token:
                raise TokenError(
                    f"{key}: no refresh token stored in {self.path}; authorise the integration first"
                )
            form = {"grant_type": "refresh_token", "refresh_token": stored.refresh_token}
        self.refreshes += 1
        tokens = await _call_endpoint(endpoint, form, time.time())
        if endpoint.grant == "refresh_token" and not tokens.refresh_token:
            if endpoint.reusable_refresh and stored is not None and stored.refresh_token:
                return _Tokens(tokens.access_token, tokens.expires_at, stored.refresh_token)
            # The old refresh token is spent; keeping it would only get invalid_grant later.
            raise TokenError(f"{key}: the token endpoint {endpoint.url} answered no new refresh token")
        return tokens


async def store_initial(
    path: TokenStore,
    provider: str,
    tenant: str,
    endpoint: TokenEndpoint,
    *,
    refresh_token: str | None = None,
    code: str | None = None,
    redirect_uri: str | None = None,
) -> None:
    """Store the first refresh token, or exchange an authorisation ``code`` and store the tokens.

    Exactly one of ``refresh_token`` and ``code`` (with the ``redirect_uri`` the code was
    issued for). Whatever was stored for ``provider`` + ``tenant`` before is replaced.
    """
    if (refresh_token is None) == (code is None):
        raise ValueError("give either a refresh token or an authorisation code")
    async with _immediate(path, provider, tenant) as conn:
        if code is not None:
            form = {"grant_type": "authorization_code", "code": code}
            if redirect_uri:
                form["redirect_uri"] = redirect_uri
            tokens = await _call_endpoint(endpoint, form, time.time())
            if not tokens.refresh_token:
                raise TokenError(f"the token endpoint {endpoint.url} answered no refresh token")
        else:
            assert refresh_token is not None
            if not refresh_token.strip():
                raise ValueError("the refresh token is empty")
            tokens = _Tokens("", 0.0, refresh_token.strip())
        await conn.execute(
            "INSERT INTO oauth_tokens (provider, tenant, access_token, expires_at, refresh_token, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, tenant) DO UPDATE SET "
            "access_token = excluded.access_token, expires_at = excluded.expires_at, "
            "refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
            (provider, tenant, tokens.access_token, tokens.expires_at, tokens.refresh_token, time.time()),
        )
