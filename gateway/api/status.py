"""What the till is doing: ``GET /v1/status`` (the devices in words, what waits) and
``GET /v1/events`` (the event stream, a WebSocket), and the wiring that feeds that stream
with the devices' changes of state, every completed receipt and every scan — docs/api.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.app_keys import HUB, TILL
from gateway.api.auth import EVENTS_PATH
from gateway.api.errors import ApiError
from gateway.api.events import EventHub, stream_events
from gateway.api.reading import json_answer
from gateway.api.scans import publish_scanner_event
from gateway.common.health import Health, HealthListener
from gateway.fiscal.registered import RegisteredReceipt

__all__ = ["add_status_routes"]


async def get_status(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    status = await request.app[TILL].status()
    status["events"] = {"clients": hub.clients, "disconnected_as_too_slow": hub.dropped}
    return json_answer(status)


async def get_events(request: web.Request) -> web.StreamResponse:
    if not web.WebSocketResponse().can_prepare(request).ok:
        raise ApiError(
            400, "websocket_expected", f"{EVENTS_PATH} is a WebSocket: connect with a WebSocket client"
        )
    till = request.app[TILL]
    return await stream_events(request, request.app[HUB], till.status)


def _device_listener(hub: EventHub, device: str, url: str) -> HealthListener:
    def listener(health: Health) -> None:
        hub.publish(
            "device",
            {
                "device": device,
                "url": url,
                "state": health.state.value,
                "reason": health.reason,
                "since": health.since.isoformat(timespec="seconds"),
            },
        )

    return listener


async def _device_events(app: web.Application) -> AsyncIterator[None]:
    """From start to cleanup: device state changes, completed receipts and scans go to the event stream."""
    till, hub = app[TILL], app[HUB]
    stops = [till.unit.on_change(_device_listener(hub, "control_unit", till.unit.url))]
    if till.printer is not None:
        driver = till.printer.driver
        stops.append(driver.on_change(_device_listener(hub, "printer", driver.url)))
    scanner = till.scanner
    if scanner is not None:
        # Held by the driver across unplugs and re-plugs: the stream follows the scanner, not a connection.
        stops.append(scanner.on_change(_device_listener(hub, "scanner", scanner.url)))
        catalog = till.catalog
        stops.append(scanner.on_event(lambda event: publish_scanner_event(hub, catalog, event.to_json())))
    if till.bus is not None:
        stops.append(till.bus.on_change(_device_listener(hub, "bus", till.bus.url)))
    updates = till.catalog_updates
    if updates is not None:
        stops.append(updates.on_change(_device_listener(hub, "catalog", updates.url)))
        updates.on_sync_status = lambda status: hub.publish("sync", status.to_json())

    def on_receipt(registered: RegisteredReceipt) -> None:
        """Every receipt the pipeline completes, whichever request (or start-up) completed it."""
        if hub.clients:  # its JSON made only when someone listens: most of the time nobody does
            hub.publish("receipt", registered.to_json())

    till.pipeline.on_receipt = on_receipt
    stops.append(till.outages.on_change(lambda outage: hub.publish("outage", {"outage": outage})))
    yield
    till.pipeline.on_receipt = None
    if updates is not None:
        updates.on_sync_status = None
    for stop in stops:
        stop()


async def _close_streams(app: web.Application) -> None:
    app[HUB].close()


def add_status_routes(app: web.Application) -> None:
    """``GET /v1/status`` and the event stream on ``app`` (which holds the till and the hub)."""
    app.cleanup_ctx.append(_device_events)
    app.on_shutdown.append(_close_streams)
    app.router.add_get(EVENTS_PATH, get_events, allow_head=False)
    app.router.add_get("/v1/status", get_status, allow_head=False)
