"""A small certificate authority for the simulated cloud services (TCS demands client
certificates; srv4pos may be served over HTTPS).

:func:`make_pki` writes into a directory: a CA, a server certificate for ``127.0.0.1``
and ``localhost`` signed by it, and client certificates as PKCS#12 files with a password
— a good one, an expired one and one from another CA (which the server must refuse).
Files already there are reused, so a simulator restarted on the same directory keeps
its CA and the registers' certificates stay valid.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CLIENT_PASSWORD", "Pki", "make_pki"]

CLIENT_PASSWORD = "tillgw-sim-client"  # the simulator's test certificates' password
_VALID = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Pki:
    """The paths :func:`make_pki` wrote."""

    ca_cert: Path  # PEM: the simulator's CA, a register's ``ca_cert``
    server_cert: Path  # PEM: chain for 127.0.0.1 and localhost
    server_key: Path  # PEM, unencrypted (a test server's)
    client_p12: Path  # a register's certificate, PKCS#12 under client_password
    expired_client_p12: Path  # same CA, expired yesterday
    foreign_client_p12: Path  # valid, but from a CA the server does not know
    client_password: str
    client_cn: str  # the good client certificate's common name


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    cn: str,
    *,
    server: bool,
    not_before: datetime,
    not_after: datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _p12(name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, password: str) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, None, serialization.BestAvailableEncryption(password.encode())
    )


def make_pki(directory: Path, *, client_cn: str = "tillgw-register") -> Pki:
    """The simulator's CA, server and client certificates in ``directory`` (made once)."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_p12=directory / "client.p12",
        expired_client_p12=directory / "client-expired.p12",
        foreign_client_p12=directory / "client-foreign.p12",
        client_password=CLIENT_PASSWORD,
        client_cn=client_cn,
    )
    marker = directory / "pki.json"
    if marker.exists() and json.loads(marker.read_text()).get("client_cn") == client_cn:
        return pki
    now = datetime.now(UTC)
    ca = _ca("tillgw simulated TCS CA")
    server_key, server_cert = _leaf(
        ca, "127.0.0.1", server=True, not_before=now - timedelta(days=1), not_after=now + _VALID
    )
    client_key, client_cert = _leaf(
        ca, client_cn, server=False, not_before=now - timedelta(days=1), not_after=now + _VALID
    )
    old_key, old_cert = _leaf(
        ca, client_cn, server=False, not_before=now - timedelta(days=400), not_after=now - timedelta(days=1)
    )
    foreign = _ca("another CA")
    foreign_key, foreign_cert = _leaf(
        foreign, client_cn, server=False, not_before=now - timedelta(days=1), not_after=now + _VALID
    )
    pki.ca_cert.write_bytes(_pem(ca[1]))
    pki.server_cert.write_bytes(_pem(server_cert) + _pem(ca[1]))
    pki.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pki.server_key.chmod(0o600)
    pki.client_p12.write_bytes(_p12(client_cn, client_key, client_cert, CLIENT_PASSWORD))
    pki.expired_client_p12.write_bytes(_p12(client_cn, old_key, old_cert, CLIENT_PASSWORD))
    pki.foreign_client_p12.write_bytes(_p12(client_cn, foreign_key, foreign_cert, CLIENT_PASSWORD))
    marker.write_text(json.dumps({"client_cn": client_cn}))
    return pki
