"""``[sync.masterdata]``: the documented example reads, and every mistake names its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import ConfigError
from gateway.sync.config import load_sync_config
from gateway.sync.masterdata.config import MasterDataConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sync.md"
BASE = '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n\n[sync]\ndata_dir = "data"\n\n'


def read(tmp_path: Path, masterdata: str) -> MasterDataConfig:
    path = tmp_path / "store.toml"
    path.write_text(BASE + "[sync.masterdata]\n" + masterdata, encoding="utf-8")
    return load_sync_config(path).masterdata


def test_the_documented_example_reads(tmp_path: Path) -> None:
    match = re.search(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert match is not None
    path = tmp_path / "store.toml"
    path.write_text(match.group(1), encoding="utf-8")
    config = load_sync_config(path)
    md = config.masterdata
    assert md.enabled and md.source == "file" and md.folder == Path("/srv/export")
    assert (md.orgnr, md.store, md.customer_master) == ("5560360793", "vaxjo", "erp")
    assert md.weekdays == frozenset(range(6)) and md.hours == (7, 20) and md.full_sync_at == (3, 0)
    assert config.catalog_db == config.inbox.parent / "catalog.db"


def test_no_section_is_no_master_data(tmp_path: Path) -> None:
    path = tmp_path / "store.toml"
    path.write_text(BASE, encoding="utf-8")
    assert not load_sync_config(path).masterdata.enabled


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('source = "sap"', "[sync.masterdata].source: must be one of"),
        ('source = "file"\norgnr = "5560360793"\nstore = "s"', "[sync.masterdata].folder: missing"),
        ('source = "file"\nfolder = "x"\nstore = "s"', "[sync.masterdata].orgnr: missing"),
        ('source = "file"\nfolder = "x"\norgnr = "5560360793"\nstore = "s"\nhours = "20-07"', "].hours:"),
        ('source = "file"\nfolder = "x"\norgnr = "1"\nstore = "s"\nweekdays = "mon-fun"', "].weekdays:"),
        ('source = "file"\nfolder = "x"\norgnr = "1"\nstore = "s"\nfull_sync_at = "3"', "].full_sync_at:"),
        (
            'source = "file"\nfolder = "x"\norgnr = "1"\nstore = "s"\ncustomer_master = "pos"',
            "].customer_master:",
        ),
        (
            'source = "file"\nfolder = "x"\norgnr = "1"\nstore = "s"\nround_up_to_krona = "yes"',
            "].round_up_to",
        ),
        ('source = "file"\nfolder = "x"\norgnr = "1"\nstore = "s"\ncolour = 1', "].colour: not a known key"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)):
        read(tmp_path, text)


def test_an_erp_source_without_its_adapter_section_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.toml"
    path.write_text(
        BASE + '[sync.masterdata]\nsource = "fortnox"\norgnr = "1"\nstore = "s"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="fortnox"):
        load_sync_config(path)
