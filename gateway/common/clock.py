"""The till's wall clock: now, in local time with its UTC offset.

Receipts, the journal, the outbox and the catalog all stamp their moments with it, so
that every record the till writes reads the same way (``2025-03-01T14:05:09+01:00``).
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["local_now"]


def local_now() -> datetime:
    """Now, in local time with its UTC offset (what receipts and the journal show)."""
    return datetime.now().astimezone()
