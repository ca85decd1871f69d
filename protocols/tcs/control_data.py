"""TCS ``ControlData`` from the register's receipt data and back, and the request id that
makes a resend recognisably the same request."""

from __future__ import annotations

import uuid
from typing import Final

from protocols.skv import ControlData, ReceiptType, VatSlot, format_rate
from protocols.tcs.messages import VAT_RATES, TcsControlData, TcsError, TcsVat

_ROUNDING_SLACK: Final = 6  # öre: the most VAT rounding can hide across three rates
_REQUEST_ID_NAMESPACE: Final = uuid.UUID("9a4f3d0e-7c1b-5e26-b1a8-54c3f0e6d2a1")


def request_id_of(register_id: str, org_nr: str, seq: int) -> uuid.UUID:
    """The RequestID of registration ``seq``: the same every time it is sent, so a resend
    after a lost answer or a crash is recognisably the same request."""
    return uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{org_nr}/{register_id}/{seq}")


def _net_of(vat: int, rate: int) -> int:
    """The net amount whose VAT at ``rate`` (hundredths of %) is ``vat`` öre, to the öre."""
    return (abs(vat) * 10000 * 2 + rate) // (2 * rate)


def control_data_of(data: ControlData, *, register_id: str, register_address: str) -> TcsControlData:
    """The TCS ``ControlData`` for the register's receipt ``data``.

    ``SequenceNumber`` is the receipt number (TCS has no other field for it); a copy
    sends the original's number in both ``SequenceNumber`` and ``CopySequenceNumber``
    and its own time in ``DateTime`` and ``CopyDateTime``, as MEWS' test does. A return
    receipt (negative total) is ``RefundAmount``; a sale is ``SaleAmount`` (with any
    returns on it as ``RefundAmount``). ``ControlData`` carries VAT amounts only, so a
    slot's ``SubtotalAmount`` is derived: the VAT divided by the rate, to the öre; the
    0 % slot (when the receipt has one) gets what is left of the receipt's amount, and
    otherwise a rounding difference of a few öre goes to the highest rate with VAT.
    """
    by_rate = {slot.rate: slot.amount for slot in data.vat}
    unknown = sorted(set(by_rate) - set(VAT_RATES))
    if unknown:
        raise TcsError("ControlData/VAT", f"rate {format_rate(unknown[0])} is none of TCS's 25, 12, 6, 0 %")
    sale: int | None = data.total
    refund: int | None = data.return_total or None
    if data.total < 0:
        sale, refund = None, -data.total
    gross = abs(data.total)
    slots = [TcsVat(rate, abs(by_rate.get(rate, 0)), 0) for rate in VAT_RATES]
    slots = [TcsVat(s.percent, s.amount, _net_of(s.amount, s.percent) if s.percent else 0) for s in slots]
    rest = gross - sum(s.amount + s.subtotal for s in slots)
    if 0 in by_rate:  # the 0 % sales are what the other rates do not explain
        slots[3] = TcsVat(0, 0, max(rest, 0))
    elif rest and abs(rest) <= _ROUNDING_SLACK:
        # VAT rounded to the öre hides up to ~2 öre of the net: give the difference to the
        # highest rate with VAT, so that the slots add up to the receipt (MEWS: 50,45 + 12,61
        # + 47,50 + 5,70 = 116,26).
        for i, s in enumerate(slots[:3]):
            if s.amount:
                slots[i] = TcsVat(s.percent, s.amount, s.subtotal + rest)
                break
    copy = data.receipt_type is ReceiptType.COPY
    return TcsControlData(
        date_time=data.moment,
        org_nr=data.orgnr,
        register_id=register_id,
        register_address=register_address,
        sequence_number=data.receipt_no,
        receipt_type=data.receipt_type,
        vat=(slots[0], slots[1], slots[2], slots[3]),
        sale_amount=sale,
        refund_amount=refund,
        copy_date_time=data.moment if copy else None,
        copy_sequence_number=data.receipt_no if copy else None,
    )


def skv_data_of(control: TcsControlData, pos_id: str) -> ControlData:
    """The register's receipt data back from a TCS ``ControlData`` (what a unit stores)."""
    if control.sale_amount is None and control.refund_amount is None:
        raise TcsError("ControlData/SaleAmount", "a receipt needs SaleAmount or RefundAmount")
    if control.sale_amount is not None:
        total, returns = control.sale_amount, control.refund_amount or 0
    else:
        assert control.refund_amount is not None
        total, returns = -control.refund_amount, control.refund_amount
    sign = -1 if total < 0 else 1
    slots = tuple(VatSlot(v.percent, sign * v.amount) for v in control.vat if v.amount or v.subtotal)
    return ControlData(
        moment=control.date_time,
        orgnr=control.org_nr,
        pos_id=pos_id,
        receipt_no=control.sequence_number,
        receipt_type=control.receipt_type,
        total=total,
        return_total=returns,
        vat=slots,
    )
