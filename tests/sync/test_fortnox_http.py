"""The shared ERP HTTP layer against the fake Fortnox over real sockets: the limiter, OAuth
tokens in SQLite (rotation, expiry, two processes), and the client's retry rules."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.sync.adapters.fortnox.api import error_message
from gateway.sync.http import (
    ApiClient,
    ApiError,
    ApiUnavailable,
    OAuthTokens,
    OutcomeUnknown,
    SlidingWindowLimiter,
    StaticBearer,
    TokenEndpoint,
    TokenError,
    store_initial,
)
from tests.sync.fakes.fortnox import FakeFortnox, running


def endpoint(fake: FakeFortnox, **over: object) -> TokenEndpoint:
    settings: dict[str, object] = {
        "url": fake.token_url,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    settings.update(over)
    return TokenEndpoint(**settings)  # type: ignore[arg-type]


def service_tokens(fake: FakeFortnox, path: Path) -> OAuthTokens:
    return OAuthTokens(
        path,
        "fortnox",
        fake.tenant.tenant_id,
        endpoint(fake, grant="client_credentials", headers={"TenantId": fake.tenant.tenant_id}),
    )


class Sleeps:
    """An injected sleep: records each backoff and yields briefly instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def stored_row(path: Path) -> tuple[str, str | None]:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT access_token, refresh_token FROM oauth_tokens").fetchone()
    finally:
        conn.close()
    return row[0], row[1]


# -- the limiter -------------------------------------------------------------------------


class RecordingLimiter(SlidingWindowLimiter):
    """The limiter, noting on the loop's clock when it let each request through."""

    def __init__(self, max_requests: int, window: float) -> None:
        super().__init__(max_requests, window)
        self.granted: list[float] = []

    async def acquire(self) -> None:
        await super().acquire()
        self.granted.append(asyncio.get_running_loop().time())


def most_in_window(times: list[float], window: float) -> int:
    """The most of ``times`` any ``window`` seconds hold."""
    ordered, most, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_the_client_never_exceeds_fortnox_25_requests_in_5_seconds(tmp_path: Path) -> None:
    async with running() as fake:
        limiter = RecordingLimiter(25, 5.25)
        async with ApiClient(fake.api_url, service_tokens(fake, tmp_path / "t.db"), limiter) as client:
            answers = await asyncio.gather(*(client.request("GET", "financialyears") for _ in range(40)))
        assert len(answers) == 40 and all(isinstance(a, dict) for a in answers)  # every one answered
        # What the client controls, on its own clock: never more than 25 let through in a window.
        assert most_in_window(limiter.granted, 5.0) <= 25 and len(limiter.granted) == client.requests
        # What Fortnox sees: the fake counts by when each arrived and refuses the 26th with a 429.
        # On a loaded machine a request let through may arrive later than the next one's grant
        # gives it, and be refused: the client then pauses and sends it again (counted above),
        # so the window on the server's side is full, never over.
        assert fake.max_in_window() == 25
        assert all(s.status in (200, 429) for s in fake.seen)
        assert sum(s.status == 200 for s in fake.seen) == 40


async def test_a_limiter_lets_a_window_full_through_and_holds_the_next() -> None:
    limiter = SlidingWindowLimiter(3, 60)
    for _ in range(3):
        await limiter.acquire()
    assert limiter.in_window() == 3
    fourth = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert not fourth.done()
    fourth.cancel()
    with pytest.raises(ValueError, match="max_requests: 0"):
        SlidingWindowLimiter(0, 5)


# -- tokens ------------------------------------------------------------------------------


async def test_refresh_tokens_rotate_are_persisted_and_never_reused(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    async with running(max_requests=100) as fake:
        ep = endpoint(fake)
        await store_initial(db, "fortnox", "", ep, refresh_token=fake.issue_refresh_token())
        first = OAuthTokens(db, "fortnox", "", ep)
        async with ApiClient(fake.api_url, first, SlidingWindowLimiter(100, 1)) as client:
            await client.request("GET", "financialyears")
            assert stored_row(db) == (await first.access_token(), fake.refresh_token)

            # The hour runs out while running: the 401 refreshes once, the request goes through.
            fake.expire_tokens()
            await asyncio.gather(*(client.request("GET", "financialyears") for _ in range(5)))
            assert first.refreshes == 2

        # Another process on the same file: its token is refused too, it refreshes with the
        # rotated refresh token it finds in the row, and the first one then takes that token.
        fake.expire_tokens()
        second = OAuthTokens(db, "fortnox", "", ep)
        async with ApiClient(fake.api_url, second, SlidingWindowLimiter(100, 1)) as other:
            await other.request("GET", "financialyears")
        async with ApiClient(fake.api_url, first, SlidingWindowLimiter(100, 1)) as client:
            await client.request("GET", "financialyears")
        assert first.refreshes == 2 and second.refreshes == 1
        assert stored_row(db) == (await second.access_token(), fake.refresh_token)
        assert fake.refused_grants == []  # no refresh token was ever sent twice
        assert len(fake.spent_refresh_tokens) == 3


async def test_two_processes_refreshing_at_once_refresh_once(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    async with running(max_requests=100) as fake:
        ep = endpoint(fake)
        await store_initial(db, "fortnox", "", ep, refresh_token=fake.issue_refresh_token())
        a, b = OAuthTokens(db, "fortnox", "", ep), OAuthTokens(db, "fortnox", "", ep)
        token_a, token_b = await asyncio.gather(a.access_token(), b.access_token())
        assert token_a == token_b
        assert a.refreshes + b.refreshes == 1
        assert fake.refused_grants == []


async def test_an_authorisation_code_is_exchanged_once_and_errors_quote_the_endpoint(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    async with running() as fake:
        code = fake.issue_code()
        await store_initial(db, "fortnox", "", endpoint(fake), code=code, redirect_uri="https://x.example/cb")
        assert stored_row(db)[1] == fake.refresh_token
        with pytest.raises(TokenError, match="invalid_grant: Invalid authorization code"):
            await store_initial(db, "fortnox", "", endpoint(fake), code=code)
        other = tmp_path / "other.db"
        await store_initial(other, "fortnox", "", endpoint(fake), refresh_token=fake.issue_refresh_token())
        wrong = OAuthTokens(other, "fortnox", "", endpoint(fake, client_secret="wrong"))
        with pytest.raises(TokenError, match="invalid_client: Client authentication failed"):
            await wrong.access_token()
        nothing = OAuthTokens(tmp_path / "empty.db", "fortnox", "", endpoint(fake))
        with pytest.raises(TokenError, match="no refresh token stored"):
            await nothing.access_token()


async def test_client_credentials_need_the_tenant_id(tmp_path: Path) -> None:
    async with running() as fake:
        assert await service_tokens(fake, tmp_path / "t.db").access_token() in fake.access_tokens
        bad = OAuthTokens(tmp_path / "t.db", "fortnox", "x", endpoint(fake, grant="client_credentials"))
        with pytest.raises(TokenError, match="Unknown or missing TenantId"):
            await bad.access_token()


# -- retries -----------------------------------------------------------------------------


async def test_a_429_storm_backs_off_exponentially_and_goes_through(tmp_path: Path) -> None:
    async with running() as fake:
        sleeps = Sleeps()
        limiter = SlidingWindowLimiter(25, 5.25)
        tokens = service_tokens(fake, tmp_path / "t.db")
        async with ApiClient(fake.api_url, tokens, limiter, sleep=sleeps, backoff=0.001) as client:
            fake.storm(4)
            assert (await client.request("GET", "financialyears"))["FinancialYears"]
            assert sleeps.delays == [0.001, 0.002, 0.004, 0.008]
            assert client.requests == 5

            fake.storm(10)
            with pytest.raises(ApiUnavailable, match="HTTP 429"):
                await client.request("GET", "financialyears")
        capped = ApiClient(fake.api_url, tokens, limiter, sleep=sleeps, max_tries=10)
        assert [capped._delay(n) for n in (1, 2, 3, 7, 9)] == [1, 2, 4, 60, 60]


async def test_5xx_is_retried_for_get_but_a_post_with_an_unknown_outcome_is_not(tmp_path: Path) -> None:
    async with running() as fake:
        sleeps = Sleeps()
        tokens = service_tokens(fake, tmp_path / "t.db")
        limiter = SlidingWindowLimiter(25, 5.25)
        voucher = {
            "Voucher": {
                "VoucherSeries": "A",
                "TransactionDate": fake.years[0]["FromDate"],
                "Description": "test",
                "VoucherRows": [{"Account": 1910, "Debit": 10}, {"Account": 3001, "Credit": 10}],
            }
        }
        async with ApiClient(
            fake.api_url, tokens, limiter, sleep=sleeps, error_message=error_message
        ) as client:
            fake.fail("GET", "/3/financialyears", times=2)
            assert await client.request("GET", "financialyears")
            fake.fail("POST", "/3/vouchers", times=1)
            with pytest.raises(OutcomeUnknown, match="HTTP 503"):
                await client.request("POST", "vouchers", json=voucher)
            assert fake.vouchers == []
            fake.drop_after_commit("POST", "/3/vouchers")
            with pytest.raises(OutcomeUnknown, match="may or may not"):
                await client.request("POST", "vouchers", json=voucher)
            assert len(fake.vouchers) == 1  # it was made: only a search can tell

            bad = {
                "Voucher": {
                    **voucher["Voucher"],
                    "VoucherRows": [{"Account": 1910, "Debit": 10}, {"Account": 3999, "Credit": 10}],
                }
            }
            with pytest.raises(ApiError) as caught:
                await client.request("POST", "vouchers", json=bad)
            assert caught.value.status == 400
            assert str(caught.value) == (
                "HTTP 400 to POST vouchers: Kontot 3999 finns inte i kontoplanen. (code 2000555)"
            )


async def test_a_static_token_that_is_refused_is_an_error() -> None:
    async with (
        running() as fake,
        ApiClient(
            fake.api_url, StaticBearer("nope"), SlidingWindowLimiter(25, 5), error_message=error_message
        ) as client,
    ):
        with pytest.raises(ApiError, match=r"HTTP 401 to GET articles: Ogiltig inloggning \(code 2000310\)"):
            await client.request("GET", "articles")
