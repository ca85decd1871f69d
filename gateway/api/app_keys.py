"""What every handler of the API finds on the application: the till it serves, the event hub and
the till's parked sales.

Kept apart from :mod:`gateway.api.app`, which assembles the application from the route
modules, so that those modules need not import the assembly.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.events import EventHub
from gateway.fiscal.parking import Parking
from gateway.till import Till

__all__ = ["HUB", "PARKING", "TILL"]

TILL = web.AppKey("till", Till)
HUB = web.AppKey("hub", EventHub)
PARKING = web.AppKey("parking", Parking)
