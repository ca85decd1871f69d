"""Where each register's series stands in the inbox: its last message stored, its last receipt.

What ``tillgw sync --status`` prints ("last stored from R: message N, receipt M") and what the
sync status on the bus carries (``registers``), for ``tillgw restore`` to compare a backup with.

Read the same way from SQLite and PostgreSQL, and without reading every receipt ever stored
(the status is made after every pass): the last sequence is the top of the inbox's
``(orgnr, store, register, sequence)`` index, and the last receipt number is found by reading
the register's receipts from the newest back until one that is not a copy. A copy (``kopia``)
carries the number of the receipt it copies, which is lower; every other receipt takes the
next number of the series, so the newest of them holds the highest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.sync.inbox import Inbox

__all__ = ["LastStored", "last_stored"]

_PAGE = 50  # receipts read at a time, newest first: copies in a row are few


@dataclass(frozen=True, slots=True)
class LastStored:
    orgnr: str
    store: str
    register: str
    sequence: int  # the highest message sequence stored from the register
    receipt: int | None  # the highest receipt number among them; None: no receipt yet

    def to_json(self) -> dict[str, Any]:
        return {"register": self.register, "sequence": self.sequence, "receipt": self.receipt}


def _receipt_number(message: Any) -> tuple[int | None, bool]:
    """The receipt number in a stored receipt message, and whether it is a copy."""
    try:
        payload = json.loads(bytes(message)).get("payload", {})
    except (ValueError, AttributeError):  # bytes the intake held: they number nothing
        return None, False
    number = payload.get("receipt_no") if isinstance(payload, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        return None, False
    return number, payload.get("type") == "kopia"


async def _last_receipt(inbox: Inbox, orgnr: str, store: str, register: str) -> int | None:
    highest: int | None = None
    below: int | None = None  # read the receipts below this sequence next
    while True:
        rows = await inbox.fetchall(
            "SELECT sequence, message FROM inbox WHERE orgnr = ? AND store = ? AND register = ? "
            "AND kind = 'receipt' AND sequence < ? ORDER BY sequence DESC LIMIT ?",
            (orgnr, store, register, below if below is not None else 2**62, _PAGE),
        )
        for sequence, message in rows:
            number, copy = _receipt_number(message)
            if number is not None:
                highest = number if highest is None else max(highest, number)
                if not copy:
                    return highest
            below = int(sequence)
        if len(rows) < _PAGE:
            return highest


async def last_stored(inbox: Inbox, orgnr: str | None = None, store: str | None = None) -> list[LastStored]:
    """Every register the inbox has messages from (of one store when ``orgnr`` and ``store`` are
    given), in order of orgnr, store and register."""
    if orgnr is not None and store is not None:
        registers = await inbox.fetchall(
            "SELECT orgnr, store, register FROM registers WHERE orgnr = ? AND store = ?", (orgnr, store)
        )
    else:
        registers = await inbox.fetchall("SELECT orgnr, store, register FROM registers")
    found: list[LastStored] = []
    for row_orgnr, row_store, register in sorted(registers):
        top = await inbox.fetchone(
            "SELECT MAX(sequence) FROM inbox WHERE orgnr = ? AND store = ? AND register = ?",
            (row_orgnr, row_store, register),
        )
        if top is None or top[0] is None:
            continue  # a register row made before its first message was stored
        receipt = await _last_receipt(inbox, row_orgnr, row_store, register)
        found.append(LastStored(str(row_orgnr), str(row_store), str(register), int(top[0]), receipt))
    return found
