"""The status page's session cookie: proof that the browser was given the till's token.

``POST /login`` with the right token sets ``tillgw_session=<expiry>.<mac>``: the expiry
(Unix seconds, :data:`LIFETIME` from the login) and an HMAC-SHA256 of it under a key of
the gateway's own, ``<data-dir>/session-key`` (32 random bytes, mode 0600, made on first
use). The cookie holds nothing secret and no state is kept: any cookie whose MAC checks
and whose expiry lies ahead is a session. Deleting the key file (and restarting) ends
every session at once; ``POST /logout`` ends the browser's own.

The cookie is ``HttpOnly`` (the page's script never sees it), ``SameSite=Strict`` (a
browser sends it only with requests from the till's own pages) and ``Path=/``. It is not
``Secure``: the API is plain HTTP on the till's loopback address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

__all__ = ["COOKIE", "LIFETIME", "Sessions"]

COOKIE = "tillgw_session"
LIFETIME = 12 * 3600  # seconds a login lasts
KEY_BYTES = 32


def load_or_create_key(path: Path) -> bytes:
    """The signing key in ``path``, made (0600) when the file is missing or not a key."""
    if path.exists():
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    os.replace(tmp, path)
    return key


class Sessions:
    """Makes and checks session cookies with one key."""

    def __init__(self, key: bytes, lifetime: int = LIFETIME) -> None:
        if len(key) < 16:
            raise ValueError("the session key must be at least 16 bytes")
        self._key = key
        self.lifetime = lifetime

    @classmethod
    def from_file(cls, path: Path) -> Sessions:
        return cls(load_or_create_key(path))

    def _mac(self, expiry: int) -> str:
        return hmac.new(self._key, f"tillgw-session:{expiry}".encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        """A new cookie value, valid for :attr:`lifetime` seconds from ``now``."""
        expiry = int(time.time() if now is None else now) + self.lifetime
        return f"{expiry}.{self._mac(expiry)}"

    def valid(self, value: str | None, now: float | None = None) -> bool:
        if not value:
            return False
        expiry_text, dot, mac = value.partition(".")
        if not dot or not (expiry_text.isascii() and expiry_text.isdigit()) or len(expiry_text) > 12:
            return False
        expiry = int(expiry_text)
        if not hmac.compare_digest(mac.encode("utf-8", "surrogateescape"), self._mac(expiry).encode()):
            return False
        return expiry > (time.time() if now is None else now)
