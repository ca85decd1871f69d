"""A register's TLS client certificate: the context that shows it, and a server's refusal.

The certificate is read from a PKCS#12 file with its password (``cryptography``), and
checked for its dates before it is offered. The password is never in an exception's
text or a log line.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.common.i18n import tr
from gateway.devices.control_units.http_driver import Stop, server_trust

__all__ = ["REFUSED_CERT_ALERTS", "client_tls_context", "ssl_error_in"]

# OpenSSL's names for the alerts a server sends when it will not take our certificate.
REFUSED_CERT_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "ACCESS_DENIED",
    "HANDSHAKE_FAILURE",
)


def _load_pkcs12(path: Path, password: str | None, service: str) -> tuple[PrivateKeyTypes, bytes]:
    """The key and the certificate chain (PEM) in ``path``, the certificate's dates checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise Stop(
            tr(
                "this register's certificate for {service} is missing ({path}) — "
                "check [control_unit] client_cert"
            ).format(service=service, path=path)
        ) from None
    except OSError as exc:
        raise Stop(
            tr(
                "this register's certificate for {service} cannot be read "
                "({path}: {error}) — check the file and its permissions"
            ).format(service=service, path=path, error=os.strerror(exc.errno or 0).lower())
        ) from None
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(
            raw, password.encode("utf-8") if password else None
        )
    except ValueError:
        # Wrong password and a damaged file look the same to PKCS#12.
        raise Stop(
            tr(
                "this register's certificate for {service} ({path}) cannot be "
                "opened with the configured password — check [control_unit] "
                "client_cert_password and that the file is the .p12/.pfx the "
                "supplier sent"
            ).format(service=service, path=path)
        ) from None
    if key is None or cert is None:
        raise Stop(
            tr("{path} holds no certificate with its key — ask the supplier for the right file").format(
                path=path
            )
        )
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        raise Stop(
            tr(
                "this register's certificate for {service} expired on "
                "{date:%Y-%m-%d} — ask the supplier for a new one"
            ).format(service=service, date=cert.not_valid_after_utc)
        )
    if cert.not_valid_before_utc > now:
        raise Stop(
            tr(
                "this register's certificate for {service} is valid only from "
                "{date:%Y-%m-%d} — check the till's clock"
            ).format(service=service, date=cert.not_valid_before_utc)
        )
    pem = serialization.Encoding.PEM
    certs = cert.public_bytes(pem) + b"".join(c.public_bytes(pem) for c in chain)
    return key, certs


def client_tls_context(
    *, ca_cert: Path | None, client_cert: Path | None, client_cert_password: str | None, service: str
) -> ssl.SSLContext:
    """A TLS context that trusts ``ca_cert`` (or the system) and offers ``client_cert``."""
    try:
        context = server_trust(ca_cert)
    except (OSError, ssl.SSLError) as exc:
        raise Stop(
            tr(
                "the CA certificate {ca_cert} for {service} cannot be read "
                "({exc}) — check [control_unit] ca_cert"
            ).format(ca_cert=ca_cert, service=service, exc=exc)
        ) from None
    if client_cert is None:
        return context
    key, certs = _load_pkcs12(client_cert, client_cert_password, service)
    # TLS 1.2 at most when showing a certificate: under 1.3 a server checks it after the
    # handshake, and its refusal reaches us as a dropped request, which a retry would
    # take for a network fault; under 1.2 it ends the handshake (docs/protocols/tcs.md).
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads a certificate from a file only: the key goes to a private temporary file,
    # encrypted with a password used once, and the file is gone before this returns.
    once = secrets.token_urlsafe(24)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(once.encode()),
    )
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as handle:
        os.chmod(handle.name, 0o600)
        handle.write(certs + encrypted)
        handle.flush()
        context.load_cert_chain(handle.name, password=once)
    return context


def ssl_error_in(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc``, wherever aiohttp has wrapped it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo += [current.__cause__, current.__context__]
        todo += [a for a in current.args if isinstance(a, BaseException)]
        inner = getattr(current, "os_error", None)
        if isinstance(inner, BaseException):
            todo.append(inner)
    return None
