"""The figures of one report's period, added up from the receipts index and the journal.

What each figure counts is in :mod:`gateway.fiscal.reports.report` (and docs/reports.md); here they
are SQL aggregates over a range of the ``receipts`` index's primary key, and of the
journal's ``float.change``, ``drawer.open`` and ``receipt.refused`` entries, with the
receipts still in doubt and the sales still parked (:mod:`gateway.fiscal.reports.parked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.fiscal.reports.parked import parked_tally
from gateway.fiscal.store import Writer
from gateway.receipts.model import PaymentMethod
from gateway.receipts.vat import VAT_RATES

__all__ = ["Figures", "GrandTotal", "LastZ", "Tally", "VatFigure", "add_up", "last_z"]


@dataclass(frozen=True, slots=True)
class Tally:
    """A number of registrations and their amount (öre)."""

    count: int = 0
    amount: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.count + other.count, self.amount + other.amount)


@dataclass(frozen=True, slots=True)
class VatFigure:
    rate: int  # hundredths of a percent
    gross: int  # incl. VAT
    vat: int

    @property
    def net(self) -> int:
        return self.gross - self.vat


@dataclass(frozen=True, slots=True)
class GrandTotal:
    sales: int = 0
    returns: int = 0

    @property
    def net(self) -> int:
        return self.sales - self.returns


@dataclass(frozen=True, slots=True)
class Figures:
    """Every figure of one report (see the module docstring for what each counts)."""

    sales: Tally  # normal sale receipts
    returns: Tally  # normal return receipts, amount positive
    groups: tuple[tuple[str, int], ...]  # main group -> net amount, by name
    ungrouped: int
    vat: tuple[VatFigure, ...]  # 25, 12, 6, 0 %
    payments: tuple[tuple[PaymentMethod, int], ...]  # every means, net
    rounding: int
    float_in: int
    float_out: int  # positive
    float_changes: int
    items: int
    services: int
    receipts: int
    drawer_openings: int
    copies: Tally
    training: Tally
    pro_forma: Tally
    discounts: Tally
    other_reductions: Tally
    refused: Tally
    in_doubt: Tally
    parked: Tally  # sales parked and not resumed, abandoned or completed when the report is made
    grand_total: GrandTotal

    @property
    def net_sales(self) -> int:
        return self.sales.amount - self.returns.amount

    @property
    def float_amount(self) -> int:
        return self.float_in - self.float_out

    @property
    def unfinished(self) -> Tally:
        return self.refused + self.in_doubt + self.parked


@dataclass(frozen=True, slots=True)
class LastZ:
    """The last Z report before a period: its entry, number, time and grand totals."""

    seq: int
    z_no: int
    at: str | None
    grand_total: GrandTotal


def last_z(w: Writer) -> LastZ:
    """The last Z report in the journal, or none (all zero)."""
    row = w.fetchone(
        "SELECT seq, at, json_extract(body, '$.z_no'), json_extract(body, '$.grand_total.sales'), "
        "json_extract(body, '$.grand_total.returns') FROM journal WHERE kind = 'report.z' "
        "ORDER BY seq DESC LIMIT 1"
    )
    if row is None:
        return LastZ(0, 0, None, GrandTotal())
    return LastZ(int(row[0]), int(row[2]), str(row[1]), GrandTotal(int(row[3]), int(row[4])))


_RECEIPT_SUMS = """
SELECT kind, is_return, COUNT(*), SUM(total), SUM(return_total), SUM(rounding),
       SUM(rounding < 0), -SUM(MIN(rounding, 0)), SUM(discount > 0), SUM(discount),
       SUM(items), SUM(services), SUM(cash), SUM(card), SUM(gift_card), SUM(swish), SUM(other),
       SUM(gross_25), SUM(vat_25), SUM(gross_12), SUM(vat_12), SUM(gross_6), SUM(vat_6), SUM(gross_0)
FROM receipts WHERE entry_seq > ? AND entry_seq <= ?
GROUP BY kind, is_return
"""

_GROUP_SUMS = """
SELECT g.grp, SUM(g.amount) FROM receipt_groups g JOIN receipts r ON r.entry_seq = g.entry_seq
WHERE g.entry_seq > ? AND g.entry_seq <= ? AND r.kind = 'normal'
GROUP BY g.grp ORDER BY g.grp
"""

_FLOAT_SUMS = """
SELECT COUNT(*), COALESCE(SUM(MAX(a, 0)), 0), COALESCE(-SUM(MIN(a, 0)), 0) FROM (
    SELECT CAST(json_extract(body, '$.amount') AS INTEGER) AS a FROM journal
    WHERE kind = 'float.change' AND seq > ? AND seq <= ?)
"""

# The amount of a receipt that was not completed: what its pending entry sent to the unit.
_REFUSED_SUMS = """
SELECT COUNT(r.seq), COALESCE(SUM(json_extract(p.body, '$.control.total')), 0)
FROM journal r LEFT JOIN journal p ON p.seq = json_extract(r.body, '$.pending')
WHERE r.kind = 'receipt.refused' AND r.seq > ? AND r.seq <= ?
"""

_IN_DOUBT_SUMS = """
SELECT COUNT(d.pending_seq), COALESCE(SUM(json_extract(p.body, '$.control.total')), 0)
FROM in_doubt d LEFT JOIN journal p ON p.seq = d.pending_seq WHERE d.pending_seq <= ?
"""

_PAYMENT_COLUMNS = (
    PaymentMethod.CASH,
    PaymentMethod.CARD,
    PaymentMethod.GIFT_CARD,
    PaymentMethod.SWISH,
    PaymentMethod.OTHER,
)


def _ints(row: Sequence[Any] | None) -> list[int]:
    return [] if row is None else [int(v or 0) for v in row]


def add_up(w: Writer, last: LastZ, through: int) -> Figures:
    """Every figure of the period after ``last`` up to entry ``through`` (database thread)."""
    after = last.seq
    sales = returns = copies = training = pro_forma = discounts = other = Tally()
    items = services = receipts = rounding = 0
    payments = [0] * len(_PAYMENT_COLUMNS)
    vat = [0] * 7  # gross_25, vat_25, gross_12, vat_12, gross_6, vat_6, gross_0
    for row in w.fetchall(_RECEIPT_SUMS, (after, through)):
        kind, is_return = str(row[0]), bool(row[1])
        (count, total, return_total, rounded, down_n, down, disc_n, disc, n_items, n_services) = _ints(
            row[2:12]
        )
        if kind == "kopia":
            copies += Tally(count, total)
        elif kind == "ovning":
            training += Tally(count, total)
        elif kind == "profo":
            pro_forma += Tally(count, total)
        elif kind == "normal":
            receipts += count
            rounding += rounded
            other += Tally(down_n, down)
            payments = [a + b for a, b in zip(payments, _ints(row[12:17]), strict=True)]
            vat = [a + b for a, b in zip(vat, _ints(row[17:24]), strict=True)]
            if is_return:
                returns += Tally(count, return_total)
            else:
                sales += Tally(count, total)
                discounts += Tally(disc_n, disc)
                items += n_items
                services += n_services
        else:  # pragma: no cover - the pipeline writes no other kind
            raise ValueError(f"receipt kind {kind!r} in the index")
    groups = tuple((str(row[0]), int(row[1])) for row in w.fetchall(_GROUP_SUMS, (after, through)))
    float_changes, float_in, float_out = _ints(w.fetchone(_FLOAT_SUMS, (after, through)))
    drawer = _ints(
        w.fetchone(
            "SELECT COUNT(*) FROM journal WHERE kind = 'drawer.open' AND seq > ? AND seq <= ?",
            (after, through),
        )
    )[0]
    refused = Tally(*_ints(w.fetchone(_REFUSED_SUMS, (after, through))))
    in_doubt = Tally(*_ints(w.fetchone(_IN_DOUBT_SUMS, (through,))))
    parked = Tally(*parked_tally(w, through))
    vat_columns = {2500: (vat[0], vat[1]), 1200: (vat[2], vat[3]), 600: (vat[4], vat[5]), 0: (vat[6], 0)}
    net = sales.amount - returns.amount
    return Figures(
        sales=sales,
        returns=returns,
        groups=groups,
        ungrouped=net - sum(amount for _, amount in groups),
        vat=tuple(VatFigure(rate, *vat_columns[rate]) for rate in VAT_RATES),
        payments=tuple(zip(_PAYMENT_COLUMNS, payments, strict=True)),
        rounding=rounding,
        float_in=float_in,
        float_out=float_out,
        float_changes=float_changes,
        items=items,
        services=services,
        receipts=receipts,
        drawer_openings=drawer,
        copies=copies,
        training=training,
        pro_forma=pro_forma,
        discounts=discounts,
        other_reductions=other,
        refused=refused,
        in_doubt=in_doubt,
        parked=parked,
        grand_total=GrandTotal(
            last.grand_total.sales + sales.amount, last.grand_total.returns + returns.amount
        ),
    )
