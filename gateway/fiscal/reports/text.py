"""The X or Z report on paper: every figure of SKVFS 2014:9 7 kap. 2–3 §§, in 42 or 48 columns.

:func:`layout` gives the styled lines of a :class:`~gateway.fiscal.reports.report.Report`; the
printer bytes and the plain text come from :mod:`gateway.fiscal.receipt_text`'s
:func:`~gateway.fiscal.receipt_text.to_escpos` and :func:`~gateway.fiscal.receipt_text.to_text`
(:func:`render` and :func:`text` do both steps). The words ``X-DAGRAPPORT`` or
``Z-DAGRAPPORT`` stand at double height and width at the head and the foot, as the
marks of a receipt do. Where each item of the regulation stands:

a. company name and orgnr — the head; b. date and time — ``Datum``; c. (Z) running
number — ``Z-rapport nr``; d. the words — the head; e. register — ``Kassa``;
f. total sales — ``Total försäljning``; g. per main group — ``Försäljning per
huvudgrupp``; h. VAT per rate — the VAT table; i. float — ``Växelkassa``; j./k. goods
and services sold; l. receipts; m. drawer openings; n. copies; o. training (and pro
forma apart); p. per means of payment; q. returns; r. discounts; s. other reductions;
t. unfinished sales; u.–w. grand totals. The foot holds the period (journal entries),
the hash of the last entry it covers and the report's own entry and hash.
"""

from __future__ import annotations

import textwrap
from datetime import datetime

from gateway.fiscal.receipt_text import (
    PAPER_WIDTHS,
    PAYMENT_NAMES,
    PrintLine,
    identity_line,
    pair,
    to_escpos,
    to_text,
)
from gateway.fiscal.reports.figures import Tally
from gateway.fiscal.reports.report import Report
from gateway.messages.bodies import ReportKind
from gateway.receipts.money import grouped_text
from gateway.receipts.vat import paper_rate_text
from protocols.escpos import Alignment, CodeTable

__all__ = ["layout", "render", "text"]


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def layout(report: Report, width: int = 42) -> tuple[PrintLine, ...]:
    """The report's lines for a paper ``width`` of 42 or 48 characters."""
    if width not in PAPER_WIDTHS:
        raise ValueError(f"paper width {width} is not one of {PAPER_WIDTHS}")
    f = report.figures
    out: list[PrintLine] = []
    rule = PrintLine("-" * width)

    def plain(words: str, align: Alignment = Alignment.LEFT, bold: bool = False) -> None:
        for part in textwrap.wrap(words, width) or [""]:
            out.append(PrintLine(part, align, bold))

    def two_columns(left: str, right: str, bold: bool = False) -> None:
        out.append(PrintLine(pair(left, right, width), bold=bold))

    def money(label: str, ore: int, bold: bool = False) -> None:
        two_columns(label, grouped_text(ore), bold)

    def tally(label: str, t: Tally) -> None:
        # The counts and amounts in columns of their own; a long label gets a line to itself.
        figures = f"{t.count} st".rjust(8) + grouped_text(t.amount).rjust(12)
        if len(label) + 1 + len(figures) > width:
            plain(label)
            label = ""
        two_columns(label, figures)

    def heading(words: str) -> None:
        out.append(PrintLine(""))
        plain(words, bold=True)

    def mark() -> None:
        out.append(PrintLine(report.title.upper(), Alignment.CENTRE, bold=True, width=2, height=2))

    mark()
    plain(report.shop.name, Alignment.CENTRE, bold=True)
    plain(identity_line(report.shop.orgnr), Alignment.CENTRE)
    out.append(rule)
    if report.kind is ReportKind.Z:
        two_columns("Z-rapport nr", str(report.z_no), bold=True)
    two_columns("Datum", _when(report.at))
    two_columns("Kassa", report.pos_id)
    two_columns("Period från", "journalens början" if report.since is None else _when(report.since))
    out.append(rule)

    money("Total försäljning", f.sales.amount, bold=True)
    two_columns("Försäljningskvitton", str(f.sales.count))
    tally("Returer", f.returns)
    money("Nettoförsäljning", f.net_sales, bold=True)
    money("Öresavrundning", f.rounding)

    heading("Försäljning per huvudgrupp (netto)")
    for name, amount in f.groups:
        money(name, amount)
    money("Utan huvudgrupp", f.ungrouped)

    heading("Moms")
    columns = (8, 11, 11, width - 30)

    def row(cells: tuple[str, str, str, str]) -> None:
        out.append(
            PrintLine(
                "".join(
                    v.rjust(c) if i else v.ljust(c)
                    for i, (v, c) in enumerate(zip(cells, columns, strict=True))
                )
            )
        )

    row(("Moms %", "Moms", "Netto", "Brutto"))
    for v in f.vat:
        row((paper_rate_text(v.rate), grouped_text(v.vat), grouped_text(v.net), grouped_text(v.gross)))
    money("Summa moms", sum(v.vat for v in f.vat))

    heading("Betalningsmedel (netto)")
    for method, amount in f.payments:
        money(PAYMENT_NAMES[method], amount)

    heading("Växelkassa")
    money("Växelkassa", f.float_amount, bold=True)
    money("  insatt", f.float_in)
    money("  uttaget", f.float_out)
    two_columns("  antal ändringar", str(f.float_changes))

    heading("Antal")
    two_columns("Kassakvitton", str(f.receipts))
    two_columns("Sålda varor", str(f.items))
    two_columns("Sålda tjänster", str(f.services))
    two_columns("Lådöppningar utan försäljning", str(f.drawer_openings))

    heading("Övrigt")
    tally("Kvittokopior", f.copies)
    tally("Övningskvitton", f.training)
    tally("Pro forma-kvitton", f.pro_forma)
    tally("Rabatter", f.discounts)
    tally("Oavslutade försäljningar", f.unfinished)
    tally("  varav nekade", f.refused)
    tally("  varav utan svar", f.in_doubt)
    tally("  varav parkerade", f.parked)

    heading("Övriga registreringar som minskat dagens försäljning")
    tally("Öresavrundning nedåt", f.other_reductions)

    heading("Grand total")
    money("Grand total försäljning", f.grand_total.sales, bold=True)
    money("Grand total retur", f.grand_total.returns, bold=True)
    money("Grand total netto", f.grand_total.net, bold=True)
    out.append(rule)

    first, last = report.after_entry + 1, report.through_entry
    two_columns("Journalposter", f"{first}–{last}" if last >= first else "inga")
    plain(f"Hash för post {last}:" if last else "Journalen var tom")
    if last:
        out.extend(PrintLine(piece) for piece in textwrap.wrap(report.head_hash, width))
    # What `tillgw journal verify` shows as the head while this report is the last entry.
    plain(f"Rapportens post {report.entry_seq}, hash:")
    out.extend(PrintLine(piece) for piece in textwrap.wrap(report.entry_hash, width))
    mark()
    return tuple(out)


def text(report: Report, width: int = 42) -> str:
    """The report as plain text (for the CLI, the journal export, the tests)."""
    return to_text(layout(report, width), width)


def render(report: Report, width: int = 42, table: CodeTable = CodeTable.CP858) -> bytes:
    """The report as ESC/POS bytes, ready for the printer."""
    return to_escpos(layout(report, width), table)
