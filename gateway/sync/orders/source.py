"""What the order responder needs of an ERP: its open sales orders, as the tills get them.

Each ERP's adapter module has one (``NavOrders``, ``BusinessCentralOrders``,
``FortnoxOrders``); :mod:`gateway.sync.erp` picks the configured ERP's. Prices come
back incl. VAT in öre, made from the ERP's prices exactly as the master-data engine
makes the catalog's (:func:`gateway.sync.masterdata.pricing.price_incl_vat`).
"""

from __future__ import annotations

from typing import Protocol

from gateway.messages.orders import Order

__all__ = ["OrderLookupError", "OrderSource"]


class OrderLookupError(Exception):
    """The ERP could not say which orders are open; ``str()`` quotes its own words."""


class OrderSource(Protocol):
    name: str  # how the log names the ERP

    async def open_orders(self, customer: str | None, number: str | None) -> list[Order]:
        """The open orders of ``customer``, or the one numbered ``number`` (both: that one, if the
        customer's); an empty list when there are none. Raises :class:`OrderLookupError`."""
        ...
