"""The event stream: the hub on its own, and WebSocket clients of a served till."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from firmware_sim.control_unit import ControlUnit, Fault
from gateway.api.events import Closing, EventHub
from tests.api.conftest import Api, ApiFactory, sale


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next event of type ``kind`` (others are skipped)."""
    while True:
        msg = await ws.receive()
        assert msg.type is WSMsgType.TEXT, msg
        event: dict[str, Any] = json.loads(msg.data)
        assert set(event) == {"type", "at", "data"}
        if event["type"] == kind:
            return event


# -- the hub ------------------------------------------------------------------------------


async def test_the_hub_gives_every_client_each_event_in_order() -> None:
    hub = EventHub(queue_size=4)
    a, b = hub.subscribe(), hub.subscribe(first="hello")
    hub.publish("receipt", {"receipt_no": 1})
    hub.publish("receipt", {"receipt_no": 2})
    assert [json.loads(str(a.queue.get_nowait()))["data"]["receipt_no"] for _ in range(2)] == [1, 2]
    assert b.queue.get_nowait() == "hello"
    assert [json.loads(str(b.queue.get_nowait()))["data"] for _ in range(2)] == [
        {"receipt_no": 1},
        {"receipt_no": 2},
    ]
    hub.unsubscribe(a)
    hub.publish("receipt", {"receipt_no": 3})
    assert a.queue.empty() and hub.clients == 1


async def test_a_client_that_falls_behind_is_cut_off_and_the_others_carry_on() -> None:
    hub = EventHub(queue_size=3)
    slow, quick = hub.subscribe(), hub.subscribe()
    for n in range(3):
        hub.publish("scan", {"n": n})
        quick.queue.get_nowait()
    hub.publish("scan", {"n": 3})  # the slow one's fourth unread event: one too many
    assert slow.queue.get_nowait() == Closing(WSCloseCode.POLICY_VIOLATION, "events not read in time")
    assert slow.queue.empty()
    assert (hub.clients, hub.dropped) == (1, 1)
    assert json.loads(str(quick.queue.get_nowait()))["data"] == {"n": 3}
    for n in range(4, 100):  # publishing never waits, whatever the clients do
        hub.publish("scan", {"n": n})
        assert json.loads(str(quick.queue.get_nowait()))["data"] == {"n": n}


async def test_a_client_cut_off_while_its_send_is_stuck_is_aborted() -> None:
    hub = EventHub(queue_size=1)
    stuck = hub.subscribe()
    aborted: list[bool] = []
    stuck.abort = lambda: aborted.append(True)
    stuck.sending = True  # as while the pump waits on a socket the client does not read
    hub.publish("scan", {"n": 1})
    hub.publish("scan", {"n": 2})
    assert aborted == [True]


async def test_the_hub_closing_ends_every_client_and_turns_new_ones_away() -> None:
    hub = EventHub()
    client = hub.subscribe()
    hub.close()
    assert client.queue.get_nowait() == Closing(WSCloseCode.GOING_AWAY, "the gateway is shutting down")
    late = hub.subscribe(first="hello")
    assert late.queue.get_nowait() == Closing(WSCloseCode.GOING_AWAY, "the gateway is shutting down")
    assert hub.clients == 0


def test_a_hub_needs_room_for_one_event() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EventHub(queue_size=0)


# -- WebSocket clients --------------------------------------------------------------------


async def test_a_client_gets_hello_then_the_receipts_as_they_are_registered(api: Api) -> None:
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        hello = await next_event(ws, "hello")
        assert hello["data"]["devices"]["control_unit"]["state"] == "ready"
        assert hello["data"]["receipts"]["last_number"] is None
        _, posted = await api.call("POST", "/v1/receipts", sale("pos-1"))
        event = await next_event(ws, "receipt")
        # Sent when the receipt is registered, before printing: everything but text and printed.
        assert event["data"] == {k: v for k, v in posted.items() if k not in ("text", "printed")}
        await api.call("POST", "/v1/receipts", sale("pos-1"))  # a repeat is no news ...
        await api.call("POST", "/v1/receipts/1/copy")  # ... a copy is
        copy = await next_event(ws, "receipt")
        assert (copy["data"]["receipt_no"], copy["data"]["type"]) == (1, "kopia")


async def test_a_browser_client_may_give_the_token_in_the_query(api: Api) -> None:
    async with api.session.ws_connect(f"{api.url}/v1/events?token={api.till.token}") as ws:
        assert (await next_event(ws, "hello"))["data"]["register"] == "KASSA1"
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await api.session.ws_connect(f"{api.url}/v1/events?token=wrong")
    assert info.value.status == 401


async def test_a_plain_get_of_the_event_stream_is_400(api: Api) -> None:
    status, body = await api.call("GET", "/v1/events")
    assert (status, body["error"]["code"]) == (400, "websocket_expected")


async def test_a_unit_that_stops_answering_is_pushed_as_a_device_event_with_the_refusal(
    api: Api, unit: ControlUnit
) -> None:
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        await next_event(ws, "hello")
        unit.faults.set(Fault.NO_REPLY)
        status, _ = await api.call("POST", "/v1/receipts", sale("pos-1"))
        assert status == 503
        device = await next_event(ws, "device")
        assert device["data"]["device"] == "control_unit"
        assert device["data"]["state"] == "failed"
        assert "no answer from the control unit" in device["data"]["reason"]
        error = await next_event(ws, "receipt.error")
        assert error["data"]["id"] == "pos-1" and error["data"]["code"] == "control_unit_unavailable"
        unit.faults.clear()
        status, _ = await api.call("POST", "/v1/receipts", sale("pos-1"))
        assert status == 201
        assert (await next_event(ws, "device"))["data"]["state"] == "ready"
        assert (await next_event(ws, "receipt"))["data"]["receipt_no"] == 1


async def test_drawer_openings_and_reports_are_pushed(make_api: ApiFactory) -> None:
    api = await make_api(printer=True)
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        await next_event(ws, "hello")
        _, opened = await api.call("POST", "/v1/drawer/open", {"cashier": "Anna"})
        drawer = await next_event(ws, "drawer.open")
        assert drawer["data"] == {"journal_entry": opened["journal_entry"], "cashier": "Anna"}
        _, z = await api.call("POST", "/v1/reports/z")
        report = await next_event(ws, "report")
        assert report["data"] == {"report": "z", "z_no": 1, "journal_entry": z["journal_entry"]}


async def test_a_slow_client_is_disconnected_and_the_till_goes_on(make_api: ApiFactory) -> None:
    api = await make_api(event_queue=4)
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        await next_event(ws, "hello")
        for n in range(10):  # faster than any client: all in one step of the event loop
            api.hub.publish("scan", {"n": n})
        msg = await ws.receive()
        assert (msg.type, msg.data, msg.extra) == (
            WSMsgType.CLOSE,
            WSCloseCode.POLICY_VIOLATION,
            "events not read in time",
        )
    status, done = await api.call("POST", "/v1/receipts", sale())
    assert (status, done["receipt_no"]) == (201, 1)
    _, state = await api.call("GET", "/v1/status")
    assert state["events"] == {"clients": 0, "disconnected_as_too_slow": 1}
    # A client that reconnects is served again.
    async with api.session.ws_connect(api.url + "/v1/events", headers=api.auth) as ws:
        await next_event(ws, "hello")
        api.hub.publish("scan", {"n": 10})
        assert (await next_event(ws, "scan"))["data"] == {"n": 10}


async def test_stopping_the_api_closes_the_streams(make_api: ApiFactory) -> None:
    api = await make_api()
    ws = await api.session.ws_connect(api.url + "/v1/events", headers=api.auth)
    await next_event(ws, "hello")
    api.hub.close()  # what the server's shutdown does
    msg = await ws.receive()
    assert (msg.type, msg.data) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
    await ws.close()
