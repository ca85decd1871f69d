"""Parked sales in the SKV export: each parking as its ``ParkeraRegistreradArtikel`` events,
one per line (reference §8.9), and what became of it (resumed, abandoned, completed) as a
note, since the format's elements for those are not known (docs/journal-export.md).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from gateway.fiscal.bodies import SaleAbandonedBody, SaleCompletedBody, SaleParkedBody, SaleResumedBody
from gateway.fiscal.export.skv_events import article_leaves, note, open_handelse
from gateway.fiscal.export.skv_register import Register
from gateway.fiscal.journal import Entry
from gateway.fiscal.parking import sale_totals
from gateway.receipts.model import round_half_away
from gateway.receipts.money import shortest_text

__all__ = ["parked_article_handelser", "parking_note"]


def _who(cashier: str | None) -> str:
    return f", kassör {cashier}" if cashier else ""


def parked_article_handelser(register: Register, entry: Entry, moment: datetime, depth: int) -> list[str]:
    """A ``sale.parked`` entry as one ``ParkeraRegistreradArtikel`` event per line (reference §8.9),
    all at the time the sale was parked, each naming the parking by the POS's id."""
    body = entry.body_as(SaleParkedBody)
    receipt = body.receipt()
    totals = sale_totals(receipt)
    events = []
    for line, amount in zip(receipt.lines, totals.line_amounts, strict=True):
        buffer, x = open_handelse(depth, receipt.cashier, body.pos_id or register.pos_id, moment)
        x.open("ParkeraRegistreradArtikel")
        article_leaves(x, "RegistreradArtikel", line, amount)
        # No receipt to add up to: the line's VAT on its own amount, rounded as a receipt's.
        line_vat = round_half_away(Decimal(amount) * line.vat_rate / (10000 + line.vat_rate))
        x.leaf("MervardesskattPaRegistreradArtikel", shortest_text(line_vat))
        x.leaf("IdentitetsbeteckningPaParkering", body.id)
        x.close("ParkeraRegistreradArtikel")
        x.close("Handelse")
        events.append(buffer.getvalue())
    return events


def parking_note(entry: Entry, moment: datetime, depth: int) -> str:
    """A parked sale resumed, abandoned or completed: the format's elements for these are not
    known, so a note at its place says what became of the parking."""
    if entry.kind == "sale.resumed":
        resumed = entry.body_as(SaleResumedBody)
        words = f"Parkering {resumed.id} återupptagen{_who(resumed.cashier)}"
        parked = resumed.parked
    elif entry.kind == "sale.abandoned":
        abandoned = entry.body_as(SaleAbandonedBody)
        why = f" ({abandoned.reason})" if abandoned.reason else ""
        words = f"Parkering {abandoned.id} avbruten{why}{_who(abandoned.cashier)}"
        parked = abandoned.parked
    elif entry.kind == "sale.completed":
        completed = entry.body_as(SaleCompletedBody)
        words = f"Parkering {completed.id} avslutad med kassakvitto nr {completed.receipt_no}"
        parked = completed.parked
    else:  # pragma: no cover - the export asks only for these kinds
        raise ValueError(f"no note for a {entry.kind!r} entry")
    return note(depth, moment, f"{words}. Parkerad i journalpost {parked}; journalpost {entry.seq}.")
