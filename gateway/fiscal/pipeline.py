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
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import msgspec

from gateway.common.clock import local_now
from gateway.devices.control_units.interface import (
    ControlUnit,
    ControlUnitRefused,
    ControlUnitUnavailable,
    Registration,
)
from gateway.fiscal.bodies import (
    ControlUnitErrorBody,
    PendingBody,
    PrintedBody,
    RefusedBody,
    RegistrationChangedBody,
)
from gateway.fiscal.receipt_entries import (
    control_data,
    control_from_body,
    index_receipt,
    pending_body,
    receipt_body,
)
from gateway.fiscal.receipt_text import PrintedReceipt, PrintLine, Shop, layout, to_escpos, to_text
from gateway.fiscal.reports import IndexMismatch, Report, float_change_body, make_x, make_z
from gateway.fiscal.storage import full_words
from gateway.fiscal.store import RequestState, StorageFull, Store, Writer
from gateway.messages.bodies import (
    Body,
    CashierBody,
    CustomerChangeBody,
    Delivery,
    DrawerOpenBody,
    OrderLineBody,
    OrderNewBody,
    PriceChangeBody,
    ReportKind,
    body_error,
)
from gateway.messages.catalog import Customer
from gateway.messages.envelope import MessageError
from gateway.messages.orders import NewOrder, OrderFieldError, order_reference
from gateway.receipts.codec import receipt_to_json, totals_to_json
from gateway.receipts.model import PaymentMethod, Receipt, ReceiptKind, Totals, compute, group_amounts
from protocols.escpos import CodeTable
from protocols.skv import ControlData, FieldError, ReceiptType

__all__ = ["FiscalError", "Pipeline", "ReceiptPrinter", "RegisteredReceipt", "Sale"]

log = logging.getLogger("tillgw.fiscal.pipeline")

LAYOUTS_KEPT = 16  # receipts whose layout is kept for a second reader (a sale's print job and answer)

_EVENTS: dict[str, type[Body]] = {
    "cashier.login": CashierBody,
    "cashier.logout": CashierBody,
    "price.change": PriceChangeBody,
    # The till's own (gateway.registration.check), never the POS's:
    "registration.changed": RegistrationChangedBody,
}
"""The events :meth:`Pipeline.record` journals as they come (with the POS id); ``float.change``,
``customer.change`` and ``order.new`` are checked by their own readers first."""


class FiscalError(Exception):
    """A fiscal operation that did not happen; ``code`` and ``status`` are for the API."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        field: str | None = None,
        *,
        repeat: bool = False,
        in_doubt: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.repeat = repeat  # the same answer this request got before (no news)
        # storage_full only: True when the unit may hold the receipt (repeat the same id)
        self.in_doubt = in_doubt

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.in_doubt is not None:
            error["in_doubt"] = self.in_doubt
        return {"error": error}


def storage_full(exc: StorageFull, receipt_no: int | None = None, *, this_sale: bool = True) -> FiscalError:
    """507 for a write the full disk refused; ``receipt_no``: a receipt the unit may hold, unwritten."""
    if receipt_no is None:
        return FiscalError(
            "storage_full",
            f"{full_words(exc)}: the sale could not be written and nothing was registered. "
            "Free space on the disk, then send it again.",
            507,
            in_doubt=False,
        )
    waiting = (
        f"{full_words(exc)}: receipt {receipt_no} is registered with the control unit but could not be "
        "written to the journal. Nothing is lost: free space on the disk, then send the same request again "
        "(the same id) to get the receipt. No new sale until then."
    )
    if not this_sale:
        return FiscalError(
            "storage_full", f"Nothing was registered for this sale. {waiting}", 507, in_doubt=False
        )
    return FiscalError("storage_full", waiting, 507, in_doubt=True)


class ReceiptPrinter(Protocol):
    """What the pipeline needs of a printer: print a job and say when it is on paper."""

    async def print_job(self, data: bytes) -> None:
        """Return when the printer reports the job printed; raise if it cannot be."""
        ...

    async def kick_drawer(self) -> None: ...


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


@dataclass(frozen=True, slots=True)
class _Pending:
    """A receipt's number taken and its pending entry committed: next, the control unit."""

    seq: int
    body: PendingBody
    data: ControlData


@dataclass(frozen=True, slots=True)
class _Known:
    """The request id was seen before: its state, result and (when done) the receipt's entry."""

    state: RequestState
    result: str | None
    entry_seq: int | None


class _InDoubt:
    """Another receipt waits for the control unit's answer: it goes first."""


class _Error(msgspec.Struct, frozen=True):
    code: str
    message: str


class _Refusal(msgspec.Struct, frozen=True):
    """A refused request's result: the answer the POS got, given again to a repeat."""

    error: _Error


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
        self._print_tasks: set[asyncio.Task[None]] = set()
        # Receipts (by entry) with a print job under way. A receipt resolved from doubt at
        # start-up is still unprinted when start() looks for unprinted receipts: without
        # this it went to the printer twice, and both were originals.
        self._printing: set[int] = set()
        self._base: int | None = None
        self._lost_to: int | None = None  # the last receipt number a series.gap entry took
        # pending entry -> receipt number: receipts the unit answered for that the full disk
        # kept out of the journal. They are in doubt like any other (sent again before the
        # next sale), but it is the disk they wait for, not the control unit.
        self.unwritten: dict[int, int] = {}
        # receipt entry -> its lines laid out for the paper: a sale's print job and the API's
        # answer with its text share one layout. The last few only; an older one is laid out again.
        self._laid_out: dict[int, tuple[PrintLine, ...]] = {}

    # -- start-up -----------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile what a crash left: resolve in-doubt receipts, print what was not printed."""
        async with self._lock:
            try:
                await self._resolve_in_doubt()
            except FiscalError as exc:
                log.warning("%s", exc.message)
        # Taken before the list is read: a job that ends while the list is walked (its row
        # deleted after the read, its mark gone before our check) must not print again.
        under_way = set(self._printing)
        for row in await self.store.fetchall("SELECT entry_seq FROM unprinted ORDER BY entry_seq"):
            if int(row[0]) in under_way:
                continue
            found = await self._registered_by_entry(int(row[0]))
            if found is not None:
                self._print_later(found)

    async def settle(self) -> None:
        """Wait until every print job and drawer kick under way has ended (a clean stop, a test)."""
        while self._print_tasks:
            await asyncio.gather(*self._print_tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._print_tasks):
            task.cancel()
        await asyncio.gather(*self._print_tasks, return_exceptions=True)

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
                moment = local_now()
                begin = partial(self._begin_sale, request_id=request_id, receipt=receipt, totals=totals)
                try:
                    step = await self.store.transact(partial(begin, kind=kind, moment=moment), moment)
                except StorageFull as exc:
                    log.error("receipt not written: %s", full_words(exc))
                    raise storage_full(exc) from None
                if isinstance(step, _Pending):
                    registered = await self._send(step.seq, step.body, step.data, receipt, totals)
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
                    error = msgspec.json.decode(step.result, type=_Refusal).error
                    raise FiscalError(error.code, error.message, 503, repeat=earlier is RequestState.REFUSED)
                assert step.entry_seq is not None
                found = await self._registered_by_entry(step.entry_seq)
                assert found is not None, f"request {request_id} is done but has no receipt"
                return Sale(found, earlier)
        self._after_sale(registered)
        return Sale(registered, earlier)

    def _begin_sale(
        self,
        w: Writer,
        request_id: str,
        receipt: Receipt,
        totals: Totals,
        kind: ReceiptType,
        moment: datetime,
    ) -> _Pending | _Known | _InDoubt:
        """On the database thread, one transaction: what became of the request, or its pending entry."""
        row = w.fetchone(
            "SELECT state, result, json_extract(result, '$.journal_entry') FROM requests "
            "WHERE request_id = ?",
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
        return self._write_pending(w, number, kind, receipt, totals, request_id, moment, copy_of=None)

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
            moment = local_now()
            pending = await self._writing_pending(
                lambda w: self._write_pending(
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
            registered = await self._send(
                pending.seq, pending.body, pending.data, original.receipt, original.totals
            )
        self._print_later(registered)
        return registered

    async def _writing_pending(self, write: Callable[[Writer], _Pending], moment: datetime) -> _Pending:
        try:
            return await self.store.transact(write, moment)
        except StorageFull as exc:
            log.error("receipt not written: %s", full_words(exc))
            raise storage_full(exc) from None

    async def find(self, receipt_no: int, *, copy: bool = False) -> RegisteredReceipt | None:
        clause = "=" if copy else "!="
        row = await self.store.fetchone(
            f"SELECT entry_seq FROM receipts WHERE receipt_no = ? AND kind {clause} ?",
            (receipt_no, ReceiptType.COPY.value),
        )
        return None if row is None else await self._registered_by_entry(int(row[0]))

    async def printed(self, entry_seq: int) -> bool:
        row = await self.store.fetchone("SELECT 1 FROM unprinted WHERE entry_seq = ?", (entry_seq,))
        return row is None

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
        counted on the X and Z reports: see :func:`gateway.fiscal.reports.float_change_body`.
        ``customer.change`` is a customer made or changed at the till, for the ERP: its body
        is :meth:`Customer.to_json <gateway.messages.catalog.Customer.to_json>`. ``order.new`` is a
        sales order for the ERP (:class:`~gateway.messages.orders.NewOrder`); its journal body adds the
        till's reference, which :meth:`order_reference` reads back. Each is journaled as its
        Struct (:mod:`gateway.messages.bodies`); a body that is not one is refused (422).
        """
        journaled: Body
        if kind == "order.new":
            return await self._new_order(body)
        if kind == "float.change":
            try:
                journaled = float_change_body(body, self.pos_id)
            except FieldError as exc:
                raise FiscalError("bad_event", str(exc), 422, exc.field) from None
        elif kind == "customer.change":
            try:
                customer = Customer.from_json(body, "customer")
            except MessageError as exc:
                raise FiscalError("bad_event", str(exc), 422) from None
            journaled = CustomerChangeBody(
                number=customer.number,
                name=customer.name,
                orgnr=customer.orgnr,
                email=customer.email,
                phone=customer.phone,
                address=customer.address,
                price_list=customer.price_list,
                pos_id=self.pos_id,
            )
        elif kind in _EVENTS:
            try:
                journaled = msgspec.convert({**body, "pos_id": self.pos_id}, _EVENTS[kind])
            except msgspec.ValidationError as exc:
                error = body_error(exc, "")
                raise FiscalError("bad_event", str(error), 422, error.field) from None
        else:
            raise FiscalError("bad_event", f"{kind!r} is not an event the POS reports", 422, "kind")
        entry = await self.store.transact(lambda w: w.append(kind, journaled))
        return entry.seq

    async def _new_order(self, body: dict[str, Any]) -> int:
        """An ``order.new``: the order checked, and given the till's next reference ``O-{register}-{n}``
        in the transaction that journals it (so two orders never share one)."""
        try:
            order = NewOrder.from_json({k: v for k, v in body.items() if k != "reference"})
        except OrderFieldError as exc:
            raise FiscalError("bad_order", exc.message, 422, exc.field) from None

        lines = tuple(OrderLineBody(line.article, str(line.quantity), line.text) for line in order.lines)

        def append(w: Writer) -> int:
            row = w.fetchone("SELECT COUNT(*) FROM journal WHERE kind = 'order.new'")
            body = OrderNewBody(
                customer=order.customer,
                lines=lines,
                delivery=Delivery(order.delivery),
                note=order.note,
                reference=order_reference(self.pos_id, (0 if row is None else int(row[0])) + 1),
                pos_id=self.pos_id,
            )
            return w.append("order.new", body).seq

        return await self.store.transact(append)

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

    # -- internals ----------------------------------------------------------------------

    def _write_pending(
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
    ) -> _Pending:
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
        return _Pending(pending.seq, body, data)

    async def _send(
        self, pending_seq: int, body: PendingBody, data: ControlData, receipt: Receipt, totals: Totals
    ) -> RegisteredReceipt:
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
        if self.on_receipt is not None:
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
        if self.printer is not None:
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
                "UPDATE requests SET state = ?, result = ? WHERE request_id = ?",
                (RequestState.DONE.value, json.dumps(registered.to_json()), body.request_id),
            )
        return registered

    async def _refused(self, pending_seq: int, body: PendingBody, exc: ControlUnitRefused) -> None:
        error = _Refusal(_Error("control_unit_refused", str(exc)))
        refusal = RefusedBody(
            pending=pending_seq,
            receipt_no=body.receipt_no,
            nak=exc.code,  # None for a service that names its refusals
            said=exc.said,
            words=str(exc),
        )

        def write(w: Writer) -> None:
            w.append("receipt.refused", refusal)
            w.execute("DELETE FROM in_doubt WHERE pending_seq = ?", (pending_seq,))
            if body.request_id is not None:
                w.execute(
                    "UPDATE requests SET state = ?, result = ? WHERE request_id = ?",
                    (RequestState.REFUSED.value, json.dumps(msgspec.to_builtins(error)), body.request_id),
                )

        await self.store.transact(write)

    async def _resolve_in_doubt(self) -> None:
        """Send every in-doubt receipt again (same sequence number) until the unit answers."""
        rows = await self.store.fetchall(
            "SELECT j.seq, j.body FROM in_doubt d JOIN journal j ON j.seq = d.pending_seq ORDER BY j.seq"
        )
        for row in rows:
            pending_seq, body = int(row[0]), msgspec.json.decode(row[1], type=PendingBody)
            receipt = body.sale()
            totals = compute(receipt)
            data = control_from_body(body.control)
            log.info("resolving receipt %s (sequence %s) left in doubt", body.receipt_no, body.cu_seq)
            registered = await self._send(pending_seq, body, data, receipt, totals)
            # Printed, but the drawer stays shut: the customer the sale was for may be gone,
            # and a drawer must never fly open long after the sale.
            self._print_later(registered)

    async def _registered_by_entry(self, entry_seq: int) -> RegisteredReceipt | None:
        row = await self.store.fetchone(
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

    def _after_sale(self, registered: RegisteredReceipt) -> None:
        self._print_later(registered)
        if self.printer is not None and PaymentMethod.CASH in registered.totals.paid:
            # At once, not after the print job: a roll running out must not keep the drawer shut.
            self._background(self._kick(registered.receipt_no), f"drawer for receipt {registered.receipt_no}")

    def _print_later(self, registered: RegisteredReceipt) -> None:
        """Print the receipt once: not again while a job for it is under way."""
        if self.printer is None or registered.entry_seq in self._printing:
            return
        self._printing.add(registered.entry_seq)
        self._background(self._print(registered), f"print receipt {registered.receipt_no}")

    def _background(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._print_tasks.add(task)
        task.add_done_callback(self._print_tasks.discard)

    async def _kick(self, receipt_no: int) -> None:
        assert self.printer is not None
        try:
            await self.printer.kick_drawer()
        except Exception as exc:
            log.warning("drawer did not open for receipt %s: %s", receipt_no, exc)

    def printed_receipt(self, registered: RegisteredReceipt) -> PrintedReceipt:
        return PrintedReceipt(
            shop=self.shop,
            pos_id=self.pos_id,
            receipt_no=registered.receipt_no,
            moment=datetime.fromisoformat(registered.at),
            receipt=registered.receipt,
            totals=registered.totals,
            control_code=registered.control_code,
            unit_id=registered.unit_id,
            copy=registered.kind is ReceiptType.COPY,
        )

    def receipt_lines(self, registered: RegisteredReceipt) -> tuple[PrintLine, ...]:
        """The receipt laid out for this till's paper, once for whoever asks first (its print job,
        the API's answer): a receipt's entry never changes, nor therefore its layout."""
        lines = self._laid_out.get(registered.entry_seq)
        if lines is None:
            lines = layout(self.printed_receipt(registered), self.paper_width)
            self._laid_out[registered.entry_seq] = lines
            if len(self._laid_out) > LAYOUTS_KEPT:
                del self._laid_out[next(iter(self._laid_out))]  # the oldest
        return lines

    def receipt_text(self, registered: RegisteredReceipt) -> str:
        return to_text(self.receipt_lines(registered), self.paper_width)

    async def _print(self, registered: RegisteredReceipt) -> None:
        try:
            await self._print_once(registered)
        finally:
            self._printing.discard(registered.entry_seq)

    async def _print_once(self, registered: RegisteredReceipt) -> None:
        assert self.printer is not None
        data = to_escpos(self.receipt_lines(registered), self.code_table)
        try:
            await self.printer.print_job(data)
        except Exception as exc:  # the receipt stays unprinted and is printed at the next start
            log.warning("receipt %s not printed: %s", registered.receipt_no, exc)
            return
        printed = PrintedBody(receipt_no=registered.receipt_no, entry=registered.entry_seq)

        def write(w: Writer) -> None:
            w.append("receipt.printed", printed)
            w.execute("DELETE FROM unprinted WHERE entry_seq = ?", (registered.entry_seq,))

        try:
            await self.store.transact(write)
        except StorageFull as exc:  # on paper, but it stays listed unprinted: printed again at a start
            log.warning(
                "receipt %s printed, but that could not be written: %s",
                registered.receipt_no,
                full_words(exc),
            )
