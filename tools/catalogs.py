"""The words marked for translation, and the catalogs kept in step with them (docs/languages.md).

``python -m tools.catalogs`` finds every marked text — ``tr("…")`` and ``N_("…")`` in the
Python of ``gateway/`` and ``tools/``, ``[[…]]`` in the status page's HTML and ``t("…")``
in its script — and rewrites each ``.po`` catalog: a translation kept is kept, a new text
comes in with an empty translation to fill in (the English catalog takes the text itself),
a text no longer marked goes. The test of the catalogs (tests/common/test_i18n.py) uses
the same finder, so a text marked and not translated fails there.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from gateway.common.i18n import DOMAIN, LANGUAGES, PAGE_MARK, SCRIPT_MARK, SOURCE_LANGUAGE, parse_po

__all__ = ["ROOT", "catalog_path", "marked_texts", "write_catalog"]

ROOT = Path(__file__).resolve().parent.parent
MARKERS = {"tr", "N_"}  # gateway.common.i18n: translate now, or mark for later
SOURCES = ("gateway", "tools")
PAGES = Path("gateway/api/static")


def catalog_path(language: str, root: Path = ROOT) -> Path:
    return root / "gateway" / "common" / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _python_marks(path: Path, shown: str) -> Iterator[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=shown)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in MARKERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, f"{shown}:{node.lineno}"


def marked_texts(root: Path = ROOT) -> dict[str, list[str]]:
    """Every marked text, with where it is marked (``path:line``), in the order first found."""
    found: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            shown = str(path.relative_to(root))
            for text, where in _python_marks(path, shown):
                found.setdefault(text, []).append(where)
    for path in sorted((root / PAGES).glob("*.html")):
        for text in PAGE_MARK.findall(path.read_text(encoding="utf-8")):
            found.setdefault(text, []).append(str(path.relative_to(root)))
    for path in sorted((root / PAGES).glob("*.js")):
        for quoted in SCRIPT_MARK.findall(path.read_text(encoding="utf-8")):
            found.setdefault(json.loads(f'"{quoted}"'), []).append(str(path.relative_to(root)))
    return found


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def write_catalog(language: str, texts: dict[str, list[str]], root: Path = ROOT) -> tuple[int, int]:
    """Rewrite ``language``'s catalog for ``texts``; returns (texts, of which untranslated)."""
    path = catalog_path(language, root)
    known = parse_po(path.read_text(encoding="utf-8")) if path.exists() else {}
    lines = [
        f"# tillgateway: the words a shop owner or technician reads, in {language}.",
        "# Kept in step with the code by `python -m tools.catalogs`; docs/languages.md.",
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        f'"Language: {language}\\n"',
        "",
    ]
    missing = 0
    for text, places in texts.items():
        translated = known.get(text) or (text if language == SOURCE_LANGUAGE else "")
        missing += not translated
        lines += [
            f"#: {' '.join(sorted(set(places)))}",
            f"msgid {_quoted(text)}",
            f"msgstr {_quoted(translated)}",
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(texts), missing


def main() -> int:
    texts = marked_texts()
    for language in LANGUAGES:
        count, missing = write_catalog(language, texts)
        print(f"{catalog_path(language).relative_to(ROOT)}: {count} texts, {missing} to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
