"""paho-mqtt's MQTT 5 ``Properties`` with their lookup tables built once per process.

paho makes a :class:`~paho.mqtt.properties.Properties` for every PUBLISH it reads and for
every PUBACK it gets back, and its constructor builds three tables of all 27 MQTT 5
properties anew each time; reading a packet's properties first *clears* the object by
walking every property name. Tables and walk are the same for every packet: in a sync
worker taking 1,000 messages a second they were 35 % of its CPU (27 % building tables, 8 %
clearing: py-spy, docs/PERFORMANCE.md), a third of what a chain's central sync spends on a
message.

:func:`share_tables` makes every instance use one set of tables (paho only ever reads them)
and clear only the properties it holds. What a ``Properties`` packs, unpacks, accepts and
refuses is unchanged: tests/mqtt/test_properties.py compares every property of every packet
type with paho's own class, and the bus's tests run over a real Mosquitto with it.

It is applied when :mod:`gateway.mqtt.client` is imported, so by every MQTT connection of
ours (the till's and the sync module's). A paho whose ``Properties`` is not the one this was
written for (other table attributes) is left as it is: slower, never wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["restore", "share_tables", "tables_shared"]

log = logging.getLogger(__name__)

_TABLES = ("types", "names", "properties")
_OWN = frozenset(("packetType", *_TABLES))  # what an instance holds besides its properties
_original_init = Properties.__init__
_original_clear = Properties.clear


def _shared_init(self: Properties, packetType: int) -> None:
    set_attr = object.__setattr__  # paho's __setattr__ would check each name against the tables
    set_attr(self, "packetType", packetType)
    for table in _TABLES:
        set_attr(self, table, getattr(_PROTOTYPE, table))


def _clear(self: Properties) -> None:
    # Every attribute other than its own four was set through paho's __setattr__, which
    # accepts property names only: exactly what paho's clear() deletes.
    for name in [n for n in vars(self) if n not in _OWN]:
        object.__delattr__(self, name)


def _fits(prototype: Any) -> bool:
    """This paho's ``Properties`` keeps its tables where :func:`_shared_init` puts them."""
    tables = all(isinstance(getattr(prototype, t), list | dict) for t in _TABLES)
    return set(vars(prototype)) == _OWN and tables


_PROTOTYPE = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


def tables_shared() -> bool:
    return Properties.__init__ is _shared_init


def share_tables() -> bool:
    """Make every ``Properties`` share one set of tables; False (and paho left alone) when
    this paho's class is not the one this was written for. Calling it again does nothing."""
    if tables_shared():
        return True
    if not _fits(_PROTOTYPE):
        log.debug("paho-mqtt's Properties holds %s: tables left per instance", sorted(vars(_PROTOTYPE)))
        return False
    Properties.__init__ = _shared_init  # type: ignore[method-assign]
    Properties.clear = _clear  # type: ignore[method-assign]
    return True


def restore() -> None:
    """paho's own constructor and clear() again (for the tests that compare the two)."""
    Properties.__init__ = _original_init  # type: ignore[method-assign]
    Properties.clear = _original_clear  # type: ignore[method-assign]
