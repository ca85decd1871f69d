"""Receipts left in doubt, sent again to the control unit until it answers.

A unit that did not answer (or a till that stopped, or a disk that was full, while it did)
leaves a receipt *in doubt*: it may or may not be in the unit's memory. Before any new
sale, before a copy, and at every start, each one is sent again with its same sequence
number — the unit answers a repeat with the code it gave the first time, or registers it
now — and completed (docs/fiscal-path.md).
"""

from __future__ import annotations

import logging

import msgspec

from gateway.fiscal.bodies import PendingBody
from gateway.fiscal.printing import ReceiptPrinting
from gateway.fiscal.receipt_entries import control_from_body
from gateway.fiscal.registering import Registrar
from gateway.receipts.model import compute

__all__ = ["resolve_in_doubt"]

# The receipt path's one log, wherever in it a line comes from.
log = logging.getLogger("tillgw.fiscal.pipeline")


async def resolve_in_doubt(registrar: Registrar, printing: ReceiptPrinting) -> None:
    """Send every in-doubt receipt again (same sequence number) until the unit answers."""
    rows = await registrar.store.fetchall(
        "SELECT j.seq, j.body FROM in_doubt d JOIN journal j ON j.seq = d.pending_seq ORDER BY j.seq"
    )
    for row in rows:
        pending_seq, body = int(row[0]), msgspec.json.decode(row[1], type=PendingBody)
        receipt = body.sale()
        totals = compute(receipt)
        data = control_from_body(body.control)
        log.info("resolving receipt %s (sequence %s) left in doubt", body.receipt_no, body.cu_seq)
        registered = await registrar.send(pending_seq, body, data, receipt, totals)
        # Printed, but the drawer stays shut: the customer the sale was for may be gone,
        # and a drawer must never fly open long after the sale.
        printing.print_later(registered)
