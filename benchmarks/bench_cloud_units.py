"""Round trips per second from each HTTP control-unit driver to its simulator on loopback.

    .venv/bin/python -m benchmarks.bench_cloud_units [N]

N registrations one after the other (one receipt at a time, as a till does), each on a
new connection as the drivers make them: Infrasec TCS over HTTPS with its client
certificate, srv4pos over HTTPS with its API key, XCCSP over HTTP with Basic and with
Digest credentials. The simulators run in this process (one core for both ends) and
fsync each registration to their journal memory before answering, as a unit would.
Printed: round trips/s and the p50 and p99 of one registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from firmware_sim.control_unit import ControlUnit, UnitConfig
from firmware_sim.control_unit.srv4pos_server import serve_srv4pos
from firmware_sim.control_unit.tcs_server import serve_tcs
from firmware_sim.control_unit.xccsp_server import serve_http
from gateway.devices.control_units.interface import ControlUnit as Driver
from gateway.devices.control_units.srv4pos_driver import Srv4posControlUnit
from gateway.devices.control_units.tcs_driver import TcsControlUnit
from gateway.devices.control_units.xccsp_driver import XccspControlUnit
from protocols.skv import ControlData, ReceiptType, VatSlot

POS_ID = "KASSA1"
ORGNR = "5561234567"

Served = Callable[[ControlUnit, Path], contextlib.AbstractAsyncContextManager[Driver]]


def receipt(no: int) -> ControlData:
    return ControlData(
        datetime(2026, 1, 2, 12, 0), ORGNR, POS_ID, no, ReceiptType.NORMAL, 12500, 0, (VatSlot(2500, 2500),)
    )


async def run(driver: Driver, n: int) -> tuple[float, float, float]:
    """Round trips/s, p50 and p99 in ms of ``n`` registrations in a row."""
    async with driver:
        await driver.start()
        times: list[float] = []
        started = time.perf_counter()
        for no in range(1, n + 1):
            begin = time.perf_counter()
            await driver.register(no, receipt(no))
            times.append(time.perf_counter() - begin)
        rate = n / (time.perf_counter() - started)
    cuts = statistics.quantiles(times, n=100)
    return rate, cuts[49] * 1000, cuts[98] * 1000


@contextlib.asynccontextmanager
async def tcs(unit: ControlUnit, root: Path) -> AsyncIterator[Driver]:
    async with serve_tcs(unit, pki_dir=root / "pki") as served:
        yield TcsControlUnit(
            served.url, POS_ID, ORGNR, application_id="bench", register_address="Storgatan 1",
            client_cert=served.pki.client_p12, client_cert_password=served.pki.client_password,
            ca_cert=served.pki.ca_cert,
        )  # fmt: skip


@contextlib.asynccontextmanager
async def srv4pos(unit: ControlUnit, root: Path) -> AsyncIterator[Driver]:
    async with serve_srv4pos(unit, api_key="bench-key", corporate_id=ORGNR, tls_dir=root / "tls") as served:
        yield Srv4posControlUnit(
            served.url, POS_ID, ORGNR, corporate_id=ORGNR, api_key="bench-key", ca_cert=served.ca_cert
        )


def xccsp(auth: str) -> Served:
    @contextlib.asynccontextmanager
    async def served(unit: ControlUnit, root: Path) -> AsyncIterator[Driver]:
        async with serve_http(unit, credentials=("kassa", "bench"), auth=auth) as url:  # type: ignore[arg-type]
            yield XccspControlUnit(url.replace("http://", "http://kassa:bench@"), POS_ID, ORGNR)

    return served


KINDS: list[tuple[str, Served]] = [
    ("TCS, HTTPS with a client certificate", tcs),
    ("srv4pos, HTTPS with an API key", srv4pos),
    ("XCCSP, HTTP with Basic credentials", xccsp("basic")),
    ("XCCSP, HTTP with Digest credentials", xccsp("digest")),
]


async def main(n: int) -> None:
    print(f"# HTTP control units, {n} registrations each, CPython {platform.python_version()}, loopback")
    print("| driver → simulator | round trips/s | p50 | p99 |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, served) in enumerate(KINDS):
            root = Path(tmp) / str(index)
            unit = ControlUnit(UnitConfig(data_dir=root / "unit"))
            try:
                async with served(unit, root) as driver:
                    rate, p50, p99 = await run(driver, n)
            finally:
                unit.close()
            print(f"| {name} | {rate:,.0f} | {p50:.2f} ms | {p99:.2f} ms |", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
