"""Receipts written straight into a till's journal, as the pipeline writes them — for the
benchmarks that need a journal quickly (``bench_verify``) or receipts without a control
unit (``bench_bus``). The entries' bodies are the pipeline's own (``pending_body``,
``receipt_body``), so what is measured is what a till holds.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from gateway.devices.control_units.interface import FrameRecord, Registration
from gateway.fiscal.receipt_entries import control_data, pending_body, receipt_body
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.store import Writer
from gateway.receipts.model import Line, Payment, PaymentMethod, Receipt, compute
from protocols import ccsp
from protocols.skv import ControlData, ReceiptType

SHOP = Shop("Benchmark AB", "5560360793", ("Storgatan 1",))
POS_ID = "KASSA-1"
UNIT_ID = "TGBENCH0000000001"
CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def sample_receipt(n: int) -> Receipt:
    """A typical receipt: three lines over three VAT rates, paid by card; its price varies with ``n``."""
    d = Decimal
    return Receipt(
        (
            Line("Kaffe", d(2), 32_50, 1200, group="Dryck"),
            Line("Tidning", d(1), 45_00, 600, group="Tidningar"),
            Line("Paraply", d(1), (149 + n % 50) * 100, 2500),
        ),
        (Payment(PaymentMethod.CARD, 2 * 32_50 + 45_00 + (149 + n % 50) * 100),),
        cashier="Anna",
    )


def registered(cu_seq: int, data: ControlData, at: datetime) -> Registration:
    """What a unit answers for ``data``: the same code for every receipt, and the real CCSP frames."""
    tx = ccsp.encode(ccsp.RegisterReceipt(cu_seq, data))
    rx = ccsp.encode(ccsp.RegisterReply(CODE, UNIT_ID, ccsp.MainStatus.OK, ccsp.StorageStatus.OK))
    frames = (FrameRecord("tx", at, tx), FrameRecord("rx", at, rx))
    return Registration(cu_seq, CODE, UNIT_ID, ccsp.MainStatus.OK, ccsp.StorageStatus.OK, frames, 1)


def append_receipt(w: Writer, number: int, cu_seq: int, request_id: str) -> None:
    """Receipt ``number``'s two entries (``receipt.pending``, then ``receipt``), dated ``w.at``."""
    receipt = sample_receipt(number)
    totals = compute(receipt)
    data = control_data(SHOP, POS_ID, number, w.at, ReceiptType.NORMAL, totals)
    body = pending_body(data, w.at, cu_seq, receipt, request_id=request_id)
    pending = w.append("receipt.pending", body)
    w.append("receipt", receipt_body(body, pending.seq, registered(cu_seq, data, w.at), totals))
