"""The command line speaks the till's language: ``tillgw diag``'s findings and next steps, and
a command's message to a person, in Swedish by default, in English with ``[shop] language =
"en"`` or ``tillgw --language en``; ``--json`` keeps its machine fields.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from firmware_sim.printer import Fault, PrinterConfig, PrinterDevice
from firmware_sim.printer.server import serve_tcp as serve_printer_tcp
from gateway import cli

CONFIG = """\
[shop]
name = "Kaffebaren i Växjö AB"
orgnr = "556036-0793"
address = ["Storgatan 1", "352 30 Växjö"]
{language}

[register]
pos_id = "KASSA-1"
data_dir = "data"

[control_unit]
url = "socket://127.0.0.1:9"
"""


def write_config(directory: Path, language: str | None) -> Path:
    path = directory / "till.toml"
    line = "" if language is None else f'language = "{language}"'
    path.write_text(CONFIG.format(language=line), encoding="utf-8")
    return path


async def tillgw(*args: str) -> int:
    return await asyncio.to_thread(cli.main, list(args))


@pytest.fixture
def paper_out(tmp_path: Path) -> PrinterDevice:
    printer = PrinterDevice(PrinterConfig(output=tmp_path / "receipts", png=False))
    printer.set_fault(Fault.PAPER_OUT)
    return printer


SWEDISH = (
    "Skrivare på",
    "fel: slut på papper — sätt i en ny rulle",
    "nästa steg (skrivare",
    "sätt i en ny rulle",
)
ENGLISH = (
    "Printer at",
    "failed: out of paper — put in a new roll",
    "next step (printer",
    "put in a new roll",
)


@pytest.mark.parametrize(
    ("options", "language", "words"),
    [
        pytest.param((), None, SWEDISH, id="no-config-sv"),
        pytest.param(("--config",), None, SWEDISH, id="config-without-language-sv"),
        pytest.param(("--config",), "en", ENGLISH, id="config-en"),
        pytest.param(("--language", "en"), None, ENGLISH, id="flag-en"),
        pytest.param(("--language", "en", "--config"), None, ENGLISH, id="flag-over-config"),
    ],
)
async def test_diag_says_what_is_wrong_and_what_to_do_in_the_tills_language(
    options: tuple[str, ...],
    language: str | None,
    words: tuple[str, ...],
    paper_out: PrinterDevice,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, language)
    before = [o for o in options if o != "--config"]
    after = ["--config", str(config)] if "--config" in options else []
    async with serve_printer_tcp(paper_out) as url:
        code = await tillgw(*before, "diag", "--printer", url, *after)
        table = capsys.readouterr().out
        assert code == 1
        title, reason, step_label, step = words
        assert f"{title} {url}" in table
        assert reason in table
        assert f"{step_label} {url}): {step}" in " ".join(table.split())

        code = await tillgw(*before, "diag", "--json", "--printer", url, *after)
    document = json.loads(capsys.readouterr().out)
    [found] = document["printers"]
    assert (found["device"], found["state"], found["details"]["paper"]) == ("printer", "failed", "out")
    assert (found["reason"], found["next_step"]) == (reason, step)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        pytest.param(None, "error: ingen signeringsnyckel i ", id="default-sv"),
        pytest.param("en", "error: no signing key at ", id="en"),
    ],
)
async def test_a_commands_message_to_a_person_is_in_the_tills_language(
    language: str | None, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, language)
    (tmp_path / "data").mkdir()
    code = await tillgw("journal", "verify", "--config", str(config))
    assert code == 2
    assert capsys.readouterr().err.startswith(words + str(tmp_path / "data"))


async def test_an_unknown_language_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        await tillgw("--language", "de", "diag")
    assert exit_.value.code == 2
    assert "invalid choice: 'de'" in capsys.readouterr().err


async def test_diag_tells_a_silent_control_unit_from_one_that_answered_in_swedish_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """diag reads its drivers' words to tell "nothing came back" from a refusal: in Swedish too."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"socket://127.0.0.1:{probe.getsockname()[1]}"
    code = await tillgw("diag", "--json", "--control-unit", url, "--timeout", "0.3")
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    [found] = document["control_units"]
    assert found["answered"] is False and found["state"] == "failed"
    assert found["reason"].startswith(f"fel: kan inte öppna {url}"), found["reason"]
    assert document["problem"].startswith(f"{url}: inget svar (fel: "), document["problem"]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        pytest.param(
            None,
            ("MB ledigt", "inte registrerad ännu: kör tillgw register", "registrering: inte registrerad"),
            id="default-sv",
        ),
        pytest.param(
            "en",
            ("MB free", "not registered yet: run tillgw register", "registration: not registered"),
            id="en",
        ),
    ],
)
async def test_diags_checks_and_the_problem_of_the_run_are_in_the_tills_language(
    language: str | None, words: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every check's finding, and the check's name where the run's problem names it."""
    config = write_config(tmp_path, language)
    (tmp_path / "data").mkdir()
    await tillgw("diag", "--json", "--config", str(config), "--timeout", "0.3")
    document = json.loads(capsys.readouterr().out)
    said = {check["name"]: check["summary"] for check in document["checks"]}
    disk, registration, problem = words
    assert disk in said["disk"] and said["registration"] == registration, said
    assert problem in document["problem"], document["problem"]
