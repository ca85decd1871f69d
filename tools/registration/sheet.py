"""The registration sheet: what Skatteverket's e-service asks, answered, as Markdown, JSON and PDF.

The e-service "Anmäl, ändra, felanmäl och avanmäl kassaregister" asks its questions in
Swedish; each line of the sheet carries the question's Swedish words and an English
gloss, then the answer, in the order the e-service asks them, so the shop owner can
copy them across one by one. :func:`sheet_sections` is that list; the three writers
only lay it out.

The PDF is set in Helvetica, one of the PDF core fonts, whose Latin-1 encoding holds
å ä ö; a sheet with a character outside Latin-1 (a name in another script) is set in
JetBrains Mono instead, whose TTF the project depends on and which covers them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from gateway.registration.items import BusinessForm
from gateway.registration.record import Registration

__all__ = [
    "E_SERVICE",
    "Section",
    "sections_markdown",
    "sections_pdf",
    "sheet_json",
    "sheet_markdown",
    "sheet_pdf",
    "sheet_sections",
    "write_sheet",
]

E_SERVICE = "Anmäl, ändra, felanmäl och avanmäl kassaregister"
Section = tuple[str, list[tuple[str, str]]]


def sheet_sections(registration: Registration) -> list[Section]:
    """Each part of the e-service's form: its title, then (question, answer) in its order."""
    r = registration
    from_unit = r.control_unit.read_from_device
    unit_source = "read from the unit itself" if from_unit else "typed in, not read from the unit"
    if r.business.form is BusinessForm.SOLE_TRADER:
        number_question = "Personnummer (enskild firma: the owner's)"
    else:
        number_question = "Organisationsnummer"
    return [
        (
            "Verksamheten (the business)",
            [
                ("Namn (name)", r.business.name),
                (number_question, r.business.orgnr),
                ("Adress (address of the place of sale)", r.place_of_sale.one_line),
            ],
        ),
        (
            "Kontrollenhet (control unit)",
            [
                ("Tillverkare (maker)", r.control_unit.maker),
                ("Modell (model)", r.control_unit.model),
                ("Tillverkningsnummer (manufacturing number)", r.control_unit.manufacturing_number),
                ("Adress där kontrollenheten finns (where it is)", r.place_of_sale.one_line),
                ("Firmware (for your records)", r.control_unit.firmware or "-"),
                ("Uppgifterna (these answers)", unit_source),
            ],
        ),
        (
            "Kassaregister (the register)",
            [
                ("Kassabeteckning (designation)", r.register.designation),
                ("Modell eller program (model or program)", f"{r.register.model} / {r.register.program}"),
                ("Version", r.register.version),
                ("Tillverkningsnummer (manufacturing number)", r.register.manufacturing_number),
                ("Kontrollremsa eller journalminne (paper roll or journal memory)", r.register.journal),
            ],
        ),
    ]


def _title(registration: Registration) -> str:
    return f"Kassaregister {registration.register.designation}: anmälan till Skatteverket"


def _preface(registration: Registration) -> list[str]:
    return [
        f'Answers for Skatteverket\'s e-service "{E_SERVICE}", made on {registration.registered_on}.',
        "Report a change (a new control unit, a new designation, another organisationsnummer) "
        "within two weeks.",
        "Since 2025-10-01 the register needs no ID sticker (märkning).",
    ]


def sheet_markdown(registration: Registration) -> str:
    return sections_markdown(_title(registration), _preface(registration), sheet_sections(registration))


def sections_markdown(heading: str, preface: list[str], sections: list[Section]) -> str:
    """A sheet as Markdown: its title, the preface's lines, then a table per section."""
    lines = [f"# {heading}", "", *preface, ""]
    for title, items in sections:
        lines += [f"## {title}", "", "| Fråga (question) | Svar (answer) |", "|---|---|"]
        lines += [f"| {question} | {answer.replace('|', '/')} |" for question, answer in items]
        lines.append("")
    return "\n".join(lines)


def sheet_json(registration: Registration) -> dict[str, Any]:
    """The registration as kept in registration.json, with the sheet's questions and answers."""
    return {
        **registration.to_json(),
        "e_service": E_SERVICE,
        "sheet": [
            {"section": title, "items": [{"question": q, "answer": a} for q, a in items]}
            for title, items in sheet_sections(registration)
        ],
    }


def _fits_latin1(texts: list[str]) -> bool:
    try:
        "".join(texts).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _jetbrains_mono() -> Path:
    """The TTF that fontpkg-jetbrains-mono ships (a dependency), found without importing the package."""
    spec = importlib.util.find_spec("fontpkg_jetbrains_mono")
    if spec is None or spec.origin is None:
        raise RuntimeError("fontpkg-jetbrains-mono is not installed: reinstall tillgateway")
    return Path(spec.origin).parent / "files" / "JetBrainsMono[wght].ttf"


def sheet_pdf(registration: Registration) -> bytes:
    """One A4 page (more if the answers are long) to print and keep beside the till."""
    return sections_pdf(_title(registration), _preface(registration), sheet_sections(registration))


def sections_pdf(heading: str, preface: list[str], sections: list[Section]) -> bytes:
    """A sheet as PDF: its title, the preface, then each section's questions and answers."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    texts = [heading, *preface]
    texts += [t for title, items in sections for item in items for t in (title, *item)]
    pdf = FPDF(format="A4")
    pdf.set_title(heading)
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=18)
    if _fits_latin1(texts):
        family, bold = "helvetica", "B"
    else:
        family, bold = "jetbrains-mono", ""
        pdf.add_font(family, "", str(_jetbrains_mono()))
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, bold, 15)
    pdf.multi_cell(width, 8, heading, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 9.5)
    for line in preface:
        pdf.multi_cell(width, 5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    question_width = width * 0.45
    for title, items in sections:
        pdf.ln(4)
        pdf.set_font(family, bold, 12)
        pdf.multi_cell(width, 7, title, border="B", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
        for question, answer in items:
            pdf.set_font(family, "", 9.5)
            top = pdf.get_y()
            pdf.multi_cell(question_width, 5.5, question, align="L", new_x=XPos.RIGHT, new_y=YPos.TOP)
            pdf.set_font(family, bold, 10)
            pdf.multi_cell(
                width - question_width, 5.5, answer, align="L", new_x=XPos.LMARGIN, new_y=YPos.LAST
            )
            pdf.set_y(max(pdf.get_y(), top + 5.5) + 1.5)
    return bytes(pdf.output())


def write_sheet(registration: Registration, directory: Path) -> dict[str, Path]:
    """``registration-sheet.md``, ``.json`` and ``.pdf`` in ``directory``; their paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": directory / "registration-sheet.md",
        "json": directory / "registration-sheet.json",
        "pdf": directory / "registration-sheet.pdf",
    }
    paths["markdown"].write_text(sheet_markdown(registration), encoding="utf-8")
    paths["json"].write_text(
        json.dumps(sheet_json(registration), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths["pdf"].write_bytes(sheet_pdf(registration))
    return paths
