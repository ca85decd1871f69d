"""``tillgw diag --control-unit`` against every kind of unit, as a technician runs it.

Real simulators on real sockets: a CleanCash at 57600 baud on a pty, an XCCSP server that
demands Digest credentials, Infrasec TCS over HTTPS with its own CA and client
certificates, srv4pos with its API key; and a scripted unit whose answer cannot be used.
Nothing answered is said only when nothing came back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.pki import make_pki
from firmware_sim.control_unit.srv4pos_server import serve_srv4pos
from firmware_sim.control_unit.tcs_server import serve_tcs
from firmware_sim.control_unit.xccsp_server import serve_http
from protocols import ccsp
from tests.conftest import serve
from tests.devices.scripted_ccsp import scripted_unit
from tests.test_diag_cli import diag_json

UnitFactory = Callable[..., ControlUnit]
ORGNR = "556036-0793"


async def test_a_unit_at_57600_is_found_and_its_speed_shown(
    make_unit: UnitFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = make_unit(baudrate=57600)
    async with serve(unit, "pty") as path:
        code, document = await diag_json(capsys, "--control-unit", path)
    assert code == 0
    [found] = document["control_units"]
    assert found["details"]["line"] == "57600 8N1" and found["details"]["unit_id"] == unit.unit_id


async def test_xccsp_with_digest_credentials_and_with_wrong_ones(
    unit: ControlUnit, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve_http(unit, credentials=("kassa", "hemligt"), auth="digest") as url:
        good = url.replace("http://", "http://kassa:hemligt@")
        code, document = await diag_json(capsys, "--control-unit", good, "--orgnr", ORGNR)
        assert code == 0
        [found] = document["control_units"]
        assert found["url"] == url and found["details"]["licences"] == 1
        code, document = await diag_json(
            capsys, "--control-unit", url.replace("http://", "http://kassa:fel@"), "--orgnr", ORGNR
        )
    assert code == 1
    [found] = document["control_units"]
    assert found["answered"] is True  # the server answered: it said no
    assert "refused the user name or password" in found["reason"]
    assert "nothing answered" not in document["problem"] and "fel" not in str(document)


async def test_tcs_with_its_certificate_and_with_one_it_does_not_know(
    unit: ControlUnit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = make_pki(tmp_path / "pki")
    async with serve_tcs(unit, pki_dir=tmp_path / "pki", orgnr="5560360793") as service:
        common = ("--control-unit", service.url, "--orgnr", ORGNR, "--application-id", "app")
        secret = ("--client-cert-password", pki.client_password, "--ca-cert", str(pki.ca_cert))
        code, document = await diag_json(capsys, *common, *secret, "--client-cert", str(pki.client_p12))
        assert code == 0, document
        [found] = document["control_units"]
        assert found["details"]["protocol"] == "TCS v1"
        code, document = await diag_json(
            capsys, *common, *secret, "--client-cert", str(pki.expired_client_p12)
        )
        assert code == 1
        assert "certificate for the Infrasec TCS service expired" in document["control_units"][0]["reason"]
        code, document = await diag_json(
            capsys,
            *common,
            "--client-cert",
            str(pki.client_p12),
            "--client-cert-password",
            pki.client_password,
        )
    assert code == 1  # the service's certificate is not from a CA this till trusts
    assert "does not trust" in document["control_units"][0]["reason"]
    assert pki.client_password not in str(document)


async def test_srv4pos_says_what_it_could_not_ask(
    unit: ControlUnit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve_srv4pos(
        unit, api_key="k3y", corporate_id="corp", orgnr="5560360793", tls_dir=tmp_path / "tls"
    ) as service:
        assert service.ca_cert is not None
        code, document = await diag_json(
            capsys,
            *("--control-unit", service.url, "--orgnr", ORGNR, "--ca-cert", str(service.ca_cert)),
            *("--corporate-id", "corp", "--api-key", "k3y"),
        )
    assert code == 0
    [found] = document["control_units"]
    assert found["details"]["protocol"] == "srv4pos v1"
    assert "proven by the first sale" in found["details"]["note"]
    assert "k3y" not in str(document)


async def test_an_answer_that_cannot_be_used_is_named_with_its_bytes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def answer(request: ccsp.Request) -> list[ccsp.Reply | bytes]:
        return [ccsp.frame(b"HELLO#WORLD")]

    async with scripted_unit(answer) as url:
        code, document = await diag_json(capsys, "--control-unit", url, "--timeout", "0.3")
    assert code == 1
    [found] = document["control_units"]
    assert found["answered"] is True
    assert "answered, but not in a way this gateway can use" in found["reason"]
    assert "HELLO#WORLD" in found["reason"]
    assert "check the cable" not in found["reason"]
