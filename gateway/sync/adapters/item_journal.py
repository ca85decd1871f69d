"""Stock written back through an item journal published as an OData v4 page (NAV and Business Central).

Neither NAV's page services nor Business Central's API v2.0 let anyone write an item's
inventory: it is the sum of its item ledger entries, and those come from posting item
journal lines. So a new quantity becomes one journal line per item, *Positive Adjmt.* or
*Negative Adjmt.*, in a batch of its own, and the ERP's user (or the partner's job queue)
posts the batch.

Until the batch is posted the item's inventory does not show the line, so the lines
already waiting in the batch count as part of what the item has: writing the same
quantity twice adds nothing, and a lost answer to a POST is made good by the next write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from gateway.sync.adapters import AdapterError
from gateway.sync.adapters.odata import ODataClient, odata_quote
from gateway.sync.adapters.source_common import failures_as

__all__ = ["DOCUMENT_NO", "ItemJournal", "set_stock", "write_stock"]

DOCUMENT_NO = "TILLGW-LAGER"
"""The document number of the lines we write: how they are told apart in a shared batch."""

POSITIVE, NEGATIVE = "Positive Adjmt.", "Negative Adjmt."


@dataclass(frozen=True, slots=True)
class ItemJournal:
    service: str  # the published page's service name, e.g. "ItemJournal"
    template: str  # item journal template, e.g. "ITEM"
    batch: str  # a batch of its own, e.g. "TILLGW"
    location: str | None = None  # Location_Code of the lines (the shop's location)


async def waiting(client: ODataClient, prefix: str, journal: ItemJournal, item: str) -> Decimal:
    """What our unposted lines for ``item`` in the batch add up to (negative adjustments deducted)."""
    where = (
        f"Journal_Template_Name eq '{odata_quote(journal.template)}' and "
        f"Journal_Batch_Name eq '{odata_quote(journal.batch)}' and Item_No eq '{odata_quote(item)}'"
    )
    total = Decimal(0)
    async for line in client.values(f"{prefix}{journal.service}", {"$filter": where}):
        if line.get("Document_No") != DOCUMENT_NO:
            continue
        quantity = Decimal(str(line.get("Quantity") or 0))
        total += quantity if line.get("Entry_Type") == POSITIVE else -quantity
    return total


async def write_stock(
    client: ODataClient,
    prefix: str,
    journal: ItemJournal,
    levels: Mapping[str, Decimal],
    inventory: Mapping[str, Decimal],
    posting_date: str,
) -> dict[str, Decimal]:
    """One adjustment line per item whose quantity differs; the adjustments written."""
    written: dict[str, Decimal] = {}
    for item, level in levels.items():
        have = inventory.get(item, Decimal(0)) + await waiting(client, prefix, journal, item)
        change = level - have
        if not change:
            continue
        line: dict[str, object] = {
            "Journal_Template_Name": journal.template,
            "Journal_Batch_Name": journal.batch,
            "Posting_Date": posting_date,
            "Entry_Type": POSITIVE if change > 0 else NEGATIVE,
            "Document_No": DOCUMENT_NO,
            "Item_No": item,
            "Quantity": float(abs(change)),
        }
        if journal.location:
            line["Location_Code"] = journal.location
        await client.request("POST", f"{prefix}{journal.service}", json=line)
        written[item] = change
    return written


async def set_stock(
    client: ODataClient,
    prefix: str,
    journal: ItemJournal,
    levels: Mapping[str, Decimal],
    inventory: Mapping[str, Decimal],
    erp: str,
) -> None:
    """A source's ``set_stock``: ``levels`` written as today's adjustments; each item must be
    one of ``erp``'s inventory items (in ``inventory``, what the ERP has now)."""
    missing = sorted(set(levels) - set(inventory))
    if missing:
        raise AdapterError(f"set stock: {erp} has no inventory item {', '.join(missing)}")
    with failures_as("set stock"):
        await write_stock(client, prefix, journal, levels, inventory, date.today().isoformat())
