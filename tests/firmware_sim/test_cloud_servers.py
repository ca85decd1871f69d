"""The simulated TCS and srv4pos services seen by a plain HTTPS client: they enforce the
published contract (client certificate, the document, the key) on their own."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.srv4pos_server import serve_srv4pos
from firmware_sim.control_unit.tcs_server import serve_tcs
from protocols import srv4pos, tcs


def client_context(ca: Path, cert: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert)
    return context


async def test_tcs_demands_a_client_certificate(unit: ControlUnit, tmp_path: Path) -> None:
    async with serve_tcs(unit, pki_dir=tmp_path) as service:
        connector = aiohttp.TCPConnector(ssl=client_context(service.pki.ca_cert))
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.post(service.url, data=b"<TcsRequest/>") as response:
                    await response.read()
    assert len(unit.memory) == 0


async def test_tcs_answers_a_bad_document_with_the_field(unit: ControlUnit, tmp_path: Path) -> None:
    async with serve_tcs(unit, pki_dir=tmp_path) as service:
        key, cert, _ = pkcs12.load_key_and_certificates(
            service.pki.client_p12.read_bytes(), service.pki.client_password.encode()
        )
        assert key is not None and cert is not None
        pem = tmp_path / "client.pem"
        pem.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = client_context(service.pki.ca_cert, pem)
        body = b"<TcsRequest><ApplicationID>x</ApplicationID></TcsRequest>"
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
            session.post(service.url, data=body) as r,
        ):
            assert r.status == 200
            reply = tcs.decode_response(await r.read())
    assert (reply.response_code, reply.response_reason) == (3, "TcsRequest/RequestID: is missing")


async def test_srv4pos_refuses_a_wrong_key_in_its_published_form(unit: ControlUnit) -> None:
    async with (
        serve_srv4pos(unit, api_key="right", corporate_id="5561234567") as service,
        aiohttp.ClientSession() as session,
    ):
        url = service.url + srv4pos.kd_path("5561234567", "KASSA1")
        async with session.post(
            url, data=b"{}", headers={"Authorization": srv4pos.authorization("wrong")}
        ) as r:
            assert r.status == 401
            error = srv4pos.decode_error(await r.read())
        async with session.post(
            url, data=b"{}", headers={"Authorization": srv4pos.authorization("right")}
        ) as r:
            assert r.status == 400
            invalid = srv4pos.decode_error(await r.read())
    assert error.error == "UnauthorizedJsonException"
    assert invalid.error == "ValueNotValidJsonException" and invalid.details[0].get("field") == "vatRateToSum"
