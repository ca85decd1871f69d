"""``[control_unit]`` for every kind: the documented examples read, and every mistake names its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.devices.control_units.kinds import UnitKind, kind_of, public_url
from tests.test_config import example, write

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def with_unit(section: str) -> str:
    """The documented example with its [control_unit] section replaced by ``section``."""
    base = example()
    start = base.index("[control_unit]")
    end = base.index("[printer]")
    return base[:start] + section.strip() + "\n\n" + base[end:]


def documented_sections() -> list[str]:
    """The [control_unit] examples of docs/configuration.md's "The control unit"."""
    text = DOCS.read_text(encoding="utf-8")
    part = text[text.index("## The control unit") : text.index("## The register's identity")]
    return re.findall(r"```toml\n(.*?)```", part, re.S)


@pytest.mark.parametrize(
    ("index", "kind"), [(0, UnitKind.CCSP), (1, UnitKind.XCCSP), (2, UnitKind.TCS), (3, UnitKind.SRV4POS)]
)
def test_every_documented_kind_reads(tmp_path: Path, index: int, kind: UnitKind) -> None:
    (tmp_path / "kassa1.p12").write_bytes(b"not read here")
    section = documented_sections()[index].replace('"…"', '"x"')
    config = load_config(write(tmp_path, with_unit(section)))
    cu = config.control_unit
    assert cu.resolved_kind is kind
    if kind is UnitKind.TCS:
        assert cu.client_cert == tmp_path / "kassa1.p12" and cu.register_id == "KASSA-1"
    if kind is UnitKind.SRV4POS:
        assert (cu.corporate_id, cu.api_key, cu.cash_register_name) == ("x", "x", "KASSA-1")
    if kind is UnitKind.CCSP:
        assert (cu.baudrate, cu.dtr) == (None, True)  # "auto": probed


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/dev/ttyUSB0", UnitKind.CCSP),
        ("socket://10.0.0.5:4001", UnitKind.CCSP),
        ("http://u:p@127.0.0.1:8081/xccsp", UnitKind.XCCSP),
        ("https://tcs-verify.infrasec-api.se/tcsserver", UnitKind.TCS),
        ("https://s.srv4pos.com/v45/", UnitKind.SRV4POS),
    ],
)
def test_the_kind_follows_from_the_url(url: str, kind: UnitKind) -> None:
    assert kind_of(url) is kind


def test_an_http_url_that_names_no_kind_asks_for_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[control_unit\]\.url: .*cannot tell which kind"):
        load_config(write(tmp_path, with_unit('[control_unit]\nurl = "https://cu.example.se/api"')))
    config = load_config(
        write(tmp_path, with_unit('[control_unit]\nurl = "https://cu.example.se/api"\nkind = "xccsp"'))
    )
    assert config.control_unit.resolved_kind is UnitKind.XCCSP


@pytest.mark.parametrize(
    ("section", "error"),
    [
        (
            'url = "/dev/ttyUSB0"\nkind = "cloud"',
            r"\[control_unit\]\.kind: must be one of ccsp, xccsp, tcs, srv4pos",
        ),
        ('url = "/dev/ttyUSB0"\nkind = "tcs"', r"a tcs control unit is reached at an http\(s\):// address"),
        (
            'url = "/dev/ttyUSB0"\napi_key = "k"',
            r"\[control_unit\]\.api_key: only for srv4pos units; this one is ccsp",
        ),
        (
            'url = "https://x.se/v45"\nbaudrate = 9600\ncorporate_id = "c"\napi_key = "k"',
            r"\[control_unit\]\.baudrate: only for ccsp units; this one is srv4pos",
        ),
        ('url = "https://x.se/v45"\ncorporate_id = "c"', r"\[control_unit\]\.api_key: missing"),
        ('url = "https://x.se/tcsserver"\napplication_id = "a"', r"\[control_unit\]\.client_cert: missing"),
        (
            'url = "https://x.se/tcsserver"\napplication_id = "a"\nclient_cert = "none.p12"',
            r"\[control_unit\]\.client_cert: '.*none\.p12' is not a file",
        ),
        (
            'url = "/dev/ttyUSB0"\nbaudrate = 38400',
            r'\[control_unit\]\.baudrate: must be 9600, 19200, 57600 or "auto"',
        ),
        ('url = "/dev/ttyUSB0"\ndtr = "yes"', r"\[control_unit\]\.dtr: must be true or false"),
        (
            'url = "/dev/ttyUSB0"\nprotocol_line = "19200-dtr"\nbaudrate = 19200',
            r"\[control_unit\]\.protocol_line: write baudrate and dtr instead",
        ),
    ],
)
def test_every_mistake_names_its_key(tmp_path: Path, section: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_config(write(tmp_path, with_unit("[control_unit]\n" + section)))


def test_the_older_line_spelling_still_reads(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, with_unit('[control_unit]\nurl = "/dev/ttyS0"\nprotocol_line = "19200-dtr"'))
    )
    assert (config.control_unit.baudrate, config.control_unit.dtr) == (19200, True)
    config = load_config(write(tmp_path, with_unit('[control_unit]\nurl = "/dev/ttyS0"\nbaudrate = 57600')))
    assert (config.control_unit.baudrate, config.control_unit.dtr) == (57600, None)


def test_secrets_stay_out_of_what_is_shown(tmp_path: Path) -> None:
    (tmp_path / "c.p12").write_bytes(b"x")
    section = (
        '[control_unit]\nurl = "https://x.se/tcsserver"\napplication_id = "a"\n'
        'client_cert = "c.p12"\nclient_cert_password = "topsecret"'
    )
    config = load_config(write(tmp_path, with_unit(section)))
    assert "topsecret" not in repr(config) and "topsecret" not in repr(config.control_unit)
    assert public_url("http://kassa:hemligt@10.0.0.9:8081/xccsp") == "http://10.0.0.9:8081/xccsp"
    assert public_url("https://[::1]:8443/v45") == "https://[::1]:8443/v45"
