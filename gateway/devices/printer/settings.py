"""The printer's choices a configuration makes, apart from the driver, so that reading the
configuration loads no codec."""

from __future__ import annotations

import enum

__all__ = ["OpenLevel"]


class OpenLevel(enum.StrEnum):
    """The sensor level (pin 3) while the drawer is open."""

    HIGH = "high"
    LOW = "low"
