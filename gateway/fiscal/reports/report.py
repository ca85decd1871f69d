"""X and Z reports (X-dagrapport, Z-dagrapport): every figure of SKVFS 2014:9 7 kap. 2–3 §§.

:func:`make_x` and :func:`make_z` add up one period of the till's journal, journal the
result as a ``report.x`` / ``report.z`` entry holding every figure (integers: öre and
counts) and return it as a :class:`Report` (``Report.to_json()`` for the API; the
printed layout is :mod:`gateway.fiscal.reports.text`). docs/reports.md lists every
figure with its name in the regulation.

**The period** is a range of journal sequence numbers, never of clock times: a report
covers the entries after the last Z report's entry up to the report's own entry. A Z
closes the period, an X does not (and has no number). The Z number is the last Z's
number + 1, read and written in the same write transaction as the ``report.z`` entry,
and the ``z_reports`` table (``z_no`` primary key) makes a second Z with the same number
impossible: two Z reports at once (the service and a shell) get consecutive numbers.

**What each figure counts.** Amounts are öre, incl. VAT, before öresavrundning (the
receipts' ``total``), except where said. *Normal receipts* are receipts of type
``normal`` — sales and returns; training (``ovning``), pro forma (``profo``) receipts and
copies (``kopia``) are counted apart and never in sales, VAT, payments or grand totals.

* ``sales`` — total sales (total försäljningssumma): the sum of normal *sale* receipts
  (returns not deducted); ``sales.receipts`` how many.
* ``returns`` — number and amount of normal *return* receipts (a positive amount).
* ``net_sales`` — sales − returns.
* ``groups`` — per main group, net: each line's amount (after its share of the receipt
  discount), returns negative; ``ungrouped`` is what lines without a group came to.
  The groups and ``ungrouped`` add up to ``net_sales``.
* ``vat`` — per rate (25, 12, 6, 0 %, always all four): gross incl. VAT, the VAT and the
  net excl. VAT, of normal receipts, returns negative. The gross adds up to ``net_sales``.
* ``payments`` — per means of payment (all five), net: paid on sales less refunded on
  returns, cash as rounded and after change. They add up to ``net_sales + rounding``.
* ``rounding`` — öresavrundning on normal receipts (signed, booked apart).
* ``float`` — växelkassa: the sum of the ``float.change`` events of the period (money put
  into the drawer as float is positive, taken out negative; see
  :func:`gateway.fiscal.events.float_change_body`),
  with what was put in and taken out apart.
* ``items`` / ``services`` — goods and services sold on normal sale receipts (a weighed
  line counts 1); returned goods are not deducted (they are in ``returns``).
* ``receipts`` — number of receipts (kassakvitton): normal receipts, sales and returns.
* ``drawer_openings`` — ``drawer.open`` entries: the drawer opened without a sale.
* ``copies``, ``training``, ``pro_forma`` — number and amount (signed) of copies,
  training receipts and pro forma receipts.
* ``discounts`` — number of normal sale receipts with a discount, and the discounts
  (line and receipt discounts) on them. A discount on a return receipt lowers the refund
  and is in the return's amount.
* ``other_reductions`` — other registrations that reduced the day's takings: cash
  rounded *down* (a normal receipt with negative öresavrundning), number and amount.
  Lines voided on the POS before the receipt is sent never reach the gateway.
* ``unfinished`` — sales started and not completed: ``refused`` (a ``receipt.refused``
  entry in the period: the control unit said no) and ``in_doubt`` (still waiting for the
  control unit's answer when the report is made, whenever it was started), receipts of any
  type, the amount the total sent to the control unit (to pay, after öresavrundning); and
  ``parked`` (sales the POS parked and that are still parked when the report is made,
  whenever parked: :mod:`gateway.fiscal.parking`), the amount what their lines come to.
  An in-doubt receipt that is completed later counts as a sale in the period its
  ``receipt`` entry is in.
* ``grand_total`` — sales, returns and net since the first Z: each Z stores them; the
  next adds its period. An X shows the last Z's grand totals plus the period so far.

The figures are SQL aggregates over the ``receipts`` index (a range of its primary key),
so a report over 100,000 receipts takes a fraction of a second
(``benchmarks/bench_reports.py``). The index is not signed: before adding it up, every
report checks the period's rows against their signed journal entries
(:mod:`gateway.fiscal.index_check`) and is refused with :class:`IndexMismatch` when one
differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gateway.fiscal.index_check import IndexMismatch, check_index
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.reports.figures import Figures, Tally, add_up, last_z
from gateway.fiscal.schema import REPORTS_SCHEMA
from gateway.fiscal.store import Store, Writer
from gateway.messages.bodies import (
    CompanyBody,
    FloatBody,
    GrandTotalBody,
    GroupBody,
    HeadBody,
    M,
    PeriodBody,
    ReductionsBody,
    ReportBody,
    ReportKind,
    SalesBody,
    TallyBody,
    UnfinishedBody,
    VatBody,
)
from gateway.receipts.money import money_text
from gateway.receipts.vat import rate_text as _rate_text

__all__ = [
    "IndexMismatch",
    "Report",
    "make_x",
    "make_z",
]


@dataclass(frozen=True, slots=True)
class Report:
    """One X or Z report as journaled."""

    kind: ReportKind
    z_no: int | None  # the Z's running number; None on an X
    at: str  # when it was made: local time with offset, ISO 8601, to the second
    shop: Shop
    pos_id: str
    after_entry: int  # the period: journal entries after this one (the last Z's; 0 = none) …
    through_entry: int  # … up to and including this one (the last before the report)
    since: str | None  # the time of the last Z (None: the journal's beginning)
    head_hash: str  # hex hash of entry ``through_entry``: compare with `journal verify`
    figures: Figures
    entry_seq: int  # the report's own journal entry
    entry_hash: str  # hex; `tillgw journal verify` right after the report shows it as the head

    @property
    def title(self) -> str:
        return self.kind.words

    def document(self, money: Callable[[int], M]) -> ReportBody[M]:
        """Every figure; ``money`` writes each amount (``int`` for the journal, :func:`money_text`
        for the API)."""
        f = self.figures

        def tally(t: Tally) -> TallyBody[M]:
            return TallyBody(count=t.count, amount=money(t.amount))

        unfinished = f.unfinished
        return ReportBody(
            report=self.kind,
            title=self.title,
            z_no=self.z_no,
            at=self.at,
            company=CompanyBody(name=self.shop.name, orgnr=self.shop.orgnr),
            pos_id=self.pos_id,
            period=PeriodBody(
                after_entry=self.after_entry, through_entry=self.through_entry, since=self.since
            ),
            journal_head=HeadBody(seq=self.through_entry, hash=self.head_hash),
            sales=SalesBody(receipts=f.sales.count, total=money(f.sales.amount)),
            returns=tally(f.returns),
            net_sales=money(f.net_sales),
            groups=tuple(GroupBody(group=name, amount=money(amount)) for name, amount in f.groups),
            ungrouped=money(f.ungrouped),
            vat=tuple(
                VatBody(rate=_rate_text(v.rate), gross=money(v.gross), vat=money(v.vat), net=money(v.net))
                for v in f.vat
            ),
            payments={method: money(amount) for method, amount in f.payments},
            rounding=money(f.rounding),
            float_=FloatBody(
                amount=money(f.float_amount),
                put_in=money(f.float_in),
                taken_out=money(f.float_out),
                changes=f.float_changes,
            ),
            items=f.items,
            services=f.services,
            receipts=f.receipts,
            drawer_openings=f.drawer_openings,
            copies=tally(f.copies),
            training=tally(f.training),
            pro_forma=tally(f.pro_forma),
            discounts=tally(f.discounts),
            other_reductions=ReductionsBody(
                count=f.other_reductions.count,
                amount=money(f.other_reductions.amount),
                what="öresavrundning nedåt",
            ),
            unfinished=UnfinishedBody(
                count=unfinished.count,
                amount=money(unfinished.amount),
                refused=tally(f.refused),
                in_doubt=tally(f.in_doubt),
                parked=tally(f.parked),
            ),
            grand_total=GrandTotalBody(
                sales=money(f.grand_total.sales),
                returns=money(f.grand_total.returns),
                net=money(f.grand_total.net),
            ),
        )

    def body(self) -> dict[str, Any]:
        """The journal entry's body as JSON: every figure as integers (öre, counts)."""
        return self.document(int).to_json()

    def to_json(self) -> dict[str, Any]:
        """For the API: amounts as decimal strings (``"1234.50"``), and the journal entry."""
        return {
            **self.document(money_text).to_json(),
            "journal_entry": self.entry_seq,
            "entry_hash": self.entry_hash,
        }


# -- making a report --------------------------------------------------------------------


async def make_x(store: Store, shop: Shop, pos_id: str) -> Report:
    """An X-dagrapport of the period so far: journaled, not closing the period."""
    return await _make(store, shop, pos_id, ReportKind.X)


async def make_z(store: Store, shop: Shop, pos_id: str) -> Report:
    """A Z-dagrapport: journaled with the next number of the unbroken series; closes the period."""
    return await _make(store, shop, pos_id, ReportKind.Z)


async def _make(store: Store, shop: Shop, pos_id: str, kind: ReportKind) -> Report:
    return await store.transact(lambda w: _write_report(w, shop, pos_id, kind))


def _write_report(w: Writer, shop: Shop, pos_id: str, kind: ReportKind) -> Report:
    # One write transaction: a consistent snapshot, the Z number taken where it is used,
    # and the head hash is that of the entry just before the report's own.
    _schema(w)
    last = last_z(w)
    through, head_hash = w.head()
    # The index is checked against the signed entries before it is added up: a row changed
    # outside the till refuses the report (IndexMismatch) instead of being signed into it.
    check_index(w.conn, after=last.seq, through=through, whole=False)
    figures = add_up(w, last, through)
    z_no = last.z_no + 1 if kind is ReportKind.Z else None
    draft = Report(
        kind=kind,
        z_no=z_no,
        at=w.at.isoformat(timespec="seconds"),
        shop=shop,
        pos_id=pos_id,
        after_entry=last.seq,
        through_entry=through,
        since=last.at,
        head_hash=head_hash.hex(),
        figures=figures,
        entry_seq=0,
        entry_hash="",
    )
    entry = w.append(f"report.{kind.value}", draft.document(int))
    if z_no is not None:
        w.execute("INSERT INTO z_reports (z_no, entry_seq) VALUES (?, ?)", (z_no, entry.seq))
    return replace(draft, at=entry.at, entry_seq=entry.seq, entry_hash=entry.hash.hex())


def _schema(w: Writer) -> None:
    for statement in REPORTS_SCHEMA.split(";"):
        if statement.strip():
            w.execute(statement)
