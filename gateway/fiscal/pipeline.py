"""The receipt pipeline: the only path by which a receipt comes into existence.

For one receipt (docs/fiscal-path.md has the whole story):

1. validate (:func:`gateway.receipts.model.compute`) — bad input is refused before anything is written;
2. one transaction: the next receipt number and a ``receipt.pending`` entry, which holds
   the control-unit sequence number and the data to register, and the POS's request id;
3. register with the control unit (same sequence number on every retry);
4. one transaction: the ``receipt`` entry with the control code, the unit id and the raw
   frames; the receipt's row in the index; the request's result;
5. print, and kick the drawer when cash is involved.

No control code, no receipt: a unit that refuses (NAK, Fault) leaves a
``receipt.refused`` entry, the POS gets the unit's words, and the number is not burnt —
the next receipt takes it. A unit that does not answer leaves the receipt *in doubt*:
it may or may not be in the unit's memory. Before any new sale, and at every start, an
in-doubt receipt is sent again with the same sequence number — the unit answers a repeat
with the code it gave the first time, or registers it now — and completed. Until that
works, new sales are refused: numbers stay unbroken, and the unit's memory and the
journal hold the same receipts.

Here: the sale path (which number, what became of a request), copies, and the door to the
other fiscal events. The steps it takes are elsewhere: the control unit asked and its answer
journaled (:mod:`gateway.fiscal.registering`), receipts in doubt sent again
(:mod:`gateway.fiscal.recovery`), printing and the drawer (:mod:`gateway.fiscal.printing`),
the POS's other events checked (:mod:`gateway.fiscal.events`), and what the POS is told when
nothing happened (:mod:`gateway.fiscal.errors`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from gateway.devices.control_units.interface import ControlUnit
from gateway.fiscal.errors import FiscalError, refused_again, storage_full
from gateway.fiscal.events import append_order, checked_order, event_body
from gateway.fiscal.printing import ReceiptPrinter, ReceiptPrinting
from gateway.fiscal.receipt_text import PrintedReceipt, PrintLine, Shop
from gateway.fiscal.recovery import resolve_in_doubt
from gateway.fiscal.registered import RegisteredReceipt, Sale, find_receipt, registered_by_entry
from gateway.fiscal.registering import Pending, Registrar
from gateway.fiscal.reports.report import IndexMismatch, Report, make_x, make_z
from gateway.fiscal.storage import full_words
from gateway.fiscal.store import RequestState, StorageFull, Store, Writer
from gateway.messages.bodies import DrawerOpenBody, ReportKind
from gateway.receipts.model import Receipt, ReceiptKind, Totals, compute
from protocols.escpos import CodeTable
from protocols.skv import ReceiptType

# FiscalError, ReceiptPrinter and RegisteredReceipt are named here too: what a caller of the
# pipeline catches, passes in and gets back.
__all__ = ["FiscalError", "Pipeline", "ReceiptPrinter", "RegisteredReceipt", "Sale"]

log = logging.getLogger("tillgw.fiscal.pipeline")


@dataclass(frozen=True, slots=True)
class _Known:
    """The request id was seen before: its state, result and (when done) the receipt's entry."""

    state: RequestState
    result: str | None
    entry_seq: int | None


class _InDoubt:
    """Another receipt waits for the control unit's answer: it goes first."""


_RECEIPT_TYPES = {
    ReceiptKind.NORMAL: ReceiptType.NORMAL,
    ReceiptKind.TRAINING: ReceiptType.TRAINING,
    ReceiptKind.PRO_FORMA: ReceiptType.PRO_FORMA,
}


class Pipeline:
    """Receipts, copies and the other fiscal events of one register."""

    def __init__(
        self,
        store: Store,
        unit: ControlUnit,
        shop: Shop,
        pos_id: str,
        *,
        printer: ReceiptPrinter | None = None,
        paper_width: int = 42,
        code_table: CodeTable = CodeTable.CP858,
        on_receipt: Callable[[RegisteredReceipt], None] | None = None,
    ) -> None:
        self.store = store
        self.unit = unit
        self.shop = shop
        self.pos_id = pos_id
        self.printer = printer
        self.paper_width = paper_width
        self.code_table = code_table
        self.on_receipt = on_receipt
        self._lock = asyncio.Lock()  # one fiscal operation at a time: numbers and the unit are serial
        self.printing = ReceiptPrinting(store, printer, shop, pos_id, paper_width, code_table)
        self.registrar = Registrar(
            store, unit, shop, pos_id, lists_unprinted=printer is not None, on_receipt=self._announce
        )
        self._lost_to: int | None = None  # the last receipt number a series.gap entry took

    @property
    def unwritten(self) -> dict[int, int]:
        """Pending entry -> receipt number: answered by the unit, kept out of the journal by a full disk."""
        return self.registrar.unwritten

    def _announce(self, registered: RegisteredReceipt) -> None:
        if self.on_receipt is not None:
            # Every completed receipt, also one resolved from doubt during another request.
            self.on_receipt(registered)

    # -- start-up -----------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile what a crash left: resolve in-doubt receipts, print what was not printed."""
        async with self._lock:
            try:
                await self._resolve_in_doubt()
            except FiscalError as exc:
                log.warning("%s", exc.message)
        await self.printing.print_unprinted()

    async def settle(self) -> None:
        """Wait until every print job and drawer kick under way has ended (a clean stop, a test)."""
        await self.printing.settle()

    async def close(self) -> None:
        await self.printing.close()

    # -- receipts -----------------------------------------------------------------------

    async def submit(self, request_id: str, receipt: Receipt) -> RegisteredReceipt:
        """Register, journal and print one receipt. A repeated ``request_id`` gets the first result."""
        return (await self.sell(request_id, receipt)).registered

    async def sell(self, request_id: str, receipt: Receipt) -> Sale:
        """:meth:`submit`, also saying what the request had come to before (for the API's answer)."""
        totals = compute(receipt)  # ReceiptError (a FieldError) for bad input, before anything is written
        kind = _RECEIPT_TYPES[receipt.kind]
        earlier: RequestState | None = None
        async with self._lock:
            while True:
                moment = self.store.clock.now()
                begin = partial(self._begin_sale, request_id=request_id, receipt=receipt, totals=totals)
                try:
                    step = await self.store.transact(partial(begin, kind=kind, moment=moment), moment)
                except StorageFull as exc:
                    log.error("receipt not written: %s", full_words(exc))
                    raise storage_full(exc) from None
                if isinstance(step, Pending):
                    registered = await self.registrar.send(step.seq, step.body, step.data, receipt, totals)
                    break
                if isinstance(step, _InDoubt):
                    try:
                        await self._resolve_in_doubt()
                    except FiscalError as exc:
                        if exc.code == "storage_full":  # another receipt waits for space, not this one
                            raise FiscalError(exc.code, exc.message, 507, in_doubt=False) from None
                        raise
                    continue
                earlier = earlier or step.state
                if step.state is RequestState.PENDING:  # this very request was left in doubt
                    await self._resolve_in_doubt()
                    continue
                if step.state is RequestState.REFUSED:
                    assert step.result is not None
                    raise refused_again(step.result, repeat=earlier is RequestState.REFUSED)
                assert step.entry_seq is not None
                found = await registered_by_entry(self.store, step.entry_seq)
                assert found is not None, f"request {request_id} is done but has no receipt"
                return Sale(found, earlier)
        self.printing.after_sale(registered)
        return Sale(registered, earlier)

    def _begin_sale(
        self,
        w: Writer,
        request_id: str,
        receipt: Receipt,
        totals: Totals,
        kind: ReceiptType,
        moment: datetime,
    ) -> Pending | _Known | _InDoubt:
        """On the database thread, one transaction: what became of the request, or its pending entry."""
        row = w.fetchone(
            # The receipt's entry: kept for ever, also once the answer's text is dropped.
            "SELECT state, result, COALESCE(entry_seq, json_extract(result, '$.journal_entry')) "
            "FROM requests WHERE request_id = ?",
            (request_id,),
        )
        if row is not None:
            return _Known(RequestState(row[0]), row[1], None if row[2] is None else int(row[2]))
        if w.fetchone("SELECT 1 FROM in_doubt LIMIT 1") is not None:
            return _InDoubt()
        last = w.fetchone("SELECT MAX(receipt_no) FROM receipts WHERE kind != 'kopia'")
        if self._lost_to is None:  # receipts lost with an older database and accepted (series.gap)
            gap = w.fetchone("SELECT MAX(json_extract(body, '$.to')) FROM journal WHERE kind = 'series.gap'")
            self._lost_to = 0 if gap is None or gap[0] is None else int(gap[0])
        number = max(0 if last is None or last[0] is None else int(last[0]), self._lost_to) + 1
        return self.registrar.write_pending(
            w, number, kind, receipt, totals, request_id, moment, copy_of=None
        )

    async def copy(self, receipt_no: int) -> RegisteredReceipt:
        """The one copy (KOPIA) a receipt may have: registered with the unit like any receipt."""
        async with self._lock:
            original = await self.find(receipt_no)
            if original is None or original.kind is ReceiptType.COPY:
                raise FiscalError("not_found", f"there is no receipt number {receipt_no}", 404)
            existing = await self.store.fetchone(
                "SELECT entry_seq FROM receipts WHERE receipt_no = ? AND kind = 'kopia'", (receipt_no,)
            )
            if existing is not None:
                raise FiscalError(
                    "copy_exists", f"receipt {receipt_no} already has its copy; only one copy is allowed", 409
                )
            await self._resolve_in_doubt()
            moment = self.store.clock.now()
            pending = await self.registrar.writing_pending(
                lambda w: self.registrar.write_pending(
                    w,
                    receipt_no,
                    ReceiptType.COPY,
                    original.receipt,
                    original.totals,
                    None,
                    moment,
                    copy_of=original.entry_seq,
                ),
                moment,
            )
            registered = await self.registrar.send(
                pending.seq, pending.body, pending.data, original.receipt, original.totals
            )
        self.printing.print_later(registered)
        return registered

    async def _resolve_in_doubt(self) -> None:
        await resolve_in_doubt(self.registrar, self.printing)

    async def find(self, receipt_no: int, *, copy: bool = False) -> RegisteredReceipt | None:
        return await find_receipt(self.store, receipt_no, copy=copy)

    async def printed(self, entry_seq: int) -> bool:
        return await self.printing.printed(entry_seq)

    def printed_receipt(self, registered: RegisteredReceipt) -> PrintedReceipt:
        return self.printing.printed_receipt(registered)

    def receipt_lines(self, registered: RegisteredReceipt) -> tuple[PrintLine, ...]:
        """The receipt laid out for this till's paper (:meth:`ReceiptPrinting.receipt_lines`)."""
        return self.printing.receipt_lines(registered)

    def receipt_text(self, registered: RegisteredReceipt) -> str:
        return self.printing.receipt_text(registered)

    # -- other fiscal events --------------------------------------------------------------

    async def open_drawer(self, cashier: str | None = None, reason: str = "no sale") -> int:
        """A drawer opening without a sale: journaled (and counted on the Z report), then kicked."""
        body = DrawerOpenBody(cashier=cashier, reason=reason, pos_id=self.pos_id)
        entry = await self.store.transact(lambda w: w.append("drawer.open", body))
        if self.printer is not None:
            await self.printer.kick_drawer()
        return entry.seq

    async def record(self, kind: str, body: dict[str, Any]) -> int:
        """Journal another event (``cashier.login``, ``cashier.logout``, ``price.change``,
        ``float.change``, ``customer.change``, ``order.new``, ``registration.changed``) from
        its JSON object; the journal adds the POS id.

        ``float.change`` is the float (växelkassa) put into or taken out of the drawer,
        counted on the X and Z reports: see :func:`gateway.fiscal.events.float_change_body`.
        ``customer.change`` is a customer made or changed at the till, for the ERP: its body
        is :meth:`Customer.to_json <gateway.messages.catalog.Customer.to_json>`. ``order.new`` is a
        sales order for the ERP (:class:`~gateway.messages.orders.NewOrder`); its journal body adds the
        till's reference, which :meth:`order_reference` reads back. Each is journaled as its
        Struct (:mod:`gateway.messages.bodies`, read by :mod:`gateway.fiscal.events`); a body
        that is not one is refused (422).
        """
        if kind == "order.new":
            order = checked_order(body)
            return await self.store.transact(lambda w: append_order(w, order, self.pos_id))
        journaled = event_body(kind, body, self.pos_id)
        entry = await self.store.transact(lambda w: w.append(kind, journaled))
        return entry.seq

    async def order_reference(self, entry_seq: int) -> str | None:
        """The reference the ``order.new`` entry ``entry_seq`` gave its order, or None."""
        row = await self.store.fetchone(
            "SELECT json_extract(body, '$.reference') FROM journal WHERE seq = ? AND kind = 'order.new'",
            (entry_seq,),
        )
        return None if row is None or row[0] is None else str(row[0])

    async def report(self, kind: ReportKind | str) -> Report:
        """An X (``"x"``) or Z (``"z"``) report, journaled.

        Taken between receipts, never in the middle of one: a receipt being registered
        belongs wholly to this report's period or wholly to the next.
        """
        make = {ReportKind.X: make_x, ReportKind.Z: make_z}[ReportKind(kind)]
        async with self._lock:
            try:
                return await make(self.store, self.shop, self.pos_id)
            except IndexMismatch as exc:
                raise FiscalError("journal_index_mismatch", f"no report made: {exc}", 409) from None
