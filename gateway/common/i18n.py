"""The words a shop owner or a technician reads, in the till's language (docs/languages.md).

``[shop] language`` ("sv", the default, or "en") picks the catalog; whoever reads the config
for a process (``Till.open``, ``tillgw diag``, ``tillgw register``, the CLI) calls
:func:`use_language` once, and from then on :func:`tr` answers in that language. Until a
config is read (a library, a unit test) the words are the English they are written in.

The catalogs are GNU gettext ``.po`` files, the source committed beside this module in
``locale/<language>/LC_MESSAGES/tillgw.po``. They are compiled at first use, in memory, into
the ``.mo`` bytes the standard library's :class:`gettext.GNUTranslations` reads: no build
step, nothing compiled to go stale, and a wheel carries only the ``.po`` files (package
data).

Machine words (states, codes, JSON keys) are never translated: only text for a person.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
import struct
import threading
from importlib import resources

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "N_",
    "PAGE_MARK",
    "SCRIPT_MARK",
    "SOURCE_LANGUAGE",
    "UnknownLanguage",
    "catalog",
    "compile_po",
    "current_language",
    "parse_po",
    "read_po",
    "tr",
    "use_language",
]

DOMAIN = "tillgw"
LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"  # what [shop] language is when the config does not say
SOURCE_LANGUAGE = "en"  # the language the words are written in, until a config says otherwise

# How a web page marks its words for the catalog (the status page, gateway/api/static/):
# ``[[words]]`` in its HTML, ``t("words")`` in its script.
PAGE_MARK = re.compile(r"\[\[(.+?)\]\]", re.DOTALL)
SCRIPT_MARK = re.compile(r'\bt\("((?:[^"\\]|\\.)*)"')

_lock = threading.Lock()
_translations: dict[str, gettext.GNUTranslations] = {}
_current: list[str] = [SOURCE_LANGUAGE]  # one process, one till, one language


class UnknownLanguage(ValueError):
    pass


def use_language(language: str) -> None:
    """Speak ``language`` ("sv" or "en") from now on, in this whole process."""
    if language not in LANGUAGES:
        raise UnknownLanguage(
            f"{language!r} is not a language of the till: use one of {', '.join(LANGUAGES)}"
        )
    catalog(language)  # a broken catalog fails here, at start, not in the middle of a sale
    _current[0] = language


def current_language() -> str:
    return _current[0]


def tr(message: str) -> str:
    """``message`` in the process's language (itself when the catalog lacks it)."""
    return catalog(_current[0]).gettext(message)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog without translating it: words kept in a table at import
    time, translated with :func:`tr` where they are shown."""
    return message


def catalog(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``language``, compiled from its ``.po`` at its first use."""
    with _lock:
        found = _translations.get(language)
        if found is None:
            found = gettext.GNUTranslations(io.BytesIO(compile_po(read_po(language))))
            _translations[language] = found
        return found


def _po_text(language: str) -> str:
    path = resources.files("gateway.common") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    return path.read_text(encoding="utf-8")


def read_po(language: str) -> dict[str, str]:
    return parse_po(_po_text(language))


def parse_po(text: str) -> dict[str, str]:
    """The ``msgid`` → ``msgstr`` pairs of a ``.po`` file (no plurals, no contexts: the project
    uses neither); the header entry (empty ``msgid``) included."""
    entries: dict[str, str] = {}
    key: str | None = None
    parts: dict[str, list[str]] = {}

    def finish() -> None:
        if "msgid" in parts:
            entries["".join(parts["msgid"])] = "".join(parts.get("msgstr", []))
        parts.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if not line and parts:
                finish()
            continue
        if line.startswith('"'):
            if key is None:
                raise ValueError(f"line {number}: a string that belongs to no msgid or msgstr")
            parts[key].append(_po_string(line, number))
            continue
        word, _space, rest = line.partition(" ")
        if word not in ("msgid", "msgstr"):
            raise ValueError(f"line {number}: {word!r} is not used in the till's catalogs")
        if word == "msgid" and "msgid" in parts:
            finish()
        key = word
        parts[key] = [_po_string(rest, number)]
    finish()
    return entries


def _po_string(quoted: str, number: int) -> str:
    if not (len(quoted) >= 2 and quoted.startswith('"') and quoted.endswith('"')):
        raise ValueError(f"line {number}: {quoted!r} is not a quoted string")
    # The escapes of a .po string (\n \t \" \\) are those of a Python string literal.
    value = ast.literal_eval(quoted)
    if not isinstance(value, str):
        raise ValueError(f"line {number}: {quoted!r} is not a string")
    return value


def compile_po(entries: dict[str, str]) -> bytes:
    """The GNU ``.mo`` bytes of ``entries`` (the layout of CPython's Tools/i18n/msgfmt.py); an
    empty translation is left out, so gettext answers with the English."""
    pairs = sorted((k.encode(), v.encode()) for k, v in entries.items() if v or not k)
    ids = strs = b""
    offsets: list[tuple[int, int, int, int]] = []
    for key, value in pairs:
        offsets.append((len(ids), len(key), len(strs), len(value)))
        ids += key + b"\0"
        strs += value + b"\0"
    count = len(pairs)
    key_start = 7 * 4 + 16 * count
    value_start = key_start + len(ids)
    key_table: list[int] = []
    value_table: list[int] = []
    for id_offset, id_length, str_offset, str_length in offsets:
        key_table += [id_length, id_offset + key_start]
        value_table += [str_length, str_offset + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    return (
        header
        + struct.pack(f"{len(key_table)}i", *key_table)
        + struct.pack(f"{len(value_table)}i", *value_table)
        + ids
        + strs
    )
