"""The MQTT bus between a till and the ERP sync module.

* :mod:`gateway.bus.messages` — topics and message schemas: the contract both sides share
  (the sync module imports only this);
* :mod:`gateway.bus.outbox` — the till's outbox, written with each journal entry;
* :mod:`gateway.bus.publisher` — sends the outbox at QoS 1 until the sync module acks;
* :mod:`gateway.bus.broker` — the demo's embedded broker (amqtt) when none answers.

Nothing is imported here, so that ``gateway.bus.messages`` stays light for the sync module.
"""
