"""A Z report (the ``report.z`` message's payload) as one balanced voucher of BAS accounts.

The payload is the Z report's journal entry body, decoded as the bus contract's
:class:`~gateway.messages.bodies.ReportBody`: every amount in integer öre. The voucher
(docs/sie.md has a worked example):

* **debit** each means of payment's account with what the day took in by it, net of
  refunds on returns (``payments``: cash as rounded, after change) — cash 1910, card
  1580, gift card 2421 (a redeemed multi-purpose voucher), Swish 1930, other 1689;
* **credit** each VAT rate's sales account with the day's net sales excl. VAT
  (``vat[].gross − vat[].vat``, returns deducted) — 3001/3002/3003/3004 for 25/12/6/0 % —
  and its output VAT account with the VAT (``vat[].vat``) — 2611/2621/2631;
* book the öresavrundning (``rounding``: what cash payments were rounded by, signed)
  on 3740 on the side that balances: rounded up (+) is a credit, rounded down (−) a debit.

Payments add up to sales incl. VAT + rounding, so the voucher balances to the öre; a Z
report whose figures do not is refused with the two sums in the message. A line of zero
is left out; two figures on the same account (when the configuration maps them there)
become one line. Training and pro forma receipts and copies are not in these figures
(they are not sales); the float (växelkassa) is money moved into the drawer, not takings,
and is not booked either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.messages.bodies import ReportBody, ReportKind
from gateway.receipts.model import PaymentMethod
from gateway.receipts.money import money_text
from gateway.receipts.vat import VAT_PERCENTS
from gateway.sync.settings import MEANS, AccountsConfig
from gateway.sync.sie import Trans, Voucher

__all__ = ["BookingError", "ZFigures", "book_z", "z_figures", "z_voucher"]

_MEANS_TEXT = {
    "cash": "Kontant",
    "card": "Kort",
    "gift_card": "Presentkort",
    "swish": "Swish",
    "other": "Övrigt betalsätt",
}


class BookingError(ValueError):
    """A Z report that cannot be booked; ``str()`` says why (the field, or the two sums)."""


@dataclass(frozen=True, slots=True)
class ZFigures:
    """What the voucher needs of a Z report; amounts in öre."""

    z_no: int
    at: str  # when the Z was made, ISO 8601 with offset
    company: str
    orgnr: str  # ten digits
    pos_id: str
    net_sales: int
    vat: tuple[tuple[int, int, int], ...]  # (rate, gross incl. VAT, VAT) for 25, 12, 6, 0 %
    payments: tuple[tuple[str, int], ...]  # (means, amount) in MEANS order
    rounding: int

    @property
    def day(self) -> date:
        return date.fromisoformat(self.at[:10])

    @property
    def nothing_to_book(self) -> bool:
        """A day without a sale: no payment, no sales at any rate, no rounding. Its voucher
        would have no rows, and SIE has no voucher without #TRANS rows."""
        return not (self.rounding or any(a for _, a in self.payments) or any(g or v for _, g, v in self.vat))


def z_figures(report: ReportBody[int]) -> ZFigures:
    """The figures of a ``report.z`` payload (decoded: every field there and of its type);
    :class:`BookingError` names a field whose value cannot be booked."""
    if report.report != ReportKind.Z:
        raise BookingError(f"report: {report.report.value!r} is not a Z report")
    if report.z_no is None or report.z_no < 1:
        raise BookingError(f"z_no: {report.z_no} is not 1 or more")
    at = report.at
    try:
        date.fromisoformat(at[:10])
    except ValueError:
        raise BookingError(f"at: {at!r} does not start with a date YYYY-MM-DD") from None
    orgnr = report.company.orgnr.replace("-", "")
    if len(orgnr) != 10 or not orgnr.isdigit():
        raise BookingError(f"company.orgnr: {report.company.orgnr!r} is not ten digits")
    if not report.company.name:
        raise BookingError("company.name: '' is not a text")
    if not report.pos_id:
        raise BookingError("pos_id: '' is not a text")

    by_rate: dict[int, tuple[int, int]] = {}
    for i, item in enumerate(report.vat):
        rate = int(item.rate) if item.rate.isdigit() else None
        if rate not in VAT_PERCENTS:
            raise BookingError(f"vat[{i}].rate: {item.rate!r} is not one of 25, 12, 6, 0")
        if rate in by_rate:
            raise BookingError(f"vat[{i}].rate: {item.rate!r} twice")
        if rate == 0 and item.vat != 0:
            raise BookingError(f"vat[{i}].vat: {item.vat} öre of VAT at 0 %")
        by_rate[rate] = (item.gross, item.vat)

    unknown = sorted(set(report.payments) - set(MEANS))
    if unknown:
        raise BookingError(f"payments.{unknown[0]}: a means of payment this version cannot book")
    payments = tuple((m, report.payments.get(PaymentMethod(m), 0)) for m in MEANS)

    return ZFigures(
        z_no=report.z_no,
        at=at,
        company=report.company.name,
        orgnr=orgnr,
        pos_id=report.pos_id,
        net_sales=report.net_sales,
        vat=tuple((r, *by_rate.get(r, (0, 0))) for r in VAT_PERCENTS),
        payments=payments,
        rounding=report.rounding,
    )


def _rate_text(rate: int) -> str:
    return "momsfri" if rate == 0 else f"{rate} % moms"


def book_z(z: ZFigures, accounts: AccountsConfig) -> tuple[Trans, ...]:
    """The voucher's transactions (debit +, credit −), merged per account, zero lines left out.

    Raises :class:`BookingError` when the Z report's figures do not balance.
    """
    paid = sum(amount for _, amount in z.payments)
    gross = sum(g for _, g, _ in z.vat)
    if paid != gross + z.rounding:
        raise BookingError(
            f"Z {z.z_no}: the payments ({money_text(paid)}) are not the sales incl. VAT "
            f"({money_text(gross)}) plus the rounding ({money_text(z.rounding)}): "
            f"difference {money_text(paid - gross - z.rounding)}; nothing booked"
        )
    lines: list[tuple[str, int, str]] = []
    for means, amount in z.payments:
        lines.append((accounts.payment(means), amount, _MEANS_TEXT[means]))
    for rate, g, vat in z.vat:
        lines.append((accounts.sales(rate), -(g - vat), f"Försäljning {_rate_text(rate)}"))
        if rate:
            lines.append((accounts.vat(rate), -vat, f"Utgående moms {rate} %"))
    lines.append((accounts.rounding, -z.rounding, "Öresavrundning"))

    merged: dict[str, tuple[int, list[str]]] = {}
    for account, amount, text in lines:
        if amount == 0:
            continue
        total, texts = merged.get(account, (0, []))
        merged[account] = (total + amount, [*texts, text])
    rows = tuple(
        Trans(account, amount, ", ".join(texts)) for account, (amount, texts) in merged.items() if amount
    )
    if sum(t.amount for t in rows) != 0:  # pragma: no cover - follows from the check above
        raise BookingError(f"Z {z.z_no}: the voucher does not balance")
    return rows


def z_voucher(z: ZFigures, accounts: AccountsConfig, series: str, number: str, register: str) -> Voucher:
    """The Z report's voucher: dated the day of the Z, its text naming the Z and the register."""
    return Voucher(
        series=series,
        number=number,
        day=z.day,
        text=f"Z-dagrapport {z.z_no} kassa {register}",
        transactions=book_z(z, accounts),
    )
