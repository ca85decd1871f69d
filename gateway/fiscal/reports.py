"""X and Z reports (X-dagrapport, Z-dagrapport): every figure of SKVFS 2014:9 7 kap. 2–3 §§.

:func:`make_x` and :func:`make_z` add up one period of the till's journal, journal the
result as a ``report.x`` / ``report.z`` entry holding every figure (integers: öre and
counts) and return it as a :class:`Report` (``Report.to_json()`` for the API; the
printed layout is :mod:`gateway.fiscal.report_text`). docs/reports.md lists every
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
  into the drawer as float is positive, taken out negative; see :func:`float_change_body`),
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
* ``unfinished`` — receipts started and not completed, of any type: ``refused`` (a
  ``receipt.refused`` entry in the period: the control unit said no) and ``in_doubt``
  (still waiting for the control unit's answer when the report is made, whenever it was
  started); the amount is the total sent to the control unit (to pay, after
  öresavrundning). An in-doubt receipt that is completed later counts as a sale in the
  period its ``receipt`` entry is in.
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.fiscal.index_check import IndexMismatch, check_index
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Store, Writer
from gateway.messages.bodies import (
    CompanyBody,
    FloatBody,
    FloatChangeBody,
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
from gateway.receipts.codec import parse_money
from gateway.receipts.model import MAX_TEXT, PaymentMethod
from gateway.receipts.money import money_text
from gateway.receipts.vat import VAT_RATES
from gateway.receipts.vat import rate_text as _rate_text
from protocols.skv import FieldError

__all__ = [
    "REPORTS_SCHEMA",
    "Figures",
    "GrandTotal",
    "IndexMismatch",
    "Report",
    "Tally",
    "VatFigure",
    "float_change_body",
    "make_x",
    "make_z",
]

REPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS z_reports (
    z_no INTEGER PRIMARY KEY,                                  -- the unbroken series
    entry_seq INTEGER NOT NULL UNIQUE REFERENCES journal (seq) -- its report.z entry
);
"""


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
    grand_total: GrandTotal

    @property
    def net_sales(self) -> int:
        return self.sales.amount - self.returns.amount

    @property
    def float_amount(self) -> int:
        return self.float_in - self.float_out

    @property
    def unfinished(self) -> Tally:
        return self.refused + self.in_doubt


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


# -- the float (växelkassa) -------------------------------------------------------------


def float_change_body(body: dict[str, Any], pos_id: str) -> FloatChangeBody:
    """Check a ``float.change`` event from the POS and give the body the journal keeps.

    The POS sends ``{"amount": "2000.00", "cashier": "Anna", "note": "morning float"}``:
    ``amount`` a decimal string in kronor, positive for money put into the drawer as
    float (växelkassa), negative for float taken out; ``cashier`` and ``note`` optional.
    The journal keeps ``amount`` in öre (an integer) like every amount it holds, and the
    register's ``pos_id``. Raises :class:`~protocols.skv.FieldError` naming the field.
    """
    unknown = sorted(set(body) - {"amount", "cashier", "note"})
    if unknown:
        raise FieldError(unknown[0], "is not a field of a float change")
    amount = body.get("amount")
    if not isinstance(amount, str):
        raise FieldError("amount", f'must be an amount as a string like "2000.00", got {amount!r}')
    ore = parse_money(amount, "amount")
    if ore == 0:
        raise FieldError("amount", "is zero")
    texts: dict[str, str | None] = {}
    for key in ("cashier", "note"):
        value = body.get(key)
        if value is not None and (
            not isinstance(value, str) or len(value) > MAX_TEXT or any(ord(c) < 0x20 for c in value)
        ):
            raise FieldError(key, f"must be text of at most {MAX_TEXT} characters")
        texts[key] = value
    return FloatChangeBody(amount=ore, cashier=texts["cashier"], note=texts["note"], pos_id=pos_id)


# -- making a report --------------------------------------------------------------------


async def make_x(store: Store, shop: Shop, pos_id: str) -> Report:
    """An X-dagrapport of the period so far: journaled, not closing the period."""
    return await _make(store, shop, pos_id, ReportKind.X)


async def make_z(store: Store, shop: Shop, pos_id: str) -> Report:
    """A Z-dagrapport: journaled with the next number of the unbroken series; closes the period."""
    return await _make(store, shop, pos_id, ReportKind.Z)


@dataclass(frozen=True, slots=True)
class _LastZ:
    seq: int
    z_no: int
    at: str | None
    grand_total: GrandTotal


async def _make(store: Store, shop: Shop, pos_id: str, kind: ReportKind) -> Report:
    return await store.transact(lambda w: _write_report(w, shop, pos_id, kind))


def _write_report(w: Writer, shop: Shop, pos_id: str, kind: ReportKind) -> Report:
    # One write transaction: a consistent snapshot, the Z number taken where it is used,
    # and the head hash is that of the entry just before the report's own.
    _schema(w)
    last = _last_z(w)
    through, head_hash = w.head()
    # The index is checked against the signed entries before it is added up: a row changed
    # outside the till refuses the report (IndexMismatch) instead of being signed into it.
    check_index(w.conn, after=last.seq, through=through, whole=False)
    figures = _figures(w, last, through)
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


def _last_z(w: Writer) -> _LastZ:
    row = w.fetchone(
        "SELECT seq, at, json_extract(body, '$.z_no'), json_extract(body, '$.grand_total.sales'), "
        "json_extract(body, '$.grand_total.returns') FROM journal WHERE kind = 'report.z' "
        "ORDER BY seq DESC LIMIT 1"
    )
    if row is None:
        return _LastZ(0, 0, None, GrandTotal())
    return _LastZ(int(row[0]), int(row[2]), str(row[1]), GrandTotal(int(row[3]), int(row[4])))


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


def _figures(w: Writer, last: _LastZ, through: int) -> Figures:
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
        grand_total=GrandTotal(
            last.grand_total.sales + sales.amount, last.grand_total.returns + returns.amount
        ),
    )
