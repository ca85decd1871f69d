"""One receipt's way through the control unit: its pending entry, the unit's answer, its entry.

:meth:`Registrar.write_pending` writes the ``receipt.pending`` entry (the number taken, the
control unit's sequence number, all it takes to ask again); :meth:`Registrar.send` asks the
unit and journals what came of it — the ``receipt`` entry with the control code, a
``receipt.refused`` entry, or a ``control_unit.error`` that leaves the receipt in doubt
(docs/fiscal-path.md). Which number a receipt takes, and when, is the pipeline's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.devices.control_units.interface import (
    ControlUnit,
    ControlUnitRefused,
    ControlUnitUnavailable,
    Registration,
)
from gateway.fiscal.bodies import ControlUnitErrorBody, PendingBody, RefusedBody
from gateway.fiscal.errors import FiscalError, refusal_result, storage_full
from gateway.fiscal.receipt_entries import control_data, index_receipt, pending_body, receipt_body
from gateway.fiscal.receipt_text import Shop
from gateway.fiscal.registered import RegisteredReceipt
from gateway.fiscal.storage import full_words
from gateway.fiscal.store import RequestState, StorageFull, Store, Writer
from gateway.receipts.model import Receipt, Totals, group_amounts
from protocols.skv import ControlData, ReceiptType

__all__ = ["Pending", "Registrar"]

# The receipt path's one log, wherever in it a line comes from.
log = logging.getLogger("tillgw.fiscal.pipeline")


@dataclass(frozen=True, slots=True)
class Pending:
    """A receipt's number taken and its pending entry committed: next, the control unit."""

    seq: int
    body: PendingBody
    data: ControlData


class Registrar:
    """Registers receipts of one register with its control unit and journals the answers."""

    def __init__(
        self,
        store: Store,
        unit: ControlUnit,
        shop: Shop,
        pos_id: str,
        *,
        lists_unprinted: bool,
        on_receipt: Callable[[RegisteredReceipt], None],
    ) -> None:
        self.store = store
        self.unit = unit
        self.shop = shop
        self.pos_id = pos_id
        self.lists_unprinted = lists_unprinted  # a printer is there: each new receipt waits for it
        self.on_receipt = on_receipt
        self._base: int | None = None
        # pending entry -> receipt number: receipts the unit answered for that the full disk
        # kept out of the journal. They are in doubt like any other (sent again before the
        # next sale), but it is the disk they wait for, not the control unit.
        self.unwritten: dict[int, int] = {}

    def write_pending(
        self,
        w: Writer,
        number: int,
        kind: ReceiptType,
        receipt: Receipt,
        totals: Totals,
        request_id: str | None,
        moment: datetime,
        *,
        copy_of: int | None,
    ) -> Pending:
        """The ``receipt.pending`` entry, the receipt's place in doubt and the request (database thread)."""
        if self._base is None:  # a constant of the database: read once
            value = w.fetchone("SELECT value FROM meta WHERE key = 'seq_base'")
            assert value is not None
            self._base = int(value[0])
        data = control_data(self.shop, self.pos_id, number, moment, kind, totals)
        last_seq, _ = w.head()
        cu_seq = self._base + last_seq + 1  # the pending entry's own number, above the base
        body = pending_body(data, moment, cu_seq, receipt, request_id=request_id, copy_of=copy_of)
        pending = w.append("receipt.pending", body)
        w.execute("INSERT INTO in_doubt (pending_seq) VALUES (?)", (pending.seq,))
        if request_id is not None:
            w.execute(
                "INSERT INTO requests (request_id, pending_seq, state) VALUES (?, ?, ?)",
                (request_id, pending.seq, RequestState.PENDING.value),
            )
        return Pending(pending.seq, body, data)

    async def writing_pending(self, write: Callable[[Writer], Pending], moment: datetime) -> Pending:
        """Run ``write`` (a :meth:`write_pending`) in one transaction; a full disk is ``storage_full``."""
        try:
            return await self.store.transact(write, moment)
        except StorageFull as exc:
            log.error("receipt not written: %s", full_words(exc))
            raise storage_full(exc) from None

    async def send(
        self, pending_seq: int, body: PendingBody, data: ControlData, receipt: Receipt, totals: Totals
    ) -> RegisteredReceipt:
        """Ask the unit to register the pending receipt (its same sequence number on every try)
        and journal the answer; what did not happen is a :class:`FiscalError`."""
        try:
            return await self._send_once(pending_seq, body, data, receipt, totals)
        except StorageFull as exc:
            # The pending entry is written and the unit was asked: it may hold the receipt.
            # The receipt stays in doubt and is completed, with the unit's same code, when
            # the same request comes again once there is space.
            number = body.receipt_no
            self.unwritten[pending_seq] = number
            log.error(
                "receipt %s registered with the control unit but not journaled: %s — free space, "
                "then the POS sends the same request again",
                number,
                full_words(exc),
            )
            raise storage_full(exc, number) from None

    async def _send_once(
        self, pending_seq: int, body: PendingBody, data: ControlData, receipt: Receipt, totals: Totals
    ) -> RegisteredReceipt:
        try:
            registration = await self.unit.register(body.cu_seq, data, cashier=receipt.cashier or "")
        except ControlUnitRefused as exc:
            await self._refused(pending_seq, body, exc)
            raise FiscalError("control_unit_refused", str(exc), 503) from None
        except ControlUnitUnavailable as exc:
            error = ControlUnitErrorBody(pending=pending_seq, words=str(exc))
            await self.store.transact(lambda w: w.append("control_unit.error", error))
            raise FiscalError(
                "control_unit_unavailable",
                f"{exc} — receipt {body.receipt_no} waits for the control unit; no new sale until it "
                "answers. Send the same request again to get the receipt.",
                503,
            ) from None
        if body.type is ReceiptType.COPY and not registration.code and body.copy_of:
            registration = await self._with_original_code(registration, body.copy_of)
        return await self._complete(pending_seq, body, registration, receipt, totals)

    async def _with_original_code(self, registration: Registration, original_entry: int) -> Registration:
        """A copy the unit gave no code of its own carries its original's (Infrasec TCS: "the
        same control code as the original transaction, so it is not returned")."""
        row = await self.store.fetchone(
            "SELECT control_code FROM receipts WHERE entry_seq = ?", (original_entry,)
        )
        return registration if row is None else dataclasses.replace(registration, code=str(row[0]))

    async def _complete(
        self,
        pending_seq: int,
        body: PendingBody,
        registration: Registration,
        receipt: Receipt,
        totals: Totals,
    ) -> RegisteredReceipt:
        registered = await self.store.transact(
            lambda w: self._write_receipt(w, pending_seq, body, registration, receipt, totals)
        )
        self.unwritten.pop(pending_seq, None)
        # Every completed receipt, also one resolved from doubt during another request.
        self.on_receipt(registered)
        return registered

    def _write_receipt(
        self,
        w: Writer,
        pending_seq: int,
        body: PendingBody,
        registration: Registration,
        receipt: Receipt,
        totals: Totals,
    ) -> RegisteredReceipt:
        """The ``receipt`` entry, its index row, the request's result (database thread, one transaction)."""
        entry = w.append(
            "receipt", receipt_body(body, pending_seq, registration, totals, group_amounts(receipt, totals))
        )
        index_receipt(
            w, entry.seq, body.receipt_no, body.type, body.at, body.request_id, totals, registration, receipt
        )
        w.execute("DELETE FROM in_doubt WHERE pending_seq = ?", (pending_seq,))
        if self.lists_unprinted:
            w.execute("INSERT INTO unprinted (entry_seq) VALUES (?)", (entry.seq,))
        registered = RegisteredReceipt(
            body.receipt_no,
            entry.seq,
            body.type,
            body.at,  # the sale's time, also when the unit answered later
            receipt,
            totals,
            registration.code,
            registration.unit_id,
            body.request_id,
        )
        if body.request_id is not None:
            w.execute(
                "UPDATE requests SET state = ?, result = ?, entry_seq = ?, answered_at = ? "
                "WHERE request_id = ?",
                (
                    RequestState.DONE.value,
                    json.dumps(registered.to_json()),
                    entry.seq,
                    entry.at,
                    body.request_id,
                ),
            )
        return registered

    async def _refused(self, pending_seq: int, body: PendingBody, exc: ControlUnitRefused) -> None:
        result = refusal_result("control_unit_refused", str(exc))
        refusal = RefusedBody(
            pending=pending_seq,
            receipt_no=body.receipt_no,
            nak=exc.code,  # None for a service that names its refusals
            said=exc.said,
            words=str(exc),
        )

        def write(w: Writer) -> None:
            entry = w.append("receipt.refused", refusal)
            w.execute("DELETE FROM in_doubt WHERE pending_seq = ?", (pending_seq,))
            if body.request_id is not None:
                w.execute(
                    "UPDATE requests SET state = ?, result = ?, answered_at = ? WHERE request_id = ?",
                    (RequestState.REFUSED.value, result, entry.at, body.request_id),
                )

        await self.store.transact(write)
