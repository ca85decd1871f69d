"""A till's fiscal core on real parts: a SQLite journal in tmp_path, the simulated unit over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway.common.signing import Signer, load_or_create_key
from gateway.devices.control_units.ccsp_driver import ControlUnitDriver
from gateway.fiscal.pipeline import Pipeline
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Store
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt

SHOP = Shop("Kaffebaren i Växjö AB", "5560360793", ("Storgatan 1", "352 30 Växjö"))

PipelineFactory = Callable[..., Awaitable[Pipeline]]


def make_sale(price: int = 125_00, method: PaymentMethod = PaymentMethod.CARD, qty: str = "1") -> Receipt:
    total = price * int(Decimal(qty))
    return Receipt((Line("Kaffe", Decimal(qty), price, 2500, group="Dryck"),), (Payment(method, total),))


@pytest.fixture
def sale() -> Callable[..., Receipt]:
    """``sale(price=…, method=…, qty=…)``: a one-line receipt at 25 %, paid in full."""
    return make_sale


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer(load_or_create_key(tmp_path / "till" / "signing-key.pem"))


@pytest.fixture
async def make_pipeline(
    tmp_path: Path, signer: Signer, make_driver: Callable[..., Awaitable[ControlUnitDriver]], pos_id: str
) -> AsyncIterator[PipelineFactory]:
    """``await make_pipeline(url)``: a started pipeline on the till database in tmp_path.

    Calling it again opens the same database anew: a restart of the till.
    """
    opened: list[tuple[Pipeline, Store]] = []

    async def make(url: str, **driver_options: object) -> Pipeline:
        store = await Store.open(tmp_path / "till" / "till.db", signer)
        driver = await make_driver(url, start=False, **driver_options)
        pipeline = Pipeline(store, driver, SHOP, pos_id)
        opened.append((pipeline, store))
        await pipeline.start()
        return pipeline

    yield make
    for pipeline, store in opened:
        await pipeline.close()
        await store.close()


@pytest.fixture
async def unit_tcp(unit: ControlUnit, serve: Callable[..., object]) -> AsyncIterator[str]:
    """The unit served over TCP."""
    async with serve(unit, "tcp") as url:  # type: ignore[attr-defined]
        yield url


@pytest.fixture
async def unit_url_any(unit: ControlUnit, serve: Callable[..., object], transport: str) -> AsyncIterator[str]:
    """The unit served over a pty and over TCP (the test runs once for each)."""
    async with serve(unit, transport) as url:  # type: ignore[attr-defined]
        yield url
