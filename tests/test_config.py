"""The TOML configuration: the documented example reads, and every mistake names its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import ApiConfig, ConfigError, demo_config, load_config

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def example() -> str:
    """The example in docs/configuration.md, so the documentation cannot drift from the code."""
    match = re.search(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert match is not None
    return match.group(1)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "till.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_the_demo() -> None:
    config = load_config(None)
    assert config == demo_config()
    assert config.demo and config.control_unit.url is None and config.data_dir == Path("var")


def test_the_documented_example_reads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, example()))
    assert config.shop.orgnr == "5560360793"
    assert config.shop.address == ("Storgatan 1", "352 30 Växjö")
    assert config.pos_id == "KASSA-1"
    assert config.data_dir == Path("/var/lib/tillgw")
    assert config.control_unit.url == "/dev/ttyUSB0"
    assert config.printer is not None and config.printer.url == "tcp://192.168.1.50:9100"
    assert (config.api.host, config.api.port, config.api.max_body_kib) == ("127.0.0.1", 8080, 256)
    assert config.shop.store == "vaxjo"
    assert config.shop.language == "sv"
    assert load_config(write(tmp_path, example().replace('language = "sv"\n', ""))).shop.language == "sv"
    assert (
        load_config(write(tmp_path, example().replace('language = "sv"', 'language = "en"'))).shop.language
        == "en"
    )
    assert config.mqtt is not None
    assert (config.mqtt.url, config.mqtt.username, config.mqtt.embedded) == (
        "mqtt://127.0.0.1:1883",
        "KASSA-1",
        False,
    )
    assert (config.mqtt.in_flight, config.api.keep_request_answers_days) == (250, 30)
    assert not config.demo


def test_relative_data_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    text = example().replace('data_dir = "/var/lib/tillgw"', 'data_dir = "data"')
    assert load_config(write(tmp_path, text)).data_dir == tmp_path / "data"


def test_command_line_overrides(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, example())).with_overrides(data_dir=tmp_path, http="0.0.0.0:9000")
    assert (config.data_dir, config.api.host, config.api.port) == (tmp_path, "0.0.0.0", 9000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('orgnr = "556036-0793"', 'orgnr = "556036-0794"'),
            "[shop].orgnr: '556036-0794' has a wrong check digit: the last digit should be 3",
        ),
        (
            ('orgnr = "556036-0793"', 'orgnr = "19121212-1213"'),
            "[shop].orgnr: '19121212-1213' has a wrong check digit: the last digit should be 2",
        ),
        (
            ('orgnr = "556036-0793"', 'orgnr = "21121212-1212"'),
            "[shop].orgnr: '21121212-1212' is not 10 digits",
        ),
        (('orgnr = "556036-0793"', 'orgnr = "55603607"'), "[shop].orgnr:"),
        (('pos_id = "KASSA-1"', 'pos_id = "KASSA#1"'), "[register].pos_id:"),
        (("paper_width = 42", "paper_width = 40"), "[register].paper_width: must be one of 42, 48"),
        (('code_table = "cp858"', 'code_table = "utf8"'), "[printer].code_table: must be one of"),
        (("drawer_pin = 2", "drawer_pin = 3"), "[printer].drawer_pin: must be one of 2, 5"),
        (("retries = 2", "retries = -1"), "[control_unit].retries: must be a whole number"),
        (('listen = "127.0.0.1:8080"', 'listen = "8080"'), "[api].listen: '8080' is not HOST:PORT"),
        (("[api]", "[api]\ncolour = 1"), "[api].colour: not a known key"),
        (('url = "/dev/ttyUSB0"', "url = 7"), "[control_unit].url: must be a non-empty string"),
        (("[shop]", "[shops]"), "[shops]: not a known section"),
        (
            ('url = "mqtt://127.0.0.1:1883"', 'url = "http://broker:1883"'),
            "[mqtt].url: 'http://broker:1883' must be",
        ),
        (('store = "vaxjo"', 'store = "växjö/1"'), "[shop].store:"),
        (("in_flight = 250", "in_flight = 0"), "[mqtt].in_flight: must be a whole number of at least 1"),
        (
            ("keep_request_answers_days = 30", 'keep_request_answers_days = "month"'),
            "[api].keep_request_answers_days: must be a whole number of at least 1, got 'month'",
        ),
        (('language = "sv"', 'language = "de"'), "[shop].language: 'de' is not a language of the till"),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = example()
    assert change[0] in text
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text.replace(change[0], change[1], 1)))
    assert message in str(info.value)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nothing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[shop\n"))


@pytest.mark.parametrize(
    "written",
    ["19121212-1212", "191212121212", "121212-1212", "1212121212", "121212+1212"],
)
def test_a_sole_trader_s_personnummer_is_kept_as_the_ten_digits_the_control_unit_takes(
    tmp_path: Path, written: str
) -> None:
    """A sole trader (enskild firma) is known by the owner's personnummer, written with its
    century or not; the control unit's field, the bus topics and the receipt take ten digits."""
    text = example().replace('orgnr = "556036-0793"', f'orgnr = "{written}"')
    assert load_config(write(tmp_path, text)).shop.orgnr == "1212121212"


def test_an_organisationsnummer_written_with_16_in_front_is_kept_as_ten_digits(tmp_path: Path) -> None:
    text = example().replace('orgnr = "556036-0793"', 'orgnr = "16556036-0793"')
    assert load_config(write(tmp_path, text)).shop.orgnr == "5560360793"


def test_the_model_designation_carries_se_by_default(tmp_path: Path) -> None:
    """SKVFS 2014:9 4 kap. 6 §: a register's model designation contains "SE"."""
    text = example().replace('model = "tillgw SE"', "")
    config = load_config(write(tmp_path, text))
    assert (config.model, config.program) == ("tillgw SE", "tillgw")
    assert demo_config().model == "tillgw SE"
    assert load_config(write(tmp_path, example())).model == "tillgw SE"


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("192.168.1.20", "http://192.168.1.20:8080"),
        ("fe80::1", "http://[fe80::1]:8080"),
    ],
)
def test_a_program_on_the_till_reaches_the_api_at_its_local_url(listen: str, url: str) -> None:
    assert ApiConfig(listen, 8080).local_url == url
