"""What every handler of the API finds on the application: the till it serves and the event hub.

Kept apart from :mod:`gateway.api.app`, which assembles the application from the route
modules, so that those modules need not import the assembly.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.events import EventHub
from gateway.till import Till

__all__ = ["HUB", "TILL"]

TILL = web.AppKey("till", Till)
HUB = web.AppKey("hub", EventHub)
