"""Skatteverket's standard export of the journal memory (SKVFS 2021:16) as XML, streamed.

One file covers one register and a period of whole days. The element tree, its order
and the value formats follow ``skv-journal-export.md`` (the structure of the exporter
that validates against Skatteverket's schema 2021-12-08); docs/journal-export.md says
how each journal entry maps to an element, what is left out and why.

**Streamed.** The journal is read once, in entry order (:func:`read_entries`), and each
event is written as soon as its place in the file is known, so a year of receipts
takes bounded memory. Three things need more than the entry in hand, and each is a
forward-only cursor of its own rather than a table in memory:

* a receipt is exported at its ``receipt.pending`` entry (the time of the sale, which
  is on the printed receipt), with the control code of the ``receipt`` entry that
  completes it — found by a second cursor over the completions; a receipt completed
  after being in doubt thus keeps its place in time;
* the number of the Z report that closes a receipt's period is the last Z number
  before its ``receipt`` entry plus one (Z numbers are an unbroken series, so this is
  known before that Z is made, and a later export gives the same number);
* a copy looks up its original by the original's entry number.

**Sorted by time.** Entries are appended in time order, so the journal's order is the
order of ``Registreringstidpunkt`` — to within the seconds a second process (``tillgw
report`` from a shell) can wait for the write lock, or a clock set back. A small heap
holds the events of the last :data:`REORDER_WINDOW` and writes them out sorted by time
and, within one second, in journal order: the order they happened in.

**Noted.** What the format has no element for (pro forma receipts, unfinished sales,
drawer openings, price and float changes, receipts recorded as lost, the control unit's
outages) is an XML comment
at its place in time, so that every number of the receipt series is accounted for in
the file and the file still validates. A parked sale is a ``ParkeraRegistreradArtikel``
per line; what became of it (resumed, abandoned, completed) a note.

Its parts: the XML writer and value formats (:mod:`gateway.fiscal.export.skv_xml`), the company
and register (:mod:`gateway.fiscal.export.skv_register`), the cursors over the journal
(:mod:`gateway.fiscal.export.skv_journal`) and each event's element (:mod:`gateway.fiscal.export.skv_events`,
parked sales :mod:`gateway.fiscal.export.skv_parking`).
"""

from __future__ import annotations

import heapq
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from gateway.common.progress import NO_PROGRESS, Progress
from gateway.fiscal.bodies import OUTAGE_KINDS
from gateway.fiscal.export.period import (
    ExportRefused,
    Period,
    first_entry_at_or_after,
    period_range,
    wall_clock,
    written_whole,
)
from gateway.fiscal.export.skv_events import (
    journal_note,
    login_handelse,
    pro_forma_note,
    receipt_handelse,
    register_identity,
    report_handelse,
    unfinished_note,
)
from gateway.fiscal.export.skv_journal import Completions, ZSeries, exported_sale, original_of, unit_ids
from gateway.fiscal.export.skv_parking import parked_article_handelser, parking_note
from gateway.fiscal.export.skv_register import Register, register_from_config
from gateway.fiscal.export.skv_xml import INSTANS_NS, KOMPONENT_NS, ROOT, XmlWriter, orgnr_digits, timestamp
from gateway.fiscal.journal import read_entries
from gateway.fiscal.parking import PARKING_NOTED
from protocols.skv import ReceiptType

# Register and register_from_config are named here too: what a caller of the export passes in.
__all__ = [
    "REORDER_WINDOW",
    "Register",
    "default_file_name",
    "export_skv",
    "register_from_config",
    "write_skv",
]

REORDER_WINDOW = timedelta(minutes=10)

# The kinds that may become an event or a note; completions are read by their own cursor.
_EVENT_KINDS = (
    "receipt.pending",
    "report.x",
    "report.z",
    "cashier.login",
    "cashier.logout",
    "drawer.open",
    "price.change",
    "float.change",
    "series.gap",
    "sale.parked",
    *PARKING_NOTED,
    *OUTAGE_KINDS,
)
_NOTED_KINDS = ("drawer.open", "price.change", "float.change", "series.gap", *OUTAGE_KINDS)


def default_file_name(period: Period) -> str:
    return f"{ROOT}_{period.start.isoformat()}-{period.end.isoformat()}.xml"


# -- the export ------------------------------------------------------------------------------


def export_skv(
    conn: sqlite3.Connection,
    register: Register,
    period: Period,
    path: Path,
    *,
    user: str | None = None,
    now: datetime | None = None,
    progress: Progress = NO_PROGRESS,
) -> Counter[str]:
    """Write the export to ``path`` (whole or not at all); the number of events of each element."""
    register.check()  # before any file is made
    with written_whole(path) as out:
        return write_skv(conn, register, period, out, user=user, now=now, progress=progress)


def write_skv(
    conn: sqlite3.Connection,
    register: Register,
    period: Period,
    out: TextIO,
    *,
    user: str | None = None,
    now: datetime | None = None,
    progress: Progress = NO_PROGRESS,
) -> Counter[str]:
    """Write the export to ``out``; raises :class:`ExportRefused` (after writing part) if it has no events."""
    register.check()
    first, last = period_range(conn, period)
    units = unit_ids(conn, first, max(first, last))
    made = (now or datetime.now(period.zone)).astimezone(period.zone)
    x = XmlWriter(out)
    out.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
    out.write(f'<utrein:{ROOT} xmlns:utrein="{INSTANS_NS}" xmlns:utreko="{KOMPONENT_NS}">\n')
    x.depth = 1
    _header(x, register, period, made, user, units)
    x.open("RegistreringLISTA")
    counts: Counter[str] = Counter()
    progress.stage("events written")  # their number is known only once sorted: a count, no bar
    for element, text in _sorted_events(conn, register, period, x.depth):
        progress.advance()
        out.write(text)
        if element is not None:  # a note is no event
            counts[element] += 1
    if not counts:
        raise ExportRefused(
            f"cannot export: the period {period.start} to {period.end} holds no events of register "
            f"{register.pos_id} (the schema requires at least one)"
        )
    x.close("RegistreringLISTA")
    out.write(f"</utrein:{ROOT}>\n")
    return counts


def _header(
    x: XmlWriter, register: Register, period: Period, made: datetime, user: str | None, units: list[str]
) -> None:
    x.optional("InloggadAnvandareVidExportAvDataFranJournalminnet", user)
    x.leaf("BeteckningPaDetKassaregisterSomExportAvDataFranJournalminnetSkerIfran", register.pos_id)
    x.leaf("TidpunktForNarExportAvDataFranJournalminnetSker", timestamp(made))
    x.open("ValdPeriodForExportAvDataFranJournalminne")
    x.leaf("ValdStarttidpunktForExportAvDataFranJournalminnet", timestamp(period.first_moment))
    x.leaf("ValdSluttidpunktForExportAvDataFranJournalminnet", timestamp(period.last_moment))
    x.close("ValdPeriodForExportAvDataFranJournalminne")
    x.open("BeteckningPaValdaKassaregisterForExportAvDataFranJournalminnenLISTA")
    x.leaf("BeteckningPaValtKassaregisterForExportAvDataFranJournalminnet", register.pos_id)
    x.close("BeteckningPaValdaKassaregisterForExportAvDataFranJournalminnenLISTA")
    x.open("InformationOmForetaget")
    x.leaf("OrganisationsnummerEllerPersonnummer", orgnr_digits(register.orgnr))
    x.leaf("ForetagetsNamn", register.company)
    x.leaf("DenAdressDarForsaljningSker", register.address)
    x.close("InformationOmForetaget")
    x.open("KassaregistersystemLISTA")
    for unit in units:  # one system per control unit that served the register in the period
        x.open("Kassaregistersystemet")
        register_identity(x, register)
        x.leaf("Kassabeteckning", register.pos_id)
        x.leaf("TillverkningsnummerForKontrollenheten", unit)
        x.close("Kassaregistersystemet")
    x.close("KassaregistersystemLISTA")


def _sorted_events(
    conn: sqlite3.Connection, register: Register, period: Period, depth: int
) -> Iterator[tuple[str | None, str]]:
    """``(element, Handelse as XML)`` sorted by time, holding only the last few minutes' events.

    Events of one second keep the journal's order, the order they happened in. A note (an
    XML comment, element None) takes its place like an event.
    """
    held: list[tuple[datetime, int, str | None, str]] = []
    # The order read is the journal's, and keeps the lines of one parking in their order.
    for read, (instant, _seq, element, text) in enumerate(_events(conn, register, period, depth)):
        heapq.heappush(held, (instant, read, element, text))
        while held[0][0] <= instant - REORDER_WINDOW:
            _, _, element_out, text_out = heapq.heappop(held)
            yield element_out, text_out
    while held:
        _, _, element_out, text_out = heapq.heappop(held)
        yield element_out, text_out


def _events(
    conn: sqlite3.Connection, register: Register, period: Period, depth: int
) -> Iterator[tuple[datetime, int, str | None, str]]:
    """``(instant, entry number, element or None for a note, XML)`` in journal order, for the period."""
    margin = REORDER_WINDOW + timedelta(days=1)  # what a clock set back or a time-zone change may shift
    first = first_entry_at_or_after(conn, period.first_moment - margin, period.zone)
    completions = Completions(conn, first)
    z_series = ZSeries(conn, first)
    for entry in read_entries(conn, first=first, kinds=_EVENT_KINDS):
        moment = wall_clock(entry.at, period.zone)
        if moment > period.last_moment + margin:
            break
        if not period.holds(moment):
            continue
        instant = datetime.fromisoformat(entry.at)
        if entry.kind == "receipt.pending":
            done = completions.of(entry.seq)
            if done is None or done.kind != "receipt":
                # Refused, or still in doubt: no control code, no receipt; an unfinished sale.
                yield instant, entry.seq, None, unfinished_note(entry, done, moment, depth)
                continue
            sale = exported_sale(entry, done, z_series.closing(done.seq), register, period.zone)
            original = original_of(conn, sale, period.zone) if sale.type is ReceiptType.COPY else None
            if ReceiptType.PRO_FORMA in (sale.type, original and original.type):
                # Not a receipt, and no element in the format (reference §7): noted with its number.
                yield instant, entry.seq, None, pro_forma_note(sale, original, entry.seq, depth)
                continue
            element, text = receipt_handelse(register, sale, original, depth)
            yield instant, entry.seq, element, text
        elif entry.kind in ("report.x", "report.z"):
            element = "ZDagrapport" if entry.kind == "report.z" else "XDagrapport"
            yield instant, entry.seq, element, report_handelse(register, entry, moment, element, depth)
        elif entry.kind in ("cashier.login", "cashier.logout"):
            element = (
                "InloggningIKassaregister" if entry.kind == "cashier.login" else "UtloggningUrKassaregister"
            )
            yield instant, entry.seq, element, login_handelse(register, entry, moment, element, depth)
        elif entry.kind in _NOTED_KINDS:
            yield instant, entry.seq, None, journal_note(entry, moment, depth)
        elif entry.kind == "sale.parked":
            for text in parked_article_handelser(register, entry, moment, depth):
                yield instant, entry.seq, "ParkeraRegistreradArtikel", text
        elif entry.kind in PARKING_NOTED:
            yield instant, entry.seq, None, parking_note(entry, moment, depth)
        # Every other kind is not an event of the export: docs/journal-export.md says why.
