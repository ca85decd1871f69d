"""MQTT connections, for the till and for the sync module alike.

* :mod:`gateway.mqtt.client` — clients built one way from ``[mqtt]`` (TLS, credentials,
  ``TCP_NODELAY``), the reconnect loops with their jittered backoff, and the answering
  listeners the sync module runs;
* :mod:`gateway.mqtt.broker` — the embedded broker (amqtt) for the demo, or when the
  config asks for one and none answers.

Nothing is imported here: a process loads only the module it uses.
"""
