"""The MQTT bus between a till and the ERP sync module.

* :mod:`gateway.messages.envelope` — topics and message schemas: the contract both sides share
  (the sync module imports only this), read with :mod:`gateway.messages.fields`, as the
  catalog's (:mod:`~gateway.messages.catalog`), the orders' (:mod:`~gateway.messages.orders`) and
  the sync status (:mod:`~gateway.messages.sync_status`) are;
* :mod:`gateway.bus.client` — the till's MQTT clients and the sync module's answering ones,
  built one way, and the reconnect backoff and loops they share;
* :mod:`gateway.bus.outbox` — the till's outbox, written with each journal entry;
* :mod:`gateway.bus.publisher` — sends the outbox at QoS 1 until the sync module acks;
* :mod:`gateway.bus.broker` — the demo's embedded broker (amqtt) when none answers.

Nothing is imported here, so that ``gateway.messages.envelope`` stays light for the sync module.
"""
