"""``tillgw register --fault-report``: the felanmälan sheet for a control-unit outage, from the journal.

A register that stops working must be reported to Skatteverket without delay
(felanmälan, 4 kap. 1 § SKVFS 2014:10), in the same e-service the register was
registered in. The till journals each outage of its control unit
(:mod:`gateway.fiscal.outages`); this makes the sheet for one of them — the last by
default, or the one ``--outage`` names by its journal entry or its day — with the
business, the control unit, the register, when the outage began and ended, and what the
till did, in the three forms of the registration sheet (Markdown, JSON, PDF).

The database is opened read-only: the sheet may be made while the till runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gateway.common.clock import Clock
from gateway.config import Config
from gateway.fiscal.journal import open_readonly
from gateway.fiscal.outages import Outage, outages_in
from gateway.registration.items import RegistrationError
from gateway.registration.record import Registration, load_registration
from gateway.till_files import TillFiles
from tools.registration.sheet import E_SERVICE, Section, sections_markdown, sections_pdf

__all__ = [
    "FaultReport",
    "choose",
    "fault_json",
    "fault_sections",
    "run_fault_report",
    "write_fault_report",
]

EXIT_OK, EXIT_NONE, EXIT_USAGE = 0, 1, 2
_FORMS = {"markdown": ".md", "json": ".json", "pdf": ".pdf"}
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class FaultReport:
    """One outage and what the sheet says around it."""

    outage: Outage
    config: Config
    registration: Registration | None
    unanswered_sales: int  # sales the unit did not answer during the outage (control_unit.error)
    made_at: datetime


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def fault_sections(report: FaultReport) -> list[Section]:
    """The sheet's parts: (title, [(question, answer)]) in the order the e-service asks."""
    outage, config, registered = report.outage, report.config, report.registration
    orgnr = config.shop.orgnr
    body = outage.body
    unit_id = body.unit_id or (registered.control_unit.manufacturing_number if registered else "-")
    if outage.until is None:
        ended = f"pågår fortfarande (still going on at {_when(report.made_at)})"
    else:
        ended = _when(outage.until)
    return [
        (
            "Verksamheten (the business)",
            [
                ("Namn (name)", config.shop.name),
                (
                    "Organisationsnummer eller personnummer",
                    f"{orgnr[:6]}-{orgnr[6:]}",
                ),
                ("Adress (address of the place of sale)", ", ".join(config.shop.address)),
            ],
        ),
        (
            "Kontrollenhet (control unit)",
            [
                ("Tillverkare (maker)", registered.control_unit.maker if registered else "-"),
                ("Modell (model)", registered.control_unit.model if registered else "-"),
                ("Tillverkningsnummer (manufacturing number)", unit_id),
                ("Adress (its address, as the till reaches it)", body.unit),
            ],
        ),
        (
            "Kassaregister (the register)",
            [
                ("Kassabeteckning (designation)", body.pos_id),
                ("Modell eller program (model or program)", f"{config.model} / {config.program}"),
                ("Tillverkningsnummer (manufacturing number)", config.manufacturing_number or "-"),
            ],
        ),
        (
            "Felet (the fault)",
            [
                ("Felet uppstod (began)", _when(outage.since)),
                ("Felet åtgärdat (ended)", ended),
                ("Varaktighet (how long)", f"{outage.minutes(report.made_at)} minuter (minutes)"),
                ("Vad som hände (what happened)", f"kontrollenheten svarade inte: {body.reason}"),
                (
                    "Vad kassan gjorde (what the till did)",
                    "försäljning nekades: ingen kontrollkod, inget kvitto (sales refused: no control "
                    "code, no receipt); inga försäljningar registrerades i efterhand",
                ),
                ("Nekade försäljningsförsök (sales refused)", str(report.unanswered_sales)),
                ("Journalpost (journal entries)", _entries(outage)),
            ],
        ),
    ]


def _entries(outage: Outage) -> str:
    return str(outage.seq) if outage.ended_seq is None else f"{outage.seq}, {outage.ended_seq}"


def _title(report: FaultReport) -> str:
    return f"Kassaregister {report.outage.body.pos_id}: felanmälan till Skatteverket"


def _preface(report: FaultReport) -> list[str]:
    return [
        f'Answers for Skatteverket\'s e-service "{E_SERVICE}" (choose "felanmäl"), made on '
        f"{report.made_at:%Y-%m-%d %H:%M} from the till's journal.",
        "A register that stops working must be reported without delay (4 kap. 1 § SKVFS 2014:10). "
        "Keep this sheet with the till.",
    ]


def fault_json(report: FaultReport) -> dict[str, Any]:
    return {
        "e_service": E_SERVICE,
        "made_at": report.made_at.isoformat(timespec="seconds"),
        "outage": report.outage.to_json(report.made_at),
        "unanswered_sales": report.unanswered_sales,
        "sheet": [
            {"section": title, "items": [{"question": q, "answer": a} for q, a in items]}
            for title, items in fault_sections(report)
        ],
    }


def write_fault_report(report: FaultReport, directory: Path) -> dict[str, Path]:
    """``fault-report-<entry>.md``, ``.json`` and ``.pdf`` in ``directory``; their paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"fault-report-{report.outage.seq}"
    paths = {
        "markdown": stem.with_suffix(".md"),
        "json": stem.with_suffix(".json"),
        "pdf": stem.with_suffix(".pdf"),
    }
    sections = fault_sections(report)
    paths["markdown"].write_text(
        sections_markdown(_title(report), _preface(report), sections), encoding="utf-8"
    )
    paths["json"].write_text(
        json.dumps(fault_json(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths["pdf"].write_bytes(sections_pdf(_title(report), _preface(report), sections))
    return paths


def choose(outages: list[Outage], which: str | None) -> Outage:
    """The last outage, or the one ``which`` names: its journal entry number, or a day
    (``YYYY-MM-DD``: the last that began that day). ``LookupError`` says what there is."""
    if not outages:
        raise LookupError("the journal holds no control-unit outage: there is nothing to report")
    if which is None:
        return outages[-1]
    if which.isdigit():
        found = [o for o in outages if o.seq == int(which)]
    elif _DAY_RE.match(which):
        day = date.fromisoformat(which)
        found = [o for o in outages if o.since.date() == day]
    else:
        raise ValueError(f"--outage: {which!r} is neither a journal entry number nor a day YYYY-MM-DD")
    if not found:
        raise LookupError(f"no outage {which} in the journal; there are: {_listing(outages)}")
    return found[-1]


def _listing(outages: list[Outage]) -> str:
    return "; ".join(f"entry {o.seq} since {_when(o.since)}" for o in outages)


def _unanswered(conn: sqlite3.Connection, outage: Outage) -> int:
    """The sales the unit did not answer from the outage's start to its end (or now)."""
    until = None if outage.until is None else outage.until.isoformat()
    row = conn.execute(
        "SELECT COUNT(*) FROM journal WHERE kind = 'control_unit.error' AND julianday(at) >= julianday(?1) "
        "AND (?2 IS NULL OR julianday(at) <= julianday(?2))",
        (outage.body.since, until),
    ).fetchone()
    return int(row[0]) if row else 0


def run_fault_report(config: Config, which: str | None, output: Path | None) -> int:
    """The command: write the sheet, print it and where it went; the exit code."""
    files = TillFiles(config.data_dir)
    try:
        registered = load_registration(config.data_dir)
    except RegistrationError as exc:
        print(f"warning: {exc.reason}; the control unit's maker and model are left blank", file=sys.stderr)
        registered = None
    try:
        with open_readonly(files.database) as conn:
            outages = outages_in(conn)
            outage = choose(outages, which)
            unanswered = _unanswered(conn, outage)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NONE
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_NONE
    report = FaultReport(outage, config, registered, unanswered, Clock(config.shop.timezone).now())
    paths = write_fault_report(report, output or config.data_dir)
    print(sections_markdown(_title(report), _preface(report), fault_sections(report)))
    for kind, path in paths.items():
        print(f"fault report ({kind}): {path}", flush=True)
    if len(outages) > 1:
        print(f"outages in the journal (choose one with --outage ENTRY|YYYY-MM-DD): {_listing(outages)}")
    print(
        f'next: file the fault report (felanmälan) in Skatteverket\'s e-service "{E_SERVICE}" with these '
        "answers; keep the printed sheet with the till",
        flush=True,
    )
    return EXIT_OK
