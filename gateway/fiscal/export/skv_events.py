"""Each event of the SKV export as its ``Handelse`` element: receipts, copies, X/Z reports, logins.

Each writer returns the element's XML text, ready for its place in time in the file
(:func:`gateway.fiscal.export.skv.write_skv` sorts them).
"""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime
from decimal import Decimal

from gateway.fiscal.export.skv_journal import ExportedSale, original_of
from gateway.fiscal.export.skv_register import Register
from gateway.fiscal.export.skv_xml import XmlWriter, decimal_text, orgnr_digits, rate_text, timestamp
from gateway.fiscal.journal import Entry
from gateway.fiscal.receipt_text import PAYMENT_NAMES
from gateway.messages.bodies import CashierBody, ReportBody
from gateway.receipts.model import LineKind, PaymentMethod, Totals
from gateway.receipts.money import shortest_text
from protocols.skv import ReceiptType

__all__ = ["login_handelse", "receipt_handelse", "register_identity", "report_handelse"]

_PAYMENT_ORDER = tuple(PaymentMethod)
_OFFSET_MEANS = "Kvittning"  # the reference's means for a receipt with no payment (nothing to pay)


def register_identity(x: XmlWriter, register: Register) -> None:
    x.leaf("TillverkningsnummerForKassaregistret", register.manufacturing_number)
    x.leaf("ModellbeteckningForKassaregistret", register.model)
    x.leaf("ModellEllerProgramForKassaregistret", register.program)
    x.leaf("VersionsnummerForKassaregistret", register.version)


def _handelse(depth: int, user: str | None, pos_id: str, moment: datetime) -> tuple[io.StringIO, XmlWriter]:
    buffer = io.StringIO()
    x = XmlWriter(buffer, depth)
    x.open("Handelse")
    x.optional("InloggadAnvandare", user)
    x.leaf("Kassabeteckning", pos_id)
    x.leaf("Registreringstidpunkt", timestamp(moment))
    return buffer, x


def receipt_handelse(
    conn: sqlite3.Connection, register: Register, sale: ExportedSale, depth: int
) -> tuple[str, str]:
    if sale.type is ReceiptType.COPY:
        element = "KopiaAvKassakvitto"
    elif sale.type is ReceiptType.TRAINING:
        element = "Ovningskvitto"
    else:
        element = "Returkvitto" if sale.totals.is_return else "Kassakvitto"
    original = original_of(conn, sale) if element == "KopiaAvKassakvitto" else None
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
    x.leaf("TotaltForsaljningsbeloppISvenskaKronor", shortest_text(sale.totals.to_pay))
    x.leaf("MervardesskattPaForsaljningsbeloppet", shortest_text(sum(v.vat for v in sale.totals.vat)))
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


def _articles(x: XmlWriter, sale: ExportedSale) -> None:
    lines, amounts = sale.receipt.lines, sale.totals.line_amounts
    vat = _line_vat(sale)
    x.open("SaldaArtiklarLISTA")
    for line, amount, line_vat in zip(lines, amounts, vat, strict=True):
        x.open("SaldArtikel")
        x.leaf("TypAvArtikel", "TJANST" if line.kind is LineKind.SERVICE else "VARA")
        x.optional("Artikelnummer", line.article)
        x.leaf("Artikelnamn", line.text)
        x.leaf("AntalAvSaldArtikel", decimal_text(line.quantity))
        x.leaf("PrisPerEnhet", shortest_text(line.unit_price))
        x.leaf("PrisPaSaldArtikel", shortest_text(amount))
        discount = abs(line.gross - amount)  # its own discount and its share of the receipt's
        if discount:
            x.open("RabatterPaSaldArtikelLISTA")
            x.open("RabattPaSaldArtikel")
            x.leaf("RabattensBelopp", shortest_text(discount))
            x.close("RabattPaSaldArtikel")
            x.close("RabatterPaSaldArtikelLISTA")
        x.leaf("MervardesskattesatsForSaldArtikel", rate_text(line.vat_rate))
        x.leaf("MervardesskattPaSaldArtikel", shortest_text(line_vat))
        x.leaf("ArtikelnsRegistreringstidpunkt", timestamp(sale.moment))
        x.close("SaldArtikel")
    x.close("SaldaArtiklarLISTA")


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
        x.leaf("Betalningsmedel", method if method == _OFFSET_MEANS else _payment_name(method))
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
    buffer, x = _handelse(depth, None, body.pos_id or register.pos_id, moment)
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
    _payments(x, [(m.value, body.payments[m]) for m in _PAYMENT_ORDER if m in body.payments])
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
    size = abs(unfinished.refused.amount) + abs(unfinished.in_doubt.amount)
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
    buffer, x = _handelse(depth, body.cashier, body.pos_id or register.pos_id, moment)
    x.leaf(element, "JA")
    x.close("Handelse")
    return buffer.getvalue()
