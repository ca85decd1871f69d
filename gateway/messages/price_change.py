"""The ``price.change`` message's payload in ``tillgw.bus/2``: the prices in öre.

The journal keeps a price change as the POS posted it (:class:`PriceChangeBody`: the prices
as kronor text, ``"32.00"``, checked as amounts when journaled); the bus carries money in
integer öre only, so the till's outbox projects the body into :class:`PriceChangePayload`
when it writes the message (:func:`price_change_payload_of`). A ``tillgw.bus/1`` price
change — an older till's — is the journal body itself.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.messages.bodies import Body, PriceChangeBody
from gateway.receipts.money import parse_ore

__all__ = ["PriceChangePayload", "price_change_payload_of"]

Ore = Annotated[int, msgspec.Meta(ge=0, description="öre incl. VAT for one unit")]


class PriceChangePayload(Body, frozen=True, kw_only=True):
    """A price changed at the till (``tillgw.bus/2``)."""

    article: str
    text: str | None
    old_price: Ore | None  # null when the POS did not say
    new_price: Ore
    cashier: str | None
    pos_id: str


def price_change_payload_of(body: PriceChangeBody) -> PriceChangePayload:
    """The message of a journaled price change; ``ValueError`` for a price that is no amount
    (the journal takes none: :func:`gateway.fiscal.events.event_body` checks them)."""
    return PriceChangePayload(
        article=body.article,
        text=body.text,
        old_price=None if body.old_price is None else parse_ore(body.old_price),
        new_price=parse_ore(body.new_price),
        cashier=body.cashier,
        pos_id=body.pos_id,
    )
