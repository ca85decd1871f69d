"""The till's side of the bus: what it owes the sync module, and the sending of it.

* :mod:`gateway.bus.outbox` — the till's outbox, written in the same transaction as each
  journal entry;
* :mod:`gateway.bus.publisher` — sends the outbox at QoS 1 until the sync module acks;
  its messages in flight in :mod:`gateway.bus.flight`, the acks it takes in
  :mod:`gateway.bus.acks`, its status and words in :mod:`gateway.bus.status`.

What travels (topics, message schemas, acks) is :mod:`gateway.messages`, the contract both
processes share; the MQTT connections both open are :mod:`gateway.mqtt`.
"""
