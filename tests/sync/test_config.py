"""The ``[sync]`` configuration: the documented example reads, and every mistake names its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.sync.config import demo_sync_config, load_sync_config
from gateway.sync.settings import AccountsConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sync.md"


def example() -> str:
    """The example in docs/sync.md, so the documentation cannot drift from the code."""
    match = re.search(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert match is not None
    return match.group(1)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "store.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_the_demo_under_var_sync() -> None:
    config = load_sync_config(None)
    assert config == demo_sync_config() and config.demo
    assert (config.inbox, config.sie_dir, config.log_dir) == (
        Path("var/sync/inbox.db"),
        Path("var/sync/sie"),
        Path("var/sync/logs"),
    )
    assert config.mqtt.url == "mqtt://127.0.0.1:1883" and config.registers is None and config.mail is None
    assert config.accounts == AccountsConfig() and config.sie.series == "K"


def test_the_documented_example_reads(tmp_path: Path) -> None:
    config = load_sync_config(write(tmp_path, example()))
    assert config.inbox == Path("/var/lib/tillgw/sync/inbox.db")
    assert config.sie_dir == Path("/srv/bokforing/sie") and config.log_dir == Path("/var/log/tillgw")
    assert config.stores == frozenset({"5560360793/vaxjo"})
    assert config.registers == frozenset({"5560360793/lund/KASSA-1"})
    assert config.knows("5560360793", "vaxjo", "KASSA-9") and config.knows("5560360793", "lund", "KASSA-1")
    assert not config.knows("5560360793", "lund", "KASSA-2")  # held: a till the file does not know yet
    assert config.routing.serves("5560360793", "lund") and not config.routing.serves("5560360793", "malmo")
    assert config.routing.filters(("receipts",)) == [
        "tillgw/5560360793/lund/+/receipts",
        "tillgw/5560360793/vaxjo/+/receipts",
    ]
    assert (config.client_id, config.share_group, config.session_expiry) == (
        "tillgw-sync-backoffice",
        "tillgw-sync",
        604800,
    )
    assert config.mqtt.url == "mqtt://127.0.0.1:1883" and config.mqtt.username == "tillgw-sync"
    assert config.accounts == AccountsConfig()  # the example spells out the defaults
    assert config.sie.account_name("1689") == "Övriga fordringar, kassa"
    assert config.sie.account_name("1910") == "Kassa" and config.sie.account_name("4010") == "Konto 4010"
    assert config.mail is not None
    assert (config.mail.host, config.mail.port, config.mail.security) == ("smtp.example.se", 587, "starttls")
    assert config.mail.to == ("ekonomi@kaffebaren.se",) and config.mail.sender == "kassan@kaffebaren.se"


def test_which_tills_a_module_serves(tmp_path: Path) -> None:
    # A till's own file: its [shop]'s store, nothing else.
    own = load_sync_config(write(tmp_path, '[shop]\nname = "K"\norgnr = "556036-0793"\nstore = "lund"\n'))
    assert own.stores == frozenset({"5560360793/lund"}) and own.routing.scopes() == ["5560360793/lund"]
    # Only [mqtt] and [sync], and neither key: it serves nothing, and says so before it runs.
    bare = load_sync_config(write(tmp_path, '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n[sync]\n'))
    with pytest.raises(ConfigError, match=r"\[sync\].stores: missing"):
        bare.check_routing()
    whole = load_sync_config(write(tmp_path, '[sync]\nstores = ["5560360793/*", "5560360793/lund"]\n'))
    assert whole.routing.scopes() == ["5560360793/+"] and whole.knows("5560360793", "any", "K1")
    assert not whole.routing.serves("5599000006", "main")
    every = load_sync_config(write(tmp_path, '[sync]\nstores = ["*"]\n'))
    assert every.routing.filters(("events",)) == ["tillgw/+/+/+/events"]
    with pytest.raises(ConfigError, match=r"\[sync\].stores\[0\]: 'vaxjo' is not \"orgnr/store\""):
        load_sync_config(write(tmp_path, '[sync]\nstores = ["vaxjo"]\n'))


def test_a_till_configuration_with_sync_still_reads_for_the_till(tmp_path: Path) -> None:
    till = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(.*?)```", till, re.S)
    assert match is not None
    sync_part = "[sync]" + example().split("[sync]", 1)[1]  # the till's file has its own [mqtt]
    path = write(tmp_path, match.group(1) + "\n" + sync_part)
    assert load_config(path).pos_id == "KASSA-1"  # the till ignores [sync]
    config = load_sync_config(path)  # … and the sync module the till's sections
    assert config.inbox == Path("/var/lib/tillgw/sync/inbox.db")


def test_paths_default_under_the_tills_data_dir_relative_to_the_file(tmp_path: Path) -> None:
    config = load_sync_config(write(tmp_path, '[register]\npos_id = "K1"\ndata_dir = "data"\n'))
    assert config.inbox == tmp_path / "data" / "sync" / "inbox.db"
    assert config.sie_dir == tmp_path / "data" / "sync" / "sie"
    assert config.log_dir == tmp_path / "data" / "sync" / "logs"
    assert config.client_id.startswith("tillgw-sync-")
    config = load_sync_config(write(tmp_path, '[sync]\nsie_dir = "ut/sie"\n'))
    assert (
        config.sie_dir == tmp_path / "ut" / "sie" and config.inbox == tmp_path / "var" / "sync" / "inbox.db"
    )


def test_accounts_may_be_numbers_or_text(tmp_path: Path) -> None:
    config = load_sync_config(write(tmp_path, '[sync.accounts]\ncash = "1911"\nswish = 1940\n'))
    assert (config.accounts.cash, config.accounts.swish, config.accounts.card) == ("1911", "1940", "1580")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sync]\nfrobnicate = 1\n", r"\[sync\].frobnicate: not a known key"),
        ('[sync]\nregisters = "KASSA1"\n', r"\[sync\].registers: must be a list"),
        (
            '[sync]\nregisters = ["KASSA1"]\n',
            r'\[sync\].registers\[0\]: .KASSA1. is not "orgnr/store/register"',
        ),
        ('[sync]\nclient_id = "a/b"\n', r"\[sync\].client_id"),
        ("[sync]\nretry_interval = 0\n", r"\[sync\].retry_interval: must be a number of at least 0.1"),
        ('[sync.accounts]\ncash = "kassa"\n', r"\[sync.accounts\].cash: must be an account number"),
        ("[sync.accounts]\nbank = 1930\n", r"\[sync.accounts\].bank: not a known key"),
        ('[sync.sie]\nseries = "K K"\n', r"\[sync.sie\].series"),
        ('[sync.sie]\nvoucher_number = "auto"\n', r"\[sync.sie\].voucher_number: must be one of blank, z"),
        ('[sync.mail]\nhost = "h"\nfrom = "a@b.se"\n', r"\[sync.mail\].to: must be an address"),
        (
            '[sync.mail]\nhost = "h"\nto = "x@y.se"\nfrom = "a@b.se"\nsecurity = "ssl"\n',
            r"\[sync.mail\].security",
        ),
        (
            '[sync.mail]\nhost = "h"\nto = "x@y.se"\nfrom = "a@b.se"\nusername = "u"\n',
            r"\[sync.mail\].password",
        ),
        ("[mqtt]\nenabled = false\n", r"\[mqtt\].enabled"),
        ('[mqtt]\nurl = "http://x"\n', r"\[mqtt\].url"),
    ],
)
def test_a_mistake_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sync_config(write(tmp_path, text))


def test_a_chain_on_postgresql_is_documented_and_checked(tmp_path: Path) -> None:
    """docs/sync.md's chain example reads; a database that is no PostgreSQL URL, or master data
    beside one, is refused naming the key."""
    docs = DOCS.read_text(encoding="utf-8")
    chain = docs[docs.index("### A chain: several workers on PostgreSQL") :]
    match = re.search(r"```\n(\[sync\].*?)```", chain, re.S)
    assert match is not None
    config = load_sync_config(write(tmp_path, '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n' + match.group(1)))
    assert config.database == "postgresql://tillgw:secret@db.example.se/tillgw"
    assert config.store == config.database == config.tokens_db
    assert config.store_name == "postgresql://tillgw:***@db.example.se/tillgw"
    assert config.client_id == "tillgw-sync-1" and config.share_group == "tillgw-sync"

    wrong = '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n[sync]\nstores = ["*"]\ndatabase = "/var/lib/inbox.db"\n'
    refused = r"\[sync\].database: must be a PostgreSQL URL .* got '/var/lib/inbox.db'"
    with pytest.raises(ConfigError, match=refused):
        load_sync_config(write(tmp_path, wrong))
    both = (
        '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n[sync]\nstores = ["*"]\ndatabase = "postgresql://db/tillgw"\n'
        '[sync.masterdata]\nsource = "file"\nfolder = "export"\norgnr = "5560360793"\nstore = "vaxjo"\n'
    )
    with pytest.raises(ConfigError, match=r"\[sync.masterdata\]: .* cannot run with \[sync\].database"):
        load_sync_config(write(tmp_path, both))
