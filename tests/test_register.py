"""``tillgw register`` on real parts: the simulated control unit over TCP, a config file, the sheet files.

The non-interactive runs call the command in a worker thread (it starts its own event
loop, as from a shell) while the simulator serves from the test's loop. The interactive
run is a real subprocess whose standard input the test writes, answer by answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.control_unit import ControlUnit
from gateway import cli
from gateway.registration.items import BusinessForm, RegistrationError, check_register_number
from gateway.registration.record import (
    Business,
    ControlUnitEntry,
    PlaceOfSale,
    RegisterEntry,
    Registration,
    load_registration,
)
from tools.registration.sheet import sheet_json, sheet_markdown, sheet_pdf

Serve = Callable[[ControlUnit, str], AbstractAsyncContextManager[str]]
REPO = Path(__file__).resolve().parents[1]
CONFIG = """\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "556036-0793"
address = ["Storgatan 1", "352 30 Växjö"]

[register]
pos_id = "KASSA-1"
data_dir = "data"
manufacturing_number = "TG-2025-000117"

[control_unit]
url = "{url}"
request_timeout = {timeout}
retries = 1
"""


def write_config(
    directory: Path, url: str = "socket://127.0.0.1:9", *, timeout: float = 0.3, more: str = ""
) -> Path:
    """``directory``/till.toml: the shop, register KASSA-1 (data in ``data``), the control unit
    at ``url``; ``more`` is added at the end (another section)."""
    path = directory / "till.toml"
    path.write_text(CONFIG.format(url=url, timeout=timeout) + more, encoding="utf-8")
    return path


async def tillgw(*args: str) -> int:
    """``tillgw ARGS`` in English, the words these tests read."""
    return await asyncio.to_thread(cli.main, ["--language", "en", *args])


async def register_interactively(config: Path, answers: bytes, *flags: str) -> tuple[int | None, str, str]:
    """``tillgw register --config config *flags`` in a subprocess, ``answers`` its standard input:
    (exit code, standard output, standard error)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "--language",
        "en",
        "register",
        "--config",
        str(config),
        *flags,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(answers)
    return process.returncode, out.decode(), err.decode()


def pdf_text(path: Path) -> str:
    """The PDF's text: by pdftotext when it is installed, else from fpdf2's own content streams
    (zlib-compressed; core-font text is in ``(…) Tj`` strings, Latin-1)."""
    if shutil.which("pdftotext"):
        return subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
    return pdf_stream_text(path.read_bytes())


def pdf_stream_text(data: bytes) -> str:
    texts = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue  # not a content stream (a font, an image)
        for text in re.findall(rb"\(((?:\\.|[^\\)])*)\) ?Tj", content):
            texts.append(re.sub(rb"\\(.)", rb"\1", text).decode("latin-1"))
    return "\n".join(texts)


def registration(**changes: Any) -> Registration:
    unit = ControlUnitEntry(
        "Retail Innovation (CleanCash)", "CleanCash Type A", "ISCCUSE0000000001", "1.2", True
    )
    register = RegisterEntry(
        "KASSA-1", "tillgw SE", "tillgw", "0.1.0", "TG-2025-000117", "journal memory: till.db"
    )
    parts: dict[str, Any] = {
        "business": Business("Kaffebaren i Växjö AB", "5560360793"),
        "place_of_sale": PlaceOfSale("Storgatan 1", "35230", "Växjö"),
        "control_unit": unit,
        "register": register,
        "registered_on": date(2026, 3, 2),
        **changes,
    }
    return Registration(**parts)


async def test_register_reads_the_unit_and_writes_record_and_sheet(
    unit: ControlUnit, serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve(unit, "tcp") as url:
        config = write_config(tmp_path, url)
        code = await tillgw("register", "--config", str(config), "--yes", "--unit-model", "CleanCash Type A")

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"manufacturing number {unit.unit_id}" in out
    data = tmp_path / "data"
    record = load_registration(data)
    assert record is not None and record.registered_on == date.today()
    assert record.control_unit.manufacturing_number == unit.unit_id  # read from the unit itself
    assert record.control_unit.read_from_device is True
    assert record.control_unit.firmware.startswith("tillgw-sim")

    document = json.loads((data / "registration-sheet.json").read_text(encoding="utf-8"))
    assert document["business"] == {
        "name": "Kaffebaren i Växjö AB",
        "orgnr": "556036-0793",
        "form": "company",
    }
    assert document["place_of_sale"] == {
        "street": "Storgatan 1",
        "postcode": "352 30",
        "town": "Växjö",
        "one_line": "Storgatan 1, 352 30 Växjö",
    }
    assert document["control_unit"]["maker"] == "Retail Innovation (CleanCash)"
    assert document["control_unit"]["model"] == "CleanCash Type A"
    assert document["control_unit"]["manufacturing_number"] == unit.unit_id
    assert document["register"]["designation"] == "KASSA-1"
    assert document["register"]["manufacturing_number"] == "TG-2025-000117"
    assert document["register"]["model"] == "tillgw SE" and document["register"]["program"] == "tillgw"
    assert document["register"]["journal"].endswith(str((data / "till.db").resolve()))
    assert document["e_service"] == "Anmäl, ändra, felanmäl och avanmäl kassaregister"
    json_record = json.loads((data / "registration.json").read_text(encoding="utf-8"))
    assert json_record["registered_on"] == date.today().isoformat()

    markdown = (data / "registration-sheet.md").read_text(encoding="utf-8")
    for row in (
        "| Namn (name) | Kaffebaren i Växjö AB |",
        "| Organisationsnummer | 556036-0793 |",
        "| Adress (address of the place of sale) | Storgatan 1, 352 30 Växjö |",
        "| Tillverkare (maker) | Retail Innovation (CleanCash) |",
        "| Modell (model) | CleanCash Type A |",
        f"| Tillverkningsnummer (manufacturing number) | {unit.unit_id} |",
        "| Adress där kontrollenheten finns (where it is) | Storgatan 1, 352 30 Växjö |",
        "| Kassabeteckning (designation) | KASSA-1 |",
        "| Modell eller program (model or program) | tillgw SE / tillgw |",
        "| Tillverkningsnummer (manufacturing number) | TG-2025-000117 |",
    ):
        assert row in markdown
    assert "| Kontrollremsa eller journalminne (paper roll or journal memory) | journal memory" in markdown

    pdf = (data / "registration-sheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert re.search(rb"/Type /Pages\s*/Count [1-9]", pdf) or b"/Count 1" in pdf
    text = pdf_text(data / "registration-sheet.pdf")
    for item in (
        "Kaffebaren i Växjö AB",
        "556036-0793",
        "Storgatan 1, 352 30 Växjö",
        unit.unit_id,
        "KASSA-1",
    ):
        assert item in text, item


def test_the_pdf_text_is_in_its_content_streams_in_latin_1() -> None:
    """Read without pdftotext: Helvetica's Latin-1 strings in the zlib streams fpdf2 writes."""
    text = pdf_stream_text(sheet_pdf(registration()))
    for item in ("Kaffebaren i Växjö AB", "556036-0793", "ISCCUSE0000000001", "TG-2025-000117", "KASSA-1"):
        assert item in text, item
    assert "Tillverkare (maker)" in text and "Kassabeteckning (designation)" in text


def test_a_name_outside_latin_1_is_set_in_the_packaged_ttf(tmp_path: Path) -> None:
    sheet = registration(business=Business("Łódź Kebab AB", "5560360793"))
    pdf = sheet_pdf(sheet)
    assert pdf.startswith(b"%PDF-") and b"JetBrains" in pdf
    if shutil.which("pdftotext"):
        (tmp_path / "sheet.pdf").write_bytes(pdf)
        assert "Łódź Kebab AB" in pdf_text(tmp_path / "sheet.pdf")


def test_sheet_json_and_markdown_list_every_question_in_order() -> None:
    sheet = sheet_json(registration())
    questions = [[item["question"] for item in part["items"]] for part in sheet["sheet"]]
    assert questions[0] == ["Namn (name)", "Organisationsnummer", "Adress (address of the place of sale)"]
    assert questions[1][:4] == [
        "Tillverkare (maker)",
        "Modell (model)",
        "Tillverkningsnummer (manufacturing number)",
        "Adress där kontrollenheten finns (where it is)",
    ]
    assert questions[2] == [
        "Kassabeteckning (designation)",
        "Modell eller program (model or program)",
        "Version",
        "Tillverkningsnummer (manufacturing number)",
        "Kontrollremsa eller journalminne (paper roll or journal memory)",
    ]
    assert "| Firmware (for your records) | 1.2 |" in sheet_markdown(registration())


async def test_register_interactively_asks_checks_and_confirms(
    unit: ControlUnit, serve: Serve, tmp_path: Path
) -> None:
    answers = [
        "",  # name: the config's
        "556036-0794",  # orgnr: a wrong check digit, asked again
        "",  # … the config's
        "",  # form of business: what the number tells, a company
        "",  # street
        "35230",  # postcode, written without the space
        "",  # town
        "",  # designation
        "TG  2025",  # manufacturing number: two spaces in a row, asked again
        "",  # … the config's
        "",  # model
        "",  # program
        "",  # unit maker: the default
        "",  # unit model: CCSP does not tell it and there is no default, asked again
        "CleanCash Type A",
        "y",
    ]
    async with serve(unit, "tcp") as url:
        config = write_config(tmp_path, url)
        code, out, err = await register_interactively(config, "\n".join(answers).encode() + b"\n")
    assert code == 0, out + err
    assert "Organisationsnummer, or a sole trader's personnummer (NNNNNN-NNNN) [556036-0793]: " in out
    assert "orgnr: '556036-0794' has a wrong check digit (the last digit, Luhn): it should be 3" in out
    assert "Form of business: company, or sole-trader (enskild firma) [company]: " in out
    assert "manufacturing_number: 'TG  2025' must be 1-17 characters" in out
    assert "unit_model: missing" in out
    assert "Register with these answers? [y/N]" in out
    record = load_registration(tmp_path / "data")
    assert record is not None
    assert record.place_of_sale.postcode == "352 30"
    assert record.register.manufacturing_number == "TG-2025-000117"
    assert record.control_unit.model == "CleanCash Type A"
    assert record.control_unit.manufacturing_number == unit.unit_id


async def test_register_interactively_answered_no_keeps_nothing(
    unit: ControlUnit, serve: Serve, tmp_path: Path
) -> None:
    async with serve(unit, "tcp") as url:
        config = write_config(tmp_path, url)
        code, _, err = await register_interactively(
            config, b"\n" * 12 + b"n\n", "--unit-model", "CleanCash Type A"
        )
    assert code == 1
    assert "nothing registered" in err
    assert not (tmp_path / "data" / "registration.json").exists()


COMPANY_RULE_BREAKER = "551234-5678"  # the check digit is right, the third digit is 1: a personnummer's shape
TOLVAN = "19121212-1212"  # Skatteverket's test personnummer: 12 December 1912, the check digit right


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--orgnr", "556036-0794", "orgnr: '556036-0794' has a wrong check digit"),
        ("--orgnr", "55603607", "orgnr: '55603607' is not 10 digits"),
        ("--model", "Kassa 3", "model: 'Kassa 3' does not contain \"SE\""),
        ("--business-form", "partnership", "business_form: 'partnership' is not a form of business"),
        ("--name", " ", "name: missing"),
        ("--street", "", "street: missing"),
        ("--postcode", "3523", "postcode: '3523' is not a Swedish postcode"),
        ("--postcode", "052 30", "postcode: '052 30' is not a Swedish postcode"),
        ("--town", "V4xjö", "town: 'V4xjö' must be letters only"),
        ("--address", "Storgatan 1", "address: 'Storgatan 1' must be written 'STREET, NNN NN TOWN'"),
        ("--address", "Storgatan 1, 3523 Växjö", "address: 'Storgatan 1, 3523 Växjö' must be written"),
        ("--designation", "KASSA#1", "designation: 'KASSA#1' must be 1 to 16 printable ASCII"),
        ("--designation", "K" * 17, "designation:"),
        ("--manufacturing-number", "TG  2025", "manufacturing_number: 'TG  2025' must be 1-17"),
        ("--manufacturing-number", " TG-2025", "manufacturing_number: ' TG-2025' must be 1-17"),
        ("--manufacturing-number", "TG-2025 ", "manufacturing_number: 'TG-2025 ' must be 1-17"),
        ("--manufacturing-number", "TG-ÅÄÖ-1", "manufacturing_number: 'TG-ÅÄÖ-1' must be 1-17"),
        ("--manufacturing-number", "TG_2025", "manufacturing_number: 'TG_2025' must be 1-17"),
        ("--manufacturing-number", "A" * 18, "manufacturing_number:"),
        ("--unit-number", "ISCC/0001", "unit_number: 'ISCC/0001' must be letters"),
        ("--unit-maker", "", "unit_maker: missing"),
    ],
)
async def test_register_names_the_wrong_item(
    flag: str, value: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    code = await tillgw("register", "--config", str(config), "--yes", "--no-device", flag, value)
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {words}" in err or words in err, err
    assert not (tmp_path / "data" / "registration.json").exists()


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (
            ["--orgnr", "556036-0794"],
            "orgnr: '556036-0794' has a wrong check digit (the last digit, Luhn): it should be 3",
        ),
        (
            ["--orgnr", COMPANY_RULE_BREAKER, "--business-form", "company"],
            f"orgnr: '{COMPANY_RULE_BREAKER}' is not a company's organisationsnummer: "
            "its third digit must be 2 or more",
        ),
        # No form given: the third digit 1 says personnummer, and 34 is no day of a month.
        (
            ["--orgnr", COMPANY_RULE_BREAKER],
            f"orgnr: '{COMPANY_RULE_BREAKER}' is not a valid personnummer: "
            "its fifth and sixth digits, the day of birth",
        ),
        (
            ["--orgnr", "121212-1213"],
            "orgnr: '121212-1213' is not a valid personnummer: its check digit should be 2",
        ),
        (
            ["--orgnr", "19121212-1213"],
            "orgnr: '19121212-1213' is not a valid personnummer: its check digit should be 2",
        ),
        (
            ["--orgnr", "556036-0793", "--business-form", "sole-trader"],
            "orgnr: '556036-0793' is not a valid personnummer: its third and fourth digits, "
            "the month of birth, must be 01-12 (a company's organisationsnummer: answer company)",
        ),
        (["--orgnr", "21121212-1212"], "orgnr: '21121212-1212' is not 10 digits written NNNNNN-NNNN"),
    ],
)
async def test_register_names_what_is_wrong_with_the_number(
    given: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    code = await tillgw("register", "--config", str(config), "--yes", "--no-device", *given)
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {words}" in err, err
    assert not (tmp_path / "data" / "registration.json").exists()


@pytest.mark.parametrize("number", ["A", "A" * 17, "TG 2025 000117", "tg-2025-a", "1-2-3 4-5-6 7-8-9"])
def test_manufacturing_numbers_the_regulation_allows(number: str) -> None:
    assert check_register_number(number) == number


@pytest.mark.parametrize("number", ["", "A" * 18, "TG\n", "TG\t1", "-\u00a0-", "TG.2025", " ", "A  B"])
def test_manufacturing_numbers_the_regulation_refuses(number: str) -> None:
    with pytest.raises(RegistrationError) as caught:
        check_register_number(number)
    assert caught.value.field == "manufacturing_number"


async def test_register_without_the_device_warns_and_needs_the_unit_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    base = ["register", "--config", str(config), "--yes", "--no-device", "--unit-model", "CleanCash Type A"]
    assert await tillgw(*base) == 2
    assert "error: unit_number: missing: give --unit-number" in capsys.readouterr().err

    assert await tillgw(*base, "--unit-number", "ISCCUSE0000000001") == 2
    assert "error: unit_maker: missing: give --unit-maker" in capsys.readouterr().err  # no unit to go by

    typed = ("--unit-number", "ISCCUSE0000000001", "--unit-firmware", "1.2", "--unit-maker", "CleanCash")
    assert await tillgw(*base, *typed) == 0
    captured = capsys.readouterr()
    assert "warning: --no-device" in captured.err
    record = load_registration(tmp_path / "data")
    assert record is not None and record.control_unit.read_from_device is False
    assert record.control_unit.manufacturing_number == "ISCCUSE0000000001"
    markdown = (tmp_path / "data" / "registration-sheet.md").read_text(encoding="utf-8")
    assert "| Uppgifterna (these answers) | typed in, not read from the unit |" in markdown


async def test_register_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    items = {
        "name": "Bageriet i Lund AB",
        "orgnr": "5560360793",
        "address": "Klostergatan 3, 222 22 Lund",
        "designation": "BAGERI-2",
        "unit_maker": "Retail Innovation (CleanCash)",
        "unit_model": "CleanCash Type A",
        "unit_number": "ISCCUSE0000000042",
    }
    source = tmp_path / "items.json"
    source.write_text(json.dumps(items), encoding="utf-8")
    out = tmp_path / "sheet"
    code = await tillgw(
        "register", "--config", str(config), "--from", str(source), "--no-device", "--output", str(out)
    )
    assert code == 0, capsys.readouterr().err
    record = load_registration(tmp_path / "data")
    assert record is not None
    assert record.business.name == "Bageriet i Lund AB" and record.business.orgnr == "556036-0793"
    assert record.place_of_sale.one_line == "Klostergatan 3, 222 22 Lund"
    assert record.register.designation == "BAGERI-2"
    assert sorted(p.name for p in out.iterdir()) == [
        "registration-sheet.json",
        "registration-sheet.md",
        "registration-sheet.pdf",
    ]

    source.write_text(json.dumps({**items, "colour": "red"}), encoding="utf-8")
    assert await tillgw("register", "--config", str(config), "--from", str(source), "--no-device") == 2
    assert "error: colour: not an item of the registration" in capsys.readouterr().err


async def test_register_when_the_unit_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "socket://127.0.0.1:9")
    code = await tillgw("register", "--config", str(config), "--yes", "--unit-model", "X")
    err = capsys.readouterr().err
    assert code == 1
    assert "did not say who it is" in err and "--no-device --unit-number" in err
    assert not (tmp_path / "data" / "registration.json").exists()


async def test_register_in_the_demo_reads_the_demo_till_s_simulated_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "var"
    code = await tillgw("register", "--data-dir", str(data), "--yes", "--unit-model", "CleanCash Type A")
    assert code == 0, capsys.readouterr().err
    record = load_registration(data)
    assert record is not None and record.control_unit.read_from_device
    # The unit the demo till itself starts (gateway/demo.py), with its memory in the data directory.
    assert (data / "sim" / "control-unit").is_dir()
    assert f"manufacturing number {record.control_unit.manufacturing_number}," in capsys.readouterr().out


def test_register_help_loads_no_driver_simulator_or_pdf_library() -> None:
    """The drivers, the simulator and fpdf2 are loaded when a unit is read or a sheet made."""
    code = (
        "import contextlib, sys\n"
        "from gateway.cli import main\n"
        "with contextlib.suppress(SystemExit):\n"
        "    main(['register', '--help'])\n"
        "heavy = {'firmware_sim', 'fpdf', 'construct', 'aiohttp'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.splitlines()[-1] == "[]"


def test_a_registration_document_round_trips(tmp_path: Path) -> None:
    from gateway.registration.record import save_registration

    path = save_registration(tmp_path, registration())
    assert load_registration(tmp_path) == registration()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def sole_trader_config(directory: Path, url: str, orgnr: str = TOLVAN, *, more: str = "") -> Path:
    """A shop run as a sole trader (enskild firma): the owner's personnummer under [shop]."""
    path = write_config(directory, url, more=more)
    text = path.read_text(encoding="utf-8").replace('orgnr = "556036-0793"', f'orgnr = "{orgnr}"')
    path.write_text(text.replace("Kaffebaren i Växjö AB", "Tolvans Kaffe"), encoding="utf-8")
    return path


async def test_a_sole_trader_registers_with_the_owner_s_personnummer(
    unit: ControlUnit, serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve(unit, "tcp") as url:
        config = sole_trader_config(tmp_path, url)  # written with its century: YYYYMMDD-NNNN
        code = await tillgw("register", "--config", str(config), "--yes", "--unit-model", "CleanCash Type A")
    out, err = capsys.readouterr()
    assert code == 0, err
    record = load_registration(tmp_path / "data")
    assert record is not None
    assert record.business.orgnr == "121212-1212"  # the ten digits the control unit's field takes
    assert record.business.form is BusinessForm.SOLE_TRADER  # told by the number: its third digit is 1
    assert record.business.number_name == "personnummer"
    assert record.control_unit.manufacturing_number == unit.unit_id
    document = json.loads((tmp_path / "data" / "registration.json").read_text(encoding="utf-8"))
    assert document["business"] == {"name": "Tolvans Kaffe", "orgnr": "121212-1212", "form": "sole-trader"}
    markdown = (tmp_path / "data" / "registration-sheet.md").read_text(encoding="utf-8")
    assert "| Personnummer (enskild firma: the owner's) | 121212-1212 |" in markdown
    assert "| Organisationsnummer |" not in markdown
    assert "| Personnummer (enskild firma: the owner's) | 121212-1212 |" in out  # the sheet, shown
    assert "121212-1212" in pdf_text(tmp_path / "data" / "registration-sheet.pdf")


async def test_a_sole_trader_registers_from_flags_and_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)  # the config names a company; the flags register a sole trader
    unit = (
        "--no-device",
        "--unit-number",
        "ISCCUSE0000000001",
        "--unit-maker",
        "CleanCash",
        "--unit-model",
        "A",
    )
    code = await tillgw(
        "register", "--config", str(config), "--yes", *unit,
        "--name", "Tolvans Kaffe", "--orgnr", "121212-1212", "--business-form", "sole-trader",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    record = load_registration(tmp_path / "data")
    assert record is not None and record.business.form is BusinessForm.SOLE_TRADER
    assert record.business.orgnr == "121212-1212"

    source = tmp_path / "items.json"
    source.write_text(json.dumps({"orgnr": "191212121212", "business_form": "enskild firma"}), "utf-8")
    assert await tillgw("register", "--config", str(config), "--from", str(source), *unit) == 0
    record = load_registration(tmp_path / "data")
    assert record is not None and record.business.orgnr == "121212-1212"
    assert record.business.form is BusinessForm.SOLE_TRADER


async def test_a_sole_trader_registers_interactively(unit: ControlUnit, serve: Serve, tmp_path: Path) -> None:
    answers = [
        "",  # name
        "19121212-1213",  # the owner's personnummer, a wrong check digit: asked again
        TOLVAN,
        "company",  # the form: a personnummer is no company's number, so the number is asked again
        "",  # … the same number again
        "",  # the form: what the number tells, a sole trader
        *[""] * 8,  # street, postcode, town, designation, manufacturing number, model, program, maker
        "CleanCash Type A",
        "y",
    ]
    async with serve(unit, "tcp") as url:
        config = write_config(tmp_path, url)  # the config names a company: the answers change it
        code, out, err = await register_interactively(config, "\n".join(answers).encode() + b"\n")
    assert code == 0, out + err
    assert "orgnr: '19121212-1213' is not a valid personnummer: its check digit should be 2" in out
    assert "orgnr: '121212-1212' is not a company's organisationsnummer: its third digit must be 2" in out
    assert "Form of business: company, or sole-trader (enskild firma) [sole-trader]: " in out
    assert "| Personnummer (enskild firma: the owner's) | 121212-1212 |" in out
    record = load_registration(tmp_path / "data")
    assert record is not None
    assert (record.business.orgnr, record.business.form) == ("121212-1212", BusinessForm.SOLE_TRADER)


async def test_a_config_s_model_designation_without_se_is_registered_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('pos_id = "KASSA-1"', 'pos_id = "KASSA-1"\nmodel = "Kassa 3"'), "utf-8")
    unit = (
        "--no-device",
        "--unit-number",
        "ISCCUSE0000000001",
        "--unit-maker",
        "CleanCash",
        "--unit-model",
        "A",
    )
    assert await tillgw("register", "--config", str(config), "--yes", *unit) == 0
    err = capsys.readouterr().err
    assert "warning: [register].model 'Kassa 3' does not contain \"SE\"" in err
    assert 'set model = "Kassa 3 SE"' in err
    record = load_registration(tmp_path / "data")
    assert record is not None and record.register.model == "Kassa 3"

    # Given on the command line, a designation without SE is refused.
    assert await tillgw("register", "--config", str(config), "--yes", *unit, "--model", "Kassa 4") == 2
    assert "error: model: 'Kassa 4' does not contain \"SE\"" in capsys.readouterr().err

    # One with SE that the config does not name: registered, and told to set the config the same.
    assert await tillgw("register", "--config", str(config), "--yes", *unit, "--model", "Kassa 3 SE") == 0
    assert "is not [register].model 'Kassa 3', which the journal export writes" in capsys.readouterr().err


async def test_interactively_a_model_designation_without_se_is_asked_again(
    unit: ControlUnit, serve: Serve, tmp_path: Path
) -> None:
    # Name to manufacturing number: the defaults; the model designation typed without SE is refused,
    # then the config's own is taken (with a warning); program and unit maker: the defaults.
    answers = [*[""] * 8, "Kassa 4", "", "", "", "CleanCash Type A", "y"]
    async with serve(unit, "tcp") as url:
        config = write_config(tmp_path, url)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace('pos_id = "KASSA-1"', 'pos_id = "KASSA-1"\nmodel = "Kassa 3"'), "utf-8"
        )
        code, out, err = await register_interactively(config, "\n".join(answers).encode() + b"\n")
    assert code == 0, out + err
    assert 'Register model designation (must contain "SE") [Kassa 3]: ' in out
    assert "model: 'Kassa 4' does not contain \"SE\"" in out
    assert "warning: [register].model 'Kassa 3' does not contain \"SE\"" in out  # the config's own: warned
    record = load_registration(tmp_path / "data")
    assert record is not None and record.register.model == "Kassa 3"


def test_a_registration_kept_before_the_form_of_business_was_asked_still_reads(tmp_path: Path) -> None:
    old = registration().to_json()
    del old["business"]["form"]
    old["register"]["model"] = "tillgw"  # registered before "SE" was asked for
    (tmp_path / "registration.json").write_text(json.dumps(old), encoding="utf-8")
    record = load_registration(tmp_path)
    assert record is not None and record.business.form is BusinessForm.COMPANY
    assert record.register.model == "tillgw"


def test_diag_warns_of_a_model_designation_without_se(tmp_path: Path) -> None:
    from gateway.config import load_config
    from gateway.registration.record import save_registration
    from tools.diag.checks import Verdict
    from tools.diag.checks.registration import check_registration

    config_path = write_config(tmp_path)
    save_registration(tmp_path / "data", registration())  # registered as "tillgw SE", the default
    check = check_registration(load_config(config_path), "ISCCUSE0000000001")
    assert check.verdict is Verdict.OK, check.summary

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace('pos_id = "KASSA-1"', 'pos_id = "KASSA-1"\nmodel = "tillgw"'), "utf-8"
    )
    check = check_registration(load_config(config_path), "ISCCUSE0000000001")
    assert check.verdict is Verdict.WARNING
    assert "[register].model 'tillgw' does not contain \"SE\"" in check.summary
    assert check.next_step is not None and 'set model = "tillgw SE"' in check.next_step

    # Registered before "SE" was asked for, the config now with the default: report the new designation.
    config_path.write_text(text, "utf-8")
    old = registration(register=RegisterEntry("KASSA-1", "tillgw", "tillgw", "0.1.0", "TG-2025-000117", "j"))
    save_registration(tmp_path / "data", old)
    check = check_registration(load_config(config_path), "ISCCUSE0000000001")
    assert check.verdict is Verdict.WARNING
    assert "registered with the model designation 'tillgw', without \"SE\"" in check.summary
    assert check.details["model"] == {
        "configured": "tillgw SE",
        "registered": "tillgw",
        "problem": check.summary.split("; ", 1)[1],
    }
    assert check.next_step is not None and "report the new model designation" in check.next_step
