"""Each event of the SKV export as its ``Handelse`` element: receipts, copies, X/Z reports, logins
(parked sales are :mod:`gateway.fiscal.export.skv_parking`).

Each writer returns the element's XML text, ready for its place in time in the file
(:func:`gateway.fiscal.export.skv.write_skv` sorts them). What the format has no element
for is noted at its place as an XML comment (:func:`note`): a schema ignores comments.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import msgspec

from gateway.fiscal.bodies import (
    OutageBody,
    OutageEndedBody,
    PendingBody,
    RefusedBody,
    SeriesGapBody,
)
from gateway.fiscal.export.skv_journal import ExportedSale, Original
from gateway.fiscal.export.skv_register import Register
from gateway.fiscal.export.skv_xml import XmlWriter, decimal_text, orgnr_digits, rate_text, timestamp
from gateway.fiscal.journal import Entry
from gateway.fiscal.receipt_text import PAYMENT_NAMES
from gateway.messages.bodies import CashierBody, DrawerOpenBody, FloatChangeBody, PriceChangeBody, ReportBody
from gateway.receipts.model import Line, LineKind, PaymentMethod, Totals
from gateway.receipts.money import shortest_text
from protocols.skv import ReceiptType

__all__ = [
    "ROUNDING_NAME",
    "article_leaves",
    "journal_note",
    "login_handelse",
    "note",
    "open_handelse",
    "pro_forma_note",
    "receipt_handelse",
    "register_identity",
    "report_handelse",
    "unfinished_note",
]

_PAYMENT_ORDER = tuple(PaymentMethod)
_OFFSET_MEANS = "Kvittning"  # the reference's means for a receipt with no payment (nothing to pay)
ROUNDING_NAME = "Öresavrundning"  # the rounding's article on a receipt, and its line among a report's means
_OWN_MEANS = (_OFFSET_MEANS, ROUNDING_NAME)


def register_identity(x: XmlWriter, register: Register) -> None:
    x.leaf("TillverkningsnummerForKassaregistret", register.manufacturing_number)
    x.leaf("ModellbeteckningForKassaregistret", register.model)
    x.leaf("ModellEllerProgramForKassaregistret", register.program)
    x.leaf("VersionsnummerForKassaregistret", register.version)


def open_handelse(
    depth: int, user: str | None, pos_id: str, moment: datetime
) -> tuple[io.StringIO, XmlWriter]:
    buffer = io.StringIO()
    x = XmlWriter(buffer, depth)
    x.open("Handelse")
    x.optional("InloggadAnvandare", user)
    x.leaf("Kassabeteckning", pos_id)
    x.leaf("Registreringstidpunkt", timestamp(moment))
    return buffer, x


def receipt_handelse(
    register: Register, sale: ExportedSale, original: Original | None, depth: int
) -> tuple[str, str]:
    """A receipt's ``Handelse``; ``original`` is a copy's original
    (:func:`gateway.fiscal.export.skv_journal.original_of`).

    A copy of a training receipt is itself a print for training only (SKVFS 2014:9 2 kap.
    26 §), so it is an ``Ovningskvitto`` with its original's number, never a copy of a
    sales receipt. A pro forma receipt and its copy are no event of the format: the caller
    notes them (:func:`note`).
    """
    if original is not None and original.type is ReceiptType.TRAINING:
        element, original = "Ovningskvitto", None
    elif original is not None:
        element = "KopiaAvKassakvitto"
    elif sale.type is ReceiptType.TRAINING:
        element = "Ovningskvitto"
    else:
        element = "Returkvitto" if sale.totals.is_return else "Kassakvitto"
    buffer, x = open_handelse(depth, sale.receipt.cashier, sale.pos_id, sale.moment)
    x.open(element)
    x.leaf("ForetagetsNamn", register.company)
    x.leaf("OrganisationsnummerEllerPersonnummer", orgnr_digits(register.orgnr))
    x.leaf("DenAdressDarForsaljningSker", register.address)
    made = timestamp(sale.moment)
    if original is not None:
        x.leaf("DatumOchKlockslagNarKvittoFramstalls", made)
        x.leaf("DatumOchKlockslagNarOriginalkvittoFramstalldes", timestamp(original.moment))
        # A copy carries the original's number: the copy's own number in the till's series.
        x.leaf("LopnummerForKvittokopia", str(sale.number))
        x.leaf("LopnummerPaOriginalkvitto", str(original.number))
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
    x.leaf("TotaltForsaljningsbeloppISvenskaKronor", shortest_text(sale.totals.to_pay))
    x.leaf("MervardesskattPaForsaljningsbeloppet", shortest_text(sum(v.vat for v in sale.totals.vat)))
    _receipt_payments(x, sale.totals)
    _vat_list(x, [(v.rate, v.vat) for v in sale.totals.vat])
    if original is not None:
        x.leaf("KontrollkodPaKopiaAvKassakvitto", sale.control_code)
    x.leaf("LopnummerForZDagrapportPaKvitto", str(sale.z_no))
    x.leaf("TillverkningsnummerForKontrollenheten", sale.unit_id)
    if original is not None:
        x.leaf("KontrollkodForKvittotSomKopianAvser", original.control_code)
    elif element != "Ovningskvitto":  # a training receipt carries no control code
        x.leaf("Kontrollkod", sale.control_code)
    x.close(element)
    x.close("Handelse")
    return element, buffer.getvalue()


def article_leaves(x: XmlWriter, noun: str, line: Line, amount: int) -> None:
    """What a sold (``noun`` ``SaldArtikel``) or parked (``RegistreradArtikel``) article says
    of itself, up to its VAT rate: the two elements differ only in that noun. ``amount`` is
    the line after discounts, its own and its share of the sale's."""
    x.leaf("TypAvArtikel", "TJANST" if line.kind is LineKind.SERVICE else "VARA")
    x.optional("Artikelnummer", line.article)
    x.leaf("Artikelnamn", line.text)
    x.leaf(f"AntalAv{noun}", decimal_text(line.quantity))
    x.leaf("PrisPerEnhet", shortest_text(line.unit_price))
    x.leaf(f"PrisPa{noun}", shortest_text(amount))
    discount = abs(line.gross - amount)
    if discount:
        x.open(f"RabatterPa{noun}LISTA")
        x.open(f"RabattPa{noun}")
        x.leaf("RabattensBelopp", shortest_text(discount))
        x.close(f"RabattPa{noun}")
        x.close(f"RabatterPa{noun}LISTA")
    x.leaf(f"MervardesskattesatsFor{noun}", rate_text(line.vat_rate))


def _articles(x: XmlWriter, sale: ExportedSale) -> None:
    lines, amounts = sale.receipt.lines, sale.totals.line_amounts
    vat = _line_vat(sale)
    x.open("SaldaArtiklarLISTA")
    for line, amount, line_vat in zip(lines, amounts, vat, strict=True):
        x.open("SaldArtikel")
        article_leaves(x, "SaldArtikel", line, amount)
        x.leaf("MervardesskattPaSaldArtikel", shortest_text(line_vat))
        x.leaf("ArtikelnsRegistreringstidpunkt", timestamp(sale.moment))
        x.close("SaldArtikel")
    if sale.totals.rounding:
        _rounding_article(x, sale)
    x.close("SaldaArtiklarLISTA")


def _rounding_article(x: XmlWriter, sale: ExportedSale) -> None:
    """The öresavrundning as an article of its own, so the articles add up to the total to pay.

    As the reference exporter writes its rounding lines (``TJANST``, reference §8.0): no VAT
    (öresavrundning is booked apart, account 3740), one of it, negative on a return.
    """
    rounding = sale.totals.rounding
    quantity = -1 if sale.totals.is_return else 1
    x.open("SaldArtikel")
    x.leaf("TypAvArtikel", "TJANST")
    x.leaf("Artikelnamn", ROUNDING_NAME)
    x.leaf("AntalAvSaldArtikel", str(quantity))
    x.leaf("PrisPerEnhet", shortest_text(rounding * quantity))
    x.leaf("PrisPaSaldArtikel", shortest_text(rounding))
    x.leaf("MervardesskattesatsForSaldArtikel", rate_text(0))
    x.leaf("MervardesskattPaSaldArtikel", "0")
    x.leaf("ArtikelnsRegistreringstidpunkt", timestamp(sale.moment))
    x.close("SaldArtikel")


def _line_vat(sale: ExportedSale) -> list[int]:
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
        x.leaf("Betalningsmedel", method if method in _OWN_MEANS else _payment_name(method))
        x.leaf("ForsaljningssummaPerBetalningsmedel", shortest_text(amount))
        x.close("TotalForsaljningssummaPerBetalningsmedel")
    x.close("TotalaForsaljningssummorPerBetalningsmedelLISTA")


def _vat_list(x: XmlWriter, rates: list[tuple[int, int]]) -> None:
    x.open("MervardesskattPaOlikaSkattesatserLISTA")
    for rate, amount in rates or [(0, 0)]:  # the schema wants at least one
        x.open("MervardesskattPerSkattesats")
        x.leaf("Mervardesskattesats", rate_text(rate))
        x.leaf("TotaltMervardesskattebeloppPerSkattesats", shortest_text(amount))
        x.close("MervardesskattPerSkattesats")
    x.close("MervardesskattPaOlikaSkattesatserLISTA")


def report_handelse(register: Register, entry: Entry, moment: datetime, element: str, depth: int) -> str:
    body = entry.body_as(ReportBody[int])
    buffer, x = open_handelse(depth, None, body.pos_id or register.pos_id, moment)
    x.open(element)
    x.leaf("ForetagetsNamn", register.company)
    x.leaf("OrganisationsnummerEllerPersonnummer", orgnr_digits(register.orgnr))
    x.leaf("DatumOchKlockslagNarRapportFramstalls", timestamp(moment))
    if element == "ZDagrapport":
        x.leaf("LopnummerForZDagrapport", str(body.z_no))
    x.leaf("Kassabeteckning", body.pos_id or register.pos_id)
    if element == "ZDagrapport":
        register_identity(x, register)
    x.leaf("TotalForsaljningssumma", shortest_text(body.net_sales))
    _vat_list(x, [(int(Decimal(v.rate) * 100), v.vat) for v in body.vat])
    x.leaf("VaxelkassansBeloppISvenskaKronor", shortest_text(body.float_.amount))
    x.leaf("AntalKassakvitton", str(body.receipts))
    x.leaf("AntalKassaladoppningar", str(body.drawer_openings))
    x.leaf("AntalKvittokopior", str(body.copies.count))
    x.leaf("TotaltBeloppPaKvittokopior", shortest_text(body.copies.amount))
    x.leaf("AntalKvittonSomTagitsFramIOvningslage", str(body.training.count))
    paid = [(m.value, body.payments[m]) for m in _PAYMENT_ORDER if m in body.payments]
    if body.rounding:
        # The means are as paid, cash after öresavrundning: they add up to the total only
        # with the rounding taken back out, named as on the printed report.
        paid.append((ROUNDING_NAME, -body.rounding))
    _payments(x, paid)
    x.leaf("AntalReturer", str(body.returns.count))
    x.leaf("ReturernasBelopp", shortest_text(body.returns.amount))
    x.leaf("RabatternasBelopp", shortest_text(body.discounts.amount))
    other = body.other_reductions
    x.leaf("AntalOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp", str(other.count))
    x.leaf(
        "TotaltBeloppAvOvrigaRegistreringarSomMinskatDagensForsaljningsbelopp", shortest_text(other.amount)
    )
    unfinished = body.unfinished
    x.leaf("AntalOavslutadeForsaljningar", str(unfinished.count))
    # Never negative (the schema refuses it): a refused return counts by its size.
    size = abs(unfinished.refused.amount) + abs(unfinished.in_doubt.amount) + _parked_size(body)
    x.leaf("TotaltBeloppAvOavslutadeForsaljningar", shortest_text(size))
    grand = body.grand_total
    x.leaf("GrandTotalForsaljning", shortest_text(grand.sales))
    x.leaf("GrandTotalRetur", shortest_text(abs(grand.returns)))
    x.leaf("GrandTotalNetto", shortest_text(grand.net))
    x.close(element)
    x.close("Handelse")
    return buffer.getvalue()


def login_handelse(register: Register, entry: Entry, moment: datetime, element: str, depth: int) -> str:
    body = entry.body_as(CashierBody)
    buffer, x = open_handelse(depth, body.cashier, body.pos_id or register.pos_id, moment)
    x.leaf(element, "JA")
    x.close("Handelse")
    return buffer.getvalue()


# -- what the format has no element for: noted at its place ----------------------------------


def note(depth: int, moment: datetime, words: str) -> str:
    """An XML comment at the place in time of what the format has no element for."""
    buffer = io.StringIO()
    XmlWriter(buffer, depth).comment(f"{timestamp(moment)} {words}")
    return buffer.getvalue()


def _who(cashier: str | None) -> str:
    return f", kassör {cashier}" if cashier else ""


def pro_forma_note(sale: ExportedSale, original: Original | None, seq: int, depth: int) -> str:
    """A pro forma receipt (or its copy): its number is in the register's series, so say where it went."""
    if original is not None:
        words = f"Kopia av pro forma-kvitto (ej kvitto) nr {original.number}"
    else:
        words = f"Pro forma-kvitto (ej kvitto) nr {sale.number}, {shortest_text(sale.totals.to_pay)} kr"
    return note(
        depth,
        sale.moment,
        f"{words}{_who(sale.receipt.cashier)}. Journalpost {seq}. Formatet har inget element för "
        "pro forma-kvitton; numret är taget ur kassaregistrets kvittoserie.",
    )


def unfinished_note(pending: Entry, done: Entry | None, moment: datetime, depth: int) -> str:
    """A sale started and not completed: the control unit refused it, or has not answered yet."""
    body = pending.body_as(PendingBody)
    what = f"Oavslutad försäljning: kvitto nr {body.receipt_no}, {shortest_text(body.control.total)} kr"
    if done is None:
        words = f"{what}, väntar på kontrollenhetens svar"
    else:
        said = done.body_as(RefusedBody).words
        words = f"{what}, nekat av kontrollenheten ({said}); numret togs av nästa kvitto"
    return note(depth, moment, f"{words}. Journalpost {pending.seq}.")


def journal_note(entry: Entry, moment: datetime, depth: int) -> str:
    """A drawer opening, price change or float change, which the format has no known element for,
    receipts recorded as lost (``series.gap``), whose numbers the series then lacks, or a control
    unit's outage and its end (``control_unit.outage``, ``control_unit.outage_ended``)."""
    if entry.kind == "drawer.open":
        drawer = entry.body_as(DrawerOpenBody)
        words = f"Lådöppning vid nollförsäljning ({drawer.reason}){_who(drawer.cashier)}"
    elif entry.kind == "price.change":
        price = entry.body_as(PriceChangeBody)
        name = f" {price.text}" if price.text else ""
        was = f" från {price.old_price}" if price.old_price else ""
        words = f"Prisändring: artikel {price.article}{name}{was} till {price.new_price}{_who(price.cashier)}"
    elif entry.kind == "float.change":
        change = entry.body_as(FloatChangeBody)
        way = "insatt" if change.amount >= 0 else "uttagen"
        words = f"Växelkassa {way} {shortest_text(abs(change.amount))} kr{_who(change.cashier)}"
        words += f" ({change.note})" if change.note else ""
    elif entry.kind == "control_unit.outage":
        outage = entry.body_as(OutageBody)
        unit = f" {outage.unit_id}" if outage.unit_id else ""
        words = (
            f"Kontrollenheten{unit} ur funktion sedan {timestamp(datetime.fromisoformat(outage.since))} "
            f"({outage.reason}); kassa {outage.pos_id} nekar försäljning: ingen kontrollkod, inget kvitto"
        )
    elif entry.kind == "control_unit.outage_ended":
        ended = entry.body_as(OutageEndedBody)
        words = (
            f"Kontrollenheten fungerar igen; avbrottet {timestamp(datetime.fromisoformat(ended.since))}–"
            f"{timestamp(datetime.fromisoformat(ended.until))} ({ended.minutes} minuter) började i "
            f"journalpost {ended.outage}"
        )
    elif entry.kind == "series.gap":
        gap = entry.body_as(SeriesGapBody)
        words = (
            f"Kvitto nr {gap.first}–{gap.last} förlorade med en äldre databas ({gap.reason}); numren är tagna"
        )
    else:  # pragma: no cover - the export asks only for these kinds
        raise ValueError(f"no note for a {entry.kind!r} entry")
    return note(depth, moment, f"{words}. Journalpost {entry.seq}.")


# -- parked sales -------------------------------------------------------------------------------


def _parked_size(body: ReportBody[int]) -> int:
    """The parked sales a report counted as unfinished (none on reports made before they were kept)."""
    parked = body.unfinished.parked
    return 0 if isinstance(parked, msgspec.UnsetType) else abs(parked.amount)
