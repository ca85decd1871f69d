"""The error mail over TLS: STARTTLS and implicit TLS to a real aiosmtpd with its own certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import replace
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.config import MqttConfig
from gateway.sync.config import SyncConfig
from gateway.sync.service import SyncService
from tests.sync.conftest import Collect, free_port, mail_config, text_of


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_the_error_mail_goes_over_tls_as_configured(tmp_path: Path, security: str) -> None:
    cert, key = certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    handler = Collect()
    port = free_port()
    if security == "starttls":
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, tls_context=server_context, require_starttls=True
        )
    else:
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=server_context)
    controller.start()
    try:
        config = SyncConfig(
            inbox=tmp_path / "inbox.db",
            sie_dir=tmp_path / "sie",
            log_dir=tmp_path / "logs",
            mqtt=MqttConfig(port=free_port()),  # nothing listens: the run logs an ERROR
            mail=replace(mail_config(port), security=security, ca_file=cert),
            client_id="sync-mail-test",
        )
        assert await SyncService(config).run(once=True) == 1
    finally:
        controller.stop()
    [envelope] = handler.messages
    mail = message_from_bytes(envelope.content)
    assert mail["From"] == "kassan@kaffebaren.example" and "1 error" in mail["Subject"]
    body = next(p for p in mail.walk() if p.get_content_type() == "text/plain" and not p.get_filename())
    assert "MQTT: no connection to mqtt://127.0.0.1:" in text_of(body)
    [log] = [p for p in mail.walk() if p.get_filename()]
    assert text_of(log).count("\nERROR ") == 1


async def test_a_server_whose_certificate_is_not_trusted_gets_no_mail_and_that_is_logged(
    tmp_path: Path,
) -> None:
    cert, key = certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    handler = Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=server_context)
    controller.start()
    try:
        config = SyncConfig(
            inbox=tmp_path / "inbox.db",
            sie_dir=tmp_path / "sie",
            log_dir=tmp_path / "logs",
            mqtt=MqttConfig(port=free_port()),
            mail=replace(mail_config(port), security="tls"),  # the system's CAs: not ours
            client_id="sync-mail-test",
        )
        assert await SyncService(config).run(once=True) == 1
    finally:
        controller.stop()
    assert handler.messages == []
    log = next((tmp_path / "logs").glob("sync-*.log")).read_text()
    [mail_error] = [ln for ln in log.splitlines() if ln.startswith("ERROR") and "mail:" in ln]
    assert "was not sent" in mail_error and "CERTIFICATE_VERIFY_FAILED" in mail_error
