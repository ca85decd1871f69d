"""The catalogs: every text marked in the code is in the Swedish and the English catalog with
a translation that keeps its placeholders; the ``.po`` source compiles into what the
standard library's gettext reads; a wheel carries the catalogs.
"""

from __future__ import annotations

import gettext
import io
import string
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gateway.common import i18n
from gateway.common.health import DeviceState, HealthTracker
from tools.catalogs import ROOT, marked_texts

Fields = list[tuple[str, str, str]]


def fields(text: str) -> Fields:
    """The ``{name!conversion:spec}`` placeholders of ``text``, as str.format reads them."""
    parsed = string.Formatter().parse(text)
    return sorted(
        (name, conversion or "", spec or "") for _, name, spec, conversion in parsed if name is not None
    )


@pytest.fixture(scope="module")
def marked() -> dict[str, list[str]]:
    return marked_texts()


def test_the_code_marks_texts_in_every_part_a_person_reads(marked: dict[str, list[str]]) -> None:
    places = {where.split(":")[0].rsplit("/", 1)[0] for wheres in marked.values() for where in wheres}
    for folder in (
        "gateway/api/static",
        "gateway/common",
        "gateway/devices/control_units",
        "gateway/devices/printer",
        "gateway/devices/scanner",
        "gateway/devices/links",
        "gateway/fiscal",
        "gateway/cli",
        "tools/diag",
        "tools/diag/checks",
        "tools/registration",
    ):
        assert folder in places, folder


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_marked_text_has_a_translation(language: str, marked: dict[str, list[str]]) -> None:
    catalog = i18n.read_po(language)
    missing = [f"{marked[text][0]}: {text!r}" for text in marked if not catalog.get(text)]
    assert not missing, (
        f"{len(missing)} texts without a {language} translation (python -m tools.catalogs):\n"
        + ("\n".join(missing))
    )
    stale = sorted(text for text in catalog if text and text not in marked)
    assert not stale, f"in the {language} catalog but marked nowhere (python -m tools.catalogs): {stale}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_a_translation_keeps_the_placeholders_and_the_dash_before_what_to_do(language: str) -> None:
    wrong = []
    for text, translated in i18n.read_po(language).items():
        if not text:
            continue  # the header
        if fields(text) != fields(translated):
            wrong.append(f"placeholders differ: {text!r} -> {translated!r}")
        # "<what is wrong> — <what to do>": tillgw diag reads the next step after the dash.
        if text.count(" — ") != translated.count(" — "):
            wrong.append(f"the ' — ' before what to do differs: {text!r} -> {translated!r}")
        if text.endswith(" ") != translated.endswith(" "):
            wrong.append(f"a prompt's closing space differs: {text!r} -> {translated!r}")
    assert not wrong, "\n".join(wrong)


def test_the_swedish_words_of_a_shop() -> None:
    sv = i18n.catalog("sv")
    assert sv.gettext("out of paper — put in a new roll") == "slut på papper — sätt i en ny rulle"
    assert sv.gettext("Control unit") == "Kontrollenhet"
    assert sv.gettext("Barcode scanner") == "Streckkodsläsare"
    assert "kontrollera kabeln" in sv.gettext(
        "the control unit kept receiving damaged frames — check the cable"
    )
    assert sv.gettext("drawer") == "kassalåda"
    assert sv.gettext("Last receipts") == "Senaste kvitton"


def test_a_po_file_compiles_into_what_gettext_reads() -> None:
    po = "\n".join(
        [
            "# a comment",
            'msgid ""',
            'msgstr ""',
            '"Content-Type: text/plain; charset=UTF-8\\n"',
            "",
            "#: somewhere.py:1",
            'msgid "cover open — close the "',
            '"printer\'s cover"',
            'msgstr "luckan är öppen — stäng "',
            '"skrivarens lucka"',
            "",
            'msgid "a \\"quoted\\" word\\tand a tab"',
            'msgstr "ett \\"citerat\\" ord\\toch en tabb"',
            "",
            'msgid "not yet translated"',
            'msgstr ""',
        ]
    )
    entries = i18n.parse_po(po)
    assert entries["cover open — close the printer's cover"] == "luckan är öppen — stäng skrivarens lucka"
    compiled = gettext.GNUTranslations(io.BytesIO(i18n.compile_po(entries)))
    assert (
        compiled.gettext("cover open — close the printer's cover")
        == "luckan är öppen — stäng skrivarens lucka"
    )
    assert compiled.gettext('a "quoted" word\tand a tab') == 'ett "citerat" ord\toch en tabb'
    assert compiled.gettext("not yet translated") == "not yet translated"  # the English, not ""
    assert compiled.gettext("never marked") == "never marked"


@pytest.mark.parametrize(
    ("po", "words"),
    [
        ('msgid "a"\nmsgstr "b"\nmsgctxt "c"', "'msgctxt' is not used in the till's catalogs"),
        ('"stray"', "a string that belongs to no msgid or msgstr"),
        ("msgid a\nmsgstr b", "is not a quoted string"),
    ],
)
def test_a_broken_po_file_says_which_line(po: str, words: str) -> None:
    with pytest.raises(ValueError, match="line"):
        i18n.parse_po(po)
    with pytest.raises(ValueError) as caught:
        i18n.parse_po(po)
    assert words in str(caught.value)


def test_a_language_the_till_does_not_speak_is_refused() -> None:
    with pytest.raises(i18n.UnknownLanguage, match="'de' is not a language of the till: use one of sv, en"):
        i18n.use_language("de")
    assert i18n.current_language() == i18n.SOURCE_LANGUAGE


def test_a_device_reason_is_made_in_the_language_in_use() -> None:
    tracker = HealthTracker("printer tcp://printer:9100")
    assert tracker.reason == "connecting: not yet contacted"
    i18n.use_language("sv")
    tracker.set(DeviceState.FAILED, i18n.tr("out of paper — put in a new roll"))
    assert tracker.health.reason == "fel: slut på papper — sätt i en ny rulle"
    assert tracker.health.detail == "slut på papper — sätt i en ny rulle"
    assert tracker.state is DeviceState.FAILED and tracker.state.value == "failed"  # the machine word stays
    i18n.use_language("en")
    tracker.set(DeviceState.READY)
    assert tracker.reason == "ready"


def test_a_wheel_carries_the_catalogs_and_the_page(tmp_path: Path) -> None:
    """The catalogs are package data: an installed till finds them without the source tree.
    The wheel is built as pip builds it for an install (the build backend pyproject.toml names)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("tillgateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for language in i18n.LANGUAGES:
        assert f"gateway/common/locale/{language}/LC_MESSAGES/tillgw.po" in names
    assert {"gateway/api/static/status.html", "gateway/api/static/status.js"} <= names
