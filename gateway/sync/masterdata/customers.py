"""Customers created or changed at a till: to the ERP at once, back to the tills with its number.

A till journals a customer it creates or changes as a bus message of kind
``customer.change`` on its ``…/customers`` topic; the payload is the customer
(:class:`gateway.messages.catalog.Customer`), its number possibly provisional
(``T-KASSA1-3``) when the till made it. :class:`CustomerAdapter` gets each such message
from the processor, in order and once, and

* writes the customer to the ERP (``save_customer``): a create (number "") for a
  provisional number the ERP does not know yet, an update otherwise;
* queues it for the next revision under the ERP's number, with the provisional number
  in ``removed`` — so the tills replace ``T-KASSA1-3`` by ``10042``.

``[sync.masterdata].customer_master`` says whose version wins afterwards: ``erp`` — the
ERP's later changes to the customer go to the tills like any; ``till`` — the customer is
the till's: the engine never sends the ERP's version of it back.

The ERP call is outside the inbox transaction, and a crash after it and before that
transaction's commit hands the same message over again. So the call is bracketed by
commits of its own in ``catalog.db`` (``customer_saves``): before it, "saving"; after it,
the ERP's number. A message whose save has its number is not saved again; one found
"saving" (the crash came during the call) is looked for in the ERP first — a customer
with the same name, organisation number, e-mail and phone — and saved as an update of
that one if found, so a crash never makes a second customer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime

from gateway.messages.catalog import Customer
from gateway.messages.envelope import BusMessage, MessageError
from gateway.sync.adapters import AdapterError
from gateway.sync.masterdata.catalog_db import CatalogDb
from gateway.sync.masterdata.pricing import source_customer
from gateway.sync.masterdata.source import MasterDataSource, SourceCustomer
from gateway.sync.runlog import LOGGER
from gateway.sync.sql import SqlConnection

__all__ = ["CUSTOMER_KIND", "CustomerAdapter"]

log = logging.getLogger(LOGGER)

CUSTOMER_KIND = "customer.change"


def _same_person(a: SourceCustomer, b: Customer) -> bool:
    return (a.name, a.orgnr, a.email, a.phone) == (b.name, b.orgnr, b.email, b.phone)


class CustomerAdapter:
    """An adapter: ``customer.change`` messages to the ERP, and queued for the tills."""

    name = "customers"

    def __init__(self, catalog: CatalogDb, source: MasterDataSource, master: str) -> None:
        self.catalog = catalog
        self.source = source
        self.master = master

    def handles(self, kind: str) -> bool:
        return kind == CUSTOMER_KIND

    async def setup(self, db: SqlConnection) -> None:
        """Its records are in ``catalog.db`` (created when that is opened), none in the inbox."""

    async def _erp_number(self, till_number: str) -> str:
        """The ERP's number for a till's customer number; "" when the ERP does not know it yet."""
        saved = await self.catalog.fetchall(
            "SELECT erp_number FROM customer_saves WHERE till_number = ? AND erp_number IS NOT NULL "
            "ORDER BY started_at DESC LIMIT 1",
            (till_number,),
        )
        if saved:
            return str(saved[0][0])
        known = await self.catalog.fetchall("SELECT 1 FROM customers WHERE number = ?", (till_number,))
        return till_number if known or not till_number.startswith("T-") else ""

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        try:
            customer = Customer.from_json(message.payload, "payload")
        except MessageError as exc:
            raise AdapterError(f"the customer in {message.msg_id} is not one: {exc}") from None
        rows = await self.catalog.fetchall(
            "SELECT erp_number FROM customer_saves WHERE msg_id = ?", (message.msg_id,)
        )
        if rows and rows[0][0] is not None:
            number = str(rows[0][0])  # saved before a crash; processed again: not saved twice
        else:
            number = await self._erp_number(customer.number)
            if rows and not number:
                number = await self._find(customer)  # the crash came during the ERP call
            if not rows:
                async with self.catalog.transaction() as cdb:
                    await cdb.execute(
                        "INSERT INTO customer_saves (msg_id, till_number, item, started_at) "
                        "VALUES (?, ?, ?, ?)",
                        (
                            message.msg_id,
                            customer.number,
                            json.dumps(customer.to_json(), ensure_ascii=False),
                            datetime.now().astimezone().isoformat(),
                        ),
                    )
            number = await self.source.save_customer(source_customer(customer, number))
        saved = dataclasses.replace(customer, number=number)
        async with self.catalog.transaction() as cdb:
            await cdb.execute(
                "UPDATE customer_saves SET erp_number = ? WHERE msg_id = ?", (number, message.msg_id)
            )
            await cdb.execute(
                "INSERT INTO customers_pending (number, item, replaces) VALUES (?, ?, ?) "
                "ON CONFLICT (number) DO UPDATE SET item = excluded.item, "
                "replaces = COALESCE(excluded.replaces, customers_pending.replaces)",
                (
                    number,
                    json.dumps(saved.to_json(), ensure_ascii=False),
                    customer.number if customer.number != number else None,
                ),
            )
        if customer.number != number:
            return f"customer {customer.number} saved in {self.source.name} as {number}"
        return f"customer {number} saved in {self.source.name}"

    async def _find(self, customer: Customer) -> str:
        async for found in self.source.customers(None):
            if _same_person(found, customer):
                log.info(
                    "customer %s: found in %s as %s after an interrupted save",
                    customer.number,
                    self.source.name,
                    found.number,
                )
                return found.number
        return ""
