"""The receipt as printed: every item SKVFS 2014:9 7 kap. 1 § asks for, laid out in columns.

:func:`layout` turns a registered receipt into styled lines for a paper width of 42 or
48 columns; :func:`to_escpos` makes printer bytes of them and :func:`to_text` plain
text (for the journal, an e-mailed receipt, the tests). What 7 kap. 1 § asks, and where
it stands:

a. company name and organisationsnummer — the head
b. address of the place of sale — the head
c. date and time — ``Datum``
d. receipt number from an unbroken series — ``Kvitto nr``
e. register designation (kassabeteckning) — ``Kassa``
f./g. name and number of goods and services — one block per line
h. price of each line incl. VAT, and the total to pay — the lines, ``ATT BETALA``
i./j. VAT, and VAT per rate — the VAT table and ``Varav moms``
k. means of payment — the payment lines
l. the control unit's manufacturing number (and its control code) — the foot

Copies, training and pro forma receipts are marked ``KOPIA``, ``ÖVNING`` and
``EJ KVITTO`` at double height and width, at the head and the foot: at least twice the
height of the amount text, as the rule asks.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime

from gateway.receipts.model import LineKind, PaymentMethod, Receipt, ReceiptKind, Totals
from gateway.receipts.money import grouped_text
from gateway.receipts.vat import paper_rate_text
from protocols import escpos
from protocols.escpos import Alignment, CodeTable, EncodePolicy

__all__ = [
    "PAPER_WIDTHS",
    "PrintLine",
    "PrintedReceipt",
    "Shop",
    "identity_line",
    "layout",
    "orgnr_text",
    "pair",
    "render",
    "to_escpos",
    "to_text",
]

PAPER_WIDTHS = (42, 48)  # characters per line of 80 mm paper, font A and font B

PAYMENT_NAMES = {
    PaymentMethod.CASH: "Kontant",
    PaymentMethod.CARD: "Kort",
    PaymentMethod.GIFT_CARD: "Presentkort",
    PaymentMethod.SWISH: "Swish",
    PaymentMethod.OTHER: "Annat betalningsmedel",
}


@dataclass(frozen=True, slots=True)
class Shop:
    name: str
    orgnr: str  # ten digits; printed NNNNNN-NNNN
    address: tuple[str, ...]  # the place of sale, one line each


@dataclass(frozen=True, slots=True)
class PrintedReceipt:
    """One receipt as the journal holds it, with what the control unit answered."""

    shop: Shop
    pos_id: str
    receipt_no: int
    moment: datetime
    receipt: Receipt
    totals: Totals
    control_code: str
    unit_id: str
    copy: bool = False


@dataclass(frozen=True, slots=True)
class PrintLine:
    text: str
    align: Alignment = Alignment.LEFT
    bold: bool = False
    width: int = 1  # character width multiplier
    height: int = 1  # character height multiplier


def orgnr_text(orgnr: str) -> str:
    """``5560360793`` -> ``556036-0793``, as it is written on paper."""
    return f"{orgnr[:6]}-{orgnr[6:]}" if len(orgnr) == 10 and orgnr.isdigit() else orgnr


def identity_line(orgnr: str) -> str:
    """The seller's number as receipts and reports print it (7 kap. 1 § SKVFS 2014:9:
    "organisationsnummer eller personnummer"): a company's ``Org.nr 556036-0793``, a sole
    trader's ``Pers.nr 800101-1236``. Only a personnummer has a month there, so its third
    digit is 0 or 1; an organisationsnummer's is 2 or more."""
    label = "Pers.nr" if len(orgnr) == 10 and orgnr[2] in "01" else "Org.nr"
    return f"{label} {orgnr_text(orgnr)}"


def pair(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` on one line; a left part that does not fit is cut."""
    room = width - len(right) - 1
    if len(left) > room:
        left = left[: max(room, 0)]
    return f"{left}{' ' * (width - len(left) - len(right))}{right}"


def _quantity(value: object) -> str:
    return f"{value}".replace(".", ",")  # 0,347 as Swedes write it


def _markings(doc: PrintedReceipt) -> list[str]:
    marks = []
    if doc.copy:
        marks.append("KOPIA")
    if doc.receipt.kind is ReceiptKind.TRAINING:
        marks.append("ÖVNING")
    elif doc.receipt.kind is ReceiptKind.PRO_FORMA:
        marks.append("EJ KVITTO")
    return marks


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``, as :func:`textwrap.wrap`; one empty line for no text."""
    if text and len(text) <= width and text.isprintable() and text[0] != " " and text[-1] != " ":
        return [text]  # the common case, and what textwrap gives, at a tenth of its cost
    return textwrap.wrap(text, width) or [""]


def layout(doc: PrintedReceipt, width: int = 42) -> tuple[PrintLine, ...]:
    """The receipt's lines for a paper ``width`` of 42 or 48 characters."""
    if width not in PAPER_WIDTHS:
        raise ValueError(f"paper width {width} is not one of {PAPER_WIDTHS}")
    out: list[PrintLine] = []
    rule = PrintLine("-" * width)

    def plain(text: str, align: Alignment = Alignment.LEFT, bold: bool = False) -> None:
        for part in _wrap(text, width):
            out.append(PrintLine(part, align, bold))

    def marks() -> None:
        for mark in _markings(doc):
            out.append(PrintLine(mark, Alignment.CENTRE, bold=True, width=2, height=2))

    marks()
    plain(doc.shop.name, align=Alignment.CENTRE, bold=True)
    for address_line in doc.shop.address:
        plain(address_line, align=Alignment.CENTRE)
    plain(identity_line(doc.shop.orgnr), align=Alignment.CENTRE)
    out.append(rule)
    out.append(PrintLine(pair("Kvitto nr", str(doc.receipt_no), width)))
    out.append(PrintLine(pair("Datum", doc.moment.strftime("%Y-%m-%d %H:%M"), width)))
    out.append(PrintLine(pair("Kassa", doc.pos_id, width)))
    if doc.receipt.cashier:
        out.append(PrintLine(pair("Kassör", doc.receipt.cashier, width)))
    if doc.totals.is_return:
        out.append(PrintLine("RETUR", Alignment.CENTRE, bold=True))
    out.append(rule)

    totals = doc.totals
    for line, amount in zip(doc.receipt.lines, totals.line_amounts, strict=True):
        name = line.text + (" (tjänst)" if line.kind is LineKind.SERVICE else "")
        simple = line.quantity == 1 and line.discount == 0 and amount == line.gross
        if simple:
            out.append(PrintLine(pair(name, grouped_text(amount), width)))
            continue
        plain(name)
        detail = f"  {_quantity(line.quantity)} x {grouped_text(line.unit_price)}"
        out.append(PrintLine(pair(detail, grouped_text(line.gross), width)))
        if line.discount:
            out.append(PrintLine(pair("  Rabatt", grouped_text(line.amount - line.gross), width)))
    if doc.receipt.discount:
        sign = 1 if totals.is_return else -1
        out.append(PrintLine(pair("Rabatt på köpet", grouped_text(sign * doc.receipt.discount), width)))
    out.append(rule)
    if totals.rounding:
        out.append(PrintLine(pair("Summa", grouped_text(totals.total), width)))
        out.append(PrintLine(pair("Öresavrundning", grouped_text(totals.rounding), width)))
    label = "ATT ÅTERFÅ" if totals.is_return else "ATT BETALA"
    out.append(PrintLine(pair(label, grouped_text(totals.to_pay), width), bold=True))
    for method, amount in totals.paid.items():
        out.append(PrintLine(pair(PAYMENT_NAMES[method], grouped_text(amount), width)))
    if totals.change:
        out.append(PrintLine(pair("Växel", grouped_text(totals.change), width)))
    out.append(PrintLine(""))

    columns = (8, 11, 11, width - 30)
    head = ("Moms %", "Moms", "Netto", "Brutto")
    out.append(
        PrintLine(
            "".join(
                h.rjust(c) if i else h.ljust(c) for i, (h, c) in enumerate(zip(head, columns, strict=True))
            )
        )
    )
    for vat in totals.vat:
        cells = (
            paper_rate_text(vat.rate),
            grouped_text(vat.vat),
            grouped_text(vat.net),
            grouped_text(vat.gross),
        )
        out.append(
            PrintLine(
                "".join(
                    v.rjust(c) if i else v.ljust(c)
                    for i, (v, c) in enumerate(zip(cells, columns, strict=True))
                )
            )
        )
    out.append(PrintLine(pair("Varav moms", grouped_text(sum(v.vat for v in totals.vat)), width)))
    out.append(PrintLine(pair("Antal varor", str(totals.items), width)))
    if totals.services:
        out.append(PrintLine(pair("Antal tjänster", str(totals.services), width)))
    out.append(rule)

    out.append(PrintLine(pair("Kontrollenhet", doc.unit_id, width)))
    out.append(PrintLine("Kontrollkod"))
    if not doc.control_code:
        # A training or pro forma receipt is registered but gets no code from the unit.
        out.append(PrintLine(NO_CODE_TEXT))
    for part in doc.control_code.split(";") if doc.control_code else ():
        for piece in textwrap.wrap(part, width) or [""]:
            out.append(PrintLine(piece))
    marks()
    return tuple(out)


NO_CODE_TEXT = "(ingen kontrollkod för denna kvittotyp)"
"""Printed where the code stands on a training or pro forma receipt, which gets none."""


def to_text(lines: tuple[PrintLine, ...], width: int = 42) -> str:
    """Plain text of the lines; double-width text takes its real room when aligned."""
    rows = []
    for line in lines:
        used = len(line.text) * line.width
        if line.align is Alignment.CENTRE:
            pad = (width - used) // 2
        elif line.align is Alignment.RIGHT:
            pad = width - used
        else:
            pad = 0
        rows.append((" " * max(pad, 0) + line.text).rstrip())
    return "\n".join(rows) + "\n"


def to_escpos(lines: tuple[PrintLine, ...], table: CodeTable = CodeTable.CP858, *, cut: bool = True) -> bytes:
    """Printer bytes: initialise, code page, each line with its style, feed and cut.

    Text that the code page cannot carry is replaced (``?``) rather than refused: the
    receipt must print; the journal keeps the exact text.
    """
    out = bytearray(escpos.initialise() + escpos.select_code_table(table))
    current = PrintLine("")
    for line in lines:
        if line.align != current.align:
            out += escpos.align(line.align)
        if line.bold != current.bold:
            out += escpos.bold(line.bold)
        if (line.width, line.height) != (current.width, current.height):
            out += escpos.char_size(line.width, line.height)
        out += escpos.encode_text(line.text + "\n", table, policy=EncodePolicy.REPLACE)
        current = line
    if (current.width, current.height) != (1, 1):
        out += escpos.char_size(1, 1)
    if cut:
        out += escpos.cut(feed=3)
    return bytes(out)


def render(doc: PrintedReceipt, width: int = 42, table: CodeTable = CodeTable.CP858) -> bytes:
    """The receipt as ESC/POS bytes, ready for the printer."""
    return to_escpos(layout(doc, width), table)
