"""Printing registered receipts and kicking the drawer, in the background of the sale.

A receipt is on the ``unprinted`` list from the transaction that journals it until its
``receipt.printed`` entry: a print job that fails, or a till that stops first, leaves it
there, and the next start prints it (:meth:`ReceiptPrinting.print_unprinted`). A receipt
is printed once: not again while a job for it is under way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Protocol

from gateway.fiscal.bodies import PrintedBody
from gateway.fiscal.receipt_text import PrintedReceipt, PrintLine, Shop, layout, to_escpos, to_text
from gateway.fiscal.registered import RegisteredReceipt, registered_by_entry
from gateway.fiscal.storage import full_words
from gateway.fiscal.store import StorageFull, Store, Writer
from gateway.receipts.model import PaymentMethod
from protocols.escpos import CodeTable
from protocols.skv import ReceiptType

__all__ = ["LAYOUTS_KEPT", "ReceiptPrinter", "ReceiptPrinting"]

# The receipt path's one log, wherever in it a line comes from.
log = logging.getLogger("tillgw.fiscal.pipeline")

LAYOUTS_KEPT = 16  # receipts whose layout is kept for a second reader (a sale's print job and answer)


class ReceiptPrinter(Protocol):
    """What the pipeline needs of a printer: print a job and say when it is on paper."""

    async def print_job(self, data: bytes) -> None:
        """Return when the printer reports the job printed; raise if it cannot be."""
        ...

    async def kick_drawer(self) -> None: ...


class ReceiptPrinting:
    """The print jobs and drawer kicks of one register's receipts, and their layouts."""

    def __init__(
        self,
        store: Store,
        printer: ReceiptPrinter | None,
        shop: Shop,
        pos_id: str,
        paper_width: int,
        code_table: CodeTable,
    ) -> None:
        self.store = store
        self.printer = printer
        self.shop = shop
        self.pos_id = pos_id
        self.paper_width = paper_width
        self.code_table = code_table
        self._tasks: set[asyncio.Task[None]] = set()
        # Receipts (by entry) with a print job under way. A receipt resolved from doubt at
        # start-up is still unprinted when start() looks for unprinted receipts: without
        # this it went to the printer twice, and both were originals.
        self._printing: set[int] = set()
        # receipt entry -> its lines laid out for the paper: a sale's print job and the API's
        # answer with its text share one layout. The last few only; an older one is laid out again.
        self._laid_out: dict[int, tuple[PrintLine, ...]] = {}

    async def print_unprinted(self) -> None:
        """Print every receipt listed unprinted that has no job under way (at start)."""
        # Taken before the list is read: a job that ends while the list is walked (its row
        # deleted after the read, its mark gone before our check) must not print again.
        under_way = set(self._printing)
        for row in await self.store.fetchall("SELECT entry_seq FROM unprinted ORDER BY entry_seq"):
            if int(row[0]) in under_way:
                continue
            found = await registered_by_entry(self.store, int(row[0]))
            if found is not None:
                self.print_later(found)

    async def printed(self, entry_seq: int) -> bool:
        row = await self.store.fetchone("SELECT 1 FROM unprinted WHERE entry_seq = ?", (entry_seq,))
        return row is None

    async def settle(self) -> None:
        """Wait until every print job and drawer kick under way has ended (a clean stop, a test)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def after_sale(self, registered: RegisteredReceipt) -> None:
        """Print a new sale's receipt, and open the drawer when cash was paid."""
        self.print_later(registered)
        if self.printer is not None and PaymentMethod.CASH in registered.totals.paid:
            # At once, not after the print job: a roll running out must not keep the drawer shut.
            self._background(self._kick(registered.receipt_no), f"drawer for receipt {registered.receipt_no}")

    def print_later(self, registered: RegisteredReceipt) -> None:
        """Print the receipt once: not again while a job for it is under way."""
        if self.printer is None or registered.entry_seq in self._printing:
            return
        self._printing.add(registered.entry_seq)
        self._background(self._print(registered), f"print receipt {registered.receipt_no}")

    def _background(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
