"""Round trips per second from each cloud control-unit driver to its simulator over
loopback HTTPS: N registrations one after the other (each a new TLS connection, as the
drivers make them), TCS with its client certificate, srv4pos with its API key.

    .venv/bin/python -m benchmarks.bench_cloud_units [N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.srv4pos_server import serve_srv4pos
from firmware_sim.control_unit.tcs_server import serve_tcs
from gateway.devices.fiscal_unit import ControlUnit as Driver
from gateway.devices.srv4pos_unit import Srv4posControlUnit
from gateway.devices.tcs_unit import TcsControlUnit
from protocols.skv import ControlData, ReceiptType, VatSlot

POS_ID = "KASSA1"
ORGNR = "5561234567"


def receipt(no: int) -> ControlData:
    return ControlData(
        datetime(2026, 1, 2, 12, 0), ORGNR, POS_ID, no, ReceiptType.NORMAL, 12500, 0, (VatSlot(2500, 2500),)
    )


async def run(driver: Driver, n: int) -> float:
    async with driver:
        await driver.start()
        started = time.perf_counter()
        for no in range(1, n + 1):
            await driver.register(no, receipt(no))
        return n / (time.perf_counter() - started)


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        unit = ControlUnit(UnitConfig(data_dir=root / "tcs-unit"))
        async with serve_tcs(unit, pki_dir=root / "pki") as tcs:
            rate = await run(
                TcsControlUnit(
                    tcs.url, POS_ID, ORGNR, application_id="bench", register_address="Storgatan 1",
                    client_cert=tcs.pki.client_p12, client_cert_password=tcs.pki.client_password,
                    ca_cert=tcs.pki.ca_cert,
                ),
                n,
            )  # fmt: skip
        unit.close()
        print(f"TCS over loopback HTTPS (client certificate): {n} registrations, {rate:.0f} round trips/s")
        unit = ControlUnit(UnitConfig(data_dir=root / "srv4pos-unit"))
        async with serve_srv4pos(unit, api_key="bench-key", corporate_id=ORGNR, tls_dir=root / "pki") as srv:
            rate = await run(
                Srv4posControlUnit(
                    srv.url, POS_ID, ORGNR, corporate_id=ORGNR, api_key="bench-key", ca_cert=srv.ca_cert
                ),
                n,
            )
        unit.close()
        print(f"srv4pos over loopback HTTPS (API key): {n} registrations, {rate:.0f} round trips/s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
