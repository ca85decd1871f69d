"""A receipt the control unit has registered, as the pipeline answers with it and reads it back.

:class:`RegisteredReceipt` is one receipt with its control code, as the API returns it;
:func:`registered_by_entry` and :func:`find_receipt` read one back from the journal (the
sale from its ``receipt.pending`` entry, the answer from the receipts index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.fiscal.bodies import PendingBody
from gateway.fiscal.store import RequestState, Store
from gateway.receipts.codec import receipt_to_json, totals_to_json
from gateway.receipts.model import Receipt, Totals, compute
from protocols.skv import ReceiptType

__all__ = ["RegisteredReceipt", "Sale", "find_receipt", "registered_by_entry"]


@dataclass(frozen=True, slots=True)
class RegisteredReceipt:
    receipt_no: int
    entry_seq: int
    kind: ReceiptType
    at: str
    receipt: Receipt
    totals: Totals
    control_code: str
    unit_id: str
    request_id: str | None

    def to_json(self, printed: bool | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "receipt_no": self.receipt_no,
            "type": self.kind,
            "at": self.at,
            "control_code": self.control_code,
            "unit_id": self.unit_id,
            "receipt": receipt_to_json(self.receipt),
            "totals": totals_to_json(self.totals),
            "journal_entry": self.entry_seq,
        }
        if self.request_id is not None:
            out["id"] = self.request_id
        if printed is not None:
            out["printed"] = printed
        return out


@dataclass(frozen=True, slots=True)
class Sale:
    """One request's receipt, and what the request had come to before this call."""

    registered: RegisteredReceipt
    earlier: RequestState | None  # None (a new request), PENDING (it was in doubt) or DONE (a repeat)


async def registered_by_entry(store: Store, entry_seq: int) -> RegisteredReceipt | None:
    """The receipt whose ``receipt`` entry is ``entry_seq``, or None."""
    row = await store.fetchone(
        "SELECT r.receipt_no, r.kind, r.at, r.control_code, r.unit_id, r.request_id, p.body "
        "FROM receipts r JOIN journal j ON j.seq = r.entry_seq "
        "JOIN journal p ON p.seq = json_extract(j.body, '$.pending') WHERE r.entry_seq = ?",
        (entry_seq,),
    )
    if row is None:
        return None
    receipt = msgspec.json.decode(row[6], type=PendingBody).sale()
    return RegisteredReceipt(
        int(row[0]),
        entry_seq,
        ReceiptType(row[1]),
        str(row[2]),
        receipt,
        compute(receipt),
        str(row[3]),
        str(row[4]),
        row[5],
    )


async def find_receipt(store: Store, receipt_no: int, *, copy: bool = False) -> RegisteredReceipt | None:
    """Receipt ``receipt_no`` (its copy when ``copy``), or None."""
    clause = "=" if copy else "!="
    row = await store.fetchone(
        f"SELECT entry_seq FROM receipts WHERE receipt_no = ? AND kind {clause} ?",
        (receipt_no, ReceiptType.COPY.value),
    )
    return None if row is None else await registered_by_entry(store, int(row[0]))
