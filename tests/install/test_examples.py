"""Every example configuration under docs/examples/ loads with the till's and the sync
module's own readers, and each example set is what its README says it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config, read_toml
from gateway.sync.config import load_sync_config

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FILES = sorted(EXAMPLES.rglob("*.toml"))


def test_there_are_examples() -> None:
    assert [p.relative_to(EXAMPLES).as_posix() for p in FILES] == [
        "one-till/till.toml",
        "store-business-central/kassa-1.toml",
        "store-business-central/kassa-2.toml",
        "store-business-central/kassa-3.toml",
        "store-business-central/sync.toml",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_each_example_loads_with_the_real_readers(path: Path) -> None:
    raw = read_toml(path)
    if "shop" in raw:
        till = load_config(path)
        assert till.source == path
    if "sync" in raw:
        sync = load_sync_config(path)
        sync.check_routing()  # it serves some till: tillgw sync would start
    assert "shop" in raw or "sync" in raw


def test_the_three_tills_are_one_store_and_the_sync_module_serves_it() -> None:
    store = EXAMPLES / "store-business-central"
    tills = [load_config(store / f"kassa-{n}.toml") for n in (1, 2, 3)]
    assert {(t.shop.orgnr, t.shop.store) for t in tills} == {("5566778899", "lund")}
    assert [t.pos_id for t in tills] == ["KASSA-1", "KASSA-2", "KASSA-3"]
    for till in tills:
        assert till.mqtt is not None and till.mqtt.username == till.pos_id  # the broker's ACL
    sync = load_sync_config(store / "sync.toml")
    assert all(sync.knows(t.shop.orgnr, t.shop.store, t.pos_id) for t in tills)
    assert sync.business_central is not None and sync.masterdata.source == "business_central"


def test_the_one_till_shop_books_sie_files_on_the_same_computer() -> None:
    path = EXAMPLES / "one-till" / "till.toml"
    till = load_config(path)
    sync = load_sync_config(path)
    assert sync.knows(till.shop.orgnr, till.shop.store, till.pos_id)
    assert sync.sie_dir == till.data_dir / "sync" / "sie"
