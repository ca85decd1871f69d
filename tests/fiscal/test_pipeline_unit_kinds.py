"""The fiscal core with what each kind of unit gives back: no code for training and pro
forma receipts, and a TCS copy that carries its original's code.

Real parts: the till's SQLite journal in tmp_path; the simulated CleanCash over TCP; the
simulated Infrasec TCS over HTTPS with a client certificate from its own CA.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from firmware_sim.control_unit.pki import make_pki
from firmware_sim.control_unit.tcs_server import serve_tcs
from gateway.common.signing import Signer
from gateway.devices.control_units.tcs_driver import TcsControlUnit
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import NO_CODE_TEXT
from gateway.fiscal.store import Store
from gateway.receipts.model import Receipt, ReceiptKind
from tests.fiscal.conftest import SHOP, PipelineFactory

Sale = Callable[..., Receipt]


@pytest.mark.parametrize("kind", [ReceiptKind.TRAINING, ReceiptKind.PRO_FORMA])
async def test_training_and_pro_forma_receipts_carry_no_code_and_say_so(
    unit: ControlUnit, unit_tcp: str, make_pipeline: PipelineFactory, sale: Sale, kind: ReceiptKind
) -> None:
    pipeline = await make_pipeline(unit_tcp)

    done = await pipeline.submit("pos-1", dataclasses.replace(sale(), kind=kind))

    [record] = unit.memory.records()
    assert (done.control_code, record.code) == ("", "")
    text = pipeline.receipt_text(done)
    assert NO_CODE_TEXT in text
    normal = await pipeline.submit("pos-2", sale())
    assert len(normal.control_code) == 59  # a normal receipt still gets its code


async def test_a_tcs_copy_carries_the_code_of_its_original(
    unit: ControlUnit, tmp_path: Path, signer: Signer, sale: Sale
) -> None:
    pki = make_pki(tmp_path / "pki")
    async with serve_tcs(unit, pki_dir=tmp_path / "pki", orgnr=SHOP.orgnr) as service:
        driver = TcsControlUnit(
            service.url,
            "KASSA1",
            SHOP.orgnr,
            application_id="tillgw test",
            register_address=", ".join(SHOP.address),
            client_cert=pki.client_p12,
            client_cert_password=pki.client_password,
            ca_cert=pki.ca_cert,
            request_timeout=2.0,
        )
        store = await Store.open(tmp_path / "till" / "till.db", signer)
        pipeline = Pipeline(store, driver, SHOP, "KASSA1")
        try:
            await pipeline.start()
            original = await pipeline.submit("pos-1", sale())
            copy = await pipeline.copy(original.receipt_no)
        finally:
            await pipeline.close()
            await driver.close()
            await store.close()

    assert original.control_code and copy.control_code == original.control_code
    assert copy.unit_id == original.unit_id
    assert [r.data.split("|")[4] for r in unit.memory.records()] == ["normal", "kopia"]
