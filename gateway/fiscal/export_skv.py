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
and, within one second, in the reference's order (receipts, copies, X/Z reports,
logins and logouts).
"""

from __future__ import annotations

import heapq
import io
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape

import msgspec

from gateway.config import Config
from gateway.fiscal.bodies import PendingBody, ReceiptBody
from gateway.fiscal.exporting import (
    ExportRefused,
    Period,
    first_entry_at_or_after,
    period_range,
    wall_clock,
    written_whole,
)
from gateway.fiscal.journal import Entry, read_entries
from gateway.fiscal.receipt_text import PAYMENT_NAMES
from gateway.messages.bodies import CashierBody, ReportBody
from gateway.receipts.model import LineKind, PaymentMethod, Receipt, Totals, compute
from gateway.receipts.money import shortest_text as amount_text
from protocols.skv import ReceiptType

__all__ = [
    "INSTANS_NS",
    "KOMPONENT_NS",
    "MAX_TEXT",
    "REORDER_WINDOW",
    "ROOT",
    "Register",
    "amount_text",
    "decimal_text",
    "default_file_name",
    "export_skv",
    "register_from_config",
    "write_skv",
]

ROOT = "ExportAvDataFranJournalminneEnligtSKVFS2021-16"
INSTANS_NS = "http://xmls.skatteverket.se/se/skatteverket/td/instans/utredningsstod/1.0"
KOMPONENT_NS = "http://xmls.skatteverket.se/se/skatteverket/td/komponent/utredningsstod/1.0"
MAX_TEXT = 72  # the schema's text elements hold at most 72 characters
REORDER_WINDOW = timedelta(minutes=10)
DISTRIBUTION = "tillgateway"  # the installed package (pyproject's name; the command is tillgw)

# Within one second, events keep the reference's order of kinds, then the journal's.
_RANK = {
    "Kassakvitto": 0,
    "Returkvitto": 0,
    "Ovningskvitto": 0,
    "KopiaAvKassakvitto": 1,
    "XDagrapport": 2,
    "ZDagrapport": 2,
    "InloggningIKassaregister": 3,
    "UtloggningUrKassaregister": 3,
}
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_PAYMENT_ORDER = tuple(PaymentMethod)
# The kinds that may become an event; completions are read by their own cursor.
_EVENT_KINDS = ("receipt.pending", "report.x", "report.z", "cashier.login", "cashier.logout")
_OFFSET_MEANS = "Kvittning"  # the reference's means for a receipt with no payment (nothing to pay)


@dataclass(frozen=True, slots=True)
class Register:
    """The company and register an export is made for (from the configuration)."""

    company: str
    orgnr: str
    address: str  # the place of sale on one line
    pos_id: str  # kassabeteckning
    manufacturing_number: str  # the register's tillverkningsnummer
    model: str
    program: str
    version: str

    def check(self) -> None:
        """Refuse an export that would lack what the schema requires of the company or register."""
        missing = [
            what
            for what, value in (
                ("the organisation number ([shop].orgnr)", self.orgnr),
                ("the company name ([shop].name)", self.company),
                ("the address of the place of sale ([shop].address)", self.address),
                ("the register's designation ([register].pos_id)", self.pos_id),
                (
                    "the register's manufacturing number ([register].manufacturing_number)",
                    self.manufacturing_number,
                ),
                ("the register's model ([register].model)", self.model),
                ("the register's program ([register].program)", self.program),
                ("the program's version", self.version),
            )
            if not value.strip()
        ]
        if missing:
            raise ExportRefused(f"cannot export: {'; '.join(missing)} is missing")


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return ""  # Register.check refuses the export and says so


def register_from_config(config: Config) -> Register:
    return Register(
        company=config.shop.name,
        orgnr=config.shop.orgnr,
        address=", ".join(line.strip() for line in config.shop.address if line.strip()),
        pos_id=config.pos_id,
        manufacturing_number=config.manufacturing_number or "",
        model=config.model,
        program=config.program,
        version=package_version(),
    )


def default_file_name(period: Period) -> str:
    return f"{ROOT}_{period.start.isoformat()}-{period.end.isoformat()}.xml"


# -- value formats (reference §3) --------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss``: local time, no fractions, no offset."""
    return moment.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S")


def decimal_text(value: Decimal) -> str:
    """Rounded to 2 decimals (halves away from zero), a dot, no trailing zeros: ``1234.5``, ``25``."""
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def rate_text(rate: int) -> str:
    """A VAT rate in hundredths of a percent as percent: ``2500`` -> ``25``."""
    return decimal_text(Decimal(rate) / 100)


def orgnr_digits(orgnr: str) -> str:
    return orgnr.replace("-", "").replace(" ", "")


# -- the XML writer ------------------------------------------------------------------------


class XmlWriter:
    """Elements written as they come: the root in the instans namespace, all else in komponent."""

    def __init__(self, out: TextIO, depth: int = 0) -> None:
        self.out = out
        self.depth = depth

    def open(self, name: str) -> None:
        self.out.write(f"{'  ' * self.depth}<utreko:{name}>\n")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.out.write(f"{'  ' * self.depth}</utreko:{name}>\n")

    def leaf(self, name: str, value: str) -> None:
        text = value[:MAX_TEXT] if value.isalnum() else escape(_XML_ILLEGAL.sub("", value)[:MAX_TEXT])
        self.out.write(f"{'  ' * self.depth}<utreko:{name}>{text}</utreko:{name}>\n")

    def optional(self, name: str, value: str | None) -> None:
        """Left out when empty: the schema has no empty elements."""
        if value is not None and value.strip():
            self.leaf(name, value)


# -- what the journal holds, as the export needs it ------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sale:
    """A completed receipt: its pending entry (the sale) and its ``receipt`` entry (the unit's answer)."""

    number: int
    type: ReceiptType
    moment: datetime  # the sale's local time: on the printed receipt
    pos_id: str
    receipt: Receipt
    totals: Totals
    control_code: str
    unit_id: str
    z_no: int  # the Z report that closes its period
    copy_of: int | None  # a copy: the original's receipt entry


class _Completion(msgspec.Struct, frozen=True):
    """What every ``receipt`` and ``receipt.refused`` body says: the pending entry it ends."""

    pending: int


class _Completions:
    """The ``receipt`` / ``receipt.refused`` entries in order: what became of each pending entry."""

    def __init__(self, conn: sqlite3.Connection, first: int) -> None:
        self._rows = read_entries(conn, first=first, kinds=("receipt", "receipt.refused"))
        self._next = self._read()

    def _read(self) -> tuple[Entry, int] | None:
        entry = next(self._rows, None)
        return None if entry is None else (entry, entry.body_as(_Completion).pending)

    def of(self, pending_seq: int) -> Entry | None:
        """The entry that completed or refused ``pending_seq``; None while it is still in doubt.

        Called with increasing numbers: one receipt is pending at a time (the pipeline
        resolves one in doubt before any other), so the cursor only moves forward.
        """
        while self._next is not None and self._next[1] < pending_seq:
            self._next = self._read()
        if self._next is not None and self._next[1] == pending_seq:
            found, self._next = self._next[0], self._read()
            return found
        return None


class _ZNumber(msgspec.Struct, frozen=True):
    z_no: int


class _ZSeries:
    """The Z number that closes the period of an entry: the last Z before it, plus one."""

    def __init__(self, conn: sqlite3.Connection, first: int) -> None:
        row = conn.execute(
            "SELECT json_extract(body, '$.z_no') FROM journal WHERE kind = 'report.z' AND seq < ? "
            "ORDER BY seq DESC LIMIT 1",
            (first,),
        ).fetchone()
        self._last = int(row[0]) if row is not None and row[0] is not None else 0
        self._rows = read_entries(conn, first=first, kinds=("report.z",))
        self._next: Entry | None = next(self._rows, None)

    def closing(self, seq: int) -> int:
        """Called with non-decreasing entry numbers."""
        while self._next is not None and self._next.seq < seq:
            self._last = self._next.body_as(_ZNumber).z_no
            self._next = next(self._rows, None)
        return self._last + 1


def _unit_ids(conn: sqlite3.Connection, first: int, last: int) -> list[str]:
    """The control units that answered for receipts of the period, or the last one before it."""
    rows = conn.execute(
        "SELECT json_extract(body, '$.unit_id') AS unit, MIN(seq) FROM journal "
        "WHERE kind = 'receipt' AND seq BETWEEN ? AND ? AND unit IS NOT NULL GROUP BY unit ORDER BY 2",
        (first, last),
    ).fetchall()
    units = [str(row[0]) for row in rows if str(row[0]).strip()]
    if units:
        return units
    row = conn.execute(
        "SELECT json_extract(body, '$.unit_id') FROM journal WHERE kind = 'receipt' AND seq < ? "
        "ORDER BY seq DESC LIMIT 1",
        (first,),
    ).fetchone()
    if row is None or row[0] is None or not str(row[0]).strip():
        raise ExportRefused(
            "cannot export: no control unit has registered a receipt of this register up to the end of "
            "the period, so its manufacturing number is not known"
        )
    return [str(row[0])]


# -- the export ------------------------------------------------------------------------------


def export_skv(
    conn: sqlite3.Connection,
    register: Register,
    period: Period,
    path: Path,
    *,
    user: str | None = None,
    now: datetime | None = None,
) -> Counter[str]:
    """Write the export to ``path`` (whole or not at all); the number of events of each element."""
    register.check()  # before any file is made
    with written_whole(path) as out:
        return write_skv(conn, register, period, out, user=user, now=now)


def write_skv(
    conn: sqlite3.Connection,
    register: Register,
    period: Period,
    out: TextIO,
    *,
    user: str | None = None,
    now: datetime | None = None,
) -> Counter[str]:
    """Write the export to ``out``; raises :class:`ExportRefused` (after writing part) if it has no events."""
    register.check()
    first, last = period_range(conn, period)
    units = _unit_ids(conn, first, max(first, last))
    made = now or datetime.now().astimezone()
    x = XmlWriter(out)
    out.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
    out.write(f'<utrein:{ROOT} xmlns:utrein="{INSTANS_NS}" xmlns:utreko="{KOMPONENT_NS}">\n')
    x.depth = 1
    _header(x, register, period, made, user, units)
    x.open("RegistreringLISTA")
    counts: Counter[str] = Counter()
    for element, text in _sorted_events(conn, register, period, x.depth):
        out.write(text)
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
        _register_identity(x, register)
        x.leaf("Kassabeteckning", register.pos_id)
        x.leaf("TillverkningsnummerForKontrollenheten", unit)
        x.close("Kassaregistersystemet")
    x.close("KassaregistersystemLISTA")


def _register_identity(x: XmlWriter, register: Register) -> None:
    x.leaf("TillverkningsnummerForKassaregistret", register.manufacturing_number)
    x.leaf("ModellbeteckningForKassaregistret", register.model)
    x.leaf("ModellEllerProgramForKassaregistret", register.program)
    x.leaf("VersionsnummerForKassaregistret", register.version)


def _sorted_events(
    conn: sqlite3.Connection, register: Register, period: Period, depth: int
) -> Iterator[tuple[str, str]]:
    """``(element, Handelse as XML)`` sorted by time, holding only the last few minutes' events."""
    held: list[tuple[datetime, int, int, str, str]] = []
    for instant, seq, element, text in _events(conn, register, period, depth):
        heapq.heappush(held, (instant, _RANK[element], seq, element, text))
        while held[0][0] <= instant - REORDER_WINDOW:
            _, _, _, element_out, text_out = heapq.heappop(held)
            yield element_out, text_out
    while held:
        _, _, _, element_out, text_out = heapq.heappop(held)
        yield element_out, text_out


def _events(
    conn: sqlite3.Connection, register: Register, period: Period, depth: int
) -> Iterator[tuple[datetime, int, str, str]]:
    """``(instant, entry number, element, Handelse as XML)`` in journal order, for the period's events."""
    margin = REORDER_WINDOW + timedelta(days=1)  # what a clock set back or a time-zone change may shift
    first = first_entry_at_or_after(conn, period.first_moment - margin)
    completions = _Completions(conn, first)
    z_series = _ZSeries(conn, first)
    for entry in read_entries(conn, first=first, kinds=_EVENT_KINDS):
        moment = wall_clock(entry.at)
        if moment > period.last_moment + margin:
            break
        if not period.holds(moment):
            continue
        instant = datetime.fromisoformat(entry.at)
        if entry.kind == "receipt.pending":
            done = completions.of(entry.seq)
            if done is None or done.kind != "receipt":
                continue  # refused, or still in doubt: no control code, no receipt
            sale = _sale(entry, done, z_series.closing(done.seq), register)
            if sale.type is ReceiptType.PRO_FORMA:
                continue  # pro forma receipts are not exported (reference §7)
            element, text = _receipt_handelse(conn, register, sale, depth)
            yield instant, entry.seq, element, text
        elif entry.kind in ("report.x", "report.z"):
            element = "ZDagrapport" if entry.kind == "report.z" else "XDagrapport"
            yield instant, entry.seq, element, _report_handelse(register, entry, moment, element, depth)
        elif entry.kind in ("cashier.login", "cashier.logout"):
            element = (
                "InloggningIKassaregister" if entry.kind == "cashier.login" else "UtloggningUrKassaregister"
            )
            yield instant, entry.seq, element, _login_handelse(register, entry, moment, element, depth)
        # Every other kind is not an event of the export: docs/journal-export.md says why.


def _sale(pending_entry: Entry, done_entry: Entry, z_no: int, register: Register) -> _Sale:
    pending, done = pending_entry.body_as(PendingBody), done_entry.body_as(ReceiptBody)
    receipt = pending.sale()
    return _Sale(
        number=done.receipt_no,
        type=done.type,
        moment=wall_clock(pending.at or pending_entry.at),
        pos_id=pending.control.pos_id or register.pos_id,
        receipt=receipt,
        totals=compute(receipt),
        control_code=done.control_code,
        unit_id=done.unit_id,
        z_no=z_no,
        copy_of=done.copy_of,
    )


def _original(conn: sqlite3.Connection, copy: _Sale) -> tuple[int, datetime, str]:
    """The original of a copy: its number, its time and its control code. Refuses when it is gone."""
    row = conn.execute(
        "SELECT body FROM journal WHERE seq = ? AND kind = 'receipt'", (copy.copy_of,)
    ).fetchone()
    body = None if row is None else msgspec.json.decode(row[0], type=ReceiptBody)
    pending = None
    if body is not None:
        pending = conn.execute(
            "SELECT at, body FROM journal WHERE seq = ? AND kind = 'receipt.pending'", (body.pending,)
        ).fetchone()
    if body is None or pending is None:
        raise ExportRefused(
            f"cannot export: the copy of receipt {copy.number} names journal entry {copy.copy_of} as its "
            "original, and that is not a completed receipt"
        )
    sold_at = msgspec.json.decode(pending[1], type=PendingBody).at or str(pending[0])
    return body.receipt_no, wall_clock(sold_at), body.control_code


def _handelse(depth: int, user: str | None, pos_id: str, moment: datetime) -> tuple[io.StringIO, XmlWriter]:
    buffer = io.StringIO()
    x = XmlWriter(buffer, depth)
    x.open("Handelse")
    x.optional("InloggadAnvandare", user)
    x.leaf("Kassabeteckning", pos_id)
    x.leaf("Registreringstidpunkt", timestamp(moment))
    return buffer, x


def _receipt_handelse(
    conn: sqlite3.Connection, register: Register, sale: _Sale, depth: int
) -> tuple[str, str]:
    if sale.type is ReceiptType.COPY:
        element = "KopiaAvKassakvitto"
    elif sale.type is ReceiptType.TRAINING:
        element = "Ovningskvitto"
    else:
        element = "Returkvitto" if sale.totals.is_return else "Kassakvitto"
    original = _original(conn, sale) if element == "KopiaAvKassakvitto" else None
    buffer, x = _handelse(depth, sale.receipt.cashier, sale.pos_id, sale.moment)
    x.open(element)
    x.leaf("ForetagetsNamn", register.company)
    x.leaf("OrganisationsnummerEllerPersonnummer", orgnr_digits(register.orgnr))
    x.leaf("DenAdressDarForsaljningSker", register.address)
    made = timestamp(sale.moment)
    if original is not None:
        number, original_moment, _ = original
        x.leaf("DatumOchKlockslagNarKvittoFramstalls", made)
        x.leaf("DatumOchKlockslagNarOriginalkvittoFramstalldes", timestamp(original_moment))
        # A copy carries the original's number: the copy's own number in the till's series.
        x.leaf("LopnummerForKvittokopia", str(sale.number))
        x.leaf("LopnummerPaOriginalkvitto", str(number))
    elif element == "Returkvitto":
        x.leaf("DatumOchKlockslagNarReturkvittoFramstalls", made)
        x.leaf("LopnummerForKassakvitto", str(sale.number))
    elif element == "Ovningskvitto":
        x.leaf("DatumOchKlockslagNarKvittoFramstalls", made)
        x.leaf("LopnummerForOvningskvitto", str(sale.number))
    else:
        x.leaf("DatumOchKlockslagNarKvittoFramstalls", made)
        x.leaf("LopnummerForKassakvitto", str(sale.number))
    x.leaf("Kassabeteckning", sale.pos_id)
    _articles(x, sale)
    x.leaf("TotaltForsaljningsbeloppISvenskaKronor", amount_text(sale.totals.to_pay))
    x.leaf("MervardesskattPaForsaljningsbeloppet", amount_text(sum(v.vat for v in sale.totals.vat)))
    _receipt_payments(x, sale.totals)
    _vat_list(x, [(v.rate, v.vat) for v in sale.totals.vat])
    if original is not None:
        x.leaf("KontrollkodPaKopiaAvKassakvitto", sale.control_code)
    x.leaf("LopnummerForZDagrapportPaKvitto", str(sale.z_no))
    x.leaf("TillverkningsnummerForKontrollenheten", sale.unit_id)
    if original is not None:
        x.leaf("KontrollkodForKvittotSomKopianAvser", original[2])
    elif element != "Ovningskvitto":  # a training receipt carries no control code
        x.leaf("Kontrollkod", sale.control_code)
    x.close(element)
    x.close("Handelse")
    return element, buffer.getvalue()


def _articles(x: XmlWriter, sale: _Sale) -> None:
    lines, amounts = sale.receipt.lines, sale.totals.line_amounts
    vat = _line_vat(sale)
    x.open("SaldaArtiklarLISTA")
    for line, amount, line_vat in zip(lines, amounts, vat, strict=True):
        x.open("SaldArtikel")
        x.leaf("TypAvArtikel", "TJANST" if line.kind is LineKind.SERVICE else "VARA")
        x.optional("Artikelnummer", line.article)
        x.leaf("Artikelnamn", line.text)
        x.leaf("AntalAvSaldArtikel", decimal_text(line.quantity))
        x.leaf("PrisPerEnhet", amount_text(line.unit_price))
        x.leaf("PrisPaSaldArtikel", amount_text(amount))
        discount = abs(line.gross - amount)  # its own discount and its share of the receipt's
        if discount:
            x.open("RabatterPaSaldArtikelLISTA")
            x.open("RabattPaSaldArtikel")
            x.leaf("RabattensBelopp", amount_text(discount))
            x.close("RabattPaSaldArtikel")
            x.close("RabatterPaSaldArtikelLISTA")
        x.leaf("MervardesskattesatsForSaldArtikel", rate_text(line.vat_rate))
        x.leaf("MervardesskattPaSaldArtikel", amount_text(line_vat))
        x.leaf("ArtikelnsRegistreringstidpunkt", timestamp(sale.moment))
        x.close("SaldArtikel")
    x.close("SaldaArtiklarLISTA")


def _line_vat(sale: _Sale) -> list[int]:
    """Each line's share of its rate's VAT, in proportion to its amount, adding up exactly.

    The receipt's VAT is computed once per rate (gateway.receipts.model); the lines' shares are
    spread by the largest-remainder method so they add up to it to the öre.
    """
    amounts = sale.totals.line_amounts
    out = [0] * len(amounts)
    for rate in sale.totals.vat:
        members = [i for i, line in enumerate(sale.receipt.lines) if line.vat_rate == rate.rate]
        base = sum(abs(amounts[i]) for i in members)
        if base == 0 or rate.vat == 0:
            continue
        target, sign = abs(rate.vat), (1 if rate.vat > 0 else -1)
        exact = [target * abs(amounts[i]) for i in members]
        shares = [e // base for e in exact]
        for k in sorted(range(len(members)), key=lambda k: (-(exact[k] % base), k))[: target - sum(shares)]:
            shares[k] += 1
        for k, i in enumerate(members):
            out[i] = sign * shares[k]
    return out


def _payment_name(method: str) -> str:
    try:
        return PAYMENT_NAMES[PaymentMethod(method)]
    except ValueError:
        return method


def _receipt_payments(x: XmlWriter, totals: Totals) -> None:
    paid = [(m.value, totals.paid[m]) for m in _PAYMENT_ORDER if m in totals.paid]
    _payments(x, paid or [(_OFFSET_MEANS, totals.to_pay)])  # the schema wants at least one


def _payments(x: XmlWriter, paid: list[tuple[str, int]]) -> None:
    x.open("TotalaForsaljningssummorPerBetalningsmedelLISTA")
    for method, amount in paid:
        x.open("TotalForsaljningssummaPerBetalningsmedel")
        x.leaf("Betalningsmedel", method if method == _OFFSET_MEANS else _payment_name(method))
        x.leaf("ForsaljningssummaPerBetalningsmedel", amount_text(amount))
        x.close("TotalForsaljningssummaPerBetalningsmedel")
    x.close("TotalaForsaljningssummorPerBetalningsmedelLISTA")


def _vat_list(x: XmlWriter, rates: list[tuple[int, int]]) -> None:
    x.open("MervardesskattPaOlikaSkattesatserLISTA")
    for rate, amount in rates or [(0, 0)]:  # the schema wants at least one
        x.open("MervardesskattPerSkattesats")
        x.leaf("Mervardesskattesats", rate_text(rate))
        x.leaf("TotaltMervardesskattebeloppPerSkattesats", amount_text(amount))
        x.close("MervardesskattPerSkattesats")
    x.close("MervardesskattPaOlikaSkattesatserLISTA")


def _report_handelse(register: Register, entry: Entry, moment: datetime, element: str, depth: int) -> str:
    body = entry.body_as(ReportBody[int])
    buffer, x = _handelse(depth, None, body.pos_id or register.pos_id, moment)
    x.open(element)
    x.leaf("ForetagetsNamn", register.company)
    x.leaf("OrganisationsnummerEllerPersonnummer", orgnr_digits(register.orgnr))
    x.leaf("DatumOchKlockslagNarRapportFramstalls", timestamp(moment))
    if element == "ZDagrapport":
        x.leaf("LopnummerForZDagrapport", str(body.z_no))
    x.leaf("Kassabeteckning", body.pos_id or register.pos_id)
    if element == "ZDagrapport":
        _register_identity(x, register)
    x.leaf("TotalForsaljningssumma", amount_text(body.net_sales))
    _vat_list(x, [(int(Decimal(v.rate) * 100), v.vat) for v in body.vat])
    x.leaf("VaxelkassansBeloppISvenskaKronor", amount_text(body.float_.amount))
    x.leaf("AntalKassakvitton", str(body.receipts))
    x.leaf("AntalKassaladoppningar", str(body.drawer_openings))
    x.leaf("AntalKvittokopior", str(body.copies.count))
    x.leaf("TotaltBeloppPaKvittokopior", amount_text(body.copies.amount))
    x.leaf("AntalKvittonSomTagitsFramIOvningslage", str(body.training.count))
    _payments(x, [(m.value, body.payments[m]) for m in _PAYMENT_ORDER if m in body.payments])
    x.leaf("AntalReturer", str(body.returns.count))
    x.leaf("ReturernasBelopp", amount_text(body.returns.amount))
    x.leaf("RabatternasBelopp", amount_text(body.discounts.amount))
    other = body.other_reductions
    x.leaf("AntalOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp", str(other.count))
    x.leaf("TotaltBeloppAvOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp", amount_text(other.amount))
    unfinished = body.unfinished
    x.leaf("AntalOavslutadeForsaljningar", str(unfinished.count))
    # Never negative (the schema refuses it): a refused return counts by its size.
    size = abs(unfinished.refused.amount) + abs(unfinished.in_doubt.amount)
    x.leaf("TotaltBeloppAvOavslutadeForsaljningar", amount_text(size))
    grand = body.grand_total
    x.leaf("GrandTotalForsaljning", amount_text(grand.sales))
    x.leaf("GrandTotalRetur", amount_text(abs(grand.returns)))
    x.leaf("GrandTotalNetto", amount_text(grand.net))
    x.close(element)
    x.close("Handelse")
    return buffer.getvalue()


def _login_handelse(register: Register, entry: Entry, moment: datetime, element: str, depth: int) -> str:
    body = entry.body_as(CashierBody)
    buffer, x = _handelse(depth, body.cashier, body.pos_id or register.pos_id, moment)
    x.leaf(element, "JA")
    x.close("Handelse")
    return buffer.getvalue()
