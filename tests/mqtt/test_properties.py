"""paho's ``Properties`` with shared tables (gateway.mqtt.properties) packs, unpacks, accepts
and refuses exactly what paho's own class does: every MQTT 5 property on every packet type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from paho.mqtt.exception import MQTTException
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.mqtt import properties as shared

# A value of each of paho's property types (its index in Properties.types).
_VALUES: dict[str, Any] = {
    "Byte": 1,
    "Two Byte Integer": 300,
    "Four Byte Integer": 70_000,
    "Variable Byte Integer": 2_000_000,
    "Binary Data": b"\x00\x01kvitto",
    "UTF-8 Encoded String": "tillgw/5560360793/kedjan/KASSA-001/acks",
    "UTF-8 String Pair": ("butik", "Växjö"),
}
# Every packet type (paho's refusal names it: the will's pseudo-type has no name there).
_PACKETS = [*range(PacketTypes.CONNECT, PacketTypes.AUTH + 1)]


@pytest.fixture(params=["paho", "shared"])
def variant(request: pytest.FixtureRequest) -> Iterator[str]:
    shared.restore()
    if request.param == "shared":
        assert shared.share_tables()
    yield request.param
    shared.share_tables()  # as every other test runs


def _every_setting() -> list[tuple[int, str, Any]]:
    tables = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    out = []
    for name, ident in tables.names.items():
        kind = tables.types[tables.properties[ident][0]]
        for packet in _PACKETS:
            out.append((packet, name.replace(" ", ""), _VALUES[kind]))
    return out


def _outcome(packet: int, name: str, value: Any) -> tuple[str, Any]:
    """What paho (or the shared variant) does with one property on one packet type."""
    props = Properties(packet)  # type: ignore[no-untyped-call]
    try:
        setattr(props, name, value)
    except MQTTException as exc:
        return "refused", str(exc)
    packed = props.pack()  # type: ignore[no-untyped-call]
    back = Properties(packet)  # type: ignore[no-untyped-call]
    back.unpack(packed)  # type: ignore[no-untyped-call]
    return "packed", (packed, back.json(), str(back), back.isEmpty())  # type: ignore[no-untyped-call]


def test_every_property_on_every_packet_type_as_paho_does(variant: str) -> None:
    got = [_outcome(*setting) for setting in _every_setting()]
    shared.restore()
    expected = [_outcome(*setting) for setting in _every_setting()]
    assert got == expected
    assert sum(1 for kind, _ in got if kind == "packed") >= 27  # each property fits some packet


def test_unpacking_again_forgets_the_properties_of_the_packet_before(variant: str) -> None:
    first = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    first.UserProperty = ("a", "1")
    first.MessageExpiryInterval = 60
    second = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    second.ContentType = "application/json"
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.unpack(first.pack())  # type: ignore[no-untyped-call]
    props.unpack(second.pack())  # type: ignore[no-untyped-call]
    assert props.json() == {"ContentType": "application/json"}  # type: ignore[no-untyped-call]
    props.UserProperty = ("b", "2")  # a list property starts again after a clear
    props.UserProperty = ("c", "3")
    assert props.json()["UserProperty"] == [("b", "2"), ("c", "3")]  # type: ignore[no-untyped-call]


def test_instances_hold_only_their_own_properties(variant: str) -> None:
    one = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    other = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    one.CorrelationData = b"x"
    assert other.isEmpty()  # type: ignore[no-untyped-call]
    assert one.json() == {"CorrelationData": "78"}  # type: ignore[no-untyped-call]


def test_applied_by_our_mqtt_clients() -> None:
    import gateway.mqtt.client  # noqa: F401 - importing it is what applies it

    assert shared.tables_shared()
