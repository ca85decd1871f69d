"""What an adapter is: the part of the sync module that hands messages to a receiving system.

The processor (:mod:`gateway.sync.processor`) gives an adapter each message of a kind it
:meth:`~Adapter.handles`, in order, inside the inbox transaction that will mark the
message processed. The adapter writes its own records (which documents it made) through
that transaction, so "processed" and "the adapter's record" commit together. Whatever it
does outside the database (a file, an HTTP call) must be idempotent or findable again,
because a crash after it and before the commit makes the processor give it the same
message again.

An adapter that cannot do its work raises :class:`AdapterError` whose text quotes the
receiving system's own message (an OS error, a validation message, an HTTP error body);
the message then stays unprocessed, the register's later messages wait behind it, and it
is tried again on the next pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Annotations only: every ERP's configuration parser is in this package, and reading a
    # configuration (``tillgw sync --help`` too) loads neither the database driver nor the bus codecs.
    from gateway.messages.envelope import BusMessage
    from gateway.sync.sql import SqlConnection

__all__ = ["Adapter", "AdapterError"]


class AdapterError(Exception):
    """The receiving system refused or failed; ``str()`` quotes its own message."""


class Adapter(Protocol):
    name: str  # how log lines name the receiving system: "SIE", "Fortnox", …

    def handles(self, kind: str) -> bool:
        """Whether messages of ``kind`` (``receipt``, ``report.z``, …) need this adapter."""
        ...

    async def setup(self, db: SqlConnection) -> None:
        """Create the adapter's tables (called once at start, outside a transaction)."""
        ...

    async def process(self, db: SqlConnection, message: BusMessage) -> str | None:
        """Handle one message inside the open transaction ``db``; what was done, for the log."""
        ...
