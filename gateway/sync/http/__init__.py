"""What every ERP adapter's HTTP needs: a rate limiter, OAuth tokens kept in SQLite, a JSON client."""

from gateway.sync.http.client import SAFE_METHODS, ApiClient, ApiError, ApiUnavailable, Auth, OutcomeUnknown
from gateway.sync.http.limiter import SlidingWindowLimiter
from gateway.sync.http.oauth import (
    REFRESH_MARGIN,
    OAuthTokens,
    StaticBearer,
    TokenEndpoint,
    TokenError,
    store_initial,
)

__all__ = [
    "REFRESH_MARGIN",
    "SAFE_METHODS",
    "ApiClient",
    "ApiError",
    "ApiUnavailable",
    "Auth",
    "OAuthTokens",
    "OutcomeUnknown",
    "SlidingWindowLimiter",
    "StaticBearer",
    "TokenEndpoint",
    "TokenError",
    "store_initial",
]
